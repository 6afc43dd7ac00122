"""Installed as a tool, run as a service: the wheel's package data, `init`, `health`, /healthz and /metrics."""

from __future__ import annotations

import json
import re
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.feedgen import rss
from tests.servers.feedserver import FeedServer
from tests.test_check import _env, project, watchbot
from tests.test_pipeline import OLD


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel built from this checkout, unpacked as an installed package would be."""
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                            "-w", str(out), str(REPO)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr[-3000:]
    wheel = next(out.glob("watchbot-*.whl"))
    site = out / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    return site


def _as_installed(site: Path, home: Path) -> dict:
    env = _env(PYTHONPATH=str(site), HOME=str(home), XDG_STATE_HOME=str(home / "state-home"))
    return env


def test_the_wheel_works_without_a_checkout_and_init_writes_an_editable_copy(installed, tmp_path):
    """From an empty folder, the installed package checks the shipped feeds and watchlists, keeps state in the platform folder, and `init` writes a configuration that checks clean."""
    env = _as_installed(installed, tmp_path)
    empty = tmp_path / "anywhere"
    empty.mkdir()
    where = subprocess.run([sys.executable, "-c", "import bot.defaults as d; print(d.defaults_dir())"],
                           capture_output=True, text=True, env=env, cwd=empty)
    assert where.stdout.strip() == str(installed / "bot" / "_defaults"), where.stderr
    check = watchbot(empty, "check", env=env)
    assert check.returncode == 0, check.stderr
    assert "9 watchlists" in check.stdout or "watchlists (akkuyu" in check.stdout
    shipped_feeds = sum(1 for line in (REPO / "feeds.opml").read_text().splitlines() if "xmlUrl=" in line)
    assert check.stdout.startswith(f"ok: {shipped_feeds} feeds"), check.stdout
    settings = watchbot(empty, "settings", env=env)
    assert f"WATCHBOT_STATE = {tmp_path / 'state-home' / 'watchbot'}  (default (platform state folder))" in settings.stdout
    assert "(default (shipped with watchbot))" in settings.stdout
    init = watchbot(empty, "init", "mybot", env=env)
    assert init.returncode == 0, init.stderr
    assert "TELEGRAM_BOT_TOKEN" in init.stdout and "feeds add" in init.stdout
    assert (empty / "mybot" / "watchlists" / "aktau_crash.yaml").read_bytes() == \
        (REPO / "watchlists" / "aktau_crash.yaml").read_bytes()
    mine = watchbot(empty, "--config", "mybot/watchbot.toml", "check", env=env)
    assert mine.returncode == 0, mine.stderr
    again = watchbot(empty, "init", "mybot", env=env)
    assert again.returncode == 1 and "nothing was written" in again.stderr


def test_health_exit_code_follows_the_last_cycle(tmp_path):
    """`health` exits 1 before any run and when every feed fails, and 0 after a good cycle."""
    with FeedServer.in_thread() as srv:
        srv.set_feed("/good.rss", rss("Good", OLD))
        srv.set_status("/bad.rss", 500)
        cfg = project(tmp_path, opml_body=f'<outline xmlUrl="{srv.url("/bad.rss")}"/>\n')
        none = watchbot(tmp_path, "--config", str(cfg), "health")
        assert none.returncode == 1 and "has not run" in none.stderr
        watchbot(tmp_path, "--config", str(cfg), "run", "--once")
        failing = watchbot(tmp_path, "--config", str(cfg), "health")
        assert failing.returncode == 1 and "every feed is failing" in failing.stderr
        project(tmp_path, opml_body=f'<outline xmlUrl="{srv.url("/good.rss")}"/>\n'
                                    f'<outline xmlUrl="{srv.url("/bad.rss")}"/>\n')
        assert watchbot(tmp_path, "--config", str(cfg), "run", "--once").returncode == 0
        good = watchbot(tmp_path, "--config", str(cfg), "health", "--json")
    assert good.returncode == 0, good.stdout + good.stderr
    out = json.loads(good.stdout)
    assert out["ok"] is True and out["feeds"] == 2 and out["feeds_failing"] == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_daemon_serves_healthz_and_metrics_on_loopback(tmp_path):
    """With WATCHBOT_METRICS_ADDR set to a bare port the daemon serves /healthz and Prometheus /metrics on 127.0.0.1, from the state, and logs one cycle line per interval."""
    port = _free_port()
    with FeedServer.in_thread() as srv:
        srv.set_feed("/good.rss", rss("Good", OLD))
        cfg = project(tmp_path, f'WATCHBOT_METRICS_ADDR = "{port}"\nWATCHBOT_JITTER = 0\nWATCHBOT_INTERVAL = 2\n',
                      opml_body=f'<outline xmlUrl="{srv.url("/good.rss")}"/>\n')
        log = open(tmp_path / "daemon.log", "w")
        proc = subprocess.Popen([sys.executable, "-m", "bot", "--config", str(cfg), "run"], stdout=log,
                                stderr=subprocess.STDOUT, env=_env(), cwd=tmp_path)
        try:
            deadline = time.monotonic() + 60
            status, body = 0, ""
            while time.monotonic() < deadline:
                try:
                    status, body = _get(f"http://127.0.0.1:{port}/healthz")
                except OSError:
                    status = 0
                if status == 200:
                    break
                time.sleep(0.3)
            assert status == 200, (status, body, (tmp_path / "daemon.log").read_text())
            assert json.loads(body)["ok"] is True
            status, metrics = _get(f"http://127.0.0.1:{port}/metrics")
            assert status == 200
            assert 'watchbot_feeds{state="ok"} 1.0' in metrics
            assert f"watchbot_items_total {float(len(OLD))}" in metrics
            assert "watchbot_healthy 1.0" in metrics
            while time.monotonic() < deadline and " INFO cycle: " not in (tmp_path / "daemon.log").read_text():
                time.sleep(0.3)
            cycle = [l for l in (tmp_path / "daemon.log").read_text().splitlines() if " INFO cycle: " in l]
            assert cycle and re.search(r"cycle: 1 feeds polled \(\d+ polls\), 0 new items, 2 seeded", cycle[0]), cycle
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(40)
            log.close()
    assert proc.returncode == 0, (tmp_path / "daemon.log").read_text()[-2000:]
    assert f"serving /healthz and /metrics on http://127.0.0.1:{port}" in (tmp_path / "daemon.log").read_text()


def test_health_reports_a_bot_that_stopped_fetching(tmp_path):
    """When no listed feed was fetched for three intervals, `health` exits 1 and asks whether the bot runs."""
    with FeedServer.in_thread() as srv:
        srv.set_feed("/good.rss", rss("Good", OLD))
        cfg = project(tmp_path, "WATCHBOT_INTERVAL = 3\nWATCHBOT_JITTER = 0\n",
                      opml_body=f'<outline xmlUrl="{srv.url("/good.rss")}"/>\n')
        assert watchbot(tmp_path, "--config", str(cfg), "run", "--once").returncode == 0
    fresh = watchbot(tmp_path, "--config", str(cfg), "health")
    time.sleep(10)  # > 3 intervals of 3 s (timestamps are stored to the second)
    stale = watchbot(tmp_path, "--config", str(cfg), "health")
    assert fresh.returncode == 0, fresh.stderr
    assert stale.returncode == 1 and "is the bot running?" in stale.stderr
