"""Verified synthetic data: procedural generators, a sandbox for untrusted code, and an LLM loop."""
