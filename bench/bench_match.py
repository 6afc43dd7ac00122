"""Matcher throughput (`make bench-match`).

Configurations: the shipped watchlists, and synthetic watchlists of 1,000 and 10,000 aliases,
each over the same 100,000 news-like items (~300 characters, mixed Latin/Cyrillic/Turkish and
Azerbaijani letters, quotes and dashes), generated deterministically (seeded). For each it
prints items/s on one core of ``Matcher.match`` (item by item) and ``Matcher.match_many``
(batched), a breakdown of the hot path (fold alone; encode + automaton scan, which is all a
non-matching item costs), and a naive baseline: one case-insensitive ``re.search`` per term,
run on a subsample and extrapolated (it is said so in the output).

The machine may be shared: times are CPU time of this process (``time.process_time``), each
figure is the best of ``--rounds`` rounds, and the rounds interleave all configurations, so
background load hits every configuration alike. The inputs (items, compiled matchers) are
frozen out of the cyclic garbage collector (``gc.freeze``) before timing.

Run: .venv/bin/python bench/bench_match.py [--items N] [--rounds R]
"""

from __future__ import annotations

import argparse
import gc
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.match import _SCAN_BYTES, Matcher  # noqa: E402
from bot.models import Item  # noqa: E402
from bot.text import encode_codepage, fold  # noqa: E402
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


def with_aliases(items: list[Item], aliases: list[str], every: int, seed: int = 3) -> list[Item]:
    """A copy of ``items`` where every ``every``-th summary names one alias (a few inflected)."""
    rng = random.Random(seed)
    out = list(items)
    for i in range(0, len(out), every):
        it = out[i]
        words = it.summary.split(" ")
        pos = rng.randrange(len(words))
        words.insert(pos, rng.choice(aliases) + rng.choice(["", "", "da", "ы", "'nin"]))
        out[i] = Item(key=it.key, feed_url=it.feed_url, title=it.title, summary=" ".join(words))
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


def cpu(fn) -> float:
    """CPU seconds of ``fn()`` in this process (other processes' load does not count)."""
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


class Config:
    """One watchlist configuration and its best (smallest) time per measurement so far."""

    def __init__(self, name: str, watchlists: list[Watchlist], items: list[Item],
                 naive_sample: int) -> None:
        self.name = name
        self.watchlists = watchlists
        self.items = items
        self.texts = [it.text for it in items]
        self.naive_sample = naive_sample
        t0 = time.process_time()
        self.matcher = Matcher.compile(watchlists)
        self.compile_s = time.process_time() - t0
        self.best: dict[str, float] = {}
        self.matched = 0

    def keep(self, what: str, seconds: float) -> None:
        self.best[what] = min(seconds, self.best.get(what, float("inf")))

    def round(self) -> None:
        m, items, texts = self.matcher, self.items, self.texts
        find = m._find  # noqa: SLF001 - the profile needs the raw hot-path cost

        def per_item() -> None:
            self.matched = sum(1 for it in items if m.match(it))

        def batched() -> None:
            self.batched_matched = sum(1 for r in m.match_many(items) if r)

        def fold_only() -> None:
            for t in texts:
                fold(t)

        def scan_only() -> None:
            for t in texts:
                raw = encode_codepage(t)
                if raw is not None and find is not None:
                    find((b"\n" + raw).translate(_SCAN_BYTES), overlapping=True)

        for what, fn in (("match", per_item), ("match_many", batched), ("fold", fold_only),
                         ("scan", scan_only)):
            self.keep(what, cpu(fn))

    def naive(self) -> None:
        """One case-insensitive re.search per term (substring semantics, as keyword bots do)."""
        patterns = [re.compile(re.escape(w), re.IGNORECASE) for w in terms_of(self.watchlists)]
        sample = self.items[:self.naive_sample]

        def run() -> None:
            for it in sample:
                text = it.text
                for p in patterns:
                    if p.search(text):
                        break

        self.keep("naive", cpu(run) * len(self.items) / len(sample))

    def print(self) -> None:
        n = len(self.items)
        b = self.best
        print(f"\n== {self.name}: {len(terms_of(self.watchlists))} terms, "
              f"{len(self.watchlists)} watchlists (compile {self.compile_s * 1000:.0f} ms CPU), "
              f"{n:,} items")
        print(f"  Matcher.match        {rate(n, b['match'])}   ({self.matched:,} items matched)"
              f"   {b['naive'] / b['match']:>7.1f}x naive")
        print(f"  Matcher.match_many   {rate(n, b['match_many'])}   (batched, same results: "
              f"{self.batched_matched:,} matched)   {b['naive'] / b['match_many']:>7.1f}x naive")
        print(f"  profile: fold only   {rate(n, b['fold'])}")
        print(f"  profile: scan only   {rate(n, b['scan'])}   (encode + translate + automaton call;"
              f" no decode, no verification)")
        print(f"  naive re.search/term {rate(n, b['naive'])}   (run on {self.naive_sample:,} "
              f"items, extrapolated to {n:,})")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    items = make_items(args.items)
    avg = sum(len(i.text) for i in items) / len(items)
    print(f"{len(items):,} synthetic items, average {avg:.0f} characters, one core, "
          f"Python {sys.version.split()[0]}; CPU time, best of {args.rounds} interleaved rounds; "
          f"inputs frozen out of the GC")
    shipped, problems = load_watchlists(ROOT / "watchlists")
    if problems:
        for p in problems:
            print("PROBLEM", p)
    syn10k = synthetic_watchlists(10_000)
    configs = [Config("shipped watchlists", shipped, items, naive_sample=5_000),
               Config("synthetic 1,000 aliases", synthetic_watchlists(1_000), items, 1_000),
               Config("synthetic 10,000 aliases", syn10k, items, 100),
               Config("synthetic 10,000 aliases, 1 item in 10 names one (hit path)", syn10k,
                      with_aliases(items, terms_of(syn10k), every=10), 100)]
    # The 100,000+ input items and the compiled matchers are fixtures: frozen out of the cyclic
    # GC, so its full collections (which would walk every live item) are not charged to the
    # matcher; match_many's result lists otherwise trigger them (~20% of its time here).
    gc.collect()
    gc.freeze()
    for _ in range(args.rounds):
        for c in configs:
            c.round()
    for c in configs:
        c.naive()
        c.print()
    big = configs[2].best
    n = len(items)
    for what in ("match", "match_many"):
        got = n / big[what]
        print(f"\ngoal: >= 150,000 items/s at 10,000 aliases: Matcher.{what} {got:,.0f} items/s "
              f"({'met' if got >= 150_000 else 'NOT met'})", end="")
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
