"""Gather what the HTML report shows from a finished output directory.

Every count comes from ``summary.json`` (the ledger), so the report never disagrees with it;
the files under ``data/`` and ``rejected/`` add what the summary does not hold: bytes and words
after each step, the distributions of measured columns, and sample documents. On a large run the
samples are capped (``sample_per_reason``), the counts never are.
"""
from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

# s<stage>-<shard>-<step name>-<global step index | rd (rejected while reading)>.parquet
_REJECT_FILE = re.compile(r"^s\d+-(?P<shard>\d+)-(?P<name>.+)-(?P<gi>\d+|rd)\.parquet$")
# Columns that are identifiers or text, never a measured distribution.
_NOT_MEASURED = {"id", "text", "source", "html", "url", "reject_step", "reject_reason"}
TEXT_PREVIEW_CHARS = 1500


@dataclass
class ReportData:
    out: str
    summary: dict
    recipe: dict
    funnel: list[dict] = field(default_factory=list)  # stage name, docs, bytes, words after it
    reasons: list[dict] = field(default_factory=list)  # reason, step, count, share
    distributions: list[dict] = field(default_factory=list)  # column, step, kept values, rejected values, threshold
    sensitivity: list[dict] = field(default_factory=list)  # step.param, value, moved per -10% / +10%
    languages: list[dict] = field(default_factory=list)
    clusters: list[dict] = field(default_factory=list)  # step, size distribution, example clusters with text
    counters: dict = field(default_factory=dict)
    samples: list[dict] = field(default_factory=list)  # {id, source, outcome, reason, text}
    truth: list[dict] | None = None  # per reason: precision, recall (when ground truth is given)
    mixture: list[dict] | None = None
    notes: list[str] = field(default_factory=list)


_FILES: dict[Path, pq.ParquetFile] = {}  # open footers of the output being collected (reset per collect)


def _pf(path: Path) -> pq.ParquetFile:
    f = _FILES.get(path)
    if f is None:
        f = _FILES[path] = pq.ParquetFile(path)
    return f


def _read(path: Path, columns: list[str] | None = None) -> pa.Table:
    pf = _pf(path)
    names = pf.schema_arrow.names
    cols = [c for c in columns if c in names] if columns is not None else None
    return pf.read(columns=cols)


def _take(path: Path, rows, columns: list[str]) -> pa.Table:
    """Rows ``rows`` (sorted positions in the file) of ``columns``, reading only the row groups that
    hold them: a sample of 40 documents must not decompress every text of a large shard."""
    pf = _pf(path)
    cols = [c for c in columns if c in pf.schema_arrow.names]
    md = pf.metadata
    starts = np.cumsum([0] + [md.row_group(i).num_rows for i in range(md.num_row_groups)])
    rows = np.asarray(sorted(rows), dtype=np.int64)
    groups = np.searchsorted(starts, rows, side="right") - 1
    parts = []
    for g in np.unique(groups):
        t = pf.read_row_group(int(g), columns=cols)
        parts.append(t.take(pa.array(rows[groups == g] - starts[g])))
    return pa.concat_tables(parts) if parts else pf.schema_arrow.empty_table().select(cols)


_ASCII_SPACE = np.zeros(256, dtype=bool)
_ASCII_SPACE[[9, 10, 11, 12, 13, 32]] = True


def _text_sizes(table: pa.Table) -> tuple[int, int]:
    """(UTF-8 bytes, words) of the ``text`` column, from the Arrow buffers without a copy per document.

    A word is a run of bytes other than ASCII whitespace, counted where one starts (after a space or
    at a document's start): what ``str.split()`` counts except at rare Unicode spaces such as U+00A0
    (0.01 % of words on issue 24's corpus), at a quarter of the cost of Arrow's split into lists."""
    if "text" not in table.column_names or table.num_rows == 0:
        return 0, 0
    nbytes = words = 0
    for ch in table.column("text").chunks:
        if len(ch) == 0:
            continue
        bufs = ch.buffers()
        width = np.int64 if pa.types.is_large_string(ch.type) or pa.types.is_large_binary(ch.type) else np.int32
        off = np.frombuffer(bufs[1], dtype=width)[ch.offset: ch.offset + len(ch) + 1].astype(np.int64)
        a, b = int(off[0]), int(off[-1])
        nbytes += b - a
        if b == a:
            continue
        space = _ASCII_SPACE[np.frombuffer(bufs[2], dtype=np.uint8)[a:b]]
        after_space = np.empty_like(space)
        after_space[0] = True
        after_space[1:] = space[:-1]
        starts = off[:-1] - a
        after_space[starts[starts < b - a]] = True  # each document starts a new word
        words += int(np.count_nonzero(after_space & ~space))
    return nbytes, words


def _reject_files(out: Path) -> list[tuple[Path, str, int | None]]:
    files = []
    for p in sorted((out / "rejected").glob("*.parquet")):
        m = _REJECT_FILE.match(p.name)
        if m:
            files.append((p, m["name"], None if m["gi"] == "rd" else int(m["gi"])))
    return files


def collect(out: Path, *, sample_per_reason: int = 40, sample_kept: int = 120, seed: int = 0,
            truth: dict[str, str] | None = None, hist_rows: int = 200_000) -> ReportData:
    """Read an output directory into :class:`ReportData`.

    ``truth`` maps document id to ``"keep"`` or ``"drop"`` (the demo corpus's labels); with it each
    removal reason gets a precision and a recall. ``hist_rows`` caps the values read per column for
    histograms (a uniform sample past that), so a very large run stays quick to report on."""
    out = Path(out)
    _FILES.clear()
    summary = json.loads((out / "summary.json").read_text())
    lock = out / "recipe.lock.yaml"
    recipe = yaml.safe_load(lock.read_text()) if lock.exists() else {}
    rep = ReportData(out=str(out), summary=summary, recipe=recipe)
    rng = np.random.default_rng(seed)
    rejects = _reject_files(out)
    kept_files = sorted((out / "data").glob("*.parquet"))
    steps = summary.get("steps", [])

    # -- which sample rows to show: drawn first, so the one read of each file's text below fills them in
    picks = {p: rows for p, _outcome, rows in _draw_samples(kept_files, rejects, sample_per_reason, sample_kept, rng)}
    sampled: list[dict] = []

    def text_pass(p: Path, outcome: str) -> tuple[int, int]:
        # row group by row group (the engine writes one per batch), so memory is bounded by a batch and
        # not by the file; iter_batches reads ahead and held 2.5x as much here
        pf = _pf(p)
        cols = [c for c in (["text", "id", "source", "reject_reason"] if p in picks else ["text"]) if c in pf.schema_arrow.names]
        want = np.asarray(picks.get(p, []), dtype=np.int64)
        nbytes = words = start = 0
        for g in range(pf.metadata.num_row_groups):
            t = pf.read_row_group(g, columns=cols)
            b, w = _text_sizes(t)
            nbytes, words = nbytes + b, words + w
            mine = want[(want >= start) & (want < start + t.num_rows)] - start
            if len(mine):
                for r in t.take(pa.array(mine)).to_pylist():
                    sampled.append({"id": r.get("id"), "source": r.get("source"), "outcome": outcome,
                                    "reason": r.get("reject_reason") or "", "text": _preview(r.get("text"))})
            start += t.num_rows
        return nbytes, words

    # -- funnel: documents from the ledger; bytes and words from the files (text as written)
    kept_bytes = kept_words = 0
    for p in kept_files:
        b, w = text_pass(p, "kept")
        kept_bytes, kept_words = kept_bytes + b, kept_words + w
    by_gi: dict[int | None, list[int]] = defaultdict(lambda: [0, 0])
    for p, _name, gi in rejects:
        b, w = text_pass(p, "rejected")
        by_gi[gi][0] += b
        by_gi[gi][1] += w
    have_rejected_text = bool(rejects) or not any(s.get("rejected") for s in steps)
    after_bytes = kept_bytes + sum(v[0] for gi, v in by_gi.items() if gi is not None)
    after_words = kept_words + sum(v[1] for gi, v in by_gi.items() if gi is not None)
    # Every row counts the same population: all documents that reached the stage. A step limited by
    # ``sources:`` passes the others untouched, so its row also says what it saw within its scope.
    read_rejected = sum(n for r, n in summary.get("rejected", {}).items() if r.startswith("read/"))
    funnel = [{"stage": "read", "docs": summary["input"] - summary.get("quarantined", 0) + _step_errors(summary) - read_rejected,
               "bytes": after_bytes if have_rejected_text else None, "words": after_words if have_rejected_text else None}]
    for gi, s in enumerate(steps):
        after_bytes -= by_gi.get(gi, [0, 0])[0]
        after_words -= by_gi.get(gi, [0, 0])[1]
        row = {"stage": s["step"], "docs": s["out"], "bytes": after_bytes if have_rejected_text else None,
               "words": after_words if have_rejected_text else None}
        if "sources" in s:
            row.update(sources=s["sources"], scope_in=s["scope_in"], scope_out=s["scope_out"])
        funnel.append(row)
    if not have_rejected_text:
        rep.notes.append("output.keep_rejected is off: bytes and words are known only for the kept documents")
    funnel[-1]["docs"] = summary["kept"] if steps else funnel[-1]["docs"]
    rep.funnel = funnel

    # -- reasons: counts from the ledger
    inp = summary["input"] or 1
    for reason, n in sorted(summary.get("rejected", {}).items(), key=lambda kv: -kv[1]):
        rep.reasons.append({"reason": reason, "step": reason.split("/", 1)[0], "count": n, "share": n / inp})
    for kind, n in sorted(summary.get("quarantine_errors", {}).items(), key=lambda kv: -kv[1]):
        rep.reasons.append({"reason": f"quarantined/{kind}", "step": "quarantine", "count": n, "share": n / inp})

    # -- distributions: each step's numeric columns, kept against rejected by that step
    rep.distributions = _distributions(kept_files, rejects, steps, recipe, rng, hist_rows)
    rep.sensitivity = _sensitivity(kept_files, rejects, steps, recipe, summary.get("step_columns"))

    # -- languages
    rep.languages = _languages(kept_files, rejects)

    # -- clusters: reports of the dedup steps, with the text of example members
    for step, r in (summary.get("reports") or {}).items():
        if not isinstance(r, dict) or "cluster_size_distribution" not in r:
            continue
        examples = [c for c in r.get("example_clusters", [])][:5]
        rep.clusters.append({"step": step, "sizes": r["cluster_size_distribution"], "clusters": r.get("clusters"),
                             "removed": r.get("removed"), "examples": examples})
    rep.counters = summary.get("counters", {})

    # -- samples
    rep.samples = sampled + _quarantine_samples(out, sample_per_reason)
    _fill_cluster_texts(rep, kept_files, rejects)

    if truth:
        rep.truth = _truth(truth, kept_files, rejects, steps)
    mix = out / "mixture.json"
    if mix.exists():
        rep.mixture = json.loads(mix.read_text()).get("sources")
    return rep


def _step_errors(summary: dict) -> int:
    """Rows quarantined by a failing step were read first, so they count in the 'read' stage."""
    q = summary.get("quarantined", 0)
    read_q = summary.get("read_quarantined")
    return q - read_q if isinstance(read_q, int) else summary.get("quarantine_errors", {}).get("step_error", 0)


def _step_params(recipe: dict) -> list[tuple[str, dict]]:
    out = []
    for item in recipe.get("steps", []) or []:
        if isinstance(item, dict) and len(item) == 1:
            name, params = next(iter(item.items()))
            out.append((name, params or {}))
    return out


def _thresholds(step_name: str) -> dict[str, str]:
    """param -> column that the param thresholds, as the step declares it (``Step.thresholds``)."""
    from gristmill.step import UnknownStep, get_step

    try:
        return dict(getattr(get_step(step_name), "thresholds", {}) or {})
    except UnknownStep:
        return {}


def _sample_values(arr: pa.ChunkedArray, rng, cap: int) -> np.ndarray:
    vals = arr.drop_null()
    if pa.types.is_boolean(vals.type):
        vals = pc.cast(vals, pa.int8())
    v = np.asarray(vals.to_numpy(zero_copy_only=False), dtype=float)
    v = v[np.isfinite(v)]
    if len(v) > cap:
        v = rng.choice(v, cap, replace=False)
    return v


def _input_fields(recipe: dict) -> set[str]:
    specs = recipe.get("inputs") or ([recipe["input"]] if recipe.get("input") else [])
    return {f for spec in specs if isinstance(spec, dict) for f in (spec.get("fields") or [])}


def _distributions(kept_files, rejects, steps, recipe, rng, cap) -> list[dict]:
    """Per step that rejected something: each numeric column it added, kept (or rejected later)
    against rejected by this step. A step's columns are those its rejected rows carry and the
    rejected rows of the step before it do not (the engine writes the columns a row had)."""
    params = _step_params(recipe)
    not_measured = _NOT_MEASURED | _input_fields(recipe)
    dists = []
    prev_cols: set[str] | None = None
    for gi, s in enumerate(steps):
        name = s.get("name", s["step"])  # a step used twice is keyed `name#2`; the registry knows `name`
        rej_files = [p for p, _n, g in rejects if g == gi]
        if not rej_files:
            continue
        schema = _pf(rej_files[0]).schema_arrow
        # rejected/ shares one schema, so what a row had is what is not null in it
        present = _present_columns(rej_files)
        cols = {f.name for f in schema if f.name not in not_measured and _is_numeric(f.type) and f.name in present}
        new_cols = cols - prev_cols if prev_cols is not None else cols
        prev_cols = cols
        # new_cols may also hold columns of steps between the previous rejecting step and this one;
        # keep only what this step makes (or, when that cannot be found, what the others don't)
        own = _own_columns(name, params[gi][1] if gi < len(params) else {})
        if own is not None:
            mine = sorted(new_cols & own)
        else:
            others: set[str] = set()
            for gj in range(gi):
                o = _own_columns(steps[gj].get("name", steps[gj]["step"]), params[gj][1] if gj < len(params) else {})
                others |= o or set()
            mine = sorted(new_cols - others)
        later = [p for p, _n, g in rejects if g is not None and g > gi] + list(kept_files)
        thr = _thresholds(name)
        cfg = params[gi][1] if gi < len(params) and params[gi][0] == name else {}
        col_thr: dict[str, list[tuple[str, float]]] = {}
        for p, cols in thr.items():
            v = cfg.get(p)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                for col in (cols,) if isinstance(cols, str) else cols:
                    col_thr.setdefault(col, []).append((p, float(v)))
        # one read per file for all of this step's columns (not one per column)
        rej_tables = [_read(p, mine) for p in rej_files]
        later_tables = [_read(p, mine) for p in later] if mine else []
        for col in mine:
            typ = schema.field(col).type
            rej = pa.chunked_array([c for t in rej_tables for c in t.column(col).chunks], type=typ)
            kept_chunks = []
            for t in later_tables:
                if col in t.column_names:
                    kept_chunks.extend(pc.cast(t.column(col), typ).chunks)
            kv = _sample_values(pa.chunked_array(kept_chunks, type=typ), rng, cap) if kept_chunks else np.array([])
            rv = _sample_values(rej, rng, cap)
            if len(kv) + len(rv) == 0:
                continue
            dists.append({"step": name, "column": col, "kept": kv, "rejected": rv, "thresholds": col_thr.get(col, [])})
    return dists


def _present_columns(files: list[Path]) -> set[str]:
    """Columns holding at least one non-null value in ``files``, from the parquet statistics."""
    out: set[str] = set()
    for p in files:
        md = _pf(p).metadata
        for rg in range(md.num_row_groups):
            g = md.row_group(rg)
            for j in range(g.num_columns):
                c = g.column(j)
                st = c.statistics
                if st is None or not st.has_null_count or st.null_count < c.num_values:
                    out.add(c.path_in_schema.split(".")[0])
    return out


_OWN_CACHE: dict[str, set[str] | None] = {}


def _own_columns(step_name: str, cfg: dict) -> set[str] | None:
    """The columns a per-batch step adds, found by annotating one small document; None for global
    steps (they need a fit) or when annotation of a bare document fails."""
    from gristmill.step import GlobalStep, get_step

    if step_name in _OWN_CACHE:
        return _OWN_CACHE[step_name]
    own = None
    try:
        cls = get_step(step_name)
        if not issubclass(cls, GlobalStep):
            base = pa.table({"id": ["x"], "text": ["A short probe sentence, with words. Another line here."], "source": ["x"]})
            kw = {k: v for k, v in (cfg or {}).items() if k != "sources"}
            own = set(cls(cls.Config(**kw)).annotate(base).column_names) - set(base.column_names)
    except Exception:  # noqa: BLE001 - discovery only decides which histograms to draw
        own = None
    _OWN_CACHE[step_name] = own
    return own


def _is_numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)


def _sensitivity(kept_files, rejects, steps, recipe, step_columns: dict | None = None) -> list[dict]:
    """For each numeric parameter of each per-batch step: how many documents change outcome when
    the threshold moves by -10 % and +10 %, found by running the step's own ``select`` on the
    stored columns (what ``gristmill select`` would do), over every row that reached the step."""
    from gristmill.step import GlobalStep, UnknownStep, get_step

    params = _step_params(recipe)
    rows = []
    for gi, s in enumerate(steps):
        if gi >= len(params) or params[gi][0] != s.get("name", s["step"]):
            continue
        name, cfg = params[gi]
        try:
            cls = get_step(name)
        except UnknownStep:
            continue
        if issubclass(cls, GlobalStep):
            continue
        numeric = {k: v for k, v in cfg.items() if isinstance(v, (int, float)) and not isinstance(v, bool) and v != 0}
        if not numeric:
            continue
        reached = [p for p, n, g in rejects if g is not None and g >= gi] + kept_files
        if not reached:
            continue
        base_cfg = {k: v for k, v in cfg.items() if k != "sources"}
        # the columns the step added (its select decides from them); when select needs more, every
        # stored column but the text (select never reads the text)
        own = (step_columns or {}).get(name)
        table = base = None
        for cols in ([["id", "source", *own]] if own else []) + [None]:
            try:
                table = _reached_table(reached, cols, cfg.get("sources"))
                base = _rejects_mask(cls, base_cfg, table)
                break
            except Exception:  # noqa: BLE001 - a step that cannot re-select from columns has no sensitivity row
                base = None
        if base is None:
            continue
        for param, value in numeric.items():
            moved = []
            for f in (0.9, 1.1):
                new = value * f
                if isinstance(value, int):
                    new = int(round(new)) if round(new) != value else value + (1 if f > 1 else -1)
                try:
                    mask = _rejects_mask(cls, {**base_cfg, param: new}, table)
                except Exception:  # noqa: BLE001
                    mask = None
                moved.append(None if mask is None else int(np.sum(mask != base)))
            rows.append({"step": name, "param": param, "value": value, "minus10": moved[0], "plus10": moved[1],
                         "docs": table.num_rows})
    return rows


def _reached_table(files, columns: list[str] | None, sources: list[str] | None) -> pa.Table:
    tables = []
    for p in files:
        t = _read(p, columns if columns is not None else [c for c in _pf(p).schema_arrow.names if c not in ("text", "html")])
        if "source" in t.column_names and sources:
            t = t.filter(pc.is_in(t.column("source"), value_set=pa.array(sources)))
        tables.append(t)
    return pa.concat_tables(tables, promote_options="permissive")


def _rejects_mask(cls, cfg: dict, table: pa.Table) -> np.ndarray:
    step = cls(cls.Config(**cfg))
    sel = step.select(table)
    if sel is None:
        return np.zeros(table.num_rows, dtype=bool)
    return np.asarray(pc.is_valid(sel).to_numpy(zero_copy_only=False))


def _languages(kept_files, rejects) -> list[dict]:
    counts: dict[str, Counter] = defaultdict(Counter)
    for outcome, files in (("kept", kept_files), ("rejected", [p for p, _, _ in rejects])):
        for p in files:
            t = _read(p, ["language"])
            if "language" not in t.column_names:
                continue
            for v in pc.value_counts(t.column("language").combine_chunks()).to_pylist():
                counts[v["values"] or "(none)"][outcome] += v["counts"]
    rows = [{"language": k, "kept": c["kept"], "rejected": c["rejected"]} for k, c in counts.items()]
    return sorted(rows, key=lambda r: -(r["kept"] + r["rejected"]))


def _preview(text) -> str:
    if text is None:
        return ""
    return text if len(text) <= TEXT_PREVIEW_CHARS else text[:TEXT_PREVIEW_CHARS] + " …"


def _draw_samples(kept_files, rejects, per_reason: int, n_kept: int, rng) -> list[tuple[Path, str, np.ndarray]]:
    """Which rows to show: up to ``per_reason`` per rejection reason, uniform over every row holding
    it, and ``n_kept`` uniform over the kept rows. Only the reason column is read, and the draw is
    done on arrays (a million rejected rows are not walked one by one); returns (file, outcome, rows)."""
    picks: list[tuple[Path, str, np.ndarray]] = []
    if rejects:
        codes, files, rows = [], [], []
        names: dict[str, int] = {}
        for k, (p, _name, _gi) in enumerate(rejects):
            col = _read(p, ["reject_reason"]).column("reject_reason").combine_chunks().dictionary_encode()
            remap = np.array([names.setdefault(v, len(names)) for v in col.dictionary.to_pylist()], dtype=np.int64)
            idx = col.indices.to_numpy(zero_copy_only=False)
            codes.append(remap[idx] if len(remap) else idx.astype(np.int64))
            files.append(np.full(len(idx), k, dtype=np.int64))
            rows.append(np.arange(len(idx), dtype=np.int64))
        code, file_of, row_of = np.concatenate(codes), np.concatenate(files), np.concatenate(rows)
        chosen = []
        order = np.argsort(code, kind="stable")
        bounds = np.searchsorted(code[order], np.arange(len(names) + 1))
        for c in range(len(names)):
            members = order[bounds[c]:bounds[c + 1]]
            if len(members):
                chosen.append(rng.choice(members, min(per_reason, len(members)), replace=False))
        chosen = np.sort(np.concatenate(chosen)) if chosen else np.array([], dtype=np.int64)
        for k in np.unique(file_of[chosen]):
            picks.append((rejects[k][0], "rejected", row_of[chosen[file_of[chosen] == k]]))
    sizes = np.array([_pf(p).metadata.num_rows for p in kept_files], dtype=np.int64)
    total = int(sizes.sum())
    if total:
        idx = np.sort(rng.choice(total, min(n_kept, total), replace=False))
        starts = np.concatenate([[0], np.cumsum(sizes)])
        which = np.searchsorted(starts, idx, side="right") - 1
        for k in np.unique(which):
            picks.append((kept_files[k], "kept", idx[which == k] - starts[k]))
    return picks


def _quarantine_samples(out: Path, per_reason: int) -> list[dict]:
    """A few quarantined records with their error, read line by line, up to ``per_reason`` in all."""
    samples = []
    n_q = 0
    for p in sorted((out / "quarantine").glob("*.jsonl")):
        if n_q >= per_reason:
            break
        with open(p, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    q = json.loads(line)
                except ValueError:
                    continue
                samples.append({"id": f"{q.get('path', '')}:{q.get('line', q.get('offset', ''))}", "source": "",
                                "outcome": "quarantined", "reason": f"quarantined/{q.get('kind', '')}",
                                "text": _preview(f"{q.get('error', '')}\n\n{q.get('raw', '') or ''}")})
                n_q += 1
                if n_q >= per_reason:
                    break
    return samples


def _fill_cluster_texts(rep: ReportData, kept_files, rejects) -> None:
    want = {i for c in rep.clusters for ex in c["examples"] for i in ex}
    if not want:
        return
    found: dict[str, tuple[str, str]] = {}
    value_set = pa.array(sorted(want))
    for p, outcome in [(p, "kept") for p in kept_files] + [(p, "rejected") for p, _, _ in rejects]:
        hit = np.flatnonzero(pc.is_in(_read(p, ["id"]).column("id"), value_set=value_set).to_numpy(zero_copy_only=False))
        if not len(hit):
            continue
        for r in _take(p, hit, ["id", "text"]).to_pylist():
            found.setdefault(r["id"], (outcome, _preview(r["text"])[:400]))
    for c in rep.clusters:
        c["examples"] = [[{"id": i, "outcome": found.get(i, ("?", ""))[0], "text": found.get(i, ("?", ""))[1]} for i in ex]
                         for ex in c["examples"]]


def _truth(truth: dict[str, str], kept_files, rejects, steps) -> list[dict]:
    """Precision and recall of each removal reason against ground truth.

    precision: of the documents this reason removed, the share that should be dropped.
    recall (per step): of the should-drop documents that reached the step, the share it removed."""
    reached_drop: Counter = Counter()  # step index -> should-drop docs that reached it
    removed: dict[str, Counter] = defaultdict(Counter)
    step_of_reason: dict[str, int | None] = {}
    ids_at: list[tuple[int | None, str, list[str]]] = []
    for p, _name, gi in rejects:
        t = _read(p, ["id", "reject_reason"])
        for i, r in zip(t.column("id").to_pylist(), t.column("reject_reason").to_pylist()):
            ids_at.append((gi, r, [i]))
    kept_ids = [i for p in kept_files for i in _read(p, ["id"]).column("id").to_pylist()]
    last = len(steps)
    for i in kept_ids:
        if truth.get(i) == "drop":
            for g in range(last):
                reached_drop[g] += 1
    for gi, r, (i,) in ids_at:
        should = truth.get(i)
        removed[r][should or "unknown"] += 1
        step_of_reason[r] = gi
        if should == "drop" and gi is not None:
            for g in range(gi + 1):
                reached_drop[g] += 1
    rows = []
    step_removed_drop: Counter = Counter()
    for r, c in removed.items():
        if step_of_reason[r] is not None:
            step_removed_drop[step_of_reason[r]] += c["drop"]
    for r, c in sorted(removed.items(), key=lambda kv: -sum(kv[1].values())):
        gi = step_of_reason[r]
        n = c["drop"] + c["keep"]
        rows.append({"reason": r, "removed": sum(c.values()), "should_drop": c["drop"], "should_keep": c["keep"],
                     "precision": c["drop"] / n if n else None,
                     "step_recall": (step_removed_drop[gi] / reached_drop[gi]) if gi is not None and reached_drop[gi] else None})
    return rows


def fmt_bytes(n: int | None) -> str:
    if n is None:
        return "–"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return str(n)
