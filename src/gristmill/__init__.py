"""gristmill: curate, deduplicate, mix and prove language-model training data."""
__version__ = "0.1.0"
