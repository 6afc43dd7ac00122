"""Matcher throughput (`make bench-match`).

Configurations: the shipped watchlists, and synthetic watchlists of 1,000 and 10,000 aliases,
each over the same 100,000 news-like items (~300 characters, mixed Latin/Cyrillic/Turkish and
Azerbaijani letters, quotes and dashes), generated deterministically (seeded). For each it
prints items/s of ``Matcher.match`` on one core, a breakdown of the hot path (fold alone, fold
plus automaton scan), and a naive baseline: one case-insensitive ``re.search`` per term. The
naive baseline is run on a subsample and extrapolated (it is said so in the output).

Run: .venv/bin/python bench/bench_match.py [--items N]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.match import Matcher  # noqa: E402
from bot.models import Item  # noqa: E402
from bot.text import fold  # noqa: E402
from bot.watchlists import Group, Rule, Watchlist, load_watchlists, parse_term  # noqa: E402

EN = ("the government said minister talks railway court report company market energy sales "
      "project meeting president agreement border price growth security investment city "
      "officials according new week year plans country region support water bank").split()
RU = ("правительство заявил министр переговоры суд отчёт компания рынок энергетика проект "
      "встреча президент соглашение граница цены рост безопасность инвестиции город "
      "чиновники неделе году планы страны региона поддержка вода банк ещё её").split()
AZ = ("hökumət bildirib nazir danışıqlar məhkəmə hesabat şirkət bazar enerji layihə görüş "
      "prezident razılaşma sərhəd qiymət artım təhlükəsizlik investisiya şəhər rəsmilər "
      "həftə il planlar ölkə region dəstək su bank").split()
TR = ("hükümet açıkladı bakan görüşmeler mahkeme rapor şirket piyasa enerji proje toplantı "
      "cumhurbaşkanı anlaşma sınır fiyat büyüme güvenlik yatırım şehir yetkililer hafta yıl "
      "planlar ülke bölge destek su banka İstanbul").split()
PUNCT = [", ", ". ", " — ", " «", "» ", ": ", " ", " ", " ", " "]
LETTERS = "abcdefghijklmnopqrstuvwxyzабвгдежзийклмнопрстуфхцчшщыэюяəıöüşçğ"


def make_items(n: int, seed: int = 7) -> list[Item]:
    """n deterministic news-like items of ~300 characters in four languages."""
    rng = random.Random(seed)
    langs = [EN, RU, AZ, TR]
    items = []
    for i in range(n):
        vocab = langs[i % 4]

        def sentence(chars: int) -> str:
            out: list[str] = []
            length = 0
            while length < chars:
                w = rng.choice(vocab)
                if rng.random() < 0.15:
                    w = w.capitalize()
                out.append(w)
                out.append(rng.choice(PUNCT))
                length += len(w) + 2
            return "".join(out).strip()

        items.append(Item(key=f"k{i}", feed_url="bench", title=sentence(70),
                          summary=sentence(230)))
    return items


def synthetic_watchlists(n_aliases: int, seed: int = 11) -> list[Watchlist]:
    """Watchlists of 10 aliases each (single words and two-word names), n_aliases in total."""
    rng = random.Random(seed)
    out: list[Watchlist] = []
    aliases: list[str] = []
    while len(aliases) < n_aliases:
        w = "".join(rng.choice(LETTERS) for _ in range(rng.randint(5, 10))).capitalize()
        if rng.random() < 0.3:
            w += " " + "".join(rng.choice(LETTERS) for _ in range(rng.randint(4, 8)))
        aliases.append(w)
    for j in range(0, n_aliases, 10):
        terms = tuple(parse_term(a) for a in aliases[j:j + 10])
        out.append(Watchlist(id=f"syn{j}", title=f"Synthetic {j}", description="",
                             groups=(Group("names", terms),),
                             rules=(Rule("r", any=("names",)),)))
    return out


def terms_of(watchlists: list[Watchlist]) -> list[str]:
    words = []
    for w in watchlists:
        for g in w.groups:
            for t in g.terms:
                if t.regex is None:
                    words.append(t.text.rstrip("*").lstrip("="))
    return words


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>11,.0f} items/s"


def bench(name: str, watchlists: list[Watchlist], items: list[Item], naive_sample: int) -> None:
    t0 = time.perf_counter()
    matcher = Matcher.compile(watchlists)
    compile_s = time.perf_counter() - t0
    n_terms = len(terms_of(watchlists))
    texts = [it.text for it in items]

    t0 = time.perf_counter()
    for t in texts:
        fold(t)
    fold_s = time.perf_counter() - t0

    automaton = matcher._automaton  # noqa: SLF001 - the profile needs the raw scan cost
    t0 = time.perf_counter()
    if automaton is not None:
        for t in texts:
            for _ in automaton.iter(fold(t)):
                pass
    scan_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    matched = 0
    for it in items:
        if matcher.match(it):
            matched += 1
    match_s = time.perf_counter() - t0

    # Naive: one case-insensitive re.search per term (substring semantics, as keyword bots do).
    patterns = [re.compile(re.escape(w), re.IGNORECASE) for w in terms_of(watchlists)]
    sample = items[:naive_sample]
    t0 = time.perf_counter()
    for it in sample:
        text = it.text
        for p in patterns:
            if p.search(text):
                break
    naive_s = (time.perf_counter() - t0) * len(items) / len(sample)

    print(f"\n== {name}: {n_terms} terms, {len(watchlists)} watchlists "
          f"(compile {compile_s * 1000:.0f} ms), {len(items):,} items")
    print(f"  Matcher.match        {rate(len(items), match_s)}   ({matched:,} items matched)")
    print(f"  profile: fold only   {rate(len(items), fold_s)}")
    print(f"  profile: fold+scan   {rate(len(items), scan_s)}   (automaton iteration, no checks)")
    print(f"  naive re.search/term {rate(len(items), naive_s)}   (run on {len(sample):,} items, "
          f"extrapolated to {len(items):,})")
    print(f"  speed-up vs naive    {naive_s / match_s:>11.1f}x")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    items = make_items(args.items)
    avg = sum(len(i.text) for i in items) / len(items)
    print(f"{len(items):,} synthetic items, average {avg:.0f} characters, one core, "
          f"Python {sys.version.split()[0]}")
    shipped, problems = load_watchlists(ROOT / "watchlists")
    if problems:
        for p in problems:
            print("PROBLEM", p)
    bench("shipped watchlists", shipped, items, naive_sample=5_000)
    bench("synthetic 1,000 aliases", synthetic_watchlists(1_000), items, naive_sample=1_000)
    bench("synthetic 10,000 aliases", synthetic_watchlists(10_000), items, naive_sample=100)
    print("\ngoal: >= 150,000 items/s at 10,000 aliases")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
