"""A dataset card for a finished output: ``OUT/README.md`` in the Hugging Face dataset-card format.

What goes in it follows "Datasheets for Datasets" (Gebru et al. 2021, CACM 64(12); arXiv:1803.09010):
composition (sources, sizes, languages), collection and preprocessing (every step, its thresholds,
what it removed), sensitive information (PII counters), uses and limitations, distribution
(licence) and how to reproduce it. The layout is Hugging Face's dataset card: YAML metadata
between ``---`` lines at the top (``language``, ``size_categories``, ``license``, and ``configs``
with ``data_files``, which ``datasets.load_dataset(OUT)`` reads to find ``data/*.parquet``; see
huggingface.co/docs/hub/datasets-cards and .../datasets-manual-configuration, and the section names
of huggingface_hub's ``datasetcard_template.md``), then Markdown sections. DataTrove has a card
generator of the same kind; the figures here all come from the run's ledger (``summary.json``), its
``recipe.lock.yaml`` and the Parquet files, never typed in by hand.

A card is only ever written over a README.md that gristmill wrote and nobody edited since: the last
line holds a hash of everything above it. Anything else is refused unless ``force``; then the old
file is kept beside it (``README.md.orig``), and licence fields filled in an earlier card are kept.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from gristmill.engine.atomic import atomic_write_text

__all__ = ["CardError", "render_card", "write_card", "size_category"]

_MARK = re.compile(r"\n<!-- written by `gristmill card`; sha256 of the text above: ([0-9a-f]{64}) -->\n?\Z")
# Metadata the user fills in; carried over when a card is regenerated.
_USER_FIELDS = ("license", "license_name", "license_link", "pretty_name")
_PLACEHOLDER_LICENSE = "unknown"
_MAX_CARD_BYTES = 20_000_000
_MAX_LANGUAGES = 50  # a metadata list, not a histogram: the long tail stays in the section's table


class CardError(ValueError):
    """The card cannot be written; the message says why and what to do."""


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` value for ``n`` rows (the Hub's fixed list of buckets)."""
    edges = [(10**3, "n<1K"), (10**4, "1K<n<10K"), (10**5, "10K<n<100K"), (10**6, "100K<n<1M"),
             (10**7, "1M<n<10M"), (10**8, "10M<n<100M"), (10**9, "100M<n<1B"), (10**10, "1B<n<10B"),
             (10**11, "10B<n<100B"), (10**12, "100B<n<1T")]
    for edge, name in edges:
        if n < edge:
            return name
    return "n>1T"


def _mb(n: int) -> str:
    return f"{n / 1e6:,.2f} MB"


def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:.1f}%" if b else "-"


def _cell(v) -> str:
    s = json.dumps(v) if isinstance(v, (list, dict)) else str(v)
    return s.replace("|", "\\|").replace("\n", " ")


def _scan(files: list[Path]) -> dict:
    """Rows, text bytes and per-source / per-language counts of Parquet files (small columns only,
    one row group at a time, so memory stays bounded on a large output)."""
    rows, nbytes, by_source, by_lang, cols = 0, 0, Counter(), Counter(), None
    for f in files:
        pf = pq.ParquetFile(f)
        names = pf.schema_arrow.names
        cols = cols or [(n, str(pf.schema_arrow.field(n).type)) for n in names]
        want = [c for c in ("text", "source", "language") if c in names]
        for i in range(pf.num_row_groups):
            t = pf.read_row_group(i, columns=want)
            rows += t.num_rows
            if "text" in want:
                nbytes += int(pc.sum(pc.binary_length(t.column("text"))).as_py() or 0)
            for col, counter in (("source", by_source), ("language", by_lang)):
                if col in want:
                    vc = pc.value_counts(t.column(col)).to_pylist()
                    counter.update({str(d["values"]): d["counts"] for d in vc})
    return {"rows": rows, "bytes": nbytes, "sources": by_source, "languages": by_lang, "columns": cols or []}


def _step_doc(name: str) -> tuple[str, set[str], bool]:
    """First paragraph of a step's docstring, its threshold parameters, whether it is global."""
    from gristmill.step import GlobalStep, UnknownStep, get_step

    try:
        cls = get_step(name)
    except UnknownStep:
        return "(a step this gristmill does not know)", set(), False
    doc = " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())
    return doc, set(cls.thresholds), issubclass(cls, GlobalStep)


def _front_matter(card: dict, kept: dict, carried: dict, has_rejected: bool) -> str:
    langs = [l for l, _ in kept["languages"].most_common(_MAX_LANGUAGES) if l and l != "None"]
    meta = {}
    if "pretty_name" in carried:
        meta["pretty_name"] = carried["pretty_name"]
    else:
        meta["pretty_name"] = card["name"]
    if langs:
        meta["language"] = langs
    meta["size_categories"] = [size_category(kept["rows"])]
    meta["task_categories"] = ["text-generation"]
    meta["tags"] = ["gristmill"]
    configs = [{"config_name": "default", "default": True,
                "data_files": [{"split": "train", "path": "data/*.parquet"}]}]
    if has_rejected:
        configs.append({"config_name": "rejected", "data_files": [{"split": "train", "path": "rejected/*.parquet"}]})
    meta["configs"] = configs
    text = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)
    if not langs:
        text += "# language: [en]  # FILL IN: no `language` column (no language_id step ran); ISO 639-1 codes\n"
    lic = {k: carried[k] for k in ("license", "license_name", "license_link") if k in carried}
    if lic:
        text += yaml.safe_dump(lic, sort_keys=False, allow_unicode=True)
    else:
        text += (f"license: {_PLACEHOLDER_LICENSE}  # FILL IN: the licence the sources allow (a Hub licence id, e.g. cc-by-4.0;"
                 " or `other` with license_name and license_link)\n")
    return f"---\n{text}---\n"


def _carried_fields(readme: Path) -> dict:
    """The user-filled metadata of an existing card (only real values, not the placeholder)."""
    try:
        text = readme.read_text(encoding="utf-8", errors="replace")[:1_000_000]
        m = re.match(r"---\n(.*?)\n---\n", text, re.S)
        meta = yaml.safe_load(m.group(1)) if m else None
    except (OSError, yaml.YAMLError):
        return {}
    if not isinstance(meta, dict):
        return {}
    out = {k: meta[k] for k in _USER_FIELDS if k in meta and meta[k] not in (None, "", _PLACEHOLDER_LICENSE)}
    if out.get("pretty_name") == readme.parent.name:
        out.pop("pretty_name")
    return out


def render_card(out: Path, carried: dict | None = None) -> str:
    """The card for output directory ``out``: YAML metadata, then Markdown (without the hash line)."""
    out = Path(out)
    sf, lf = out / "summary.json", out / "recipe.lock.yaml"
    if not sf.exists() or not lf.exists():
        raise CardError(f"{out}: not a finished gristmill output (no summary.json or recipe.lock.yaml); "
                        f"run a recipe first (`gristmill run RECIPE -o {out}`)")
    try:
        summary = json.loads(sf.read_text(encoding="utf-8"))
        lock = yaml.safe_load(lf.read_text(encoding="utf-8"))
    except (ValueError, yaml.YAMLError) as e:
        raise CardError(f"{out}: cannot read summary.json / recipe.lock.yaml ({e}); re-run the recipe") from None
    if not isinstance(summary, dict) or not isinstance(lock, dict):
        raise CardError(f"{out}: summary.json or recipe.lock.yaml is not a mapping; re-run the recipe")
    data_files = sorted((out / "data").glob("*.parquet"))
    rej_files = sorted((out / "rejected").glob("*.parquet"))
    if not data_files:
        raise CardError(f"{out}: no data/*.parquet (the run kept nothing); a card needs at least one kept document")
    kept = _scan(data_files)
    rej = _scan(rej_files) if rej_files else {"rows": 0, "bytes": 0, "sources": Counter(), "languages": Counter(), "columns": []}
    if kept["rows"] != summary.get("kept"):
        raise CardError(f"{out}: data/ holds {kept['rows']} rows but summary.json says {summary.get('kept')} were kept; "
                        "the output is incomplete or was changed: re-run the recipe")
    version = lock.get("gristmill_version") or summary.get("gristmill_version", "?")
    card = {"name": out.resolve().name}
    steps_cfg = [(next(iter(s)), next(iter(s.values())) or {}) for s in lock.get("steps", []) if isinstance(s, dict) and s]
    srows = [s for s in summary.get("steps", []) if isinstance(s, dict)]
    step_rows = {s.get("step"): s for s in srows}
    counters = summary.get("counters", {}) or {}
    reports = summary.get("reports", {}) or {}
    rejected = summary.get("rejected", {}) or {}
    n_in, n_kept, n_q = summary.get("input", 0), summary.get("kept", 0), summary.get("quarantined", 0)
    names = [n for n, _ in steps_cfg]
    L: list[str] = []
    add = L.append

    add(f"# {card['name']}\n")
    add(f"{n_kept:,} documents ({_mb(kept['bytes'])} of UTF-8 text) kept from {n_in:,} input records "
        f"({_pct(n_kept, n_in)}) of {len(lock.get('inputs', []))} input(s), curated by gristmill {version} "
        f"with {len(steps_cfg)} step(s). Every figure in this card comes from the run's ledger "
        "(`summary.json`), its `recipe.lock.yaml` and the Parquet files; `gristmill card` wrote it.\n")
    if lock.get("reselected_from"):
        add(f"This output was re-selected from `{lock['reselected_from']}` with `gristmill select` (new thresholds "
            "on stored columns, no recomputation).\n")

    # -- structure
    add("## Dataset structure\n")
    add("```python\nfrom datasets import load_dataset\nds = load_dataset(\"path/to/this/folder\")            # the kept documents (data/)\n"
        + ("rej = load_dataset(\"path/to/this/folder\", \"rejected\")  # rejected documents with reject_reason\n" if rej_files else "")
        + "```\n")
    add("| path | what | rows |\n|---|---|---|")
    add(f"| `data/*.parquet` ({len(data_files)} files) | kept documents | {kept['rows']:,} |")
    if rej_files:
        add(f"| `rejected/*.parquet` ({len(rej_files)} files) | rejected documents, with `reject_step` and `reject_reason` (`step/rule`) | {rej['rows']:,} |")
    if n_q:
        add(f"| `quarantine/*.jsonl` | records that could not be read or broke a step, with the error | {n_q:,} |")
    add("")
    by_step_cols = {c: s for s, cs in (summary.get("step_columns") or {}).items() for c in cs}
    add("| column | type | from |\n|---|---|---|")
    for col, typ in kept["columns"]:
        origin = by_step_cols.get(col, "input" if col in ("id", "text", "source") else "input field")
        add(f"| `{col}` | {typ} | {origin} |")
    add("")

    # -- sources (composition)
    add("## Sources\n")
    add("| source | format | paths | kept | rejected | kept share |\n|---|---|---|---|---|---|")
    seen = set()
    for spec in lock.get("inputs", []):
        src = spec.get("source") or "(file name)"
        seen.add(src)
        paths = ", ".join(f"`{p}`" for p in spec.get("paths", []))
        k = kept["sources"].get(src, 0) if spec.get("source") else "-"
        r = rej["sources"].get(src, 0) if spec.get("source") else "-"
        add(f"| {_cell(src)} | {spec.get('format', '?')} | {_cell(paths)} | {k if isinstance(k, str) else f'{k:,}'} | "
            f"{r if isinstance(r, str) else f'{r:,}'} | {_pct(k, kept['rows']) if isinstance(k, int) else '-'} |")
    for src in sorted(set(kept["sources"]) | set(rej["sources"])):
        if src not in seen:  # sources named after their files
            k, r = kept["sources"].get(src, 0), rej["sources"].get(src, 0)
            add(f"| {_cell(src)} | | | {k:,} | {r:,} | {_pct(k, kept['rows'])} |")
    add("")
    add(f"Input records: {n_in:,}; kept {n_kept:,}; rejected {sum(rejected.values()):,}; quarantined {n_q:,} "
        f"(`input = kept + rejected + quarantined`, checked by the run).\n")
    if kept["languages"]:
        add("Languages of the kept documents (the `language` column):\n")
        add("| language | documents | share |\n|---|---|---|")
        for lang, c in kept["languages"].most_common(20):
            add(f"| {_cell(lang)} | {c:,} | {_pct(c, kept['rows'])} |")
        if len(kept["languages"]) > 20:
            rest = sum(c for _, c in kept["languages"].most_common()[20:])
            add(f"| {len(kept['languages']) - 20} others | {rest:,} | {_pct(rest, kept['rows'])} |")
        add("")

    # -- processing
    add("## Processing\n")
    add("The steps in order, with every parameter (thresholds in bold) and what each removed. "
        "A step's documentation, with the source of each default: `gristmill steps NAME`.\n")
    for i, (name, cfg) in enumerate(steps_cfg, 1):
        doc, thr, is_global = _step_doc(name)
        # By position: a recipe may run the same step twice.
        row = srows[i - 1] if i - 1 < len(srows) and srows[i - 1].get("step") == name else step_rows.get(name, {})
        add(f"### {i}. `{name}`{' (global)' if is_global else ''}\n")
        add(f"{doc}\n")
        if cfg:
            params = ", ".join((f"**{k}={_cell(v)}**" if k in thr else f"{k}={_cell(v)}") for k, v in cfg.items())
            add(f"Parameters: {params}\n")
        if row:
            add(f"Documents in {row.get('in', 0):,}, out {row.get('out', 0):,}, rejected {row.get('rejected', 0):,}"
                + (f", step errors {row['step_errors']:,}" if row.get("step_errors") else "") + ".\n")
        reasons = {r: n for r, n in rejected.items() if r.split("/", 1)[0] == name}
        if reasons:
            add("| reason | documents | share of input |\n|---|---|---|")
            for r, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
                add(f"| `{r}` | {n:,} | {_pct(n, n_in)} |")
            add("")
        if counters.get(name):
            add("Counters: " + ", ".join(f"{k}={v:,}" for k, v in sorted(counters[name].items())) + "\n")
    add("")

    # -- dedup
    add("## Deduplication\n")
    dedup = [n for n in names if n.endswith("_dedup")]
    if not dedup:
        add("No deduplication step ran: the data may hold exact and near-duplicate documents.\n")
    for name in dedup:
        rep = reports.get(name) or {}
        cnt = counters.get(name) or {}
        removed = sum(n for r, n in rejected.items() if r.split("/", 1)[0] == name)
        figs = [f"documents removed {removed:,}"]
        figs += [f"{k.replace('_', ' ')} {v:,}" for k, v in rep.items()
                 if isinstance(v, int) and not isinstance(v, bool) and k != "removed"]
        figs += [f"{k.replace('_', ' ')} {v:,}" for k, v in sorted(cnt.items())
                 if isinstance(v, int) and not k.startswith("cluster_size_") and k not in rep]
        add(f"- `{name}`: " + ", ".join(figs))
        dist = rep.get("cluster_size_distribution")
        if isinstance(dist, dict) and any(dist.values()):
            add("  (cluster sizes: " + ", ".join(f"{k}: {v:,}" for k, v in dist.items() if v) + ")")
    add("")

    # -- PII
    add("## Personal and sensitive information\n")
    if "pii" in names:
        c = counters.get("pii", {})
        kinds = ", ".join(f"{k} {v:,}" for k, v in sorted(c.items()) if k != "docs_changed") or "none found"
        add(f"The `pii` step replaced personal data with placeholders in {c.get('docs_changed', 0):,} documents: {kinds}. "
            f"Kinds searched: {', '.join(dict(steps_cfg)['pii'].get('kinds', [])) or '?'}. Names, postal addresses, "
            "account and ID numbers are not detected: the data can still contain personal information.\n")
    else:
        add("No PII step ran: the data may contain e-mail addresses, phone numbers, IP addresses, names and other "
            "personal information.\n")

    # -- decontamination
    add("## Decontamination\n")
    if "decontaminate" in names:
        c = counters.get("decontaminate", {})
        cfg = dict(steps_cfg)["decontaminate"]
        per = ", ".join(f"{k.split(':', 1)[1]} {v:,}" for k, v in sorted(c.items()) if k.startswith("benchmark:"))
        removed = sum(n for r, n in rejected.items() if r.startswith("decontaminate/"))
        add(f"Word n-gram overlap with the benchmarks in `{cfg.get('index', '?')}`: {c.get('contaminated_docs', 0):,} "
            f"documents matched ({per or 'no benchmark matched'}); {removed:,} removed, {c.get('redacted_docs', 0):,} redacted. "
            "Only verbatim overlap is found: paraphrased or translated benchmark items are not.\n")
        measured = _probe_figures(cfg.get("index"))
        if measured:
            add(measured + "\n")
    else:
        add("No decontamination step ran: the data was not checked against any evaluation benchmark.\n")

    # -- limitations
    add("## Known limitations\n")
    for line in _limitations(names, dict(steps_cfg), lock, summary, kept):
        add(f"- {line}")
    add("")

    # -- reproduce
    add("## How to reproduce\n")
    recipe = {k: v for k, v in lock.items() if k not in ("gristmill_version", "reselected_from")}
    add(f"Save the recipe below (this run's `recipe.lock.yaml`: every default filled in) as `recipe.yaml`, then, "
        "from the directory the run was started in (input paths are relative to it):\n")
    add(f"```\npip install gristmill=={version}\ngristmill run recipe.yaml -o {card['name']}\n```\n")
    add("```yaml\n" + yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True) + "```\n")

    # -- licence, citation
    add("## License\n")
    lic = (carried or {}).get("license")
    add((f"`{lic}`, as filled in by the curator.\n" if lic else
         "Not filled in yet: set `license:` in the metadata above to what the sources allow. gristmill does not "
         "know the licences of its inputs.\n"))
    add("## References\n")
    add("- Gebru et al. 2021, \"Datasheets for Datasets\", Communications of the ACM 64(12) (arXiv:1803.09010): the questions this card answers.")
    add("- Hugging Face dataset cards (huggingface.co/docs/hub/datasets-cards): the metadata and layout.")
    add("- Each step's defaults cite their sources: `gristmill steps NAME`.")
    return _front_matter(card, kept, carried or {}, bool(rej_files)) + "\n" + "\n".join(L).rstrip() + "\n"


def _limitations(names: list[str], cfg: dict, lock: dict, summary: dict, kept: dict) -> list[str]:
    out = []
    english = [n for n in names if n in ("gopher_quality", "gopher_repetition", "c4_quality", "fineweb_quality", "refinedweb_lines")
               and not ((cfg.get(n) or {}).get("language_column") or (cfg.get(n) or {}).get("language", "en") != "en")]
    if english:
        out.append(f"{', '.join(f'`{n}`' for n in english)} use English word splitting and thresholds set on English "
                   "web text; text in other languages, code and technical documentation is removed more often than "
                   "English prose of the same quality.")
    if "language_id" in names:
        c = cfg["language_id"]
        out.append(f"Languages come from `language_id` ({c.get('engine', '?')}, min_score {c.get('min_score', '?')}), "
                   "which is unreliable on short documents, code and mixed-language text.")
    if any(n in names for n in english + ["url_filter", "quality_score", "quality_select"]):
        out.append("Rule- and classifier-based filtering removes text by surface features; it encodes the choices of "
                   "the rules' authors and can under-represent dialects and minority topics (Dodge et al. 2021, "
                   "\"Documenting Large Webtext Corpora\").")
    if "minhash_dedup" in names:
        c = cfg["minhash_dedup"]
        out.append(f"Near-duplicates are found by MinHash LSH ({c.get('bands')} bands x {c.get('rows')} rows, "
                   f"{c.get('ngram')}-word shingles): pairs below Jaccard {c.get('jaccard_threshold')} stay, and LSH "
                   "misses some pairs above it.")
    elif "exact_dedup" in names:
        out.append("Only exact duplicates were removed; near-duplicates (small edits, templated pages) remain.")
    if "substring_dedup" in names:
        out.append(f"`substring_dedup` removed verbatim repeats of {cfg['substring_dedup'].get('length')} or more tokens "
                   "from inside documents, so a shortened document can read discontinuously where a span was cut; "
                   "shorter repeated boilerplate remains (Lee et al. 2022).")
    if summary.get("quarantined"):
        out.append(f"{summary['quarantined']:,} input records could not be read or processed and are not in the data "
                   "(`quarantine/` holds each with its error).")
    if not (lock.get("output") or {}).get("keep_rejected", True):
        out.append("Rejected documents were not kept (`output.keep_rejected: false`), so removals cannot be audited.")
    if not kept["sources"]:
        out.append("No `source` column: the share of each input is unknown.")
    out.append("Licences and consent of the sources are not checked by gristmill; fill in `license` and check the "
               "terms of every source before distributing.")
    return out


def _sign(body: str) -> str:
    return body + f"\n<!-- written by `gristmill card`; sha256 of the text above: {hashlib.sha256(body.encode()).hexdigest()} -->\n"


def _ours(text: str) -> bool | None:
    """True: a card gristmill wrote, unedited; False: gristmill's, edited since; None: not gristmill's."""
    m = _MARK.search(text)
    if not m:
        return None
    return hashlib.sha256(text[: m.start()].encode()).hexdigest() == m.group(1)


def is_own_card(path: Path) -> bool:
    """True for a README.md that ``gristmill card`` wrote and nobody edited since (safe to remove when
    its output is replaced: its figures describe the old run); a user's or an edited card is never ours."""
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > _MAX_CARD_BYTES:
            return False
        return _ours(path.read_text(encoding="utf-8", errors="replace")) is True
    except OSError:
        return False


def write_card(out: Path, force: bool = False) -> Path:
    """Write ``out/README.md``. An existing README.md that gristmill did not write (or that was
    edited since) is refused unless ``force``, which keeps the old file as ``README.md.orig``
    (``.orig.1``, ... if taken) and carries over licence fields filled in an earlier card."""
    out = Path(out)
    readme = out / "README.md"
    carried: dict = {}
    backup = None
    if readme.is_symlink() or (readme.exists() and not readme.is_file()):
        raise CardError(f"{readme}: not a regular file; gristmill will not write through it. Move it away first.")
    if readme.exists():
        # A card is a few KB; a huge README is certainly not one gristmill wrote (and is not read whole).
        state = _ours(readme.read_text(encoding="utf-8", errors="replace")) if readme.stat().st_size < _MAX_CARD_BYTES else None
        carried = _carried_fields(readme)
        if state is not True and not force:
            why = ("was edited after `gristmill card` wrote it" if state is False else "was not written by gristmill")
            raise CardError(f"{readme} {why}; refusing to overwrite it. Move it away, or pass --force "
                            "(the old file is kept as README.md.orig; licence fields filled in are carried over)")
        if state is not True:
            backup = out / "README.md.orig"
            k = 0
            while backup.exists():
                k += 1
                backup = out / f"README.md.orig.{k}"
    text = render_card(out, carried)
    if backup is not None:
        shutil.copyfile(readme, backup)
    atomic_write_text(readme, _sign(text))
    return readme


def _probe_figures(index) -> str | None:
    """The index's precision and recall on labelled probes (``gristmill decontam index --probes``)
    and its frequent-n-gram setting, as one sentence; None when the index has neither or is gone."""
    if not index:
        return None
    try:
        from gristmill.annotate.contamination import NgramIndex

        NgramIndex(Path(index))  # validated (bounded meta, version) before its figures are trusted
        meta = json.loads((Path(index) / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    parts = []
    ref = meta.get("reference") if isinstance(meta.get("reference"), dict) else None
    if ref:
        parts.append(f"n-grams found in more than {ref.get('ignore_above')} of {ref.get('documents', 0):,} reference documents "
                     f"were left out of the index ({ref.get('ignored_ngrams', 0):,} n-grams: shared boilerplate)")
    ev = meta.get("probe_eval") if isinstance(meta.get("probe_eval"), dict) else None
    if ev and isinstance(ev.get("benchmarks"), dict):
        fmt = (lambda x: "-" if not isinstance(x, (int, float)) else f"{x:.3f}")
        per = "; ".join(f"{name}: precision {fmt(r.get('precision'))}, recall {fmt(r.get('recall'))}"
                        for name, r in list(ev["benchmarks"].items())[:50] if isinstance(r, dict))
        parts.append(f"measured on {ev.get('probes', 0):,} labelled probes (planted verbatim and edited benchmark items, "
                     f"innocent boilerplate): {per}")
    return ("The index's precision and recall: " + "; ".join(parts) + ".") if parts else None

