"""The README walked top to bottom by a newcomer, on data no other test builds (scripts/newcomer_tour.py)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

TOUR = Path(__file__).resolve().parents[2] / "scripts" / "newcomer_tour.py"


@pytest.mark.slow
def test_newcomer_tour_holds_at_every_stop(tmp_path):
    p = subprocess.run([sys.executable, str(TOUR), str(tmp_path / "tour")], capture_output=True, text=True, timeout=1800)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-4000:]
    assert "tour: every stop held" in p.stdout
