"""Procedural generators, one family per module; each registers itself in :mod:`gristmill.synth.registry`."""
