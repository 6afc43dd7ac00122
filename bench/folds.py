"""The one fold split of the labelled dev items, shared by every evaluation script.

Stories are the unit (../shared/eval/README.md): all items of one ``cluster`` fall in the same
fold, so nothing fitted on four folds has seen another outlet's report of a held-out story.
Items without a cluster (restatements, near-misses) are spread evenly by their id. The split
depends only on the labels' text (a SHA-1 of the cluster or id), never on the order of the file,
so a future larger sample keeps each existing story in its fold.

``salt`` (``bench/eval.py --resplit SALT``) draws another split of the same kind: every
choice made by looking at the standing split's held-out figures has, in a way, seen those
folds, so a figure that holds only there was fitted to them.
"""

from __future__ import annotations

import hashlib

N_FOLDS = 5


def _bucket(key: str, salt: str = "") -> int:
    key = f"{salt}\0{key}" if salt else key  # no salt: the standing split, unchanged
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16) % N_FOLDS


def fold_of(item: dict, salt: str = "") -> int:
    """Fold 0..N_FOLDS-1 of a labelled item (by its cluster if it has one, else its id)."""
    cluster = item.get("cluster")
    return _bucket(f"cluster:{cluster}", salt) if cluster else _bucket(f"item:{item['id']}", salt)


def split(items: list[dict], held_out: int, salt: str = "") -> tuple[list[dict], list[dict]]:
    """(training items, held-out items) for fold ``held_out`` (of the split ``salt`` draws)."""
    train = [it for it in items if fold_of(it, salt) != held_out]
    test = [it for it in items if fold_of(it, salt) == held_out]
    return train, test
