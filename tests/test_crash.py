"""Crashes and concurrency of the real daemon (`python -m bot run` in a subprocess).

Feeds change while the daemon runs (a feeder thread publishes a new matching item every few
hundred ms), the Bot API stand-in holds every answer back for a moment after storing the
message (so kills often land between "Telegram has it" and "the store knows"), and the daemon is
killed with SIGKILL at random moments, then restarted. At the end every alert the store decided
must have been posted exactly once (rows recorded maybe_sent may be missing, never doubled).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tests.conftest import DEFAULT_CHAT, REPO, TOKEN
from tests.feedgen import Entry, rss
from tests.servers.botapi import BotApiStandIn
from tests.servers.feedserver import FeedServer

KILLS = 20
PLACES = ["Baku", "Ganja", "Sumgait", "Lankaran", "Shaki", "Quba", "Shamakhi", "Nakhchivan", "Mingachevir",
          "Zaqatala", "Gabala", "Astara"]
ROLES = ["editor", "journalist", "reporter", "photographer", "correspondent", "producer"]
SYLLABLES = ["ka", "ro", "va", "li", "ne", "do", "mu", "sa", "te", "gor", "bek", "lan", "zar", "ma"]
FIRST_DAY = datetime(2025, 8, 1, 12, tzinfo=timezone.utc)


def _watchlists(tmp: Path) -> Path:
    """One watchlist plus the timeline: the daemon starts faster than with all of them."""
    folder = tmp / "watchlists"
    folder.mkdir()
    for name in ("sputnik_azerbaijan.yaml", "schema.json", "timeline.yaml", "timeline.schema.json"):
        shutil.copy(REPO / "watchlists" / name, folder / name)
    return folder


class Feeder(threading.Thread):
    """Publishes a new Sputnik Azerbaijan item on each feed every ``every`` seconds."""

    def __init__(self, srv: FeedServer, paths: list[str], every: float = 0.25):
        super().__init__(daemon=True)
        self.srv, self.paths, self.every = srv, paths, every
        self.stop = threading.Event()
        self.entries: dict[str, list[Entry]] = {p: [] for p in paths}
        self.rnd = random.Random(11)
        self.n = 0

    def publish(self) -> None:
        for path in self.paths:
            self.n += 1
            n = self.n
            place, role = self.rnd.choice(PLACES), self.rnd.choice(ROLES)
            person = "".join(self.rnd.choice(SYLLABLES) for _ in range(3)).capitalize() + "ov"
            # Each item a development of its own (another person, days apart, all in the past),
            # so novelty alerts every one instead of folding them: this test is about delivery.
            entry = Entry(f"Sputnik Azerbaijan {role} {person} sentenced to {n % 9 + 2} years in {place}",
                          f"https://live.example{path}/story-{n}",
                          FIRST_DAY + timedelta(days=4 * (n % 120)),
                          f"A court in {place} sentenced Sputnik Azerbaijan {role} {person} to "
                          f"{n % 9 + 2} years after case {n * 7919 % 1000}.")
            self.entries[path] = (self.entries[path] + [entry])[-8:]
            self.srv.set_feed(path, rss(f"Live {path}", self.entries[path]), honour_validators=False)

    def run(self) -> None:
        while not self.stop.wait(self.every):
            self.publish()


def _setup(tmp_path: Path, srv: FeedServer, api, paths: list[str]) -> tuple[list[str], dict]:
    folder = _watchlists(tmp_path)
    (tmp_path / "feeds.opml").write_text(
        '<opml version="2.0"><body>' + "".join(f'<outline xmlUrl="{srv.url(p)}"/>' for p in paths)
        + "</body></opml>", encoding="utf-8")
    (tmp_path / "watchbot.toml").write_text(
        f'WATCHBOT_WATCHLISTS = "{folder}"\nWATCHBOT_STATE = "state"\nWATCHBOT_FEEDS = "feeds.opml"\n',
        encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WATCHBOT_"))}
    env.update(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_CHAT_ID=str(DEFAULT_CHAT), TELEGRAM_API_URL=api.root,
               WATCHBOT_INTERVAL="1", WATCHBOT_JITTER="0", WATCHBOT_SEND_INTERVAL="0",
               WATCHBOT_SEND_PER_MINUTE="100000", WATCHBOT_PARSE_WORKERS="0", WATCHBOT_TIMEOUT="5",
               WATCHBOT_LOG_LEVEL="INFO", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "bot", "--config", str(tmp_path / "watchbot.toml"), "run"]
    return cmd, env


def _start(cmd, env, cwd, log: Path) -> subprocess.Popen:
    offset = log.stat().st_size if log.exists() else 0
    with open(log, "ab") as fh:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=fh)
    proc.log_offset = offset  # type: ignore[attr-defined]
    return proc


def _wait_for(log: Path, text: str, proc: subprocess.Popen, limit: float = 30) -> bool:
    """Wait until this process wrote ``text`` to the log (or died); True if it appeared."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        with open(log, "rb") as fh:
            fh.seek(proc.log_offset)  # type: ignore[attr-defined]
            if text.encode() in fh.read():
                return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


def _headline(html: str) -> str:
    m = re.search(r'href="([^"]+)"', html)
    return m.group(1) if m else html


def _check_exactly_once(db_path: Path, api) -> dict:
    """Every decided post is on the channel once (sent) or at most once (maybe_sent); no extras."""
    db = sqlite3.connect(db_path)
    db.row_factory = sqlite3.Row
    posts = db.execute("SELECT * FROM outbox WHERE action='post' ORDER BY id").fetchall()
    edit_texts = {r[0] for r in db.execute("SELECT text FROM outbox WHERE action='edit'")}
    stuck = db.execute("SELECT o.id, o.action, o.status FROM outbox o LEFT JOIN stories s ON s.id=o.story_id "
                       "WHERE o.status NOT IN ('sent', 'maybe_sent', 'superseded') AND NOT "
                       "(o.action='edit' AND s.message_id IS NULL)").fetchall()
    stories = db.execute("SELECT count(*) FROM stories").fetchone()[0]
    statuses = Counter(r["status"] for r in posts)
    db.close()
    # Left over only: edits of a post whose delivery is unknown (nothing to edit).
    assert not stuck, f"outbox rows neither delivered nor accounted for: {[tuple(r) for r in stuck][:5]}"
    messages = api.messages(DEFAULT_CHAT)
    # A message keeps its headline link through edits, so the first href identifies the story.
    by_story = Counter(_headline(m["text"]) for m in messages)
    doubled = {t: c for t, c in by_story.items() if c > 1}
    assert not doubled, f"posted more than once: {list(doubled.items())[:3]}"
    by_id = {m["message_id"]: m for m in messages}
    texts = {r["text"] for r in posts}
    orphans = [m["text"] for m in messages if m["text"] not in texts | edit_texts]
    assert not orphans, f"messages on the channel that no outbox row decided: {orphans[:2]}"
    assert stories == len(posts), "every story has exactly one post row"
    for row in posts:
        if row["status"] == "sent":
            assert row["message_id"] in by_id
            assert _headline(by_id[row["message_id"]]["text"]) == _headline(row["text"])
        elif row["status"] != "maybe_sent":
            raise AssertionError(f"post {row['id']} left {row['status']}")
    return {"posts": len(posts), **statuses, "messages": len(messages)}


def test_sigkill_at_random_moments_loses_and_doubles_nothing(tmp_path):
    """Killing the daemon with SIGKILL 20 times while alerts flow neither loses nor doubles an alert."""
    rnd = random.Random(20251125)
    log = tmp_path / "daemon.log"
    paths = ["/live-a.rss", "/live-b.rss"]
    with FeedServer.in_thread() as srv, BotApiStandIn.in_thread() as api:
        feeder = Feeder(srv, paths)
        feeder.publish()
        cmd, env = _setup(tmp_path, srv, api, paths)
        feeder.start()
        hit_running = 0
        try:
            for k in range(KILLS):
                api.delay_next(0.15, k=10_000)  # store first, answer later: widens the crash window
                proc = _start(cmd, env, tmp_path, log)
                if rnd.random() < 0.2:  # now and then a kill during start-up
                    time.sleep(rnd.uniform(0.2, 1.2))
                elif _wait_for(log, "watching", proc):
                    hit_running += 1
                    time.sleep(rnd.uniform(0.0, 0.8))
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
                with open(log, "a") as fh:
                    fh.write(f"\n--- SIGKILL {k}\n")
        finally:
            feeder.stop.set()
            feeder.join(5)
        api.reset_faults()
        # A last clean start drains whatever the kills left queued, then SIGTERM stops it.
        final = _start(cmd, env, tmp_path, log)
        assert _wait_for(log, "watching", final)
        time.sleep(2.0)
        final.send_signal(signal.SIGTERM)
        assert final.wait(40) == 0, log.read_text()[-3000:]
        figures = _check_exactly_once(tmp_path / "state" / "watchbot.sqlite3", api)
    print(f"crash test: {KILLS} kills ({hit_running} after start-up), {figures}")
    assert hit_running >= KILLS // 2  # most kills hit the running daemon
    assert figures["posts"] >= 10, figures  # alerts really flowed during the kills


def test_second_daemon_on_the_same_state_refuses_to_start(tmp_path):
    """While a daemon runs, a second `watchbot run` on its state folder exits 2 and says the state is in use."""
    log = tmp_path / "daemon.log"
    with FeedServer.in_thread() as srv, BotApiStandIn.in_thread() as api:
        srv.set_feed("/a.rss", rss("A", []))
        cmd, env = _setup(tmp_path, srv, api, ["/a.rss"])
        first = _start(cmd, env, tmp_path, log)
        try:
            assert _wait_for(log, "watching", first)
            second = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
            assert second.returncode == 2
            assert "in use" in second.stderr and str(first.pid) in second.stderr
            assert first.poll() is None  # the first one is unaffected
        finally:
            first.send_signal(signal.SIGTERM)
            assert first.wait(40) == 0


def test_sigterm_lets_in_flight_sends_finish_and_exits_cleanly(tmp_path):
    """SIGTERM while sends are in flight exits 0 with every post either confirmed or still queued, never lost."""
    log = tmp_path / "daemon.log"
    paths = ["/live-a.rss"]
    with FeedServer.in_thread() as srv, BotApiStandIn.in_thread() as api:
        feeder = Feeder(srv, paths, every=0.2)
        feeder.publish()
        cmd, env = _setup(tmp_path, srv, api, paths)
        api.delay_next(0.5, k=10_000)  # every send takes a while: SIGTERM lands mid-send
        feeder.start()
        proc = _start(cmd, env, tmp_path, log)
        try:
            assert _wait_for(log, "watching", proc)
            deadline = time.monotonic() + 20
            while not api.messages(DEFAULT_CHAT) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.2)
        finally:
            feeder.stop.set()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(40) == 0, log.read_text()[-3000:]
        db = sqlite3.connect(tmp_path / "state" / "watchbot.sqlite3")
        rows = db.execute("SELECT status, message_id, text FROM outbox WHERE action='post'").fetchall()
        db.close()
        assert rows, "alerts flowed before SIGTERM"
        assert {s for s, _, _ in rows} <= {"sent", "pending"}, rows
        on_channel = Counter(m["text"] for m in api.messages(DEFAULT_CHAT))
        assert all(c == 1 for c in on_channel.values())
        for status, message_id, text in rows:
            if status == "sent":
                assert on_channel[text] == 1 and message_id is not None
            else:
                assert on_channel[text] == 0  # still queued: the next start sends it
