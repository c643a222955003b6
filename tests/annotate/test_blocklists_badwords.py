"""Issue 23 item 5: URL block lists with categories (UT1 folders, plain lists, hosts files, subdomain
and URL-prefix matching) and the per-language bad-words tagger, through the JSON Lines reader and
`gristmill run`/`select`; both tag columns and select on them."""
import gzip
import json
from pathlib import Path

import pyarrow.parquet as pq
import yaml
from typer.testing import CliRunner

from gristmill.annotate.blocklists import load_blocklists, parse_line
from gristmill.cli import app

SUPPORT = Path(__file__).resolve().parents[1] / "support"
runner = CliRunner()


def _lists(tmp: Path) -> list[Path]:
    ut1 = tmp / "blacklists"
    (ut1 / "adult").mkdir(parents=True)
    (ut1 / "adult" / "domains").write_text("adult.example\nshared.example\n")
    (ut1 / "adult" / "urls").write_text("news.example/adult\n")
    (ut1 / "gambling").mkdir()
    (ut1 / "gambling" / "domains").write_text("casino.example\nshared.example\n")
    (ut1 / "gambling" / "usage").write_text("black\n")  # UT1 folders carry other files; not a list
    plain = tmp / "phishing.txt"
    plain.write_text("# phishing domains\nlogin-bank.example\n||adblock-style.example^\n" + "x" * 10_000 + "\n")
    hosts = tmp / "hosts"
    with gzip.open(hosts, "wt") as f:  # a compressed hosts file
        f.write("127.0.0.1 localhost\n::1 ip6-localhost\n0.0.0.0 tracker.example  # ads\n0.0.0.0 a.ads.example b.ads.example\n")
    return [ut1, plain, hosts]


DOCS = [
    ("clean", "https://www.library.example/opening-hours"),
    ("adult_sub", "http://videos.adult.example/x"),          # subdomain of a listed domain
    ("adult_url", "https://news.example/adult/story?id=3"),  # below a listed URL
    ("news_ok", "https://news.example/adulthood-essay"),      # not at a / boundary: not below it
    ("gambling", "https://casino.example/"),
    ("both", "https://shared.example/page"),                 # listed in two categories
    ("phish", "https://LOGIN-BANK.example./account"),
    ("adblock", "https://adblock-style.example/"),
    ("hosts", "https://b.ads.example/pixel.gif"),
    ("no_url", None),
]


def _run(tmp: Path, cfg: dict, name: str):
    data = tmp / "docs.jsonl"
    data.write_text("".join(json.dumps({"id": i, "text": f"Document {i} has some words.", **({"url": u} if u else {})}) + "\n"
                            for i, u in DOCS))
    rp = tmp / f"{name}.yaml"
    rp.write_text(yaml.safe_dump({"inputs": [{"paths": [str(data)], "fields": ["url"]}],
                                  "steps": [{"url_filter": {**cfg, "banned_words": [], "banned_subwords": [], "soft_banned_words": []}}],
                                  "output": {"path": str(tmp / name), "keep_rejected": True}}))
    res = runner.invoke(app, ["run", str(rp), "-w", "1"])
    assert res.exit_code == 0, (res.output, res.exception)
    return tmp / name


def _read(out: Path):
    kept = pq.read_table(out / "data").to_pylist()
    rej = pq.read_table(out / "rejected").to_pylist() if any((out / "rejected").glob("*.parquet")) else []
    return ({r["id"]: r["url_blocklist_categories"] for r in kept + rej},
            {r["id"] for r in kept}, {r["id"]: r["reject_reason"] for r in rej})


def test_block_lists_tag_every_category_and_reject_the_chosen_ones(tmp_path):
    out = _run(tmp_path, {"blocklists": [str(p) for p in _lists(tmp_path)], "block_categories": ["adult", "phishing", "hosts"]}, "o")
    cats, kept, reasons = _read(out)
    assert cats == {"clean": None, "adult_sub": "adult", "adult_url": "adult", "news_ok": None, "gambling": "gambling",
                    "both": "adult,gambling", "phish": "phishing", "adblock": "phishing", "hosts": "hosts", "no_url": None}
    assert kept == {"clean", "news_ok", "gambling", "no_url"}  # gambling is tagged, not chosen
    assert reasons == {"adult_sub": "url_filter/blocklisted_adult", "adult_url": "url_filter/blocklisted_adult",
                       "both": "url_filter/blocklisted_adult", "phish": "url_filter/blocklisted_phishing",
                       "adblock": "url_filter/blocklisted_phishing", "hosts": "url_filter/blocklisted_hosts"}
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counters"]["url_filter"]["blocklist_skipped_long_line"] == 1

    # Tag once, choose later: re-selecting with every category drops the gambling page too, no list re-read.
    res = runner.invoke(app, ["select", str(out), "-o", str(tmp_path / "all"), "--set", "url_filter.block_categories=null"])
    assert res.exit_code == 0, (res.output, res.exception)
    _, kept_all, reasons_all = _read(tmp_path / "all")
    assert kept_all == {"clean", "news_ok", "no_url"} and reasons_all["gambling"] == "url_filter/blocklisted_gambling"


def test_block_list_mistakes_fail_at_load(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"id": "a", "text": "x", "url": "https://a.example/"}) + "\n")
    empty = tmp_path / "empty_dir"
    empty.mkdir()
    big = tmp_path / "big.txt"
    big.write_text("".join(f"d{i}.example\n" for i in range(50)))
    for cfg, needle in (({"blocklists": [str(tmp_path / "missing")]}, "no such file or folder"),
                        ({"blocklists": [str(empty)]}, "no block list here"),
                        ({"blocklists": [str(big)], "max_blocklist_entries": 10}, "more than max_blocklist_entries")):
        rp = tmp_path / "r.yaml"
        rp.write_text(yaml.safe_dump({"inputs": [{"paths": [str(data)], "fields": ["url"]}], "steps": [{"url_filter": cfg}],
                                      "output": {"path": str(tmp_path / "o")}}))
        res = runner.invoke(app, ["run", str(rp)])
        assert res.exit_code == 2, res.output
        assert needle in " ".join(res.output.split()), res.output
        assert not (tmp_path / "o").exists()


def test_list_line_formats():
    assert parse_line("0.0.0.0 a.example b.example # two") == ["a.example", "b.example"]
    assert parse_line("127.0.0.1 localhost") == []
    assert parse_line("||ads.example^$third-party") == ["ads.example"]
    assert parse_line("   # only a comment") == [] and parse_line("") == []
    assert parse_line("example.com/path#frag") == ["example.com/path#frag"]  # '#' inside an entry is no comment


def test_load_is_bounded(tmp_path):
    f = tmp_path / "l.txt"
    f.write_text("ok.example\n" + "y" * 100_000 + "\nalso.example\nWWW.Mixed.Example.\nhttps://Full.Example:8080/a/\n")
    bl = load_blocklists([f], max_entries=10)
    assert set(bl.domains) == {"ok.example", "also.example", "mixed.example"} and bl.skipped["long_line"] == 1
    assert bl.match("sub.mixed.example", "sub.mixed.example/x") == {"l"}  # the category is the file's name
    assert set(bl.urls) == {"full.example/a"}


def _bad_words_run(tmp: Path, cfg: dict, name: str):
    docs = [
        {"id": "en_hit", "text": "We had rutabaga and a Kumquat for dinner, then parsnip soup. The market sells vegetables all year."},
        {"id": "en_plural", "text": "Kumquats and rutabagas are not the listed words, so whole-word matching counts none of them here."},
        {"id": "en_clean", "text": "The library opens at nine in the morning and closes at six in the evening every weekday."},
        {"id": "zh_hit", "text": "市场上有芜菁和金橘出售，价格很便宜。我们买了一些芜菁回家做汤，味道非常好。"},
        {"id": "zh_clean", "text": "这座城市的图书馆位于老城区的中心，每周开放六天，读者每次可以借阅五本书。"},
        # Czech has no list here: its own language decides (no English list applied to it).
        {"id": "cs_none", "text": "Městská knihovna je otevřená šest dní v týdnu a čtenáři si mohou půjčit pět knih najednou, i rutabaga."},
    ]
    data = tmp / "docs.jsonl"
    data.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")
    rp = tmp / f"{name}.yaml"
    rp.write_text(yaml.safe_dump({"inputs": [{"paths": [str(data)]}],
                                  "steps": [{"language_id": {"languages": [], "min_score": 0.0}}, {"bad_words": cfg}],
                                  "output": {"path": str(tmp / name), "keep_rejected": True}}, allow_unicode=True), encoding="utf-8")
    res = runner.invoke(app, ["run", str(rp), "-w", "1"])
    assert res.exit_code == 0, (res.output, res.exception)
    out = tmp / name
    rows = pq.read_table(out / "data").to_pylist()
    rej = pq.read_table(out / "rejected").to_pylist() if any((out / "rejected").glob("*.parquet")) else []
    return {r["id"]: (r["bad_words_count"], r["bad_words_distinct"], r["bad_words_language"]) for r in rows + rej}, \
        {r["id"] for r in rows}, out


def test_bad_words_per_language_counts_as_columns(tmp_path):
    lists = SUPPORT / "badwords"
    counts, kept, out = _bad_words_run(tmp_path, {"lists": [str(lists)], "language_column": "language"}, "tag")
    assert counts == {"en_hit": (3, 3, "en"), "en_plural": (0, 0, "en"), "en_clean": (0, 0, "en"),
                      "zh_hit": (3, 2, "zh"), "zh_clean": (0, 0, "zh"), "cs_none": (0, 0, None)}
    assert len(kept) == 6  # tag only by default
    assert json.loads((out / "summary.json").read_text())["counters"]["bad_words"]["bad_words_matches"] == 6
    # C4's rule (drop a page with any match), chosen later from the stored column.
    res = runner.invoke(app, ["select", str(out), "-o", str(tmp_path / "c4"), "--set", "bad_words.max_bad_words=0"])
    assert res.exit_code == 0, (res.output, res.exception)
    assert set(pq.read_table(tmp_path / "c4" / "data").column("id").to_pylist()) == {"en_plural", "en_clean", "zh_clean", "cs_none"}
    # Only an English list given: Chinese documents count nothing and say so.
    counts, _, _ = _bad_words_run(tmp_path, {"lists": [str(lists / "en")], "language_column": "language"}, "en_only")
    assert counts["zh_hit"] == (0, 0, None)


def test_bad_words_list_mistakes_fail_at_load(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"id": "a", "text": "x"}) + "\n")
    odd = tmp_path / "badwords.txt"
    odd.write_text("rutabaga\n")
    for cfg, needle in (({"lists": [str(tmp_path / "nope")]}, "no such word list"),
                        ({"lists": [str(odd)]}, "name a word list by its language"),
                        ({"lists": []}, "give at least one word list")):
        rp = tmp_path / "r.yaml"
        rp.write_text(yaml.safe_dump({"inputs": [{"paths": [str(data)]}], "steps": [{"bad_words": cfg}], "output": {"path": str(tmp_path / "o")}}))
        res = runner.invoke(app, ["run", str(rp)])
        assert res.exit_code == 2 and needle in " ".join(res.output.split()), res.output


def test_bounded_lines_across_blocks():
    import io
    from collections import Counter

    from gristmill.annotate.blocklists import bounded_lines

    text = "short\n" + "L" * 25 + "\nok2\n" + "M" * 11 + "\nend"
    for block in (1, 3, 4, 7, 100):  # long lines start, span and end inside and across blocks
        skipped = Counter()
        assert list(bounded_lines(io.StringIO(text), skipped, max_line=10, block=block)) == ["short\n", "ok2\n", "end"], block
        assert skipped["long_line"] == 2, block
    skipped = Counter()
    assert list(bounded_lines(io.StringIO("a\n" + "Z" * 50), skipped, max_line=10, block=4)) == ["a\n"]
    assert skipped["long_line"] == 1
