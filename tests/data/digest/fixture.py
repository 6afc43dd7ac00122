"""Builds a digest fixture state through the real Store API, with fixed times.

The items are the real, hand-labelled items of ``items.jsonl`` (see PROVENANCE.md). Their labels
stand in for the pipeline's decisions, so the state is exactly known: the first item of each
``cluster`` is an alert (a story), later ones fold into it as updates; baseline restatements are
``known``; irrelevant items matched nothing (``ignored``). Items are "first seen" one every
``STEP`` from ``START`` in file order (the feed's own dates are kept as ``published``).

Feeds cover every case the digest header reports: healthy, failing (errors in a row), paused
(410 Gone), never successful, and quiet (last item long ago).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.models import Decision, Feed, Item, Match, PollPlan, TermHit
from bot.store import Store

HERE = Path(__file__).resolve().parent
START = datetime(2025, 10, 19, 18, 0, tzinfo=timezone.utc)  # 22:00 in Baku (UTC+4)
STEP = timedelta(minutes=37)
NOW = START + 80 * STEP  # after the last item

TITLES = {
    "aktau_crash": "AZAL crash near Aktau",
    "sputnik_azerbaijan": "Sputnik Azerbaijan case",
    "north_south": "North–South transport corridor",
    "akkuyu": "Akkuyu nuclear plant",
    "diaspora_arrests": "Arrests of Azerbaijanis in Russia",
}

FEEDS = {
    "news": Feed("https://news.example.org/rss", "Regional news wire"),
    "ru": Feed("https://ru.example.org/feed", "Russian-language outlet"),
    "broken": Feed("https://broken.example.org/rss", "Broken outlet"),
    "gone": Feed("https://gone.example.org/atom", "Closed outlet"),
    "never": Feed("https://never.example.org/rss", ""),
    "stale": Feed("https://stale.example.org/rss", "Stale blog"),
}


def load_items() -> list[dict]:
    return [json.loads(line) for line in (HERE / "items.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()]


def _published(text: str | None) -> datetime | None:
    if not text or len(text) != 10:
        return None  # "2025-11" / "2025": too vague to be a timestamp
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def _match(watchlist: str) -> Match:
    return Match(watchlist, TITLES.get(watchlist, watchlist),
                 (TermHit(watchlist, "topic", "title", watchlist),))


def add_items(store: Store, rows: list[dict], *, start: datetime = START, step: timedelta = STEP,
              suffix: str = "") -> None:
    """Record ``rows`` as decided items at start, start+step, ... (keys made unique by suffix)."""
    stories: dict[str, int] = {}
    for i, row in enumerate(rows):
        now = start + i * step
        feed = FEEDS["ru" if row["language"] == "ru" else "news"].url
        item = Item(key=f"guid:{row['id']}{suffix}", feed_url=feed, title=row["title"],
                    link=row["url"] + (f"?v={suffix}" if suffix else ""), summary=row["summary"] or "",
                    published=_published(row["published"]), outlet=row["outlet"],
                    language=row["language"])
        wl = row["watchlist"]
        if row["novelty"] == "new_development":
            cluster = row["cluster"] + suffix
            if cluster in stories:
                decision = Decision("update", wl, story_id=stories[cluster])
            else:
                decision = Decision("alert", wl, signature={"cluster": cluster})
            story_id, _ = store.record_item(item, [_match(wl)], decision, now)
            stories.setdefault(cluster, story_id)
        elif row["novelty"] == "baseline_restatement" and wl != "none":
            store.record_item(item, [_match(wl)], Decision("known", wl, reasons=("restates",)), now)
        else:
            store.record_item(item, [], Decision("ignored", reasons=("matched no watchlist",)), now)


def add_feeds(store: Store, now: datetime = NOW) -> None:
    """Feed rows in every state the digest header distinguishes."""
    store.sync_feeds(list(FEEDS.values()))
    later = now + timedelta(minutes=15)
    for key in ("news", "ru"):
        store.record_poll(FEEDS[key].url, PollPlan(now - timedelta(minutes=5), 200, later, seeded=True))
    broken = FEEDS["broken"].url
    store.record_poll(broken, PollPlan(now - timedelta(days=2), 200, later))
    for k in range(3):
        store.record_poll(broken, PollPlan(now - timedelta(hours=3 - k), 503, later, success=False,
                                           error="HTTP 503"))
    gone = FEEDS["gone"].url
    reason = "HTTP 410 Gone: the publisher removed this feed; polling stopped"
    store.record_poll(gone, PollPlan(now - timedelta(hours=6), 410, later, success=False, error=reason,
                                     paused_reason=reason))
    store.record_poll(FEEDS["never"].url, PollPlan(now - timedelta(hours=1), 0, later, success=False,
                                                   error="connection refused"))
    # A never-successful feed with a zeroed error count would be "quiet"; ours keeps failing.
    stale = FEEDS["stale"].url
    store.record_poll(stale, PollPlan(now - timedelta(minutes=10), 304, later))
    old = now - timedelta(days=12)
    store.record_seen([Item(key="guid:stale-1", feed_url=stale, title="An old post", outlet="Stale blog")], old)


def build_fixture_state(path: Path | str, *, repeat: int = 1) -> Store:
    """A store at ``path`` holding the fixture; ``repeat`` > 1 adds more copies of the items
    (later in time, distinct keys and stories) to make a digest long enough to need splitting."""
    store = Store(path)
    rows = load_items()
    add_items(store, rows)
    for r in range(1, repeat):
        add_items(store, rows, start=START + timedelta(minutes=r), step=STEP, suffix=f"-{r}")
    add_feeds(store)
    return store
