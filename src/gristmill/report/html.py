"""`gristmill report OUT`: one self-contained HTML page per run.

It answers three questions: what came in and what went out (the funnel), why each thing was
removed (reasons, with examples), and whether the removals were right (distributions with their
thresholds, sensitivity to each threshold, ground truth when labels exist, and a browser of kept
and rejected samples). Data-Juicer's analyzer is the model for the idea; the page has no external
resource: charts are embedded PNGs and the little JavaScript is inline.

Document text is untrusted (a crawl is full of ``<script>``): every server-side string goes through
:func:`html.escape`, the samples travel as JSON inside a ``type="application/json"`` block with
``<``, ``>`` and ``&`` escaped, and the browser inserts them with ``textContent`` only. A Content-Security-Policy with a per-page nonce
is the second wall: no script or inline handler runs unless this module wrote it.
"""
from __future__ import annotations

import html
import json
import secrets
from pathlib import Path

from gristmill.engine.atomic import atomic_write_text
from gristmill.report import plots
from gristmill.report.collect import ReportData, collect, fmt_bytes


def _e(x) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def _json_for_script(obj) -> str:
    s = json.dumps(obj, ensure_ascii=False)
    return (s.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _table(headers: list[str], rows: list[list], cls: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _num(n) -> str:
    if isinstance(n, float) and n.is_integer():
        n = int(n)  # a count stored as a float (an older mixture.json) still prints as a count
    return "–" if n is None else f"{n:,}" if isinstance(n, int) else _e(n)


def render(rep: ReportData) -> str:
    s = rep.summary
    parts: list[str] = []
    inp = s["input"]
    q = s.get("quarantined", 0)
    rej = sum(s.get("rejected", {}).values())
    headline = (f'<div class="cards"><div class="card"><b data-k="input">{inp:,}</b>documents in</div>'
                f'<div class="card ok"><b data-k="kept">{s["kept"]:,}</b>kept ({_pct(s["kept"] / inp if inp else None)})</div>'
                f'<div class="card bad"><b data-k="rejected">{rej:,}</b>rejected</div>'
                f'<div class="card warn"><b data-k="quarantined">{q:,}</b>quarantined</div></div>')
    step_err = s.get("quarantine_errors", {}).get("step_error", 0)
    if step_err:
        headline += f'<p class="alert">{step_err:,} documents broke a step (step_error) and were quarantined: see the quarantine files.</p>'
    parts.append(f"<section id='overview'><h2>What came in, what went out</h2>{headline}</section>")

    # funnel
    rows = []
    prev = None
    scoped = any("sources" in f for f in rep.funnel)
    for f in rep.funnel:
        drop = "" if prev is None else f"{prev - f['docs']:,}"
        scope = ([_e(", ".join(f["sources"])), f"{f['scope_in']:,} → {f['scope_out']:,}"] if "sources" in f
                 else ["all" if prev is not None else "", ""]) if scoped else []
        rows.append([_e(f["stage"]), _num(f["docs"]), drop, *scope, _e(fmt_bytes(f["bytes"])), _num(f["words"])])
        prev = f["docs"]
    parts.append("<section id='funnel'><h2>Funnel</h2>"
                 f"<img class='chart' id='funnel-chart' alt='funnel chart' src='{plots.funnel_chart(rep.funnel)}'>"
                 + _table(["after step", "documents", "removed", *(["scope", "in scope: in → out"] if scoped else []),
                           "text bytes", "words"], rows, "funnel")
                 + "<p class='note'>Every row counts all documents. A step limited to some sources passes the others "
                   "untouched; its scope columns say what it saw. Bytes and words count the text as written (after any "
                   "rewriting steps). Documents quarantined or rejected while reading are not in the funnel.</p></section>")

    if s.get("sources"):
        srows = []
        for name, e in s["sources"].items():
            n = e["input"] or 1
            why = "<br>".join(f"{_e(r)}: {k:,} ({_pct(k / n)})" for r, k in e.get("top_reasons", {}).items())
            if e.get("other_reasons"):
                why += f"<br>other reasons: {e['other_reasons']:,}"
            srows.append([_e(name), f"{e['input']:,}", f"{e['kept']:,}", _pct(e["kept"] / n), f"{e['rejected']:,}",
                          f"{e['quarantined']:,}", _e(fmt_bytes(e["bytes_in"])), _e(fmt_bytes(e["bytes_kept"])), why or "–"])
        parts.append("<section id='by-source'><h2>By source</h2>"
                     + _table(["source", "input", "kept", "kept %", "rejected", "quarantined", "bytes in", "bytes kept",
                               "top reasons (share of the source's input)"], srows, "sources")
                     + "<p class='note'>bytes in: the text (and HTML) as read; bytes kept: the text as written.</p></section>")

    # reasons
    if rep.reasons:
        img = plots.reasons_chart(rep.reasons)
        rrows = [[f"<a href='#samples' class='reason-link' data-reason='{_e(r['reason'])}'>{_e(r['reason'])}</a>",
                  f"{r['count']:,}", _pct(r["share"])] for r in rep.reasons]
        parts.append("<section id='reasons'><h2>Why documents were removed</h2>"
                     + (f"<img class='chart' alt='reasons chart' src='{img}'>" if img else "")
                     + _table(["reason", "documents", "share of input"], rrows, "reasons")
                     + "<p class='note'>Click a reason to see examples in the sample browser.</p></section>")

    if rep.truth:
        trows = [[_e(t["reason"]), f"{t['removed']:,}", f"{t['should_drop']:,}", f"{t['should_keep']:,}",
                  _pct(t["precision"]), _pct(t["step_recall"])] for t in rep.truth]
        parts.append("<section id='truth'><h2>Were the removals right? (ground truth)</h2>"
                     + _table(["reason", "removed", "should be dropped", "should be kept", "precision", "recall of its step"], trows, "truth")
                     + "<p class='note'>precision: of what the reason removed, the share labelled for removal. "
                       "recall: of the documents labelled for removal that reached the step, the share the step removed.</p></section>")

    # distributions and sensitivity
    if rep.distributions:
        imgs = "".join(f"<figure><img class='hist' alt='{_e(d['column'])}' src='{plots.histogram(d)}'>"
                       f"<figcaption>{_e(d['step'])}</figcaption></figure>" for d in rep.distributions)
        parts.append("<section id='distributions'><h2>Measured values: kept against rejected</h2>"
                     "<p class='note'>Green: rows that passed the step (kept, or removed by a later step). Red: rows this step "
                     "rejected. Dashed: the threshold in the recipe.</p>"
                     f"<div class='grid'>{imgs}</div></section>")
    if rep.sensitivity:
        srows = [[_e(f"{r['step']}.{r['param']}"), _e(f"{r['value']:g}"), _num(r["minus10"]), _num(r["plus10"]), f"{r['docs']:,}"]
                 for r in rep.sensitivity]
        parts.append("<section id='sensitivity'><h2>Threshold sensitivity</h2>"
                     + _table(["parameter", "value", "documents that change outcome at −10%", "at +10%", "documents that reached the step"], srows, "sens")
                     + "<p class='note'>Found by re-running each step's selection on the stored columns, as "
                       "<code>gristmill select OUT --set STEP.PARAM=VALUE</code> would.</p></section>")

    if rep.languages:
        top = rep.languages[:25]
        img = plots.bar_chart([l["language"] for l in top], [l["kept"] + l["rejected"] for l in top], "documents")
        lrows = [[_e(l["language"]), f"{l['kept']:,}", f"{l['rejected']:,}"] for l in rep.languages]
        parts.append(f"<section id='languages'><h2>Languages</h2><img class='chart small' alt='languages' src='{img}'>"
                     + _table(["language", "kept", "rejected"], lrows, "langs") + "</section>")

    if rep.clusters:
        blocks = []
        for c in rep.clusters:
            # summary.json sorts keys as strings ("1001+" < "2"); order the size bins by their lower bound
            sizes = dict(sorted(c["sizes"].items(), key=lambda kv: int(kv[0].split("-")[0].rstrip("+"))))
            img = plots.bar_chart(list(sizes), list(sizes.values()), "clusters by size")
            ex = ""
            for members in c["examples"]:
                items = "".join(f"<li class='{_e(m['outcome'])}'><span class='tag'>{_e(m['outcome'])}</span> <code>{_e(m['id'])}</code>"
                                f"<div class='doc'>{_e(m['text'])}</div></li>" for m in members)
                ex += f"<details><summary>cluster of {len(members)}</summary><ul class='cluster'>{items}</ul></details>"
            blocks.append(f"<h3>{_e(c['step'])}: {_num(c['clusters'])} clusters, {_num(c['removed'])} removed</h3>"
                          f"<img class='chart small' alt='cluster sizes' src='{img}'>{ex}")
        parts.append("<section id='clusters'><h2>Duplicate clusters</h2>" + "".join(blocks) + "</section>")

    if rep.counters:
        crow = [[_e(step), _e(k), f"{v:,}"] for step, c in rep.counters.items() for k, v in sorted(c.items())]
        parts.append("<section id='counters'><h2>Counters (PII replacements, rewrites, contamination)</h2>"
                     + _table(["step", "counter", "count"], crow, "counters") + "</section>")

    if rep.mixture:
        mrows = [[_e(m.get("name")), _num(m.get("planned_tokens")), _num(m.get("actual_tokens"))] for m in rep.mixture]
        parts.append("<section id='mixture'><h2>Mixture: planned against actual tokens</h2>"
                     + _table(["source", "planned tokens", "actual tokens"], mrows, "mixture") + "</section>")

    # steps table (timing)
    strows = [[_e(r["step"]), f"{r['in']:,}", f"{r['out']:,}", f"{r['rejected']:,}",
               _e(", ".join(r["sources"])) if "sources" in r else "all",
               f"{r['scope_in']:,} → {r['scope_out']:,}" if "sources" in r else "",
               f"{r['seconds'] + r.get('fit_seconds', 0):.2f}"] for r in s.get("steps", [])]
    parts.append("<section id='steps'><h2>Steps</h2>" + _table(["step", "in", "out", "rejected", "scope", "in scope: in → out", "seconds"],
                                                              strows, "steps") + "</section>")

    # sample browser
    reasons = sorted({x["reason"] for x in rep.samples if x["reason"]})
    opts = "".join(f"<option value='{_e(r)}'>{_e(r)}</option>" for r in reasons)
    n_shown = len(rep.samples)
    parts.append(f"""<section id='samples'><h2>Sample browser</h2>
<p class='note'>{n_shown:,} sampled documents (the counts above are complete; this is a sample). Text is shown as plain text.</p>
<div class='controls'>
 <label>outcome <select id='f-outcome'><option value=''>all</option><option>kept</option><option>rejected</option><option>quarantined</option></select></label>
 <label>reason <select id='f-reason'><option value=''>all</option>{opts}</select></label>
 <label>search <input id='f-search' type='search' placeholder='words in the text or id'></label>
 <span id='f-count'></span>
</div>
<div id='sample-list'></div>
<script type='application/json' id='sample-data'>{_json_for_script(rep.samples)}</script>
</section>""")
    notes = "".join(f"<li>{_e(n)}</li>" for n in rep.notes)
    title = f"gristmill report: {rep.out}"
    return _PAGE.format(title=_e(title), out=_e(rep.out), version=_e(s.get("gristmill_version", "")), body="\n".join(parts),
                        notes=f"<ul class='notes'>{notes}</ul>" if notes else "", css=_CSS, js=_JS,
                        nonce=secrets.token_urlsafe(16))


def write_report(out: Path, *, truth: dict[str, str] | None = None, sample_per_reason: int = 40,
                 sample_kept: int = 120) -> Path:
    """Write ``OUT/report.html`` and return its path."""
    out = Path(out)
    rep = collect(out, truth=truth, sample_per_reason=sample_per_reason, sample_kept=sample_kept)
    target = out / "report.html"
    atomic_write_text(target, render(rep))
    return target


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#212529;background:#f8f9fa}
header{background:#212529;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}header p{margin:2px 0 0;color:#adb5bd}
nav{padding:6px 24px;background:#e9ecef;position:sticky;top:0;z-index:2}nav a{margin-right:14px;color:#1c7ed6;text-decoration:none}
main{padding:8px 24px 40px;max-width:1200px}section{background:#fff;border:1px solid #dee2e6;border-radius:6px;padding:12px 18px;margin:14px 0}
h2{font-size:17px;margin:4px 0 10px}h3{font-size:15px}table{border-collapse:collapse;margin:8px 0}
th,td{border-bottom:1px solid #e9ecef;padding:3px 10px;text-align:right}th:first-child,td:first-child{text-align:left}
th{background:#f1f3f5}.cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #dee2e6;border-radius:6px;padding:8px 16px;min-width:150px}
.card b{display:block;font-size:22px}.ok b{color:#2b8a3e}.bad b{color:#c92a2a}.warn b{color:#e67700}
.alert{background:#fff3bf;border:1px solid #fab005;padding:6px 10px;border-radius:4px}
.note{color:#495057;font-size:12.5px}.chart{max-width:100%}.chart.small{max-width:520px}
.grid{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0}figcaption{font-size:11px;color:#868e96;text-align:center}
.controls{display:flex;gap:16px;flex-wrap:wrap;align-items:center;margin-bottom:8px}
.sample{border:1px solid #dee2e6;border-left:5px solid #868e96;border-radius:4px;padding:6px 10px;margin:6px 0;background:#fff}
.sample.kept{border-left-color:#2b8a3e}.sample.rejected{border-left-color:#c92a2a}.sample.quarantined{border-left-color:#e67700}
.meta{font-size:12px;color:#495057}.meta b{color:#212529}.doc{white-space:pre-wrap;font-family:ui-monospace,Menlo,monospace;font-size:12px;max-height:14em;overflow:auto;margin-top:4px}
.tag{font-size:11px;padding:0 6px;border-radius:8px;background:#e9ecef}ul.cluster{list-style:none;padding-left:0}
li.kept .tag{background:#d3f9d8}li.rejected .tag{background:#ffe3e3}
table.sources td:last-child,table.sources th:last-child{text-align:left}
"""

_JS = r"""
(function(){
  const data = JSON.parse(document.getElementById('sample-data').textContent);
  const list = document.getElementById('sample-list');
  const fo = document.getElementById('f-outcome'), fr = document.getElementById('f-reason'), fs = document.getElementById('f-search');
  const cnt = document.getElementById('f-count');
  function render(){
    const o = fo.value, r = fr.value, q = fs.value.toLowerCase();
    list.replaceChildren();
    let n = 0;
    for (const d of data){
      if (o && d.outcome !== o) continue;
      if (r && d.reason !== r) continue;
      if (q && !((d.text||'').toLowerCase().includes(q) || String(d.id).toLowerCase().includes(q))) continue;
      n++;
      if (n > 300) continue;
      const div = document.createElement('div'); div.className = 'sample ' + d.outcome;
      div.dataset.reason = d.reason || ''; div.dataset.outcome = d.outcome;
      const meta = document.createElement('div'); meta.className = 'meta';
      const b = document.createElement('b'); b.textContent = d.outcome + (d.reason ? ': ' + d.reason : '');
      meta.append(b, document.createTextNode('  id ' + d.id + (d.source ? '  source ' + d.source : '')));
      const doc = document.createElement('div'); doc.className = 'doc'; doc.textContent = d.text;
      div.append(meta, doc); list.append(div);
    }
    cnt.textContent = n + ' matching' + (n > 300 ? ' (first 300 shown)' : '');
  }
  fo.onchange = fr.onchange = render; fs.oninput = render;
  for (const a of document.querySelectorAll('.reason-link')){
    a.addEventListener('click', () => {
      const r = a.dataset.reason;
      if ([...fr.options].some(op => op.value === r)) { fr.value = r; fo.value = ''; fs.value = ''; render(); }
    });
  }
  render();
})();
"""

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'">
<title>{title}</title><style>{css}</style></head>
<body><header><h1>gristmill report</h1><p>{out} · gristmill {version}</p></header>
<nav><a href="#funnel">funnel</a><a href="#by-source">sources</a><a href="#reasons">reasons</a><a href="#distributions">distributions</a><a href="#sensitivity">sensitivity</a><a href="#clusters">clusters</a><a href="#samples">samples</a></nav>
<main>{notes}{body}</main><script nonce="{nonce}">{js}</script></body></html>
"""
