"""Mixtures and curricula: which curated sources, in what proportions, in which phases.

Names resolve on first use, so importing the CLI stays light.
"""
__all__ = ["Mixture", "MixtureError", "load_mixture"]


def __getattr__(name):
    if name in __all__:
        from gristmill.mix import spec

        return getattr(spec, name)
    raise AttributeError(f"module 'gristmill.mix' has no attribute {name!r}")
