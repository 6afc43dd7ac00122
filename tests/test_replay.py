"""`watchbot replay`: archived feeds through the same pipeline, in publication order, with a simulated clock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from tests.conftest import DEFAULT_CHAT, REPO
from tests.demo import write_feeds
from tests.servers.botapi import BotApiStandIn

ITEMS = REPO / "tests" / "data" / "demo" / "items.jsonl"
KARTAVYKH = {"763eb6e302", "120949dbeb", "2e25e90d4f"}  # one development in three outlets (en, ru, ru)


def _replay(tmp_path: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    feeds = tmp_path / "feeds"
    feeds.mkdir(exist_ok=True)
    write_feeds(ITEMS, feeds)
    config = tmp_path / "watchbot.toml"
    config.write_text(f'WATCHBOT_WATCHLISTS = "{REPO / "watchlists"}"\nWATCHBOT_PARSE_WORKERS = 0\n')
    base = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WATCHBOT_"))}
    return subprocess.run([sys.executable, "-m", "bot", "--config", str(config), "replay", str(feeds), *args],
                          capture_output=True, text=True, env={**base, **(env or {})}, timeout=120)


def _urls_by_id() -> dict[str, str]:
    return {json.loads(line)["url"]: json.loads(line)["id"] for line in ITEMS.read_text().splitlines()}


def test_replay_json_prints_one_record_per_item_with_the_documented_shape(tmp_path):
    """Every item gets one JSON line with link, title, published, watchlists, decision, story and reasons."""
    run = _replay(tmp_path, "--json")
    assert run.returncode == 0, run.stderr
    records = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(records) == len(ITEMS.read_text().splitlines())
    for r in records:
        assert set(r) == {"link", "title", "published", "watchlists", "decision", "story", "reasons"}
        assert r["decision"] in {"alert", "update", "known", "ignored"}
        assert (r["story"] is not None) == (r["decision"] in {"alert", "update"})
    published = [r["published"] for r in records if r["published"]]
    assert published == sorted(published)


def test_replay_folds_one_development_from_three_outlets_into_one_story(tmp_path):
    """The same release reported in English and twice in Russian is one alert and two updates of its story."""
    records = [json.loads(line) for line in _replay(tmp_path, "--json").stdout.splitlines()]
    ids = _urls_by_id()
    story = [r for r in records if ids[r["link"]] in KARTAVYKH]
    assert sorted(r["decision"] for r in story) == ["alert", "update", "update"]
    assert len({r["story"] for r in story}) == 1
    stories = defaultdict(list)
    for r in records:
        if r["story"] is not None:
            stories[r["story"]].append(r["decision"])
    assert all(kinds.count("alert") == 1 for kinds in stories.values())


def test_replay_post_sends_each_story_once_and_edits_in_the_sources(tmp_path):
    """With --post every alert is one message on the channel and every update an edit of it."""
    with BotApiStandIn.in_thread() as api:
        run = _replay(tmp_path, "--json", "--post",
                      env={"TELEGRAM_BOT_TOKEN": "1:replay", "TELEGRAM_CHAT_ID": str(DEFAULT_CHAT),
                           "TELEGRAM_API_URL": api.root, "WATCHBOT_SEND_INTERVAL": "0"})
        messages = api.messages(DEFAULT_CHAT)
    assert run.returncode == 0, run.stderr
    records = [json.loads(line) for line in run.stdout.splitlines()]
    decisions = [r["decision"] for r in records]
    assert len(messages) == decisions.count("alert")
    assert sum(len(m["edits"]) for m in messages) == decisions.count("update")
