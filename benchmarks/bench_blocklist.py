"""Issue 23 item 5: url_filter's block lists at real scale, beside DataTrove's URLFilter.

The list is the one DataTrove ships for its URL filter (``assets/url_filterblacklistsv0_3_0.tar.gz``
in the datatrove 0.10.1 wheel: UT1's ``domains`` and ``urls`` files, as RefinedWeb/FineWeb use them),
unpacked here as a UT1 category folder. URLs: listed domains, random subdomains of listed domains,
listed URLs with a deeper path, and domains not on the list, with random paths.

Each side runs in a fresh process: time and peak RSS to load the list, then URLs per second through
the filter (gristmill: ``url_filter`` annotate+select on Arrow batches; DataTrove: ``filter`` per
document, its word lists off on both sides). Agreement per URL kind shows where the matching rules
differ: DataTrove looks up the registered domain (tldextract) and the full host only, gristmill every
parent domain and every URL above a listed one.

    PYTHONPATH=src python benchmarks/bench_blocklist.py [--urls 100000]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import WORK, machine, timed_child  # noqa: E402

GRISTMILL = r"""
import json, resource, sys, time
import numpy as np, pyarrow as pa
from gristmill.annotate.urlfilter import URLFilter
folder, urls_file = sys.argv[1], sys.argv[2]
urls = json.load(open(urls_file))
t0 = time.perf_counter()
s = URLFilter(URLFilter.Config(blocklists=[folder], banned_words=[], banned_subwords=[], soft_banned_words=[]))
s._categories()
load = time.perf_counter() - t0
t0 = time.perf_counter()
out = []
for i in range(0, len(urls), 10000):
    t = pa.table({"id": [str(k) for k in range(i, i + len(urls[i:i + 10000]))], "text": ["x"] * len(urls[i:i + 10000]), "url": urls[i:i + 10000]})
    out += [r is not None for r in s.select(s.annotate(t)).to_pylist()]
match = time.perf_counter() - t0
print(json.dumps({"load": load, "match": match, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "blocked": out}))
"""

DATATROVE = r"""
import json, resource, sys, time
from datatrove.data import Document
from datatrove.pipeline.filters.url_filter import URLFilter
from tldextract import TLDExtract
folder, urls_file = sys.argv[1], sys.argv[2]
urls = json.load(open(urls_file))
t0 = time.perf_counter()
domains = [l.strip() for l in open(folder + "/domains", encoding="utf-8", errors="replace") if l.strip()]
listed = [l.strip() for l in open(folder + "/urls", encoding="utf-8", errors="replace") if l.strip()]
f = URLFilter(extra_domains=domains, extra_urls=listed, banned_words=[], banned_subwords=[], soft_banned_words=[],
              use_integrated_lists=False)
f.tldextractor = TLDExtract(suffix_list_urls=())  # offline: tldextract's bundled public-suffix snapshot
del domains, listed
load = time.perf_counter() - t0
t0 = time.perf_counter()
out = []
for i, u in enumerate(urls):
    r = f.filter(Document(text="x", id=str(i), metadata={"url": u}))
    out.append(r is not True)
match = time.perf_counter() - t0
print(json.dumps({"load": load, "match": match, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "blocked": out}))
"""


def _list_folder() -> Path:
    from datatrove.utils._import_utils import ASSETS_PATH

    folder = WORK / "blocklist" / "adult"
    if not (folder / "domains").exists():
        folder.mkdir(parents=True, exist_ok=True)
        with tarfile.open(Path(ASSETS_PATH) / "url_filterblacklistsv0_3_0.tar.gz") as tar:
            for m in tar.getmembers():
                if m.name in ("domains", "urls") and m.isfile():
                    (folder / m.name).write_bytes(tar.extractfile(m).read())
    return folder


def _urls(folder: Path, n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    domains = [x.strip() for x in open(folder / "domains", encoding="utf-8", errors="replace") if x.strip()]
    listed = [x.strip() for x in open(folder / "urls", encoding="utf-8", errors="replace") if x.strip() and "/" in x]
    dset = set(domains)
    words = ["river", "garden", "library", "news", "city", "coffee", "school", "music", "travel", "books", "maple", "harbor"]
    urls, kinds = [], []
    path = lambda: "/" + "/".join(rng.choice(words) for _ in range(rng.randint(0, 3)))  # noqa: E731
    while len(urls) < n:
        r = rng.random()
        if r < 0.25:
            urls.append(f"https://{rng.choice(domains)}{path()}")
            kinds.append("listed domain")
        elif r < 0.40:
            urls.append(f"http://{rng.choice(words)}.{rng.choice(domains)}{path()}")
            kinds.append("subdomain of a listed domain")
        elif r < 0.45:
            urls.append(f"http://{rng.choice(listed)}/{rng.choice(words)}.html")
            kinds.append("below a listed URL")
        else:
            d = f"{rng.choice(words)}{rng.randint(0, 10**6)}.{rng.choice(['com', 'org', 'de', 'co.uk', 'fr'])}"
            if d in dset:
                continue
            urls.append(f"https://www.{d}{path()}")
            kinds.append("not listed")
    return urls, kinds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--urls", type=int, default=100_000)
    args = ap.parse_args()
    folder = _list_folder()
    urls, kinds = _urls(folder, args.urls)
    uf = WORK / "blocklist" / "urls.json"
    uf.write_text(json.dumps(urls))
    n_dom = sum(1 for _ in open(folder / "domains", "rb"))
    print(f"machine: {machine()}\nlist: {n_dom:,} domains, {sum(1 for _ in open(folder / 'urls', 'rb')):,} URLs; {len(urls):,} test URLs")
    d = timed_child(DATATROVE, str(folder), str(uf))  # the peer first: a missing peer dependency fails fast
    g = timed_child(GRISTMILL, str(folder), str(uf))
    print("\n| | load list (s) | peak RSS (MiB) | URLs/s |")
    print("|---|---|---|---|")
    for name, r in (("gristmill url_filter", g), ("DataTrove URLFilter", d)):
        print(f"| {name} | {r['load']:.1f} | {r['rss']:.0f} | {len(urls) / r['match']:,.0f} |")
    print(f"\nspeed ratio (URLs/s): {d['match'] / g['match']:.2f}x\n")
    print("| URL kind | n | blocked: gristmill | blocked: DataTrove |")
    print("|---|---|---|---|")
    for k in ("listed domain", "subdomain of a listed domain", "below a listed URL", "not listed"):
        idx = [i for i, x in enumerate(kinds) if x == k]
        print(f"| {k} | {len(idx):,} | {100 * sum(g['blocked'][i] for i in idx) / len(idx):.1f}% "
              f"| {100 * sum(d['blocked'][i] for i in idx) / len(idx):.1f}% |")


if __name__ == "__main__":
    main()
