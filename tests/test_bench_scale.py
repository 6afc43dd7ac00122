"""`make bench-scale` in its quick mode (a dozen feeds): it runs real workers on SQLite and on
PostgreSQL and prints the figures of every configuration. Figures are not asserted (timings);
what is checked is that each configuration really did the work the figures describe."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO, _in_ci
from tests.pg_server import PgServer


def test_bench_scale_quick_mode_measures_every_configuration(tmp_path):
    """With 12 feeds, one worker on SQLite and 1 and 2 on PostgreSQL each poll every feed again
    after new items appear, record every new item, post every story once, stop cleanly, and the
    report prints each configuration's row, the ratios and the load average."""
    reason = PgServer.unavailable()
    if reason:
        if _in_ci():
            pytest.fail(f"bench-scale cannot run in CI: {reason}")
        pytest.skip(f"bench-scale needs PostgreSQL: {reason}")
    out = tmp_path / "scale.json"
    done = subprocess.run([sys.executable, "bench/bench_scale.py", "--feeds", "12", "--hosts", "4",
                           "--workers", "1,2", "--cycles", "1", "--developments", "0.1", "--timeout", "240",
                           "--json", str(out)], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    rows = {r["name"]: r for r in json.loads(out.read_text())["rows"]}
    assert set(rows) == {"sqlite-1", "pg-1", "pg-2"}
    for name, r in rows.items():
        assert r["exit_codes"] == [0] * r["workers"], (name, r["exit_codes"])
        assert len(r["cycles"]) == 1 and r["published"] == 2, (name, r)  # 1 quiet item, 1 development
        assert r["stories"] == r["posts_sent"] >= 2, (name, r)  # the warm-up's and the cycle's
        assert r["timers"]["decided"] >= 1, (name, r["timers"])  # read from the workers' own log
        assert r["polls"] >= 12, (name, r["polls"])
    assert rows["pg-2"]["statements"]["calls"] > 0  # pg_stat_statements was read
    for name in rows:
        assert any(line.lstrip().startswith(name + " ") for line in done.stdout.splitlines()), done.stdout
    assert "vs 1 PG worker: cycle" in done.stdout and "vs SQLite: cycle" in done.stdout
    assert "load 1/5/15" in done.stdout
