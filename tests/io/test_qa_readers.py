"""Held-out QA (qa branch): hostile input through the real readers and CLI never crashes a run and
never loses a record: too-deeply nested JSON, lone surrogate escapes, null text in Parquet."""
import json

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from qa_cli import PROSE, cli


def run(tmp_path, inp):
    (tmp_path / "r.yaml").write_text(yaml.safe_dump({"inputs": inp, "steps": [{"normalize": {}}], "output": {"path": "out"}}))
    r = cli("run", "r.yaml", "-w", "1", "--no-report", cwd=tmp_path)
    assert "Traceback" not in r.stderr + r.stdout, r.stderr[-3000:]
    assert r.returncode == 0, r.stderr[-2000:]
    summary = json.loads((tmp_path / "out/summary.json").read_text())
    quarantine = [json.loads(l) for f in sorted((tmp_path / "out/quarantine").glob("*.jsonl")) for l in f.read_text().splitlines()]
    kept = sorted(pq.read_table(tmp_path / "out/data").column("id").to_pylist())
    return summary, quarantine, kept


def test_hostile_records_are_quarantined_one_by_one_and_the_rest_kept(tmp_path):
    good = [json.dumps({"id": f"ok{i}", "text": f"{i} {PROSE}"}) for i in range(8)]
    lines = good + [
        "[" * 100_000 + "]" * 100_000,  # RecursionError in json, in preflight and in the reader
        '{"id": "deep", "text": "x", "d": ' + "[" * 100_000 + "]" * 100_000 + "}",
        '{"id": "lone", "text": "a lone \\ud800 surrogate"}',  # json.loads accepts it; UTF-8 and Arrow do not
        '{"id": "pair", "text": "a valid pair \\ud83d\\ude00 ' + PROSE + '"}',
    ]
    (tmp_path / "a.jsonl").write_text("\n".join(lines) + "\n")
    # a null text in Parquet failed the whole file's batch (None in the size mask) and lost its rows
    pq.write_table(pa.table({"id": ["p1", "p2", "p3", "p4"], "text": [PROSE, None, PROSE + " b", PROSE + " c"]}), tmp_path / "b.parquet")
    summary, quarantine, kept = run(tmp_path, [{"paths": ["a.jsonl"], "id_field": "id"},
                                               {"paths": ["b.parquet"], "format": "parquet", "id_field": "id"}])
    assert summary["input"] == 16 and summary["kept"] == 12, summary  # every line and row accounted for
    kinds = sorted((q["path"], q["line"] or q["offset"], q["kind"]) for q in quarantine)
    assert kinds == [("a.jsonl", 9, "malformed_json"), ("a.jsonl", 10, "malformed_json"), ("a.jsonl", 11, "invalid_utf8"),
                     ("b.parquet", 1, "bad_text_field")], kinds
    assert "pair" in kept and {"p1", "p3", "p4"} <= set(kept)


def test_a_corrupt_parquet_row_group_quarantines_each_of_its_rows_and_the_next_group_is_read(tmp_path):
    """Damage one row group's page header: its rows are quarantined one by one (the ledger counts
    rows, not files), the groups before and after it are kept."""
    n, per = 90, 30
    t = pa.table({"id": [f"r{i}" for i in range(n)], "text": [f"{i} {PROSE}" for i in range(n)]})
    pq.write_table(t, tmp_path / "c.parquet", row_group_size=per, compression="none")
    md = pq.ParquetFile(tmp_path / "c.parquet").metadata
    assert md.num_row_groups == 3
    with open(tmp_path / "c.parquet", "r+b") as fh:  # the middle group's text column, first page header
        col = md.row_group(1).column(1)
        fh.seek(col.data_page_offset)
        fh.write(b"\xff" * 64)
    summary, quarantine, kept = run(tmp_path, [{"paths": ["c.parquet"], "format": "parquet", "id_field": "id"}])
    assert summary["input"] == n and summary["kept"] == 2 * per and summary["quarantined"] == per, summary
    assert kept == sorted(f"r{i}" for i in [*range(per), *range(2 * per, n)])
    assert sorted(q["offset"] for q in quarantine) == list(range(per, 2 * per))
    assert all(q["kind"] == "truncated" and "corrupt row group 1" in q["error"] for q in quarantine)
