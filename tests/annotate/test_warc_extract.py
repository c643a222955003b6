"""WARC reading (gristmill.io.warc) and HTML extraction (html_extract) on real pages built from pydoc."""
from __future__ import annotations

import gzip
from pathlib import Path
import pickle

import pyarrow as pa
import pytest

from fixtures_web import (FRENCH, MODULES, NAV_WORDS, cp1252_smart_quotes_page, docstring_sentences, latin1_page,
                          recall, site_page, site_pages, words)
from gristmill.annotate.extract import HtmlExtract, extract_main_text
from gristmill.io.warc import decode_html, iter_warc, looks_binary, write_warc
from gristmill.step import get_step


def events(path):
    return list(iter_warc(path))


def records(path):
    return [info for kind, info in iter_warc(path) if kind == "record"]


def table_of(htmls: list[str | None]) -> pa.Table:
    n = len(htmls)
    return pa.table({"id": [str(i) for i in range(n)], "text": [""] * n, "source": ["web"] * n,
                     "html": pa.array(htmls, pa.string())})


# ---------------------------------------------------------------- WARC reading

@pytest.mark.parametrize("name", ["pages.warc.gz", "pages.warc"])
def test_roundtrip_real_pages(tmp_path, name):
    pages = site_pages()
    path = write_warc(tmp_path / name, pages)
    ev = events(path)
    assert [k for k, _ in ev] == ["skip"] + ["record"] * len(pages)
    assert ev[0][1]["reason"] == "not_response"  # the warcinfo record
    recs = [i for k, i in ev if k == "record"]
    assert [r["url"] for r in recs] == [u for u, _, _ in pages]
    assert [r["html"] for r in recs] == [b.decode("utf-8") for _, b, _ in pages]
    assert all(r["id"].startswith("urn:uuid:") for r in recs)
    assert len({r["id"] for r in recs}) == len(recs)
    assert all(r["content_type"] == "text/html" and r["fetch_time"] for r in recs)
    offsets = [r["offset"] for r in recs]
    assert offsets == sorted(offsets) and offsets[0] > 0
    # Offsets point at the record: reading from there gives that record first.
    with open(path, "rb") as f:
        f.seek(offsets[3])
        rest = f.read()
    sub = tmp_path / ("tail-" + name)
    sub.write_bytes(rest)
    assert records(sub)[0]["url"] == pages[3][0]


def test_non_documents_are_skipped_with_reason(tmp_path):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    path = write_warc(tmp_path / "mixed.warc.gz", [
        ("https://e.org/a.html", site_page("textwrap").encode(), None),
        ("https://e.org/logo.png", png, {"Content-Type": "image/png"}),
        ("https://e.org/moved", b"<html><body>Moved</body></html>", {":status": "301 Moved Permanently",
                                                                     "Content-Type": "text/html", "Location": "/a"}),
        ("https://e.org/data.json", b'{"a": 1}', {"Content-Type": "application/json"}),
        ("https://e.org/untyped", b"<!DOCTYPE html><html><body><p>No content type header.</p></body></html>", []),
        ("https://e.org/untyped.bin", b"just some bytes, no type, not html", []),
    ])
    ev = events(path)
    kinds = [(k, i.get("reason")) for k, i in ev]
    assert kinds == [("skip", "not_response"), ("record", None), ("skip", "non_html"), ("skip", "http_status"),
                     ("skip", "non_html"), ("record", None), ("skip", "non_html")]
    assert ev[2][1]["content_type"] == "image/png"
    assert "No content type header." in ev[5][1]["html"]


@pytest.mark.parametrize("name", ["cut.warc.gz", "cut.warc"])
def test_truncated_file_keeps_what_came_before(tmp_path, name):
    pages = site_pages()
    full = write_warc(tmp_path / ("full-" + name), pages).read_bytes()
    path = tmp_path / name
    path.write_bytes(full[:-700])  # cut inside the last record
    ev = events(path)  # must not raise
    recs = [i for k, i in ev if k == "record"]
    assert [r["url"] for r in recs] == [u for u, _, _ in pages[:-1]]
    assert [r["html"] for r in recs] == [b.decode() for _, b, _ in pages[:-1]]
    assert ev[-1][0] == "quarantine"
    q = ev[-1][1]
    assert "truncated" in q["error"] and q["kind"] == "truncated"
    assert q["offset"] > recs[-1]["offset"]
    assert 0 < len(q["raw"]) <= 1024
    assert full[q["offset"]:q["offset"] + len(q["raw"])] == q["raw"]


def test_corrupt_and_garbage_files_are_quarantined_not_raised(tmp_path):
    pages = site_pages(modules=MODULES[:3])
    good = write_warc(tmp_path / "good.warc.gz", pages).read_bytes()
    # Flip bytes inside the second gzip member: only that record is quarantined; reading resumes at the third.
    ev_ok = events(tmp_path / "good.warc.gz")
    second = [i["offset"] for k, i in ev_ok if k == "record"][1]
    bad = bytearray(good)
    for j in range(second + 20, second + 60):
        bad[j] ^= 0xFF
    (tmp_path / "bad.warc.gz").write_bytes(bytes(bad))
    ev = events(tmp_path / "bad.warc.gz")
    assert [i["url"] for k, i in ev if k == "record"] == [pages[0][0], pages[2][0]]
    q = [i for k, i in ev if k == "quarantine"]
    assert len(q) == 1 and q[0]["offset"] == second and q[0]["kind"] == "corrupt"
    third = [i["offset"] for k, i in ev_ok if k == "record"][2]
    assert q[0]["skipped_bytes"] == third - second

    (tmp_path / "junk.warc").write_bytes(b"this is not a WARC file at all\n" * 50)
    ev = events(tmp_path / "junk.warc")
    assert [k for k, _ in ev] == ["quarantine"]
    assert ev[0][1]["offset"] == 0 and ev[0][1]["raw"].startswith(b"this is not")

    (tmp_path / "junk.warc.gz").write_bytes(gzip.compress(b"\x00\x01garbage" * 100))
    assert [k for k, _ in events(tmp_path / "junk.warc.gz")] == ["quarantine"]


def test_binary_payload_labelled_html_is_quarantined(tmp_path):
    blob = bytes((i * 7919) % 256 for i in range(5000))
    path = write_warc(tmp_path / "bin.warc.gz", [
        ("https://e.org/bin.html", blob, {"Content-Type": "text/html"}),
        ("https://e.org/ok.html", site_page("string").encode(), None),
    ])
    ev = events(path)
    assert [k for k, _ in ev] == ["skip", "quarantine", "record"]
    assert ev[1][1]["kind"] == "binary" and ev[1][1]["raw"] == blob[:1024]


def test_charsets(tmp_path):
    smart = "\u201cWe\u2019re not done yet,\u201d said the caf\u00e9 owner"
    path = write_warc(tmp_path / "cs.warc", [
        ("https://e.org/latin1-noheader", latin1_page(), {"Content-Type": "text/html"}),
        ("https://e.org/latin1-meta", latin1_page("iso-8859-1"), {"Content-Type": "text/html"}),
        ("https://e.org/latin1-http", latin1_page(), {"Content-Type": "text/html; charset=ISO-8859-1"}),
        ("https://e.org/lies", cp1252_smart_quotes_page(), {"Content-Type": "text/html; charset=utf-8"}),
        ("https://e.org/utf8-noheader", f"<html><body><p>{FRENCH} {smart}</p></body></html>".encode(), []),
        ("https://e.org/bogus-label", latin1_page(), {"Content-Type": "text/html; charset=x-no-such-charset"}),
    ])
    recs = {r["url"].rsplit("/", 1)[1]: r for r in records(path)}
    assert set(recs) == {"latin1-noheader", "latin1-meta", "latin1-http", "lies", "utf8-noheader", "bogus-label"}
    for key in ("latin1-noheader", "latin1-meta", "latin1-http", "bogus-label", "utf8-noheader"):
        assert FRENCH.strip() in recs[key]["html"], key
    assert smart in recs["lies"]["html"]
    assert "\ufffd" not in "".join(r["html"] for r in recs.values())
    assert recs["utf8-noheader"]["charset"] == "utf-8"


def test_decode_html_bom_and_binary_sniffing():
    assert decode_html(b"\xef\xbb\xbf<p>caf\xc3\xa9</p>", "iso-8859-1") == ("<p>caf\u00e9</p>", "utf-8")
    assert decode_html(b"\xff\xfe" + "<p>na\u00efve</p>".encode("utf-16-le")) == ("<p>na\u00efve</p>", "utf-16-le")
    assert looks_binary(b"<html>\x00</html>") and not looks_binary(site_page("json").encode())
    assert looks_binary("\ufffd" * 50 + "<html>") and not looks_binary("<p>caf\u00e9</p>")


def test_empty_payload_is_a_record_the_extractor_rejects(tmp_path):
    path = write_warc(tmp_path / "e.warc.gz", [("https://e.org/empty", b"", {"Content-Type": "text/html"})])
    recs = records(path)
    assert len(recs) == 1 and recs[0]["html"] == ""
    step = HtmlExtract()
    t = step.annotate(table_of([recs[0]["html"]]))
    assert step.select(t).to_pylist() == ["no_html"]


# ---------------------------------------------------------------- extraction

@pytest.mark.parametrize("landmark", ["main", "role", "none"])
def test_extract_keeps_docstrings_and_drops_boilerplate(landmark):
    for mod in MODULES[:4]:
        text = extract_main_text(site_page(mod, landmark))
        for sentence in docstring_sentences(mod):
            assert recall(sentence, text) >= 0.9, (mod, landmark, sentence)
        got = set(words(text))
        leaked = [w for w in NAV_WORDS if w.lower() in got]
        if landmark == "none":
            # No landmark: resiliparse's own main-content heuristics decide; menus and footers must go.
            leaked = [w for w in leaked if w not in ("NAVWORDtoc",)]
        assert not leaked, (mod, landmark, leaked)
        assert "navwordscript" not in got


def test_link_density_threshold_is_what_drops_the_toc():
    page = site_page("textwrap", "main")
    assert "navwordtoc" not in words(extract_main_text(page, link_density=0.5))
    # A list that is mostly prose with one link stays.
    prose = ("<main><p>Intro paragraph with enough words to matter here.</p><ul>"
             "<li>The <a href='x'>wrap</a> function splits a long paragraph into lines of a width.</li>"
             "<li>The fill function joins those lines into a single string for printing.</li></ul></main>")
    assert "joins those lines" in extract_main_text(prose)
    # The permalink pilcrow that documentation generators put in headings is dropped.
    assert "\u00b6" not in extract_main_text("<main><h1>Title<a href='#title'>\u00b6</a></h1><p>Body text here.</p></main>")


def test_step_statuses_and_reasons():
    step = get_step("html_extract")()
    junk = "".join(chr(i % 32) for i in range(3000))
    htmls = [site_page("json"), None, "   ", "<html><body></body></html>", junk,
             "<html><p>unclosed <div><b><i>broken markup <<<>>> still text here</p></span></td>",
             "<html><body><script>var x = 1;</script><style>p{}</style></body></html>"]
    t = step.annotate(table_of(htmls))
    assert t.num_rows == len(htmls)
    assert t.column("html_extract_status").to_pylist() == ["ok", "no_html", "no_html", "empty", "binary", "ok", "empty"]
    assert step.select(t).to_pylist() == [None, "no_html", "no_html", "empty_extraction", "binary", None,
                                          "empty_extraction"]
    assert "broken markup" in t.column("text")[5].as_py()
    assert t.column("html_extract_chars").to_pylist()[0] == len(t.column("text")[0].as_py()) > 200
    assert t.schema.field("html_extract_chars").type == pa.int32()


def test_empty_table_and_schema():
    step = HtmlExtract(HtmlExtract.Config(keep_html=False))
    t = step.annotate(table_of([]))
    assert t.num_rows == 0 and "html" not in t.column_names
    assert t.schema.field("text").type == pa.large_string()  # the one text type, gristmill.arrow.TEXT_TYPE
    assert t.schema.field("html_extract_status").type == pa.string()
    assert len(step.select(t)) == 0
    big = table_of([site_page("shlex")]).cast(pa.schema([("id", pa.string()), ("text", pa.large_string()),
                                                          ("source", pa.string()), ("html", pa.large_string())]))
    out = step.annotate(big)
    assert out.schema.field("text").type == pa.large_string()  # the reader's type is kept


def test_bad_config_and_input_are_clear():
    with pytest.raises(ValueError, match="link_density"):
        HtmlExtract.Config(link_density=0)
    with pytest.raises(Exception, match="engine"):
        HtmlExtract.Config(engine="lxml")
    with pytest.raises(KeyError, match="no column 'html'"):
        HtmlExtract().annotate(pa.table({"id": ["a"], "text": ["x"], "source": ["s"]}))
    with pytest.raises(TypeError, match="expected string"):
        HtmlExtract().annotate(pa.table({"id": ["a"], "text": ["x"], "source": ["s"], "html": pa.array([b"<p>"])}))


def test_step_pickles_and_extracts_from_warc(tmp_path):
    path = write_warc(tmp_path / "p.warc.gz", site_pages(modules=MODULES[:3]))
    recs = records(path)
    step = pickle.loads(pickle.dumps(HtmlExtract()))
    t = step.annotate(table_of([r["html"] for r in recs]))
    assert step.select(t).null_count == len(recs)
    for mod, text in zip(MODULES[:3], t.column("text").to_pylist()):
        assert recall(" ".join(docstring_sentences(mod)), text) >= 0.9


def test_trafilatura_engine():
    pytest.importorskip("trafilatura")
    step = HtmlExtract(HtmlExtract.Config(engine="trafilatura"))
    t = step.annotate(table_of([site_page("textwrap"), "<html><body></body></html>"]))
    assert step.select(t).to_pylist() == [None, "empty_extraction"]
    assert recall(docstring_sentences("textwrap")[0], t.column("text")[0].as_py()) >= 0.9


def _prose_pages(n: int = 12) -> list[tuple[str, bytes, dict]]:
    """Real English prose (stdlib docstrings, as in the demo corpus) inside a site template with nav and footer."""
    import html as _html
    import json
    import tempfile

    from gristmill.demo import build_demo_corpus

    with tempfile.TemporaryDirectory() as d:
        build_demo_corpus(Path(d), n_docs=400)
        labels = [json.loads(l) for l in open(Path(d) / "labels.jsonl")]
        clean = {r["id"] for r in labels if r["label"] == "clean" and r["source"] == "web"}
        docs = []
        for line in gzip.open(Path(d) / "web.jsonl.gz", "rt"):
            try:
                docs.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # the corpus's deliberately malformed line
    docs = [x for x in docs if x.get("id") in clean and len(x["text"].split()) >= 90][:n]
    pages = []
    for k, doc in enumerate(docs):
        paras = "".join(f"<p>{_html.escape(p)}</p>" for p in doc["text"].split("\n\n"))
        body = (f"<html><head><meta charset='utf-8'><title>Notes {k}</title></head><body>"
                "<nav><ul><li><a href='/'>Home</a></li><li><a href='/blog'>Blog</a></li><li><a href='/about'>About us</a></li></ul></nav>"
                f"<main><h1>Notes {k}</h1>{paras}</main>"
                "<footer><p>Copyright 2026 Example Press. All rights reserved.</p></footer></body></html>")
        pages.append((f"https://blog.example.org/notes/{k}", body.encode(), {"Content-Type": "text/html; charset=utf-8"}))
    return pages


def test_web_recipe_end_to_end_on_a_warc_of_real_pages(tmp_path):
    """recipes/web.yaml, unchanged but for its input path, on a WARC of real prose pages plus bad records."""
    from importlib import resources

    import pyarrow.parquet as pq
    import yaml

    from gristmill.engine.local import run
    from gristmill.io.warc import write_warc
    from gristmill.recipe import recipe_from_dict

    prose = _prose_pages()
    assert len(prose) >= 8
    spam = ("<html><body><div>" + " ".join(["BUY CHEAP PILLS NOW"] * 200) + "</div></body></html>").encode()
    bad = [("https://shop.example.com/pills", spam, {"Content-Type": "text/html; charset=utf-8"}),
           ("https://cdn.example.com/logo.png", b"\x89PNG\r\n\x1a\n" + bytes(200), {"Content-Type": "image/png"}),
           ("https://example.com/empty", b"", {"Content-Type": "text/html"})]
    pages = prose + site_pages()[:3] + bad
    write_warc(tmp_path / "crawl.warc.gz", pages)
    recipe = yaml.safe_load(resources.files("gristmill").joinpath("recipes/web.yaml").read_text())
    recipe["input"]["paths"] = [str(tmp_path / "*.warc.gz")]
    recipe["output"]["path"] = str(tmp_path / "out")
    s = run(recipe_from_dict(recipe), workers=1, progress=False)
    assert s["input"] == len(pages) == s["kept"] + sum(s["rejected"].values()) + s["quarantined"]
    assert s["rejected"].get("read/non_html") == 1
    assert any(k.startswith("html_extract/") for k in s["rejected"])  # the empty page
    kept = pq.read_table(tmp_path / "out" / "data")
    urls = set(kept.column("url").to_pylist())
    assert "https://shop.example.com/pills" not in urls
    prose_kept = [u for u, _, _ in prose if u in urls]
    assert len(prose_kept) >= 0.75 * len(prose)  # real prose survives every rule
    assert "html" not in kept.column_names and {"url", "language", "language_score"} <= set(kept.column_names)
    text = " ".join(kept.column("text").to_pylist())
    assert "All rights reserved" not in text and "About us" not in text  # boilerplate gone
