"""The OpenAI-compatible chat client shared by quality annotation and synth (below both, so neither
imports the other)."""
from gristmill.llm.client import ChatClient, Reply, RequestCache

__all__ = ["ChatClient", "Reply", "RequestCache"]
