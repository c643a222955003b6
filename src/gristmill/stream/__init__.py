"""Streaming a mixture: tokenize on the fly, pack, shuffle, resume exactly; nanoGPT and Megatron export."""
from gristmill.stream.dataset import MixtureDataset
from gristmill.stream.source_stream import SourceExhausted

__all__ = ["MixtureDataset", "SourceExhausted"]
