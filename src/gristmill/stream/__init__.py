"""Streaming a mixture: tokenize on the fly, pack, shuffle, resume exactly; nanoGPT and Megatron export.

Names resolve on first use, so the `gristmill` CLI (which imports the sub-commands' modules) does
not pay for importing torch.
"""
__all__ = ["MixtureDataset", "SourceExhausted"]


def __getattr__(name):
    if name == "MixtureDataset":
        from gristmill.stream.dataset import MixtureDataset

        return MixtureDataset
    if name == "SourceExhausted":
        from gristmill.stream.source_stream import SourceExhausted

        return SourceExhausted
    raise AttributeError(f"module 'gristmill.stream' has no attribute {name!r}")
