"""The demo: a corpus with ground truth built offline from the standard library (:mod:`.corpus`,
from :mod:`.stdlib_text`, :mod:`.noise` and :mod:`.pii`), and the demo run scored against it
(:mod:`.run`). ``python -m gristmill.demo DEST`` builds the corpus alone."""
from gristmill.demo.corpus import LABELS, build_demo_corpus

__all__ = ["LABELS", "build_demo_corpus"]
