"""Matching quality on the shared dev set (see ../shared/eval/README.md).

relevance_recall: items labelled with one of the five topics whose topic the matcher matched.
false_match_rate: items labelled ``irrelevant`` that matched ANY watchlist.
Run: .venv/bin/python bench/eval_match.py [--verbose] [path/to/items.jsonl]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.match import Matcher  # noqa: E402
from bot.models import Item  # noqa: E402
from bot.watchlists import load_watchlists  # noqa: E402

TOPICS = {"aktau_crash", "sputnik_azerbaijan", "north_south", "akkuyu", "diaspora_arrests"}


def main(argv: list[str]) -> int:
    verbose = "--verbose" in argv or "-v" in argv
    args = [a for a in argv if not a.startswith("-")]
    path = Path(args[0]) if args else Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev_items.jsonl"
    watchlists, problems = load_watchlists(ROOT / "watchlists")
    for p in problems:
        print("PROBLEM", p)
    matcher = Matcher.compile(watchlists)
    relevant = hit = irrelevant = false = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        d = json.loads(line)
        item = Item(key=d["id"], feed_url="eval", title=d["title"], summary=d.get("summary") or "",
                    language=d.get("language"))
        got = {m.watchlist for m in matcher.match(item)}
        label = d["watchlist"]
        if label in TOPICS:
            relevant += 1
            if label in got:
                hit += 1
            elif verbose:
                print(f"MISS  [{label}] {d['title']}")
        if d.get("novelty") == "irrelevant":
            irrelevant += 1
            if got:
                false += 1
                if verbose:
                    print(f"FALSE {sorted(got)} {d['title']}")
    recall = hit / relevant if relevant else 0.0
    fmr = false / irrelevant if irrelevant else 0.0
    print(f"relevance_recall {recall:.3f} ({hit}/{relevant})")
    print(f"false_match_rate {fmr:.3f} ({false}/{irrelevant})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
