"""benchmarks/load.py runs end to end (tiny budget): starts gunicorn, reports a table, stops it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_load_script_smoke(tmp_path):
    out = tmp_path / "load.md"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "load.py"), "--concurrency", "1,4",
                           "--requests", "40", "--seconds", "10", "--warmup", "5", "--out", str(out)],
                          capture_output=True, text=True, timeout=180, cwd=str(ROOT))
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = out.read_text()
    assert "| clients | requests | errors | req/s | p50 ms |" in table
    rows = [line for line in table.splitlines() if line.startswith("| 1 |") or line.startswith("| 4 |")]
    assert len(rows) == 2
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] == "40" and cells[2] == "0"  # every request made, none failed
    assert "nproc" in table
