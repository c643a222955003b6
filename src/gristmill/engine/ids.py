"""User-given ids must be unique within a run: dedup steps look their decisions up by id, and
`gristmill show` finds documents by id, so two documents with one id would share one fate."""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


class DuplicateIds(RuntimeError):
    pass


def check_unique_ids(files: list[tuple[Path, str]], id_fields: list[str]) -> None:
    """``files``: (parquet file, the input it came from) of every row of the first stage.
    Raises :class:`DuplicateIds` naming the first id that appears twice and where."""
    parts, origin = [], []
    for k, (path, label) in enumerate(files):
        if not Path(path).exists():
            continue
        ids = pq.read_table(path, columns=["id"]).column("id")
        parts.append(ids)
        origin.append(pa.array([k] * len(ids), pa.int32()))
    if not parts:
        return
    ids = pa.chunked_array([c for p in parts for c in p.chunks], pa.string())
    if pc.count_distinct(ids).as_py() == len(ids):
        return
    t = pa.table({"id": ids, "file": pa.chunked_array(origin, pa.int32()), "row": pa.array(range(len(ids)))})
    counts = t.group_by("id").aggregate([("row", "count")])
    dup_ids = counts.filter(pc.greater(counts["row_count"], 1))["id"]
    dups = t.filter(pc.is_in(t["id"], dup_ids))
    first = dups["id"][0].as_py()  # the first duplicate in input order
    where = dups.filter(pc.equal(dups["id"], first))
    places = [files[f][1] for f in where["file"].to_pylist()]
    raise DuplicateIds(
        f"id {first!r} appears {len(where)} times ({', '.join(dict.fromkeys(places))}), and {len(dup_ids) - 1:,} more ids "
        f"repeat; ids from the data (field {', '.join(repr(f) for f in sorted(set(id_fields)))}: input.id_field, or a record's own "
        "'id') must be unique within a run, because dedup and `gristmill show` look documents up by id. Fix the ids in the "
        "data, or set id_field: false in the input to use derived ids (file:line), which are unique")


def check_run_ids(recipe, rd, shards, final: bool) -> None:
    """Every row the first stage wrote (kept and rejected), each labelled with its input file."""
    files = []
    for s in shards:
        kept = rd.data / f"{s.shard_id}.parquet" if final else rd.work / "s0" / f"{s.shard_id}.parquet"
        files += [(p, s.path) for p in [kept, *sorted(rd.rejected.glob(f"s0-{s.shard_id}-*.parquet"))]]
    check_unique_ids(files, [spec.id_field or "id" for spec in recipe.inputs if spec.id_field is not False])
