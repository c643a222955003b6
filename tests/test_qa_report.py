"""Held-out QA (qa branch): the duplicate-cluster chart lists its size bins in numeric order
(summary.json sorts keys as strings, so "1001+" came first and "2" fourth) with whole-number ticks."""
from gristmill.report import html, plots
from test_report import run_out  # noqa: F401 - the report suite's real run (with exact_dedup)


def test_cluster_size_bins_are_in_numeric_order(run_out, monkeypatch):  # noqa: F811
    seen = []
    real = plots.bar_chart

    def spy(labels, values, xlabel, **kw):  # records what the report plots, then plots it for real
        seen.append((xlabel, list(labels)))
        return real(labels, values, xlabel, **kw)

    monkeypatch.setattr(plots, "bar_chart", spy)
    html.write_report(run_out)
    bins = [labels for xlabel, labels in seen if xlabel == "clusters by size"]
    assert bins, seen
    for labels in bins:
        assert labels == ["2", "3-5", "6-10", "11-100", "101-1000", "1001+"], labels
