"""Issue 23 item 2: source code as an input (format: code), the StarCoder filters, secret
redaction and near-dedup on code, through the CLI on trees made of real stdlib files."""
import base64
import glob
import json
import os
import random
import shutil
import string
import subprocess
import sys
import sysconfig
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[2]
STDLIB = Path(sysconfig.get_paths()["stdlib"])


def run(tmp: Path, recipe: str) -> dict:
    (tmp / "r.yaml").write_text(recipe)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    r = subprocess.run([sys.executable, "-m", "gristmill", "run", "r.yaml", "-w", "1"], cwd=tmp, capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads((tmp / "out/summary.json").read_text())


def table(tmp: Path, part: str) -> pa.Table:
    files = sorted(glob.glob(str(tmp / "out" / part / "*.parquet")))
    return pa.concat_tables([pq.read_table(f) for f in files], promote_options="default") if files else pa.table({})


def quarantined(tmp: Path) -> list[dict]:
    return [json.loads(line) for f in glob.glob(str(tmp / "out/quarantine/*")) for line in open(f) if line.strip()]


def test_tree_reader_languages_paths_skips_and_quarantine(tmp_path):
    tree = tmp_path / "repo"
    (tree / "pkg").mkdir(parents=True)
    for name in ("decoder.py", "scanner.py"):
        shutil.copy(STDLIB / "json" / name, tree / "pkg" / name)
    (tree / "tools").mkdir()
    (tree / "tools/release").write_text("#!/usr/bin/env -S python3 -u\nimport sys\nprint(sys.argv)\n")
    (tree / "tools/build-docs").write_text("#!/bin/sh\nset -e\nmake -C docs html\n")
    (tree / "web.js").write_text("export function add(a, b) {\n  return a + b;\n}\n")
    (tree / "Makefile").write_text("all:\n\tpython -m build\n")
    (tree / "config.yml").write_text("name: demo\nversion: 1\n")
    for vendored in ("node_modules/left-pad", ".git/objects", "pkg/__pycache__", "build/lib", "dist"):
        (tree / vendored).mkdir(parents=True)
        (tree / vendored / "index.js").write_text("module.exports = 1;\n")
    (tree / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    (tree / "native.c").write_bytes(Path(sys.executable).read_bytes()[:5000])  # an ELF file with a C name
    (tree / "latin1.py").write_bytes("# caf\xe9\nx = 1\n".encode("latin-1"))
    (tree / "huge.py").write_text("x = 1\n" * 40_000)  # 240 KB, over the max_doc_bytes below
    (tree / "link.py").symlink_to("/etc/passwd")
    s = run(tmp_path, "input: {paths: [repo], format: code, max_doc_bytes: 100000}\nsteps: []\noutput: {path: out}\n")
    t = table(tmp_path, "data")
    got = dict(zip(t.column("path").to_pylist(), t.column("language").to_pylist()))
    assert got == {"pkg/decoder.py": "python", "pkg/scanner.py": "python", "tools/release": "python", "tools/build-docs": "shell",
                   "web.js": "javascript", "Makefile": "makefile", "config.yml": "yaml"}
    assert t.column("id").to_pylist() == t.column("path").to_pylist()
    assert set(t.column("source").to_pylist()) == {"repo"}
    assert t.column("text").to_pylist()[t.column("path").to_pylist().index("pkg/decoder.py")] == (STDLIB / "json/decoder.py").read_text()
    kinds = {Path(q["path"]).name: q["kind"] for q in quarantined(tmp_path)}
    assert kinds == {"native.c": "binary", "latin1.py": "invalid_utf8", "huge.py": "too_large"}
    read = s["counters"]["read"]
    assert read["code_skipped_dir"] == 5 and read["code_skipped_dir_files"] == 5
    assert read["code_unknown_language"] == 1 and read["code_symlink"] == 1  # logo.png; link.py is never followed


def test_glob_over_a_tree_prunes_vendored_dirs_too(tmp_path):
    (tmp_path / "repo/node_modules/x").mkdir(parents=True)
    (tmp_path / "repo/node_modules/x/index.js").write_text("module.exports = 1;\n")
    (tmp_path / "repo/app.js").write_text("console.log(1);\n")
    s = run(tmp_path, "input: {paths: ['repo/**/*.js'], format: code}\nsteps: []\noutput: {path: out}\n")
    assert table(tmp_path, "data").column("path").to_pylist() == ["app.js"]
    assert s["counters"]["read"]["code_skipped_dir_files"] == 1


def _blob_file(rng):
    data = base64.encodebytes(Path(sys.executable).read_bytes()[:60_000]).decode()  # 76-character lines
    return f'ICON = """\n{data}"""\n'


def test_starcoder_filters_reject_each_kind_and_keep_real_code(tmp_path):
    rng = random.Random(0)
    tree = tmp_path / "src"
    tree.mkdir()
    real = sorted(p for p in STDLIB.glob("*.py") if 2_000 < p.stat().st_size < 60_000)[:40]
    for p in real:
        shutil.copy(p, tree / p.name)
    words = (STDLIB / "textwrap.py").read_text().split()
    bad = {
        "minified.js": ";".join(f"var {w.strip(string.punctuation) or 'x'}{i}={i}" for i, w in enumerate(words[:400])) + "\n",
        "wide.py": "\n".join(["def f():", "    return 1"] * 50 + ["TABLE = " + repr(words[:300])]) + "\n",
        "generated_pb2.py": "# -*- coding: utf-8 -*-\n# Generated by the protocol buffer compiler.  DO NOT EDIT!\n# This file was automatically generated\n"
                            + (STDLIB / "textwrap.py").read_text(),
        "art.py": "\n".join("# " + "".join(rng.choice("=-*#|+/\\") for _ in range(60)) for _ in range(80)) + "\nx = 1\n",
        "icon.py": _blob_file(rng),
        "words.json": json.dumps({w: i for i, w in enumerate(words[:2000])}, indent=2),
        "tiny.json": '{"name": "demo"}\n',
        "layout.html": '<?xml version="1.0"?>\n<html><body>\n' + "\n".join(words[:80]) + "\n</body></html>\n",
    }
    for name, text in bad.items():
        (tree / name).write_text(text)
    run(tmp_path, "input: {paths: [src], format: code}\nsteps:\n  - starcoder_filters: {}\noutput: {path: out, keep_rejected: true}\n")
    kept = set(table(tmp_path, "data").column("path").to_pylist())
    rej = table(tmp_path, "rejected")
    reasons = {p: r.removeprefix("starcoder_filters/") for p, r in zip(rej.column("path").to_pylist(), rej.column("reject_reason").to_pylist())}
    assert reasons == {"minified.js": "long_line", "wide.py": "long_line", "generated_pb2.py": "autogenerated", "art.py": "low_alnum",
                       "icon.py": "encoded_data", "words.json": "data_file_too_long", "tiny.json": "data_file_too_short",
                       "layout.html": "xml_data"}
    assert len(kept) >= 0.9 * len(real) and kept <= {p.name for p in real}
    t = table(tmp_path, "data")
    assert min(t.column("code_alnum_fraction").to_pylist()) >= 0.25 and max(t.column("code_max_line_length").to_pylist()) <= 1000


def test_mean_line_length_rule_alone(tmp_path):
    (tmp_path / "src").mkdir()
    words = (STDLIB / "textwrap.py").read_text().split()
    (tmp_path / "src/long_lines.py").write_text("\n".join("x = " + repr(" ".join(words[i:i + 25])) for i in range(0, 2000, 25)) + "\n")
    run(tmp_path, "input: {paths: [src], format: code}\nsteps:\n  - starcoder_filters: {}\noutput: {path: out, keep_rejected: true}\n")
    assert table(tmp_path, "rejected").column("reject_reason").to_pylist() == ["starcoder_filters/long_mean_line"]


def _secrets(rng):
    al = string.ascii_letters + string.digits
    r = lambda abc, n: "".join(rng.choice(abc) for _ in range(n))  # noqa: E731
    key = "\n".join(r(al + "+/", 64) for _ in range(5))
    return {
        "aws_access_key": ("AKIA" + r(string.ascii_uppercase + string.digits, 16), 'AWS_KEY = "{}"'),
        "github_token": ("ghp_" + r(al, 36), "TOKEN = os.environ.get('GH', '{}')"),
        "private_key": (f"-----BEGIN OPENSSH PRIVATE KEY-----\n{key}\n-----END OPENSSH PRIVATE KEY-----", 'PEM = """{}"""'),
        "password_assignment": (r(al, 12) + "!7", 'db_password = "{}"'),
        "stripe_key": ("sk_live_" + r(al, 24), "stripe.api_key = '{}'"),
    }


def test_secrets_redacted_in_real_files_and_clean_code_untouched(tmp_path):
    rng = random.Random(1)
    tree = tmp_path / "src"
    tree.mkdir()
    clean = sorted(p for p in STDLIB.glob("*.py") if 2_000 < p.stat().st_size < 40_000)[:60]
    # token_type = 'quoted-string' x 100: secret-sounding names with word values, not secrets
    shutil.copy(STDLIB / "email/_header_value_parser.py", tree / "_header_value_parser.py")
    planted = {}
    for i, p in enumerate(clean):
        text = p.read_text()
        if i % 3 == 0:  # every third file gets a secret of one kind, at a random line
            kind, (secret, line) = list(_secrets(rng).items())[(i // 3) % 5]
            lines = text.split("\n")
            lines.insert(rng.randrange(len(lines)), line.format(secret))
            text = "\n".join(lines)
            planted[p.name] = (kind, secret)
        (tree / p.name).write_text(text)
    s = run(tmp_path, "input: {paths: [src], format: code}\nsteps:\n  - secrets_redact: {}\noutput: {path: out}\n")
    t = table(tmp_path, "data")
    texts = dict(zip(t.column("path").to_pylist(), t.column("text").to_pylist()))
    assert len(texts) == len(clean) + 1
    assert texts["_header_value_parser.py"] == (STDLIB / "email/_header_value_parser.py").read_text()
    for name, (kind, secret) in planted.items():
        assert secret not in texts[name] and "<SECRET>" in texts[name], (name, kind)
        assert not any(part in texts[name] for part in secret.split("\n") if len(part) > 20), name
    untouched = [p.name for p in clean if p.name not in planted]
    changed = [n for n in untouched if texts[n] != (STDLIB / n).read_text()]
    assert not changed, changed  # no false positive on clean stdlib code
    counters = s["counters"]["secrets_redact"]
    assert counters["docs_changed"] == len(planted)
    assert sum(v for k, v in counters.items() if k != "docs_changed") == len(planted)


def test_near_dedup_on_code_tokens(tmp_path):
    """The Stack's near-dedup (MinHash on code tokens, Jaccard 0.85) works with minhash_dedup's
    normalization: punctuation is dropped, identifiers and keywords are the shingled tokens."""
    rng = random.Random(2)
    tree = tmp_path / "src"
    tree.mkdir()
    files = sorted(p for p in STDLIB.glob("*.py") if 8_000 < p.stat().st_size < 40_000)[:30]
    for p in files:
        shutil.copy(p, tree / p.name)
    for p in files[:10]:  # a fork: reindented, one comment line added, one helper renamed in 1 of 20 lines
        lines = p.read_text().split("\n")
        lines = [("\t" + x[4:]) if x.startswith("    ") else x for x in lines]
        lines.insert(rng.randrange(len(lines)), "# vendored copy, patched for our build")
        (tree / f"fork_{p.name}").write_text("\n".join(lines))
    run(tmp_path, "input: {paths: [src], format: code}\nsteps:\n  - exact_dedup: {lowercase: false, strip_punctuation: false}\n"
                  "  - minhash_dedup: {jaccard_threshold: 0.85}\noutput: {path: out, keep_rejected: true}\n")
    kept = set(table(tmp_path, "data").column("path").to_pylist())
    assert kept == {p.name for p in files}  # every fork removed, every distinct file kept


def test_code_recipe_validates_paths_before_work(tmp_path):
    (tmp_path / "r.yaml").write_text("input: {paths: [no/such/tree], format: code}\nsteps:\n  - starcoder_filters: {}\noutput: {path: out}\n")
    r = subprocess.run([sys.executable, "-m", "gristmill", "run", "r.yaml"], cwd=tmp_path, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert r.returncode != 0 and "no/such/tree" in r.stderr + r.stdout and not (tmp_path / "out").exists()
