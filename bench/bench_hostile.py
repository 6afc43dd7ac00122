"""Hostile input, measured (`make bench-hostile`; issue 13, classes 1, 2 and 11).

1. Text cleaning: ``bot.parse.plain_text`` (a forward-only scanner) against the regular
   expressions it replaced (``<!--.*?-->``, ``<script\\b.*?</script>``, ``</?[A-Za-z][\\w:-]*\\b[^<>]*>``),
   on fields of unclosed comments, unclosed scripts and one long hyphenated tag. The naive
   side runs only up to 64 KB (it is quadratic: a megabyte would take minutes) and the scanner
   also on 1 MB.
2. A story gaining sources: rendering its message once per drain (what the pipeline does now)
   against rendering it again for every update (what it did), for N sources of one story.
3. A YAML alias bomb: ``load_yaml_with_tree`` refusing 9**k nodes of aliases, against expanding
   them (``to_plain``, what loading did before), up to 9**6 nodes on the naive side.

Times are CPU seconds of this process (``time.process_time``), best of ``--rounds``; the machine
may be shared, so note the load (``uptime``) beside the figures.

Run: .venv/bin/python bench/bench_hostile.py [--rounds R]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.channels.telegram_html import render_alert  # noqa: E402
from bot.models import Item, Match, Source, StoryMessage, TermHit  # noqa: E402
from bot.parse import plain_text  # noqa: E402
from bot.yamlconf import load_yaml_with_tree, to_plain  # noqa: E402

# The regular expressions plain_text used before (the naive alternative).
_OLD_SCRIPT_RE = re.compile(r"<(script|style|noscript)\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)
_OLD_INLINE_RE = re.compile(
    r"</?(?:a|abbr|b|bdi|bdo|cite|code|data|del|dfn|em|font|i|ins|kbd|mark|q|s|samp|small|"
    r"span|strike|strong|sub|sup|time|tt|u|var|wbr)\b[^<>]*>", re.I)
_OLD_TAG_RE = re.compile(r"</?[A-Za-z][A-Za-z0-9:-]*\b[^<>]*>")


def old_plain_text(value: str) -> str:
    value = _OLD_SCRIPT_RE.sub(" ", value)
    value = _OLD_INLINE_RE.sub("", value)
    value = _OLD_TAG_RE.sub(" ", value)
    return " ".join(value.split())


SHAPES = {
    "unclosed <!--": lambda n: "<!--" * (n // 4),
    "unclosed <script": lambda n: "<script" * (n // 7),
    "one hyphenated tag": lambda n: "<a" + "-a" * (n // 2),
}


def best(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times)


def bench_cleaning(rounds: int) -> None:
    print("1. text cleaning (CPU s)")
    for name, make in SHAPES.items():
        for size in (16_384, 65_536):
            text = make(size)
            new = best(lambda: plain_text(text), rounds)
            old = best(lambda: old_plain_text(text), 1)
            print(f"   {name:<20} {size // 1024:>5} KB: scanner {new:.4f}  regex {old:.3f}  "
                  f"({old / max(new, 1e-6):,.0f}x)")
        text = make(1 << 20)
        print(f"   {name:<20} 1024 KB: scanner {best(lambda: plain_text(text), rounds):.4f}  "
              "regex not run (quadratic: minutes)")


def bench_rendering(rounds: int) -> None:
    print("2. a story with N sources: render once vs once per update (CPU s)")
    when = datetime(2025, 10, 25, tzinfo=timezone.utc)
    item = Item(key="k", feed_url="f", title="Sputnik Azerbaijan editor released", link="https://a.example/0",
                outlet="Outlet 0", published=when)
    match = Match("sputnik_azerbaijan", "Sputnik Azerbaijan", (TermHit("Sputnik", "", "title", "Sputnik"),))
    for n in (250, 500):
        sources = [Source(title=f"Editor released ({i})", link=f"https://o{i}.example/x", outlet=f"Outlet {i}",
                          language="en", published=when) for i in range(n)]
        def message(others):
            return StoryMessage.from_matches(1, item, [match], "sputnik_azerbaijan", others)

        once = best(lambda: render_alert(message(sources)), rounds)
        every = best(lambda: [render_alert(message(sources[:k])) for k in range(0, n, 1)], 1)
        print(f"   N={n:>5}: once {once:.4f}  every update {every:.2f}  ({every / max(once, 1e-6):,.0f}x)")


def _bomb(levels: int) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    return "\n".join(lines + ["id: bomb", f"terms: *a{levels - 1}"]) + "\n"


def bench_yaml(rounds: int) -> None:
    print("3. YAML alias bomb (CPU s)")
    from ruamel.yaml import YAML

    with tempfile.TemporaryDirectory() as tmp:
        for levels in (6, 10):
            path = Path(tmp) / f"bomb{levels}.yaml"
            path.write_text(_bomb(levels), encoding="utf-8")
            refused = best(lambda: load_yaml_with_tree(path, {"type": "object"}), rounds)
            _, _, problems = load_yaml_with_tree(path, {"type": "object"})
            line = f"   9**{levels} nodes ({path.stat().st_size} bytes): refused in {refused:.4f} ({problems[0]})"
            if levels <= 6:
                root = YAML(typ="rt").load(path.read_text())
                expand = best(lambda: to_plain(root), 1)
                line += f"; expanding {expand:.2f} ({expand / max(refused, 1e-6):,.0f}x)"
            else:
                line += "; expanding not run (billions of nodes: out of memory)"
            print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    bench_cleaning(args.rounds)
    bench_rendering(args.rounds)
    bench_yaml(args.rounds)


if __name__ == "__main__":
    main()
