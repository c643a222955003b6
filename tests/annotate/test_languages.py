"""Issue 23 item 4: the Gopher, C4 and FineWeb rules in Chinese, Japanese, Thai and German, through
the JSON Lines reader and `gristmill run`: clean prose is kept by every rule with per-language words,
stop words and FineWeb-2 thresholds (and lost with the English ones, the behaviour before), and junk
in each language (a repeated line, shuffled words, a menu) is still removed."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from fixtures_languages import CLEAN, junk
from gristmill.annotate.heuristics import split_words
from gristmill.annotate.heuristics.languages import RULES, segment
from gristmill.cli import app

REPO = Path(__file__).resolve().parents[2]
RULE_STEPS = ("gopher_repetition", "fineweb_quality", "gopher_quality", "c4_quality")
runner = CliRunner()


def _corpus(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    rows, kind = [], {}
    for lang, docs in CLEAN.items():
        for i, text in enumerate(docs):
            rows.append({"id": f"{lang}{i}", "text": text})
            kind[f"{lang}{i}"] = "clean"
            words = split_words(text) if RULES[lang].segmenter == "spacy" else segment([text], lang)[0]
            for k, v in junk(lang, text, words, seed=i).items():
                rows.append({"id": f"{lang}{i}-{k}", "text": v})
                kind[f"{lang}{i}-{k}"] = k
    path = tmp_path / "multi.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path, kind


def _run(tmp_path: Path, data: Path, steps: list, name: str):
    recipe = {"inputs": [{"paths": [str(data)], "format": "jsonl"}], "steps": steps,
              "output": {"path": str(tmp_path / name), "keep_rejected": True}}
    rp = tmp_path / f"{name}.yaml"
    rp.write_text(yaml.safe_dump(recipe, allow_unicode=True), encoding="utf-8")
    res = runner.invoke(app, ["run", str(rp), "-w", "1"])
    assert res.exit_code == 0, (res.output, res.exception)
    out = tmp_path / name
    kept = set(pq.read_table(out / "data").column("id").to_pylist()) if any((out / "data").glob("*.parquet")) else set()
    rej = pq.read_table(out / "rejected") if any((out / "rejected").glob("*.parquet")) else None
    reasons = dict(zip(rej.column("id").to_pylist(), rej.column("reject_reason").to_pylist())) if rej is not None else {}
    return kept, reasons, out


def test_rules_keep_clean_prose_and_remove_junk_in_four_languages(tmp_path):
    data, kind = _corpus(tmp_path)
    # language_id tags each document (no language dropped), the rules read its column.
    per_lang = [{"language_id": {"languages": [], "min_score": 0.0}}] + [
        {s: {"language_column": "language", "languages": sorted(CLEAN)}} for s in RULE_STEPS]
    kept, reasons, out = _run(tmp_path, data, per_lang, "per_language")
    clean = {i for i, k in kind.items() if k == "clean"}
    assert kept == clean, {i: reasons.get(i) for i in clean - kept}
    for doc_id, k in kind.items():
        if k != "clean":
            assert doc_id in reasons, doc_id
    # Each document was judged in its own language, and the column says so (select re-applies it).
    t = pq.read_table(out / "data")
    for s, col in (("gopher_quality", "gopher_language"), ("c4_quality", "c4_language"),
                   ("fineweb_quality", "fineweb_language"), ("gopher_repetition", "gopher_repetition_language")):
        assert [v for v in t.column(col).to_pylist()] == [i.rstrip("0123456789") for i in t.column("id").to_pylist()], s
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kept"] == len(clean)
    # Re-selection reads the stored language per document: a flat threshold no language overrides
    # applies to all; the per-language ones stay (Chinese pages still pass the mean word length of 1..5).
    res = runner.invoke(app, ["select", str(out), "-o", str(tmp_path / "resel"), "--set", "gopher_quality.max_avg_word_length=6"])
    assert res.exit_code == 0, (res.output, res.exception)
    resel = set(pq.read_table(tmp_path / "resel" / "data").column("id").to_pylist())
    assert resel == clean
    res = runner.invoke(app, ["select", str(out), "-o", str(tmp_path / "resel2"), "--set", "gopher_quality.min_doc_words=100000"])
    assert res.exit_code == 0, (res.output, res.exception)
    assert not any((tmp_path / "resel2" / "data").glob("*.parquet")) or \
        pq.read_table(tmp_path / "resel2" / "data").num_rows == 0

    # The same rules with English words, stop words and thresholds (the behaviour before) lose every
    # Chinese, Japanese and Thai page, and the German ones to the English stop words.
    english = [{s: {}} for s in RULE_STEPS]
    kept_en, reasons_en, _ = _run(tmp_path, data, english, "english")
    assert kept_en == set(), kept_en
    assert reasons_en["de0"] == "gopher_quality/too_few_stop_words"


def test_fixed_language_option_and_per_language_thresholds(tmp_path):
    text = CLEAN["zh"][0]
    data = tmp_path / "zh.jsonl"
    data.write_text(json.dumps({"id": "z", "text": text}, ensure_ascii=False) + "\n", encoding="utf-8")
    kept, _, _ = _run(tmp_path, data, [{"gopher_quality": {"language": "zh"}}], "fixed")
    assert kept == {"z"}
    # A recipe's own table replaces FineWeb-2's: here a mean word length no Chinese text reaches.
    strict = {"gopher_quality": {"language": "zh", "language_thresholds": {"zh": {"min_avg_word_length": 4}}}}
    kept, reasons, _ = _run(tmp_path, data, [strict], "strict")
    assert kept == set() and reasons["z"] == "gopher_quality/short_mean_word_length"


def test_unknown_language_and_bad_override_fail_at_load(tmp_path):
    data = tmp_path / "a.jsonl"
    data.write_text(json.dumps({"id": "a", "text": "x"}) + "\n")
    for cfg, needle in (({"language": "xx"}, "no word rules for language 'xx'"),
                        ({"language": "de", "language_thresholds": {"de": {"min_words": 3}}}, "unknown field 'min_words'")):
        rp = tmp_path / "r.yaml"
        rp.write_text(yaml.safe_dump({"input": {"paths": [str(data)]}, "steps": [{"gopher_quality": cfg}],
                                      "output": {"path": str(tmp_path / "o")}}))
        res = runner.invoke(app, ["run", str(rp)])
        assert res.exit_code == 2, res.output
        assert needle in " ".join(res.output.split()) and "line" in res.output
        assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("lang,module,pip", [("zh", "jieba", "jieba>=0.42"), ("ja", "sudachipy", "sudachipy>=0.6"),
                                             ("th", "pythainlp", "pythainlp>=5"), ("ko", "kiwipiepy", "kiwipiepy>=0.17")])
def test_a_missing_segmenter_fails_at_recipe_check_with_the_pip_command(tmp_path, lang, module, pip):
    data = tmp_path / "a.jsonl"
    data.write_text(json.dumps({"id": "a", "text": "x"}) + "\n")
    rp = tmp_path / "r.yaml"
    rp.write_text(yaml.safe_dump({"input": {"paths": [str(data)]}, "steps": [{"fineweb_quality": {"language": lang}}],
                                  "output": {"path": str(tmp_path / "out")}}))
    # None in sys.modules is how Python marks a module as not importable (a machine without the extra).
    code = (f"import sys; sys.modules[{module!r}] = None; sys.argv = ['gristmill', 'run', sys.argv[1]]; "
            "from gristmill.cli import main; main()")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    res = subprocess.run([sys.executable, "-c", code, str(rp)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    err = " ".join(res.stderr.split())
    assert res.returncode == 2 and "Traceback" not in res.stderr, res.stderr
    assert f"needs the Python package" in err and module in err and f"pip install '{pip}'" in err
    assert not (tmp_path / "out").exists()


def test_long_unbroken_text_is_segmented_in_bounded_pieces():
    # Sudachi refuses inputs over ~49 KB; a 200 KB Japanese document with no line break still splits.
    text = CLEAN["ja"][0].replace("\n", "") * 250
    assert len(text.encode()) > 150_000
    words = segment([text], "ja")[0]
    assert len(words) > 5000 and "図書" in words and "館" in words  # split mode A: the shortest units


def test_a_mixed_batch_equals_one_language_at_a_time_and_pure_python():
    import pyarrow as pa

    from gristmill.annotate.heuristics import C4Quality, FineWebQuality, GopherQuality, GopherRepetition, pure_python

    texts = [CLEAN["zh"][0], CLEAN["de"][0], CLEAN["th"][1], CLEAN["ja"][1], "An English page, judged by English rules."]
    langs = ["zh", "de", "th", "ja", "en"]
    mixed = pa.table({"id": [str(i) for i in range(5)], "text": texts, "lang": langs})

    def run(table, **cfg):
        out = []
        for S in (GopherQuality, GopherRepetition, FineWebQuality, C4Quality):
            s = S(S.Config(**cfg))
            a = s.annotate(table)
            out.append([{k: v for k, v in r.items() if k not in ("text", "lang", "id")} | {"reason": x}
                        for r, x in zip(a.to_pylist(), s.select(a).to_pylist())])
        return [list(rows) for rows in zip(*out)]  # per document, the four steps' columns

    together = run(mixed, language_column="lang", languages=["zh", "de", "th", "ja"])
    for i, lang in enumerate(langs):
        alone = run(mixed.slice(i, 1), language=lang)
        assert [{k: v for k, v in d.items() if not k.endswith("_language")} for d in together[i]] == \
            [{k: v for k, v in d.items() if not k.endswith("_language")} for d in alone[0]], lang
    with pure_python():
        assert run(mixed, language_column="lang", languages=["zh", "de", "th", "ja"]) == together
