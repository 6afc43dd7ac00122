"""Bad edits while running keep the last good rules; bad configuration at start-up exits 2 with file:line."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.pipeline import Pipeline
from tests.conftest import REPO, make_settings
from tests.feedgen import Entry, rss

OLD = Entry("Weather in Baku: sunny", "https://news.example/weather", datetime(2025, 10, 21, 8, tzinfo=timezone.utc))
NEW = Entry("Sputnik Azerbaijan editor-in-chief Yevgeny Belousov released in Baku",
            "https://news.example/belousov-released", datetime(2025, 10, 25, 10, tzinfo=timezone.utc),
            "Security forces released Sputnik Azerbaijan editor-in-chief Yevgeny Belousov, who flew to Moscow.")


def _copy_watchlists(tmp_path: Path) -> Path:
    folder = tmp_path / "watchlists"
    shutil.copytree(REPO / "watchlists", folder)
    return folder


def _break_yaml(path: Path, line_no: int = 0) -> None:
    """Insert a YAML syntax error (an unclosed flow sequence) after the top-level groups:/events: key."""
    lines = path.read_text(encoding="utf-8").splitlines()
    key = next(i for i, line in enumerate(lines) if line.startswith(("groups:", "events:")))
    lines.insert(key + 1, "  broken: [unclosed, list")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))  # a visible change


def _located(problems, name: str) -> bool:
    """Some problem names ``name`` with a line number."""
    return any(name in str(p) and re.search(rf"{re.escape(name)}:\d+", str(p)) for p in problems)


@pytest.mark.parametrize("broken", ["sputnik_azerbaijan.yaml", "timeline.yaml"])
async def test_broken_edit_while_running_keeps_the_last_good_rules(tmp_path, feed_server, clock, caplog, broken):
    """A saved syntax error in a watchlist or the timeline is reported with file:line and the previous rules keep alerting."""
    folder = _copy_watchlists(tmp_path)
    feed_server.set_feed("/news.rss", rss("News", [OLD]))
    settings = make_settings(tmp_path, [feed_server.url("/news.rss")], watchbot_watchlists=folder)
    pipeline = Pipeline.build(settings, channel=None, clock=clock)
    try:
        await pipeline.run_once()
        good = pipeline.rules
        _break_yaml(folder / broken, 12)
        with caplog.at_level(logging.ERROR, logger="watchbot"):
            assert pipeline.reload_rules_if_changed() is False
        assert pipeline.rules is good
        assert _located(pipeline.rules_problems, broken), [str(p) for p in pipeline.rules_problems]
        events = [e.message for e in pipeline.store.recent_events(5)]
        assert any("rejected" in e and re.search(rf"{broken}:\d+", e) for e in events), events
        assert any(re.search(rf"{broken}:\d+", r.getMessage()) for r in caplog.records)

        # The old rules still work: a new matching item still becomes an alert.
        feed_server.set_feed("/news.rss", rss("News", [OLD, NEW]))
        report = await pipeline.run_once()
        assert report.alerts == 1 and report.pending == 1
        # The same broken version is reported once, not on every cycle.
        assert sum("rejected" in e.message for e in pipeline.store.recent_events(20)) == 1
    finally:
        await pipeline.aclose()
        pipeline.store.close()


async def test_fixing_the_edit_loads_the_new_rules(tmp_path, feed_server, clock):
    """After a rejected edit, saving a valid version loads it and clears the reported problems."""
    folder = _copy_watchlists(tmp_path)
    original = (folder / "sputnik_azerbaijan.yaml").read_text(encoding="utf-8")
    settings = make_settings(tmp_path, [], watchbot_watchlists=folder)
    pipeline = Pipeline.build(settings, channel=None, clock=clock)
    try:
        _break_yaml(folder / "sputnik_azerbaijan.yaml", 5)
        assert pipeline.reload_rules_if_changed() is False and pipeline.rules_problems
        (folder / "sputnik_azerbaijan.yaml").write_text(original, encoding="utf-8")
        path = folder / "sputnik_azerbaijan.yaml"
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 2 * 10**9))
        assert pipeline.reload_rules_if_changed() is True
        assert pipeline.rules_problems == []
    finally:
        await pipeline.aclose()
        pipeline.store.close()


async def test_broken_settings_file_while_running_changes_nothing(tmp_path, feed_server, clock):
    """Settings are read once at start: corrupting watchbot.toml under a running pipeline does not disturb its cycles."""
    feed_server.set_feed("/news.rss", rss("News", [OLD]))
    settings = make_settings(tmp_path, [feed_server.url("/news.rss")])
    toml = tmp_path / "watchbot.toml"
    toml.write_text("WATCHBOT_INTERVAL = 60\n", encoding="utf-8")
    pipeline = Pipeline.build(settings, channel=None, clock=clock)
    try:
        await pipeline.run_once()
        toml.write_text("WATCHBOT_INTERVAL = = 60\n[[[\n", encoding="utf-8")
        feed_server.set_feed("/news.rss", rss("News", [OLD, NEW]))
        report = await pipeline.run_once()
        assert report.alerts == 1 and pipeline.settings.watchbot_interval == settings.watchbot_interval
    finally:
        await pipeline.aclose()
        pipeline.store.close()


# ------------------------------------------------------------------ start-up (CLI subprocesses)


def _project(tmp_path: Path, *, toml_extra: str = "") -> Path:
    folder = _copy_watchlists(tmp_path)
    (tmp_path / "feeds.opml").write_text('<opml version="2.0"><body/></opml>', encoding="utf-8")
    cfg = tmp_path / "watchbot.toml"
    cfg.write_text(f'WATCHBOT_WATCHLISTS = "{folder}"\nWATCHBOT_STATE = "state"\n'
                   f"WATCHBOT_PARSE_WORKERS = 0\n{toml_extra}", encoding="utf-8")
    return cfg


def _cli(cfg: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WATCHBOT_"))}
    env["COLUMNS"] = "300"
    return subprocess.run([sys.executable, "-m", "bot", "--config", str(cfg), *args], capture_output=True,
                          text=True, env=env, cwd=cfg.parent, timeout=60)


@pytest.mark.parametrize("command", [("check",), ("run", "--once")])
def test_startup_with_a_broken_watchlist_exits_2_with_file_and_line(tmp_path, command):
    """`check` and `run --once` refuse a broken watchlist with exit code 2 and its file:line."""
    cfg = _project(tmp_path)
    _break_yaml(tmp_path / "watchlists" / "north_south.yaml", 7)
    run = _cli(cfg, *command)
    assert run.returncode == 2, run.stderr
    assert re.search(r"north_south\.yaml:\d+", run.stderr), run.stderr
    if command == ("check",):  # `run --once` polls while its rules load: see the next test
        assert not (tmp_path / "state" / "watchbot.sqlite3").exists()


def test_run_once_with_a_broken_watchlist_records_no_new_item_and_the_fixed_run_gets_it(tmp_path):
    """`run --once` after a broken watchlist edit exits 2 with file:line, records none of a changed feed's new items, and the run after the fix matches and decides them."""
    import sqlite3

    from tests.servers.feedserver import FeedServer

    cfg = _project(tmp_path, toml_extra="WATCHBOT_INTERVAL = 1\n")
    watchlist = tmp_path / "watchlists" / "sputnik_azerbaijan.yaml"

    def stored() -> dict[str, str]:
        db = sqlite3.connect(tmp_path / "state" / "watchbot.sqlite3")
        try:
            return dict(db.execute("SELECT link, decision FROM items"))
        finally:
            db.close()

    with FeedServer.in_thread() as srv:
        srv.set_feed("/news.rss", rss("News", [OLD]))
        (tmp_path / "feeds.opml").write_text(
            f'<opml version="2.0"><body><outline xmlUrl="{srv.url("/news.rss")}"/></body></opml>', encoding="utf-8")
        assert _cli(cfg, "run", "--once").returncode == 0  # first sight: OLD is seeded
        srv.set_feed("/news.rss", rss("News", [OLD, NEW]))
        _break_yaml(watchlist)
        time.sleep(2.1)  # the feed's 1-second interval (stored rounded up to the second) has passed
        broken = _cli(cfg, "run", "--once")
        assert broken.returncode == 2, broken.stderr
        assert re.search(r"sputnik_azerbaijan\.yaml:\d+", broken.stderr), broken.stderr
        assert stored() == {OLD.link: "seeded"}  # the response was fetched, nothing of it kept
        shutil.copy(REPO / "watchlists" / watchlist.name, watchlist)
        time.sleep(2.1)
        fixed = _cli(cfg, "run", "--once")
        assert fixed.returncode == 0, fixed.stderr
    assert NEW.link in stored() and stored()[NEW.link] != "seeded", stored()


@pytest.mark.parametrize("command", [("check",), ("run", "--once")])
def test_startup_with_a_broken_timeline_exits_2_with_file_and_line(tmp_path, command):
    """`check` and `run --once` refuse a broken timeline.yaml with exit code 2 and its file:line."""
    cfg = _project(tmp_path)
    _break_yaml(tmp_path / "watchlists" / "timeline.yaml", 12)
    run = _cli(cfg, *command)
    assert run.returncode == 2, run.stderr
    assert re.search(r"timeline\.yaml:\d+", run.stderr), run.stderr


@pytest.mark.parametrize("command", [("check",), ("run", "--once")])
def test_startup_with_a_broken_settings_file_exits_2_with_file_and_line(tmp_path, command):
    """A bad value and an unknown key in watchbot.toml stop `check` and `run --once` with exit 2 and file:line."""
    cfg = _project(tmp_path, toml_extra='WATCHBOT_INTERVAL = "often"\nWATCHBOT_INTERVALL = 5\n')
    run = _cli(cfg, *command)
    assert run.returncode == 2, run.stderr
    flat = " ".join(run.stderr.split())
    assert re.search(r"watchbot\.toml:4\b.*WATCHBOT_INTERVAL", flat), run.stderr
    assert re.search(r"watchbot\.toml:5\b.*WATCHBOT_INTERVALL", flat), run.stderr


def test_startup_with_invalid_toml_syntax_exits_2_with_the_line(tmp_path):
    """A TOML syntax error is reported with its line number and exit code 2."""
    cfg = _project(tmp_path, toml_extra="WATCHBOT_INTERVAL = = 5\n")
    run = _cli(cfg, "check")
    assert run.returncode == 2
    assert re.search(r"watchbot\.toml:4", run.stderr), run.stderr


def test_reload_watches_exactly_the_files_the_loader_reads(tmp_path):
    """The reload fingerprint covers the same files as the loader (.yaml and .yml), and backups or folders named like rules are neither read nor watched."""
    from bot.rules import Rules, RulesReloader, rules_fingerprint
    from bot.watchlists import load_watchlists

    folder = _copy_watchlists(tmp_path)
    yml = folder / "sputnik_azerbaijan.yml"
    (folder / "sputnik_azerbaijan.yaml").rename(yml)
    for stray in ("sputnik_azerbaijan.yaml~", "notes.yaml.bak", "draft.yxml"):
        (folder / stray).write_text("broken: [unclosed\n", encoding="utf-8")
    (folder / "old.yaml").mkdir()

    watched = {name for name, _size, _mtime in rules_fingerprint(folder)}
    watchlists, problems = load_watchlists(folder)
    assert problems == []
    assert watched == {w.path.name for w in watchlists} | {"timeline.yaml"}
    assert "sputnik_azerbaijan.yml" in watched

    rules, reloader = Rules.load(folder), RulesReloader()
    stray = folder / "sputnik_azerbaijan.yaml~"
    stray.write_text("still: [broken\n", encoding="utf-8")
    os.utime(stray, ns=(stray.stat().st_atime_ns, stray.stat().st_mtime_ns + 10**9))
    assert reloader.check(folder, rules) is None  # an editor's backup is not a rule file
    os.utime(yml, ns=(yml.stat().st_atime_ns, yml.stat().st_mtime_ns + 10**9))
    change = reloader.check(folder, rules)
    assert change is not None and change.rules is not None and reloader.problems == []
