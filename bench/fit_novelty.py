"""Fit novelty's update model on labelled items (bot/novelty_model.py explains it).

    .venv/bin/python bench/fit_novelty.py            # fit on all dev items, write bot/novelty_model.json

``make eval`` calls :func:`fit` once per fold with the other four folds' items, so the figures it
prints are for weights that never saw the held-out stories.

How training rows are made: the labelled items are replayed in publication order through a real
NoveltyEngine whose state follows the LABELS, not its own decisions (the first item of a story
starts it, later items of the story within the update window fold into it). Before each item
changes the state, ``NoveltyEngine.training_view`` returns exactly the features ``decide`` would
compute:
- update rows: one per recent story of the item's watchlist; label 1 if it is the item's story.
The threshold is chosen on the same training rows by weighted cost: missing a new development
costs twice a superfluous post (cluster recall is what the bot is for).

Step 6 rows (items the labels do not fold that steps 4-5 let through) are only counted and
printed (``step6``: first reports / others): a logistic "alert model" fitted on them never
decided anything (28-32 rows per training set, of which 1-3 not a first report, and those with
more new facts than a typical first report), so it was removed rather than shipped inert.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bot.models import Match, Story, TermHit  # noqa: E402
from bot.novelty import UPDATE_FEATURES, UPDATE_SIGNS, NoveltyEngine  # noqa: E402
from bot.novelty_model import (Logistic, NoveltyModel, fit_logistic, load_model,  # noqa: E402
                                steady_threshold)
from bot.timeline import load_timeline  # noqa: E402
from eval import TOPICS, item_date, to_item  # noqa: E402  (bench/eval.py: one reading of the labels)

#: Cost of a missed new development relative to one superfluous alert (see module docstring).
MISS_COST = 2.0
#: Cost of a report not folded into its story: it becomes a duplicate alert only when steps 4-5
#: do not call it known, and one story has many reports.
UNFOLDED_COST = 0.5
_GRID = [i / 100 for i in range(5, 96, 5)]


def label_match(watchlist: str) -> list[Match]:
    return [Match(watchlist, watchlist, (TermHit(watchlist, "label", "title", ""),))]


def real_matches(items: list[dict], watchlists_dir: Path | None) -> dict[str, list[Match]]:
    """Item id -> the matches the shipped matcher gives it, when they include its labelled
    watchlist (first), so training sees the matched terms exactly as the pipeline does; other
    items get a label match."""
    if watchlists_dir is None:
        return {}
    from bot.match import Matcher
    from bot.watchlists import load_watchlists

    watchlists, _ = load_watchlists(watchlists_dir)
    matcher = Matcher.compile(watchlists)
    out = {}
    for it in items:
        ms = matcher.match(to_item(it))
        own = [m for m in ms if m.watchlist == it["watchlist"]]
        if own:
            out[it["id"]] = own + [m for m in ms if m.watchlist != it["watchlist"]]
    return out


def training_rows(items: list[dict], timeline, embedder,
                  watchlists_dir: Path | None = ROOT / "watchlists") -> tuple[list, list, list]:
    """(update rows [(item id, story cluster, features, label)], step-6 labels [1 for a first
    report, 0 otherwise], update groups [(item id, should-update cluster or None,
    [(cluster, features)], whether it is a first report)])."""
    engine = NoveltyEngine(timeline, embedder=embedder,
                           model=load_model("embed" if embedder is not None else "lexical"))
    order = sorted((it for it in items if it["watchlist"] in TOPICS),
                   key=lambda it: (item_date(it.get("published")) is None,
                                   item_date(it.get("published")) or datetime(2025, 7, 5, tzinfo=timezone.utc),
                                   it["id"]))
    matched = real_matches(order, watchlists_dir)
    story_of_cluster: dict[str, int] = {}
    cluster_of_story: dict[int, str] = {}
    upd_rows, step6, groups = [], [], []
    next_id = 1
    for it in order:
        item = to_item(it)
        now = item.published or datetime(2025, 7, 5, tzinfo=timezone.utc)
        matches = matched.get(it["id"]) or label_match(it["watchlist"])
        cluster = it["cluster"] if it["novelty"] == "new_development" else None
        view = engine.training_view(item, matches, now)
        if view is None:
            continue
        recent, gated = view
        recent_clusters = [(cluster_of_story.get(int(k)), f) for k, f in recent]
        own = cluster if cluster is not None and cluster in story_of_cluster and any(
            c == cluster for c, _ in recent_clusters) else None
        for c, f in recent_clusters:
            upd_rows.append((it["id"], c, f, int(c is not None and c == cluster)))
        groups.append((it["id"], own, recent_clusters, cluster is not None and cluster not in story_of_cluster))
        if own is not None:
            engine.add_source(story_of_cluster[cluster], item)
            continue
        first = cluster is not None and cluster not in story_of_cluster
        if not gated:  # reaches step 6 (counted for the report; nothing is fitted on it)
            step6.append(int(first))
        if first:
            sid = next_id
            next_id += 1
            published = item.published.date() if item.published else now.date()
            sig = engine.signature(item, it["watchlist"], published)
            engine.remember(Story(sid, it["watchlist"], item.title, item.link, item.outlet,
                                  item.published, now, sig))
            story_of_cluster[cluster] = sid
            cluster_of_story[sid] = cluster
    return upd_rows, step6, groups


def _update_threshold(model: Logistic, groups) -> float:
    """Least-cost threshold over items: a wrong fold of a new development's first report costs
    MISS_COST (the development is never alerted), a missed fold costs UNFOLDED_COST (a
    duplicate alert at worst); the cost is smoothed over neighbouring thresholds
    (bot.novelty_model.steady_threshold) so that one training item does not move it far."""
    costs = []
    for t in _GRID:
        cost = 0.0
        for _id, own, cands, first in groups:
            if not cands:
                continue
            p, c = max(((model.probability(f), c) for c, f in cands), key=lambda x: x[0])
            if own is not None:
                if p < t or c != own:
                    cost += UNFOLDED_COST
            elif p >= t and first:
                cost += MISS_COST
        costs.append(cost)
    return steady_threshold(_GRID, costs)


def fit(items: list[dict], timeline, embedder, *, l2: float = 1.0) -> NoveltyModel:
    """The update model and its threshold fitted on ``items`` (labelled dev items)."""
    upd_rows, step6, groups = training_rows(items, timeline, embedder)
    upd = fit_logistic([f for _i, _c, f, _y in upd_rows], [y for *_, y in upd_rows], UPDATE_FEATURES, l2=l2,
                       signs=UPDATE_SIGNS)
    upd = Logistic(upd.features, upd.weights, upd.bias, upd.mean, upd.scale, _update_threshold(upd, groups))
    return NoveltyModel(upd, "embed" if embedder is not None else "lexical",
                        extra={"update_rows": len(upd_rows),
                               "step6": f"{sum(step6)} first reports / "
                                        f"{len(step6) - sum(step6)} others"})


def main() -> None:
    from eval import DEV, load_dev
    from bot.embed import load_embedder

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dev", type=Path, default=DEV)
    ap.add_argument("-o", "--output", type=Path, default=ROOT / "bot" / "novelty_model.json")
    args = ap.parse_args()
    items = load_dev(args.dev)
    timeline, problems = load_timeline(ROOT / "watchlists" / "timeline.yaml")
    if timeline is None:
        raise SystemExit("\n".join(map(str, problems)))
    embedder = load_embedder()
    variants = {}
    for name, emb in (("embed", embedder), ("lexical", None)):
        if name == "embed" and emb is None:
            print("embedding package unavailable: 'embed' variant not refitted")
            continue
        m = fit(items, timeline, emb)
        variants[name] = {"update": m.update.to_json(), **m.extra}
        print(f"{name}: update threshold {m.update.threshold}, {m.extra}")
        for f, w in zip(m.update.features, m.update.weights):
            print(f"   update {f:20s} {w:+.3f}")
    data = {"note": f"fitted by bench/fit_novelty.py on {len(items)} labelled dev items "
                    f"({args.dev.name}); see bot/novelty_model.py",
            "variants": variants}
    if args.output.exists() and len(variants) < 2:
        old = json.loads(args.output.read_text(encoding="utf-8"))
        data["variants"] = {**old.get("variants", {}), **variants}
    args.output.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
