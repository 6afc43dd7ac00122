"""`make eval`: the six figures of ../shared/eval/README.md on the labelled dev items, plus the
novelty cost (p95 ms per matched item with a year of synthetic stories loaded, peak memory).

The items become one RSS 2.0 feed per outlet in a temporary folder and are replayed in
publication order through the real pipeline (bot.replay.replay_files: parse, match, novelty,
store). A second run replaces the matcher by the items' labelled watchlist ("oracle matching"),
which isolates novelty from matching.

Dates: the labels give some dates as "YYYY-MM" or "YYYY"; they are placed mid-period (the 15th,
1 July), the item's best estimate.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bot.models import Item, Match, Story, TermHit  # noqa: E402
from bot.novelty import NoveltyEngine  # noqa: E402
from bot.timeline import load_timeline  # noqa: E402

# The labelled sample lives in shared/ beside the repository (../shared/eval).
DEV = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev_items.jsonl"
TOPICS = {"aktau_crash", "sputnik_azerbaijan", "north_south", "akkuyu", "diaspora_arrests"}
AS_OF = datetime(2025, 7, 5, tzinfo=timezone.utc)
EMBEDDER = None  # bot.embed.Embedder unless --lexical


def item_date(raw: str | None) -> datetime | None:
    if not raw:
        return None
    parts = raw.split("-")
    if len(parts) == 1:
        return datetime(int(parts[0]), 7, 1, 12, tzinfo=timezone.utc)
    if len(parts) == 2:
        return datetime(int(parts[0]), int(parts[1]), 15, 12, tzinfo=timezone.utc)
    return datetime(int(parts[0]), int(parts[1]), int(parts[2]), 12, tzinfo=timezone.utc)


def load_dev(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_feeds(items: list[dict], folder: Path) -> list[Path]:
    """One RSS 2.0 file per outlet, items in the order given."""
    by_outlet: dict[str, list[dict]] = {}
    for it in items:
        by_outlet.setdefault(it["outlet"], []).append(it)
    paths = []
    for i, (outlet, its) in enumerate(sorted(by_outlet.items())):
        lang = its[0].get("language") or ""
        entries = []
        for it in its:
            when = item_date(it.get("published"))
            pub = f"<pubDate>{format_datetime(when)}</pubDate>" if when else ""
            entries.append(
                f"<item><title>{escape(it['title'])}</title><link>{escape(it['url'])}</link>"
                f"<guid isPermaLink=\"false\">dev-{it['id']}</guid>"
                f"<description>{escape(it.get('summary') or '')}</description>{pub}</item>")
        xml = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
               f"<title>{escape(outlet)}</title><link>https://example.org/{i}</link>"
               f"<description>dev items</description><language>{lang}</language>"
               + "".join(entries) + "</channel></rss>")
        p = folder / f"outlet{i:02d}.xml"
        p.write_text(xml, encoding="utf-8")
        paths.append(p)
    return paths


def figures(items: list[dict], records: dict[str, dict]) -> dict[str, float]:
    """The six figures of the eval README from labels and {item id: record}."""
    rel = [it for it in items if it["watchlist"] in TOPICS]
    rr = sum(it["watchlist"] in records[it["id"]]["watchlists"] for it in rel) / max(1, len(rel))
    irr = [it for it in items if it["novelty"] == "irrelevant"]
    fmr = sum(bool(records[it["id"]]["watchlists"]) for it in irr) / max(1, len(irr))

    def post(it: dict) -> bool:
        d = item_date(it.get("published"))
        return d is None or d.date() > AS_OF.date() or it["novelty"] != "new_development"

    alerts = [it for it in items if records[it["id"]]["decision"] == "alert"]
    clusters: dict[str, list[dict]] = {}
    for it in items:
        if it["novelty"] == "new_development" and it["watchlist"] in TOPICS and it["cluster"] and post(it):
            clusters.setdefault(it["cluster"], []).append(it)
    cr = sum(any(records[x["id"]]["decision"] == "alert" for x in c)
             for c in clusters.values()) / max(1, len(clusters))
    judged = [it for it in alerts if not (it["novelty"] == "new_development" and it["watchlist"] == "none")
              and post(it)]
    ap = sum(it["novelty"] == "new_development" for it in judged) / max(1, len(judged))
    alerted = [c for c in clusters.values() if any(records[x["id"]]["decision"] == "alert" for x in c)]
    dup = sum(sum(records[x["id"]]["decision"] == "alert" for x in c) - 1
              for c in alerted) / max(1, len(alerted))
    base = [it for it in items if it["novelty"] == "baseline_restatement"]
    leak = sum(records[it["id"]]["decision"] == "alert" for it in base) / max(1, len(base))
    return {"relevance_recall": rr, "false_match_rate": fmr, "cluster_recall": cr,
            "alert_precision": ap, "dup_alerts": dup, "baseline_leak": leak}


def run_pipeline(items: list[dict], watchlists: Path, model=None, embeddings: bool = True) -> dict[str, dict]:
    from bot.replay import replay_files
    with tempfile.TemporaryDirectory(prefix="watchbot-eval-") as tmp:
        paths = write_feeds(items, Path(tmp))
        records = replay_files(paths, watchlists_dir=watchlists, novelty_model=model, embeddings=embeddings)
    by_link = {r["link"]: r for r in records}
    return {it["id"]: by_link.get(it["url"], {"watchlists": [], "decision": "missing", "reasons": {}})
            for it in items}


def run_oracle(items: list[dict], timeline_path: Path, seed: int | None = None,
               model=None) -> dict[str, dict]:
    """Novelty alone: the labelled watchlist stands in for matching; stories kept in memory.
    With ``seed``, items of one day come in a random order (feeds do not agree on times)."""
    timeline, problems = load_timeline(timeline_path)
    if timeline is None:
        raise SystemExit("\n".join(map(str, problems)))
    engine = NoveltyEngine(timeline, embedder=EMBEDDER, model=model)
    rng = random.Random(seed)
    tiebreak = {it["id"]: (rng.random() if seed is not None else 0) for it in items}
    order = sorted(items, key=lambda it: (item_date(it.get("published")) is None,
                                          item_date(it.get("published")) or AS_OF, tiebreak[it["id"]]))
    out: dict[str, dict] = {}
    story_title: dict[int, str] = {}
    next_id = 1
    for it in order:
        item = to_item(it)
        matches = [] if it["watchlist"] not in TOPICS else [
            Match(it["watchlist"], it["watchlist"], (TermHit(it["watchlist"], "label", "title", ""),))]
        now = item.published or AS_OF
        d = engine.decide(item, matches, now)
        story = None
        if d.kind == "alert":
            story = next_id
            next_id += 1
            engine.remember(Story(story, d.watchlist or "", item.title, item.link, item.outlet,
                                  item.published, now, d.signature or {}))
            story_title[story] = it["title"]
        elif d.kind == "update":
            story = d.story_id
            engine.add_source(d.story_id, item)
        out[it["id"]] = {"watchlists": [m.watchlist for m in matches], "decision": d.kind,
                         "story": story, "reasons": {"why": list(d.reasons), "new_facts": list(d.new_facts),
                                                     "step": d.step, "score": d.score}}
    return out


def to_item(it: dict) -> Item:
    return Item(key=f"guid:dev-{it['id']}", feed_url=f"dev:{it['outlet']}", title=it["title"],
                link=it["url"], summary=it.get("summary") or "", published=item_date(it.get("published")),
                outlet=it["outlet"], language=it.get("language"))


# ------------------------------------------------------------------------------- cost
_SYLL = ["ka", "ro", "va", "li", "ne", "do", "mu", "sa", "te", "gor", "bek", "lan", "zar", "vich"]
_WORDS = ("court minister said agency railway corridor plant stake talks report officials "
          "статья суд министр заявил агентство задержан освобожден переговоры железная дорога "
          "məhkəmə nazir bildirib dəmir yolu görüş mahkeme bakan açıkladı").split()


def _engine_with_a_year(timeline, per_day: int, end: datetime, model=None) -> NoveltyEngine:
    """An engine that remembered ``per_day`` synthetic stories a day for a year, each with the
    stored signature the pipeline writes (facts, n-grams and, with the embedder, a vector: a
    random unit vector here, since what it costs to compare does not depend on its values)."""
    rng = random.Random(7)
    engine = NoveltyEngine(timeline, embedder=EMBEDDER, model=model)
    start = end - timedelta(days=365)
    sid = 0
    name = lambda: "".join(rng.choice(_SYLL) for _ in range(3)).capitalize()  # noqa: E731
    for d in range(365):
        day = start + timedelta(days=d)
        for _ in range(per_day):
            sid += 1
            wl = rng.choice(sorted(TOPICS))
            title = f"{name()} {rng.choice(_WORDS)} {name()} {rng.choice(_WORDS)} {rng.randint(2, 999)}"
            summary = " ".join(rng.choice(_WORDS) if rng.random() < 0.7 else name() for _ in range(30))
            item = Item(key=f"syn{sid}", feed_url="synthetic", title=title, summary=summary,
                        published=day, outlet="synthetic")
            emb = None
            if EMBEDDER is not None:
                v = [rng.gauss(0, 1) for _ in range(384)]
                n = sum(x * x for x in v) ** 0.5
                emb = [x / n for x in v]
            sig = engine.signature(item, wl, day.date(), emb=emb)
            engine.remember(Story(sid, wl, title, None, "synthetic", day, day, sig))
    return engine


def cost(items: list[dict], timeline_path: Path, per_day: int = 10) -> dict[str, float]:
    """ms (wall and CPU) of decide() per matched dev item (embedding the item included: memoised vectors are
    forgotten before each pass) with a year of synthetic stories remembered (per_day a day, all
    topics; the engine keeps its index window of them), the time to build that engine from
    stored signatures, and the peak memory traced while building it and deciding (a separate,
    untimed pass: tracing slows Python several-fold)."""
    timeline, _ = load_timeline(timeline_path)
    end = datetime(2026, 1, 31, tzinfo=timezone.utc)
    todo = []
    for it in items:
        if it["watchlist"] not in TOPICS:
            continue
        item = Item(**{**to_item(it).__dict__, "published": end})
        todo.append((item, [Match(it["watchlist"], it["watchlist"],
                                  (TermHit(it["watchlist"], "label", "title", ""),))]))
    t0 = time.perf_counter()
    engine = _engine_with_a_year(timeline, per_day, end)
    build_s = time.perf_counter() - t0
    times, cpu = [], []
    for _ in range(2):
        if EMBEDDER is not None:
            EMBEDDER.clear()
        for item, m in todo:
            t0, c0 = time.perf_counter(), time.process_time()
            engine.decide(item, m, end)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
    in_index = engine.stories_in_index
    del engine
    tracemalloc.start()
    engine = _engine_with_a_year(timeline, per_day, end)
    for item, m in todo[:40]:
        engine.decide(item, m, end)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    times.sort()
    cpu.sort()
    # CPU time of this (single-threaded) process is what one decision costs whatever else the
    # machine runs; wall time also pays for other processes on a busy machine.
    return {"stories_remembered": 365 * per_day, "stories_in_index": in_index,
            "p95_ms": times[int(0.95 * (len(times) - 1))], "median_ms": statistics.median(times),
            "cpu_p95_ms": cpu[int(0.95 * (len(cpu) - 1))], "cpu_median_ms": statistics.median(cpu),
            "year_build_s": build_s, "peak_mb_traced": peak / 1e6}


def print_figures(title: str, rows: list[dict[str, float]]) -> None:
    """Per-fold figures, their mean and their worst, one line per figure."""
    print(f"== {title}")
    names = list(rows[0])
    print("  " + " " * 17 + "".join(f"  fold{k}" for k in range(len(rows))) + "    mean   worst   goal")
    for n in names:
        vals = [r[n] for r in rows]
        bad = max if n in LOWER_IS_BETTER else min
        print(f"  {n:17s}" + "".join(f"  {v:5.3f}" for v in vals)
              + f"   {statistics.mean(vals):5.3f}   {bad(vals):5.3f}   {GOALS[n]}")


LOWER_IS_BETTER = ("false_match_rate", "dup_alerts", "baseline_leak")
GOALS = {"relevance_recall": ">=0.95", "false_match_rate": "<=0.05", "cluster_recall": ">=0.95",
         "alert_precision": ">=0.90", "dup_alerts": "<=0.10", "baseline_leak": "<=0.05"}


def language_table(items: list[dict], recs: dict[str, dict]) -> None:
    """Relevance per language (real matching): items of the five topics, matched, recall."""
    from collections import defaultdict
    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for it in items:
        r = rows[it.get("language") or "?"]
        if it["watchlist"] in TOPICS:
            r[0] += 1
            r[1] += it["watchlist"] in recs[it["id"]]["watchlists"]
        if it["novelty"] == "irrelevant":
            r[2] += 1
            r[3] += bool(recs[it["id"]]["watchlists"])
    print("== relevance per language (real matching, all items)")
    print("  lang  topic items  matched  recall   irrelevant  false matches")
    for lang, (n, m, ni, nf) in sorted(rows.items(), key=lambda kv: -kv[1][0] - kv[1][2]):
        rec = f"{m / n:6.3f}" if n else "     -"
        print(f"  {lang:5s} {n:11d}  {m:7d}  {rec}   {ni:10d}  {nf:13d}")


def score_other(args) -> None:
    """``--other``: the dev sample fits the model (as bench/fit_novelty.py does for the shipped
    one); the other file is only scored, through the real pipeline and with oracle matching,
    and every wrong decision of the pipeline is printed with its reasons."""
    from fit_novelty import fit

    timeline_path, timeline = _setup(args)
    model = fit(load_dev(args.dev), timeline, EMBEDDER)
    items = load_dev(args.other)
    print(f"{args.other}: {len(items)} items, scored with the model fitted on all of {args.dev.name}")
    recs = run_pipeline(items, args.watchlists, model, embeddings=EMBEDDER is not None)
    oracle = run_oracle(items, timeline_path, model=model)
    for title, r in (("pipeline (real matching)", recs), ("oracle matching (novelty alone)", oracle)):
        print(f"== {title}")
        for n, v in figures(items, r).items():
            print(f"  {n:17s} {v:5.3f}   {GOALS[n]}")
    language_table(items, recs)
    print("== pipeline failures (label -> what the bot did; every alert of a story alerted twice)")
    alerts = Counter(it["cluster"] for it in items if recs[it["id"]]["decision"] == "alert")
    for it in sorted(items, key=lambda it: item_date(it.get("published")) or AS_OF):
        r = recs[it["id"]]
        topic = it["watchlist"] in TOPICS
        if not topic:
            wrong = it["novelty"] == "irrelevant" and bool(r["watchlists"])
        elif it["watchlist"] not in r["watchlists"]:
            wrong = True
        elif it["novelty"] == "new_development":
            wrong = alerts[it["cluster"]] != 1 and (r["decision"] == "alert" or not alerts[it["cluster"]])
        else:
            wrong = r["decision"] == "alert"
        if wrong:
            why = r.get("reasons") or {}
            print(f"  {it['id']} {it['language']} {it['published']} {it['watchlist']}/{it['novelty'][:8]} "
                  f"{it.get('cluster')} -> {r['watchlists']} {r['decision']}: {it['title'][:90]}")
            if why:
                print(f"      {str(why.get('why') or why)[:220]}")


def _setup(args) -> tuple[Path, object]:
    """(timeline path, timeline) of ``--watchlists``, and EMBEDDER loaded unless ``--lexical``."""
    global EMBEDDER
    from bot.embed import load_embedder

    timeline_path = args.watchlists / "timeline.yaml"
    timeline, problems = load_timeline(timeline_path)
    if timeline is None:
        raise SystemExit("\n".join(map(str, problems)))
    EMBEDDER = None if args.lexical else load_embedder()
    return timeline_path, timeline


def main() -> None:
    from fit_novelty import fit
    from folds import N_FOLDS, split

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dev", type=Path, default=DEV)
    ap.add_argument("--watchlists", type=Path, default=ROOT / "watchlists")
    ap.add_argument("--verbose", "-v", action="store_true", help="print every held-out decision")
    ap.add_argument("--no-pipeline", action="store_true", help="oracle matching only")
    ap.add_argument("--lexical", action="store_true", help="n-gram similarity only (no embeddings)")
    ap.add_argument("--shuffles", type=int, default=3,
                    help="also run oracle matching with N random same-day orders (worst figures)")
    ap.add_argument("--no-cost", action="store_true", help="skip the novelty cost measurement")
    ap.add_argument("--resplit", metavar="SALT", default="",
                    help="another split by story, drawn with SALT (default: the standing split)")
    ap.add_argument("--other", type=Path, metavar="ITEMS",
                    help="score another labelled file (same fields) with the model fitted on ALL of "
                         "--dev, no folds: a set no fit or term edit has seen; prints its failures")
    args = ap.parse_args()
    if args.other:
        return score_other(args)
    items = load_dev(args.dev)
    timeline_path, timeline = _setup(args)
    kind = f"embeddings ({EMBEDDER.name})" if EMBEDDER else "lexical n-grams"
    drawn = f", drawn with salt {args.resplit!r}" if args.resplit else ""
    print(f"similarity: {kind}; {len(items)} items, {N_FOLDS} folds split by story (bench/folds.py{drawn})")
    pipe_rows, oracle_rows, shuffle_rows = [], [], []
    all_pipe: dict[str, dict] = {}
    for k in range(N_FOLDS):
        train, test = split(items, k, args.resplit)
        model = fit(train, timeline, EMBEDDER)
        test_ids = {it["id"] for it in test}
        if not args.no_pipeline:
            recs = run_pipeline(items, args.watchlists, model, embeddings=EMBEDDER is not None)
            pipe_rows.append(figures(test, recs))
            all_pipe.update({i: r for i, r in recs.items() if i in test_ids})
        recs_o = run_oracle(items, timeline_path, model=model)
        oracle_rows.append(figures(test, recs_o))
        for seed in range(args.shuffles):
            shuffle_rows.append(figures(test, run_oracle(items, timeline_path, seed, model=model)))
        if args.verbose:
            for it in sorted(test, key=lambda it: item_date(it.get("published")) or AS_OF):
                r = recs_o[it["id"]]
                print(f"  f{k} {it['published']!s:10} {it['novelty'][:8]:8} {str(it['cluster'])[:22]:22} "
                      f"{r['decision']:7} {str(r.get('story')):4} {it['title'][:60]}")
                if r["decision"] in ("alert", "update", "known") and it["watchlist"] in TOPICS:
                    print(f"      {r['reasons'].get('step')} {r['reasons'].get('score')} "
                          f"{r['reasons'].get('why')[:1]} new={r['reasons'].get('new_facts')[:6]}")
    if pipe_rows:
        print_figures("pipeline (real matching), held-out folds", pipe_rows)
    print_figures("oracle matching (novelty alone), held-out folds", oracle_rows)
    if shuffle_rows:
        worst = {n: (max if n in LOWER_IS_BETTER else min)(r[n] for r in shuffle_rows) for n in shuffle_rows[0]}
        print(f"== oracle matching, worst held-out fold over {args.shuffles} random same-day orders each")
        for n, v in worst.items():
            print(f"  {n:17s} {v:.3f}")
    if all_pipe:
        language_table(items, all_pipe)
    if args.no_cost:
        return
    c = cost(items, timeline_path)
    print(f"== novelty cost ({kind}; one process, {time.strftime('%Y-%m-%d %H:%M')}, "
          f"load {os.getloadavg()[0]:.2f})")
    for k, v in c.items():
        print(f"  {k:18s} {v:.2f}" if isinstance(v, float) else f"  {k:18s} {v}")


if __name__ == "__main__":
    main()
