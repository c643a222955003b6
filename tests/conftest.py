import functools
import json
import os
import sys
from pathlib import Path

import pytest

# Tests live in area folders (engine/, io/, lab/, synth/, ...); what several of them share lives in
# support/ (fixture builders, fake servers, harnesses) and in this file, never in another test file.
sys.path.insert(0, str(Path(__file__).resolve().parent / "support"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def stdlib_docs(n: int = 300, min_words: int = 60) -> list[dict]:
    """Real English prose found on every Python installation: module docstrings of the stdlib."""
    return [dict(d) for d in _stdlib_docs(n, min_words)]


@functools.lru_cache(maxsize=None)
def _stdlib_docs(n: int, min_words: int) -> tuple[dict, ...]:
    import ast
    import sysconfig

    root = Path(sysconfig.get_paths()["stdlib"])
    docs = []
    for p in sorted(root.glob("*.py")):
        try:
            tree = ast.parse(p.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in [tree, *[n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]]:
            d = ast.get_docstring(node)
            if d and len(d.split()) >= min_words:
                docs.append({"id": f"{p.stem}.{getattr(node, 'name', '')}", "text": d})
        if len(docs) >= n:
            break
    return tuple(docs[:n])


def write_jsonl(path: Path, records, opener=open):
    with opener(path, "wt", encoding="utf-8") as f:
        for r in records:
            f.write((r if isinstance(r, str) else json.dumps(r)) + "\n")
    return path


@pytest.fixture(scope="module")
def ray_cluster():
    """A real two-node Ray cluster on 127.0.0.1 (1 CPU each), this module's own: a cluster someone else
    left running on the machine is never used. Skips when Ray is not installed."""
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'ray[data]')")
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        c.add_node(num_cpus=1)
        c.wait_for_nodes()
        yield c
    finally:
        c.shutdown()


@pytest.fixture
def docs():
    return stdlib_docs()
