"""The one fold split of the labelled dev items, shared by every evaluation script.

Stories are the unit (../shared/eval/README.md): all items of one ``cluster`` fall in the same
fold, so nothing fitted on four folds has seen another outlet's report of a held-out story.
Items without a cluster (restatements, near-misses) are spread evenly by their id. The split
depends only on the labels' text (a SHA-1 of the cluster or id), never on the order of the file,
so a future larger sample keeps each existing story in its fold.
"""

from __future__ import annotations

import hashlib

N_FOLDS = 5


def _bucket(key: str) -> int:
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16) % N_FOLDS


def fold_of(item: dict) -> int:
    """Fold 0..N_FOLDS-1 of a labelled item (by its cluster if it has one, else its id)."""
    cluster = item.get("cluster")
    return _bucket(f"cluster:{cluster}") if cluster else _bucket(f"item:{item['id']}")


def split(items: list[dict], held_out: int) -> tuple[list[dict], list[dict]]:
    """(training items, held-out items) for fold ``held_out``."""
    train = [it for it in items if fold_of(it) != held_out]
    test = [it for it in items if fold_of(it) == held_out]
    return train, test
