"""Item 6 of issue 8: data/ (and rejected/) is one table when inputs carry different fields."""
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from typer.testing import CliRunner

from conftest import stdlib_docs, write_jsonl
from gristmill.cli import app


def test_different_fields_per_input_load_as_one_table_everywhere(tmp_path):
    docs = stdlib_docs(120, min_words=5)
    write_jsonl(tmp_path / "mail.jsonl", [{"id": f"m{k}", "text": d["text"], "subject": f"re: {k}", "year": 2000 + k}
                                          for k, d in enumerate(docs[:40])])
    pq.write_table(pa.table({"id": [f"w{k}" for k in range(40)], "text": [d["text"] for d in docs[40:80]],
                             "url": [f"https://e.org/{k}" for k in range(40)], "year": [f"y{k}" for k in range(40)]}),
                   tmp_path / "web.parquet")
    (tmp_path / "books").mkdir()
    for k, d in enumerate(docs[80:]):
        (tmp_path / "books" / f"b{k}.txt").write_text(d["text"])
    rec = tmp_path / "r.yaml"
    rec.write_text(yaml.safe_dump({
        "inputs": [{"paths": [str(tmp_path / "mail.jsonl")], "id_field": "id", "fields": ["subject", "year"]},
                   {"paths": [str(tmp_path / "web.parquet")], "format": "parquet", "id_field": "id", "fields": ["url", "year"]},
                   {"paths": [str(tmp_path / "books")], "format": "text"}],
        "steps": [{"normalize": {"sources": ["mail"]}}, {"min_length": {"min_words": 60}},
                  {"gopher_quality": {"sources": ["web"], "min_doc_words": 80}}],
        "output": {"path": str(tmp_path / "out")}}, sort_keys=False))
    r = CliRunner().invoke(app, ["run", str(rec), "-w", "2"])
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "out/summary.json").read_text())
    for sub, n in (("data", s["kept"]), ("rejected", sum(s["rejected"].values()))):
        files = sorted((tmp_path / "out" / sub).glob("*.parquet"))
        assert len(files) >= 3 and n > 0, sub
        schemas = [pq.read_schema(f).remove_metadata() for f in files]
        assert all(x.equals(schemas[0]) for x in schemas), sub
        names = schemas[0].names
        assert {"subject", "url", "year"} <= set(names) and names[:3] == ["id", "text", "source"]
        if sub == "rejected":
            assert names[-2:] == ["reject_step", "reject_reason"]
            assert "word_count" in names and any(c.startswith("gopher_") for c in names)  # min_length's and gopher's measures
        glob = str(tmp_path / "out" / sub / "*.parquet")

        import polars as pl

        df = pl.read_parquet(glob)
        assert df.height == n and set(names) <= set(df.columns)

        import duckdb

        con = duckdb.connect()
        got = con.execute(f"select count(*), count(url), count(subject), count(year) from read_parquet('{glob}')").fetchone()
        pdf = df.to_pandas()
        assert got == (n, int(pdf["url"].notna().sum()), int(pdf["subject"].notna().sum()), int(pdf["year"].notna().sum()))
        if sub == "data":
            assert got[1] > 0 and got[2] > 0  # duckdb did not drop the columns the first file lacked
            years = set(con.execute(f"select year from read_parquet('{glob}') where year is not null").fetchall())
            assert ("2001",) in years or (2001,) in years or any("y" in str(y[0]) for y in years)

        import datasets

        ds = datasets.load_dataset("parquet", data_files=glob, split="train", cache_dir=str(tmp_path / "hf"))
        assert ds.num_rows == n and set(names) <= set(ds.column_names)
