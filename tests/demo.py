"""`make demo`: real sample items → per-outlet feeds → the whole pipeline → a local Bot API stand-in.

Offline and quick: it shows a newcomer what the channel would receive — one alert per
development, other outlets and languages folded into it as edits, restatements and near-misses
kept out — using the same replay code as `watchbot replay --post`.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections import defaultdict
from datetime import datetime, time, timezone
from pathlib import Path

from bot.config import Settings
from bot.channels.telegram import TelegramChannel
from bot.replay import feed_files, replay_state
from bot.rules import Rules
from tests.feedgen import Entry, rss
from tests.servers.botapi import DEFAULT_CHAT, BotApiStandIn

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def write_feeds(items_file: Path, folder: Path) -> list[Path]:
    """One RSS file per outlet, like the archives `watchbot replay` reads."""
    by_outlet: dict[str, list[Entry]] = defaultdict(list)
    language: dict[str, str] = {}
    for line in items_file.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        day = datetime.fromisoformat((d["published"] + "-01-01")[:10])
        when = datetime.combine(day.date(), time(12), tzinfo=timezone.utc)
        by_outlet[d["outlet"]].append(Entry(d["title"], d["url"], when, d["summary"] or ""))
        language[d["outlet"]] = d["language"]
    paths = []
    for n, (outlet, entries) in enumerate(sorted(by_outlet.items())):
        path = folder / f"feed-{n:02d}.xml"
        path.write_bytes(rss(outlet, entries, language=language[outlet]))
        paths.append(path)
    return paths


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="watchbot-demo-") as tmp:
        tmp = Path(tmp)
        files = write_feeds(HERE / "data" / "demo" / "items.jsonl", tmp)
        settings = Settings(watchbot_watchlists=REPO / "watchlists", watchbot_state=tmp / "state",
                            watchbot_parse_workers=0)
        async with BotApiStandIn() as api:
            channel = TelegramChannel("1:demo-token", DEFAULT_CHAT, api_url=api.root, min_interval=0)
            await channel.start()
            records = await replay_state(settings, Rules.load(settings.watchbot_watchlists),
                                         feed_files(files), channel=channel)
            await channel.aclose()
            messages = api.messages(DEFAULT_CHAT)

    print(f"{len(records)} items from {len(files)} outlets replayed in publication order:\n")
    for r in records:
        lists = ",".join(r["watchlists"]) or "-"
        print(f"  {r['decision']:<8} {r['published'][:10] if r['published'] else '':<10} [{lists}] {r['title'][:80]}")
    edits = sum(len(m["edits"]) for m in messages)
    print(f"\nThe channel received {len(messages)} messages; {edits} edits added the other sources "
          f"(each message below as it reads after its last edit):\n")
    for m in messages:
        final = m["edits"][-1]["visible"] if m["edits"] else m["visible"]
        print("─" * 72)
        print(final)
    print("─" * 72)


if __name__ == "__main__":
    asyncio.run(main())
