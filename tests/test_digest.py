"""The digest: building from a real SQLite state, renderers (goldens), time zones, empty periods,
posting through the real PTB client to the Bot API stand-in, the chart PNG, and the CLI."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import Settings
from bot.channels.telegram import TelegramChannel
from bot.channels.telegram_digest import digest_messages
from bot.channels.telegram_html import html_to_plain
from bot.digest import (build_digest, digest_dict, parse_since, parse_until,
                        post_digest, post_scheduled_digest, render_html, render_json,
                        render_markdown, render_text)
from bot.text import utf16_len
from bot.timeline import load_timeline
from tests.conftest import DEFAULT_CHAT, REPO, TOKEN
from tests.data.digest.fixture import NOW, START, STEP, TITLES, build_fixture_state, load_items
from tests.servers.botapi import BotApiStandIn

DATA = Path(__file__).resolve().parent / "data" / "digest"
REGEN = os.environ.get("WATCHBOT_REGEN_GOLDEN") == "1"
BAKU = ZoneInfo("Asia/Baku")
UTC_DAY = (datetime(2025, 10, 20, tzinfo=timezone.utc), datetime(2025, 10, 21, tzinfo=timezone.utc))


@pytest.fixture
def store(tmp_path):
    s = build_fixture_state(tmp_path / "watchbot.sqlite3")
    yield s
    s.close()


@pytest.fixture(scope="module")
def timeline():
    tl, problems = load_timeline(DATA / "timeline.yaml")
    assert not problems
    return tl


def _digest(store, timeline, since, until, tz="UTC", watchlists=None):
    return build_digest(store, since=since, until=until, watchlists=watchlists, timeline=timeline,
                        watchlist_titles=TITLES, tz=tz)


def _golden(name: str, actual: str) -> None:
    path = DATA / name
    if REGEN:
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with WATCHBOT_REGEN_GOLDEN=1"
    assert actual == path.read_text(encoding="utf-8"), f"{name} differs (WATCHBOT_REGEN_GOLDEN=1 to accept)"


def _expected_stories(since: datetime, until: datetime) -> dict[str, int]:
    """Stories per watchlist first seen in [since, until), computed from the fixture rows alone."""
    seen: set[str] = set()
    out: dict[str, int] = {}
    for i, row in enumerate(load_items()):
        if row["novelty"] != "new_development" or row["cluster"] in seen:
            continue
        seen.add(row["cluster"])
        if since <= START + i * STEP < until:
            out[row["watchlist"]] = out.get(row["watchlist"], 0) + 1
    return out


# --------------------------------------------------------------------------------- goldens


@pytest.mark.parametrize("fmt,render,name", [("text", render_text, "golden.txt"),
                                             ("markdown", render_markdown, "golden.md"),
                                             ("json", render_json, "golden.json")])
def test_renderings_match_goldens(store, timeline, fmt, render, name):
    """A fixed period of the fixture state renders exactly as the reviewed golden file."""
    _golden(name, render(_digest(store, timeline, *UTC_DAY)))


def test_digest_counts_follow_the_state(store, timeline):
    """Stories, sources, languages and known counts come from the store's items and stories."""
    d = _digest(store, timeline, START, NOW)
    per_wl = {w.id: len(w.stories) for w in d.watchlists if w.stories}
    assert per_wl == _expected_stories(START, NOW)
    sputnik = next(w for w in d.watchlists if w.id == "sputnik_azerbaijan")
    first = sputnik.stories[0]
    assert first.sources == 3 and set(first.languages) == {"en", "ru"}
    rows = load_items()
    assert d.totals["known"] == sum(r["novelty"] == "baseline_restatement" and r["watchlist"] != "none" for r in rows)
    assert d.totals["ignored"] == sum(r["novelty"] == "irrelevant" or r["watchlist"] == "none" for r in rows)
    assert sputnik.known == sum(r["novelty"] == "baseline_restatement" and r["watchlist"] == "sputnik_azerbaijan"
                                for r in rows)
    assert [e.start for e in sputnik.baseline] == sorted((e.start for e in sputnik.baseline), reverse=True)
    assert 0 < len(sputnik.baseline) <= 3
    # Feed header: failing (errors / paused) and quiet feeds are named with the reason.
    assert {n.url for n in d.failing} == {"https://broken.example.org/rss", "https://gone.example.org/atom",
                                          "https://never.example.org/rss"}
    assert [n.url for n in d.quiet] == ["https://stale.example.org/rss"]
    assert any(n.paused for n in d.failing)


def test_selected_watchlists_only(store, timeline):
    """--watchlist restricts the sections, and an explicitly chosen empty watchlist still shows."""
    d = _digest(store, timeline, START, NOW, watchlists=["akkuyu", "north_south"])
    assert [w.id for w in d.watchlists] == ["akkuyu", "north_south"]
    assert not d.watchlists[0].stories and d.watchlists[0].known > 0
    assert "no new developments" in render_text(d)


def test_html_page_escapes_feed_text(store, timeline):
    """The HTML page is a full document whose feed text is escaped and links are http(s) only."""
    store.db.execute("UPDATE stories SET title=?, link=? WHERE id=1",
                     ("<script>alert(1)</script> & co", "javascript:alert(1)"))
    page = render_html(_digest(store, timeline, START, NOW))
    assert page.startswith("<!DOCTYPE html>")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page
    assert "javascript:" not in page


# --------------------------------------------------------------------------------- time zones and empty


def test_period_in_asia_baku(store, timeline):
    """A DATE period is that calendar day in the digest time zone, and times are shown in it."""
    since = parse_since("2025-10-20", NOW, BAKU)
    until = parse_until("2025-10-20", NOW, BAKU)
    assert since == datetime(2025, 10, 19, 20, 0, tzinfo=timezone.utc)
    assert until == datetime(2025, 10, 20, 20, 0, tzinfo=timezone.utc)
    d = _digest(store, timeline, since, until, tz="Asia/Baku")
    assert {w.id: len(w.stories) for w in d.watchlists if w.stories} == _expected_stories(since, until)
    # The Baku day differs from the UTC day: the fixture's first story (18:00 UTC on the 19th,
    # 22:00 in Baku) belongs to neither, the 20:30 UTC one on the 20th to the UTC day only.
    assert _expected_stories(since, until) != _expected_stories(*UTC_DAY)
    text = render_text(d)
    assert "2025-10-20 00:00 – 2025-10-21 00:00 (Asia/Baku, UTC+04:00)" in text
    first = min((s for w in d.watchlists for s in w.stories), key=lambda s: s.first_seen)
    assert first.first_seen.utcoffset() == timedelta(hours=4)
    assert first.first_seen.strftime("%Y-%m-%d %H:%M") in text
    assert digest_dict(d)["period"]["since"] == "2025-10-20T00:00:00+04:00"


def test_parse_period_forms():
    """Durations count back from now; an offset in the text wins over the zone; junk is refused."""
    now = datetime(2025, 10, 20, 12, tzinfo=timezone.utc)
    assert parse_since("24h", now, BAKU) == now - timedelta(hours=24)
    assert parse_since("7d", now) == now - timedelta(days=7)
    assert parse_since("2025-10-20T08:00", now, BAKU) == datetime(2025, 10, 20, 4, tzinfo=timezone.utc)
    assert parse_since("2025-10-20T08:00+00:00", now, BAKU) == datetime(2025, 10, 20, 8, tzinfo=timezone.utc)
    assert parse_until(None, now) == now
    with pytest.raises(ValueError, match="24h"):
        parse_since("yesterday", now)


def test_empty_period_says_so(store, timeline):
    """A period with nothing in it says 'No new developments' in every format and in one message."""
    since = datetime(2030, 1, 1, tzinfo=timezone.utc)
    d = _digest(store, timeline, since, since + timedelta(days=1))
    assert d.watchlists == () and d.stories == 0
    for render in (render_text, render_markdown, render_html):
        assert "No new developments between 2030-01-01 00:00 and 2030-01-02 00:00" in render(d)
    data = json.loads(render_json(d))
    assert data["watchlists"] == [] and data["totals"]["items"] == 0
    assert [q["id"] for q in data["quiet_watchlists"]] == list(TITLES)
    messages = digest_messages(d)
    assert len(messages) == 1 and "No new developments" in messages[0][1]


# --------------------------------------------------------------------------------- Telegram


async def test_long_digest_is_posted_in_several_valid_messages(tmp_path, timeline):
    """A long digest goes out as several messages, each accepted as HTML within 4096 units,
    split between stories: every story title arrives whole in exactly one message."""
    store = build_fixture_state(tmp_path / "watchbot.sqlite3", repeat=6)
    d = _digest(store, timeline, START, NOW + timedelta(hours=1))
    store.close()
    messages = digest_messages(d)
    assert len(messages) >= 3
    async with BotApiStandIn() as api:
        channel = TelegramChannel(TOKEN, DEFAULT_CHAT, api_url=api.root, min_interval=0, per_minute=10_000)
        try:
            outcomes = await post_digest(d, channel)
        finally:
            await channel.aclose()
        received = api.messages(DEFAULT_CHAT)
    assert [o.status for o in outcomes] == ["sent"] * len(messages)
    assert len(received) == len(messages)
    for got, (html_text, plain) in zip(received, messages):
        assert got["parse_mode"] == "HTML" and got["text"] == html_text  # accepted as HTML, no fallback
        assert utf16_len(got["visible"]) <= 4096
        assert got["visible"] == html_to_plain(html_text).strip()
    visible = [m["visible"] for m in received]
    titles = [s.title for w in d.watchlists for s in w.stories]
    assert len(titles) > 60
    for title in titles:
        assert sum(title in v for v in visible) >= 1, title
    for w in d.watchlists:  # a watchlist heading never ends a message without a story under it
        for v in visible:
            if w.stories and f"▌{w.title}" in v:
                assert w.stories[0].title in v


async def test_chart_and_digest_posted_with_caption(tmp_path, store, timeline):
    """With a chart the photo goes first with an HTML caption, then the digest messages."""
    from bot.chart import render_chart

    d = _digest(store, timeline, START, NOW)
    png = render_chart(d, tmp_path / "chart.png")
    async with BotApiStandIn() as api:
        channel = TelegramChannel(TOKEN, DEFAULT_CHAT, api_url=api.root, min_interval=0, per_minute=10_000)
        try:
            outcomes = await post_digest(d, channel, chart=png)
        finally:
            await channel.aclose()
        received = api.messages(DEFAULT_CHAT)
    assert all(o.status == "sent" for o in outcomes)
    assert received[0]["kind"] == "photo" and received[0]["photo_bytes"] == png.stat().st_size
    assert "16 new developments" in received[0]["visible"]
    assert len(received) == 1 + len(digest_messages(d))


async def test_console_channel_prints_the_digest_as_the_telegram_messages_read(store, timeline):
    """Without a token the console channel posts the digest: one printed block per Telegram message, its plain text."""
    import io

    from bot.channels.console import ConsoleChannel

    d = _digest(store, timeline, START, NOW)
    printed = io.StringIO()
    outcomes = await post_digest(d, ConsoleChannel(printed))
    messages = digest_messages(d)
    assert [o.status for o in outcomes] == ["sent"] * len(messages)
    assert printed.getvalue() == "".join(f"── message {i + 1} ──\n{plain}\n\n" for i, (_, plain) in enumerate(messages))


async def test_scheduled_digest_uses_the_digest_settings(tmp_path, store):
    """The daemon's job covers WATCHBOT_DIGEST_SINCE back from now for WATCHBOT_DIGEST_WATCHLISTS."""
    settings = Settings(watchbot_watchlists=REPO / "watchlists", watchbot_digest_since="24h",
                        watchbot_digest_watchlists="north_south", watchbot_digest_timezone="Asia/Baku")
    async with BotApiStandIn() as api:
        channel = TelegramChannel(TOKEN, DEFAULT_CHAT, api_url=api.root, min_interval=0, per_minute=10_000)
        try:
            outcomes = await post_scheduled_digest(settings, store, channel, now=NOW)
        finally:
            await channel.aclose()
        text = "\n".join(m["visible"] for m in api.messages(DEFAULT_CHAT))
    assert outcomes and all(o.status == "sent" for o in outcomes)
    assert "(Asia/Baku, UTC+04:00)" in text
    last_day = _expected_stories(NOW - timedelta(hours=24), NOW)
    assert text.count("• ") == last_day["north_south"]
    assert "Sputnik" not in text.split("All watchlists:")[1].split("Nothing new on")[0]


async def test_scheduled_digest_job_uses_the_running_rules_not_the_files(tmp_path):
    """The daemon's digest job titles watchlists from the rules it runs, even after a broken edit."""
    import shutil

    from bot.cli import _digest_job
    from bot.pipeline import Pipeline
    from tests.conftest import make_settings

    folder = tmp_path / "watchlists"
    shutil.copytree(REPO / "watchlists", folder)
    settings = make_settings(tmp_path, [], watchbot_watchlists=folder,
                             watchbot_digest_cron="0 8 * * *", watchbot_digest_since="24h")
    async with BotApiStandIn() as api:
        channel = TelegramChannel(TOKEN, DEFAULT_CHAT, api_url=api.root, min_interval=0, per_minute=10_000)
        pipeline = Pipeline.build(settings, channel=channel)
        try:
            title = next(w.title for w in pipeline.rules.matcher.watchlists if w.id == "north_south")
            (folder / "north_south.yaml").write_text("id: [broken\n", encoding="utf-8")
            await _digest_job(settings, pipeline, channel)()
        finally:
            await pipeline.aclose()
            await channel.aclose()
        text = "\n".join(m["visible"] for m in api.messages(DEFAULT_CHAT))
    assert title in text


# --------------------------------------------------------------------------------- chart


def test_chart_is_a_png_of_sensible_size(tmp_path, store, timeline):
    """--chart writes a valid PNG (signature, IHDR) about 1200 px wide with a lane per watchlist."""
    from bot.chart import render_chart

    d = _digest(store, timeline, START, NOW)
    path = render_chart(d, tmp_path / "out" / "chart.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width == 1200 and 200 < height < 1200
    empty = render_chart(_digest(store, timeline, NOW + timedelta(days=400), NOW + timedelta(days=401)),
                         tmp_path / "empty.png")
    assert empty.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------------- CLI


def _cli(tmp_path, *args, env_extra=None):
    config = tmp_path / "watchbot.toml"
    config.write_text(f'WATCHBOT_WATCHLISTS = "{REPO / "watchlists"}"\nWATCHBOT_STATE = "state"\n'
                      'WATCHBOT_DIGEST_TIMEZONE = "Asia/Baku"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WATCHBOT_"))}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "bot", "--config", str(config), "digest", *args],
                          capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)


def test_cli_digest_json_and_file_outputs(tmp_path):
    """`watchbot digest --state DIR` prints JSON for programs and writes markdown to a file."""
    state = tmp_path / "replayed"
    build_fixture_state(state / "watchbot.sqlite3").close()
    run = _cli(tmp_path, "--state", str(state), "--since", "2025-10-20", "--until", "2025-10-20",
               "--format", "json")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["period"] == {"since": "2025-10-20T00:00:00+04:00", "until": "2025-10-21T00:00:00+04:00",
                              "timezone": "Asia/Baku"}
    assert sum(len(w["stories"]) for w in data["watchlists"]) == sum(
        _expected_stories(datetime(2025, 10, 19, 20, tzinfo=timezone.utc),
                          datetime(2025, 10, 20, 20, tzinfo=timezone.utc)).values())
    md = tmp_path / "digest.md"
    run = _cli(tmp_path, "--state", str(state), "--since", "2025-10-19", "--until", "2025-10-22",
               "--format", "markdown", "-o", str(md), "--watchlist", "akkuyu")
    assert run.returncode == 0, run.stderr
    assert md.read_text(encoding="utf-8").startswith("# Digest 2025-10-19 00:00")
    bad = _cli(tmp_path, "--state", str(state), "--since", "last tuesday")
    assert bad.returncode == 64 and "24h" in bad.stderr  # a usage error (README "Exit codes")
    missing = _cli(tmp_path, "--state", str(tmp_path / "nothing"))
    assert missing.returncode == 1 and "no state" in missing.stderr


def test_cli_digest_post_with_chart(tmp_path):
    """`watchbot digest --post --chart` sends the photo and the messages to the configured chat."""
    state = tmp_path / "state"
    build_fixture_state(state / "watchbot.sqlite3").close()
    with BotApiStandIn.in_thread() as api:
        run = _cli(tmp_path, "--since", "2025-10-19", "--until", "2025-10-22", "--post", "--chart",
                   str(tmp_path / "c.png"), env_extra={"TELEGRAM_BOT_TOKEN": TOKEN,
                                                       "TELEGRAM_CHAT_ID": str(DEFAULT_CHAT),
                                                       "TELEGRAM_API_URL": api.root,
                                                       "WATCHBOT_SEND_INTERVAL": "0"})
        received = api.messages(DEFAULT_CHAT)
    assert run.returncode == 0, run.stderr
    assert received[0]["kind"] == "photo"
    assert len(received) >= 2 and "Digest" in received[1]["visible"]
    assert TOKEN not in run.stderr + run.stdout
