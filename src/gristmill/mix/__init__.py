"""Mixtures and curricula: which curated sources, in what proportions, in which phases."""
from gristmill.mix.spec import Mixture, MixtureError, load_mixture

__all__ = ["Mixture", "MixtureError", "load_mixture"]
