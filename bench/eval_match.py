"""Matching quality on the shared dev set (see ../shared/eval/README.md), per story fold.

relevance_recall: items labelled with one of the five topics whose topic the matcher matched.
false_match_rate: items labelled ``irrelevant`` that matched ANY watchlist.

Nothing here is fitted, but the watchlists' terms are written by people looking at failures:
so the misses and false matches printed are only those of the TRAINING folds (every fold but
the held-out one, ``--fold K``, default 4), and the held-out fold's figure is the one to judge
by, with the mean and the worst over the five folds (bench/folds.py: one split for every
evaluation). Also printed: a per-language relevance table and the number of items of the
ordinary news feeds in ../shared/feeds/real-world/ that match any watchlist (each should match
nothing), parsed by the bot's own parser (bot.parse.parse_feed, i.e. feedparser).

Run: .venv/bin/python bench/eval_match.py [--fold K] [--verbose] [--all-failures] [items.jsonl]
  --verbose        print the training folds' misses and false matches, and the feed matches
  --all-failures   print the held-out fold's failures too (only once the terms are final)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.folds import N_FOLDS, fold_of  # noqa: E402
from bot.match import Matcher  # noqa: E402
from bot.models import Item  # noqa: E402
from bot.parse import parse_feed  # noqa: E402
from bot.watchlists import load_watchlists  # noqa: E402

TOPICS = {"aktau_crash", "sputnik_azerbaijan", "north_south", "akkuyu", "diaspora_arrests"}
SHARED = ROOT.parents[0] / "shared"
DEV = SHARED / "eval" / "dev_items.jsonl"
REAL_WORLD = SHARED / "feeds" / "real-world"


def _ratio(a: int, b: int) -> float:
    return a / b if b else float("nan")


def score(matcher: Matcher, items: list[dict]) -> list[dict]:
    """Per item: its fold, label, matched watchlists, and whether it counts as hit / false."""
    out = []
    for d in items:
        it = Item(key=d["id"], feed_url="eval", title=d["title"], summary=d.get("summary") or "",
                  language=d.get("language"))
        got = {m.watchlist for m in matcher.match(it)}
        out.append({"d": d, "fold": fold_of(d), "got": got,
                    "relevant": d["watchlist"] in TOPICS, "hit": d["watchlist"] in got,
                    "irrelevant": d.get("novelty") == "irrelevant", "false": bool(got)})
    return out


def fold_figures(rows: list[dict]) -> tuple[float, float, str]:
    rel = [r for r in rows if r["relevant"]]
    irr = [r for r in rows if r["irrelevant"]]
    hit = sum(r["hit"] for r in rel)
    false = sum(r["false"] for r in irr)
    return (_ratio(hit, len(rel)), _ratio(false, len(irr)),
            f"{hit}/{len(rel)} hit, {false}/{len(irr)} false")


def real_world_matches(matcher: Matcher) -> tuple[int, int, list[str]]:
    """(items parsed, items matching any watchlist, descriptions of those) over the feeds."""
    total = 0
    lines = []
    for path in sorted(REAL_WORLD.iterdir()):
        if path.suffix not in {".xml", ".rss", ".atom", ".rdf"}:
            continue
        parsed = parse_feed(path.read_bytes(), {}, f"file://{path.name}")
        total += len(parsed.items)
        for it in parsed.items:
            got = sorted(m.watchlist for m in matcher.match(it))
            if got:
                lines.append(f"FEED  {got} {path.name}: {it.title[:100]}")
    return total, len(lines), lines


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", nargs="?", type=Path, default=DEV)
    ap.add_argument("--fold", type=int, default=N_FOLDS - 1, help="held-out fold (default 4)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--all-failures", action="store_true")
    args = ap.parse_args(argv)
    watchlists, problems = load_watchlists(ROOT / "watchlists")
    for p in problems:
        print("PROBLEM", p)
    matcher = Matcher.compile(watchlists)
    items = [json.loads(line) for line in args.path.read_text(encoding="utf-8").splitlines()
             if line.strip()]
    rows = score(matcher, items)

    if args.verbose or args.all_failures:
        for r in rows:
            if r["fold"] == args.fold and not args.all_failures:
                continue
            d = r["d"]
            tag = f"f{r['fold']} {d['language']}"
            if r["relevant"] and not r["hit"]:
                print(f"MISS  {tag} [{d['watchlist']}] {d['title']} | {(d.get('summary') or '')[:160]}")
            if r["irrelevant"] and r["false"]:
                print(f"FALSE {tag} {sorted(r['got'])} {d['title']}")
        print()

    print(f"{'fold':>6} {'recall':>7} {'false':>7}  counts")
    recalls, fmrs = [], []
    for k in range(N_FOLDS):
        rec, fmr, counts = fold_figures([r for r in rows if r["fold"] == k])
        recalls.append(rec)
        fmrs.append(fmr)
        mark = "  <- held out" if k == args.fold else ""
        print(f"{k:>6} {rec:7.3f} {fmr:7.3f}  {counts}{mark}")
    print(f"{'mean':>6} {sum(recalls) / N_FOLDS:7.3f} {sum(fmrs) / N_FOLDS:7.3f}")
    print(f"{'worst':>6} {min(recalls):7.3f} {max(fmrs):7.3f}")
    rec, fmr, counts = fold_figures(rows)
    print(f"relevance_recall {rec:.3f}, false_match_rate {fmr:.3f} over all items ({counts})")

    print(f"\n{'lang':>5} {'items':>6} {'matched':>8} {'recall':>7} {'irrel':>6} {'false':>6}")
    by_lang: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_lang[r["d"].get("language") or "?"].append(r)
    for lang, lrows in sorted(by_lang.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        rel = [r for r in lrows if r["relevant"]]
        irr = [r for r in lrows if r["irrelevant"]]
        hit = sum(r["hit"] for r in rel)
        rec_s = f"{hit / len(rel):7.3f}" if rel else f"{'-':>7}"
        print(f"{lang:>5} {len(rel):>6} {hit:>8} {rec_s} {len(irr):>6} "
              f"{sum(r['false'] for r in irr):>6}")

    total, matched, lines = real_world_matches(matcher)
    if args.verbose:
        print(*lines, sep="\n")
    print(f"\nreal-world feeds: {matched} of {total} ordinary news items match a watchlist")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
