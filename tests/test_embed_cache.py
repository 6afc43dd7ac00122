"""The baseline timeline's vectors persist in the user's cache folder (bot.embed, persist=True):
a later process reads them instead of embedding, and a bad or unwritable cache costs only time."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest

from bot.embed import Embedder, item_text, load_embedder
from bot.models import Item, Match, TermHit
from bot.novelty import NoveltyEngine
from bot.timeline import load_timeline

ROOT = Path(__file__).resolve().parent.parent


def _timeline():
    tl, problems = load_timeline(ROOT / "watchlists" / "timeline.yaml")
    assert not problems
    return tl


def _event_texts() -> list[str]:
    return [item_text(e.what, " ".join(e.phrases)) for e in _timeline().events]


class RefusingModel:
    """A runtime that must not be asked: any embedding here means the cache was not used."""

    def query(self, text):
        raise AssertionError(f"embedded {text[:40]!r} although its vector was persisted")


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "watchbot" / "vectors"


def test_a_later_process_reads_the_persisted_vectors(cache):
    """The first call embeds and writes one file; an embedder of the same runtime that cannot
    embed at all then returns the same vectors from it."""
    real = load_embedder()
    texts = _event_texts()
    real.clear()
    first = real.vectors(texts, persist=True)
    files = list(cache.glob(f"{real.backend}-*.npy"))
    assert len(files) == 1 and first.shape == (len(texts), 384)
    later = Embedder(RefusingModel(), real.backend, real.version)
    assert np.array_equal(later.vectors(texts, persist=True), first)
    # Another runtime version, or other texts, is another file: never someone else's vectors.
    with pytest.raises(AssertionError, match="persisted"):
        Embedder(RefusingModel(), real.backend, real.version + "+1").vectors(texts, persist=True)
    with pytest.raises(AssertionError, match="persisted"):
        Embedder(RefusingModel(), real.backend, real.version).vectors(texts[:-1], persist=True)


def test_a_corrupt_or_unwritable_cache_only_costs_the_embedding(cache, tmp_path, monkeypatch):
    """A garbled file is embedded again and rewritten; a cache folder that cannot be created
    still gives the vectors."""
    real = load_embedder()
    texts = _event_texts()[:3]
    want = real.vectors(texts, persist=True)
    (path,) = cache.glob(f"{real.backend}-*.npy")
    path.write_bytes(b"not a numpy file")
    real.clear()
    assert np.allclose(real.vectors(texts, persist=True), want)
    assert np.array_equal(np.load(path), want)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    real.clear()
    assert np.allclose(real.vectors(texts, persist=True), want)


def test_novelty_persists_the_timeline_vectors_on_its_first_decision(cache):
    """An engine's first decision writes the timeline's vectors; the next engine reads them."""
    real = load_embedder()
    real.clear()
    item = Item(key="guid:t", feed_url="https://feeds.example/x", title="Aktau crash report",
                link=None, summary="", published=datetime(2026, 1, 5, tzinfo=timezone.utc),
                outlet="x", language="en")
    matches = [Match("aktau_crash", "aktau_crash", (TermHit("Aktau", "name", "title", "Aktau"),))]
    NoveltyEngine(_timeline(), embedder=real).decide(item, matches, item.published)
    assert len(list(cache.glob(f"{real.backend}-*.npy"))) == 1
    engine = NoveltyEngine(_timeline(), embedder=Embedder(RefusingModel(), real.backend,
                                                            real.version))
    engine._embed_events()
    assert all(r.emb is not None for r in engine._events)
