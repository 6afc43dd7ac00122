"""Event stems that fire on text of another language: the collisions to review when a language
module gains words.

Every module's event stems are transliterated into one Latin key space (bot.lang), so a stem
of one language can be a common word of another: Ukrainian "старт" is English "start", Turkish
"öldü" (died) folds to "oldu" (became), Russian "иск" is Armenian "իսկ" (and). This scans
labelled items (default: the dev sample and the probe sets) and prints, for each stem that
matched a word of an item written in a language that does not own the stem, the words it
matched with their language. Cognates with the same meaning (ru "освободили" on a bg stem) are
fine; a word with another meaning is a collision to fix in the owning module.

Run: .venv/bin/python bench/stem_collisions.py [items.jsonl ...]
"""

from __future__ import annotations

import collections
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot import lang  # noqa: E402
from bot.features import translit  # noqa: E402

DEFAULT = [ROOT.parent / "shared" / "eval" / "dev_items.jsonl",
           ROOT / "bench" / "probe" / "set_a.jsonl", ROOT / "bench" / "probe" / "set_b.jsonl"]


def owners() -> dict[str, list[tuple[str, str, bool]]]:
    """Transliterated stem -> [(language code, kind, whole word only)] (gap phrases left out)."""
    out: dict[str, list[tuple[str, str, bool]]] = collections.defaultdict(list)
    for mod in lang.modules():
        code = mod.__name__.rsplit(".", 1)[1]
        for kind, stems in getattr(mod, "EVENTS", {}).items():
            for stem in stems:
                key = lang._key(stem)
                if key and lang.GAP not in key:
                    out[key.strip()].append((code, kind, key.endswith(" ")))
    return out


def main() -> None:
    paths = [Path(p) for p in sys.argv[1:]] or [p for p in DEFAULT if p.exists()]
    table = owners()
    hits: dict[tuple[str, str, str], collections.Counter] = collections.defaultdict(collections.Counter)
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            text = f" {re.sub(r'[^a-z0-9 ]+', ' ', translit(item['title'] + ' ' + (item.get('summary') or '')))} "
            for stem, who in table.items():
                codes = {c for c, _, _ in who}
                if item.get("language") in codes:
                    continue
                tail = "(?= )" if all(w for _, _, w in who) else "[a-z]*"
                for m in re.finditer(" " + re.escape(stem) + tail, text):
                    hits[(stem, ",".join(sorted(codes)), who[0][1])][f"{item.get('language')}:{m.group().strip()}"] += 1
    for (stem, codes, kind), words in sorted(hits.items(), key=lambda kv: -sum(kv[1].values())):
        print(f"{stem!r:28} {kind:10} {codes:14} {dict(words.most_common(6))}")


if __name__ == "__main__":
    main()
