"""Replay: backtest rules on archived feed files with a simulated clock.

Wired once, here: `watchbot replay` (bot/cli.py), `make demo` (tests/demo.py) and the evaluation
(bench/eval.py, through ``replay_files``) all run ``replay_state``, which builds the store and
the pipeline and sends every item through ``Pipeline.process_item`` in publication order.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Iterable, Sequence

from bot.config import Settings
from bot.models import Decision, Item, Match
from bot.novelty_model import NoveltyModel
from bot.parse import parse_feed
from bot.channels import Channel
from bot.pipeline import Pipeline
from bot.poll_policy import publication_order
from bot.rules import Rules
from bot.storage import open_store

log = logging.getLogger("watchbot")


def feed_files(paths: Iterable[str | Path]) -> list[Path]:
    """The feed files named, folders expanded (sorted, non-recursive into hidden entries).
    Raises FileNotFoundError naming a path that does not exist."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")))
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    return files


def replay_items(files: Sequence[Path]) -> tuple[list[Item], list[str]]:
    """Every item of the files, in publication order (undated last), plus per-file problems."""
    items: list[Item] = []
    problems = []
    for path in files:
        parsed = parse_feed(path.read_bytes(), {}, str(path.resolve()))
        if parsed.error and not parsed.items:
            problems.append(f"{path}: {parsed.error}")
        items.extend(parsed.items)
    items.sort(key=publication_order)
    return items, problems


async def replay(pipeline: Pipeline, files: Sequence[Path], *, post: bool = False) -> list[dict]:
    """Run every item of ``files`` through ``pipeline`` in publication order; one record each.

    The clock is simulated: each item is processed "at" its publication time, so time windows
    behave as they would have live. No first-sight seeding. Items already in the state (a second
    replay of the same files) are reported as ``seen``. With ``post``, the outbox is drained to
    the pipeline's channel after each item, as it would go live.
    """
    items, problems = replay_items(files)
    for p in problems:
        log.warning("%s", p)
    records = []
    seen_keys: set[str] = set()
    for item in items:
        when = item.published or pipeline.clock()
        if not pipeline.store.unseen([item]) or item.key in seen_keys:
            records.append(_record(item, None, None))
            continue
        seen_keys.add(item.key)
        matches, decision = pipeline.process_item(item, when)
        records.append(_record(item, matches, decision))
        if post:
            await pipeline.drain()
    return records


async def replay_state(settings: Settings, rules: Rules, files: Sequence[Path], *,
                       channel: Channel | None = None) -> list[dict]:
    """Replay ``files`` into the state folder of ``settings`` with ``rules``; with a (started)
    ``channel``, alerts and edits are sent to it as they would have gone live."""
    store = open_store(settings)
    try:
        pipeline = Pipeline(settings=settings, store=store, rules=rules, channel=channel)
        return await replay(pipeline, files, post=channel is not None)
    finally:
        store.close()


def replay_files(paths: Iterable[str | Path], *, watchlists_dir: Path, state_dir: Path | None = None,
                 settings: Settings | None = None, novelty_model: NoveltyModel | None = None,
                 embeddings: bool = True) -> list[dict]:
    """Library entry for evaluation: replay feed files against fresh (or given) state, with the
    shipped novelty model or ``novelty_model`` (one fitted on training folds)."""
    files = feed_files(paths)
    base = settings or Settings()
    with tempfile.TemporaryDirectory(prefix="watchbot-replay-") as tmp:
        state = Path(state_dir) if state_dir else Path(tmp)
        settings = replace(base, watchbot_watchlists=Path(watchlists_dir), watchbot_state=state,
                           watchbot_database_url="")  # a replay never writes a configured database
        rules = Rules.load(settings.watchbot_watchlists, novelty_model=novelty_model,
                           embeddings=embeddings)
        return asyncio.run(replay_state(settings, rules, files))


def _record(item: Item, matches: Sequence[Match] | None, decision: Decision | None) -> dict:
    return {
        "link": item.link,
        "title": item.title,
        "published": item.published.isoformat() if item.published else None,
        "watchlists": [m.watchlist for m in matches or ()],
        "decision": decision.kind if decision else "seen",
        "story": decision.story_id if decision and decision.kind in ("alert", "update") else None,
        "reasons": {"why": list(decision.reasons), "nearest": decision.nearest,
                    "similarity": round(decision.similarity, 3),
                    "new_facts": list(decision.new_facts), "step": decision.step,
                    "score": decision.score, "facts": decision.facts}
        if decision else {"why": ["already in state"]},
    }
