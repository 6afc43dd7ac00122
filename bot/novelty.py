"""Novelty stage: is a matched item a new development, another report of one, or known?

Pure stage: ``decide`` reads state and returns a Decision; only ``remember`` / ``add_source``
(called by the pipeline after the store committed) change state, so a crash between deciding
and storing loses nothing and a replay gives the same decisions.

Method (measured on short multilingual ledes): character n-gram TF-IDF over transliterated text
finds the nearest story or baseline event (same-story AUC ~0.92), but no similarity separates
"the same development" from "a follow-up on the same story" well, so NEW FACTS decide: names
(transliterated to one key across scripts), numbers, event kinds (released, sentenced, paid...)
and dates after the baseline. Time windows matter: another outlet reports the same development
within days (update); weeks later without a new fact it is a recap (known).

Decision order for an item matching watchlists W:
1. published on or before the timeline's as_of -> known (a bot started then could not alert it);
2. anniversary wording -> known (names the nearest event);
3. nearest story of W within ``update_window_days`` with no new fact in the HEADLINE -> update
   (the headline carries the development; details in the lede vary by outlet). When either
   headline has no checkable fact (Arabic script has no capitals), similarity is not required;
4. nearest story of W in the index (similarity >= known_story_threshold) whose own facts cover
   the item's -> known (a recap of an alerted story);
5. compared with the nearest baseline event of W (+ every name W's events mention): no new fact,
   only weak ones once an item dates what it tells before as_of, or only new names (new voices,
   no new event kind, number or date) -> known;
6. otherwise -> alert, with the new facts as reasons and the item's text as the signature.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Sequence

from bot.features import Facts, char_ngrams, cosine, extract, name_keys, tfidf, translit, words
from bot.models import Decision, Item, Match, Story
from bot.timeline import Event, Timeline

# Event kinds that on their own make a development (a release after an arrest); the others
# (talks, reports of arrests, statements) are common in background paragraphs too.
STRONG_KINDS = frozenset({"release", "verdict", "custody", "appeal", "deport", "payment",
                          "agreement", "sale", "launch", "apology", "growth", "death",
                          "complaint", "office"})
SIGNATURE_VERSION = 1
_VEC_KEEP = 100  # n-grams kept per story vector (bounds time and memory per story)


@dataclass
class _Ref:
    """A thing an item can restate: a baseline event or a remembered story."""

    kind: str  # "event" | "story"
    key: str | int
    label: str
    watchlists: frozenset[str]
    start: date
    end: date
    facts: Facts
    grams: Counter
    vec: dict[str, float] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)
    numbers: set[str] = field(default_factory=set)
    kinds: set[str] = field(default_factory=set)
    words: set[str] = field(default_factory=set)  # lower-case words: "corridor" is no name
    keys: set[str] = field(default_factory=set)  # names | numbers, for the fact overlap
    emb: Any = None  # embedding (numpy vector) when an embedder is configured

    def __post_init__(self) -> None:
        self.names |= set(self.facts.names)
        self.numbers |= set(self.facts.numbers)
        self.kinds |= set(self.facts.kinds)
        self.keys = self.names | self.numbers

    def set_vec(self, vec: dict[str, float]) -> None:
        """Keep the heaviest n-grams only: a story is compared with every new item of its
        watchlist, and the light n-grams (common letter sequences) barely move the cosine."""
        if len(vec) > _VEC_KEEP:
            vec = dict(sorted(vec.items(), key=lambda kv: -kv[1])[:_VEC_KEEP])
        self.vec = vec


def _utc_date(dt: datetime | None) -> date | None:
    if dt is None:
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc)
    return dt.date()


class NoveltyEngine:
    """Decides alert / update / known / ignored for matched items (see module docstring).

    ``update_window_days``: how long after a story's first report another report of the same
    development is folded into it (outlets and translations follow within days).
    ``index_window_days``: stories older than this (relative to the newest item seen) leave
    the comparison index, bounding memory and time; they stay in the store.
    ``update_threshold``: least similarity (0..1) to a recent story for an update; the headline
    check (no new name, number or event kind) does the real separating.
    ``known_story_threshold``: least similarity for an item to be called a recap of an older
    story.
    """

    def __init__(self, timeline: Timeline, *, update_window_days: float = 3.0,
                 index_window_days: float = 120.0, update_threshold: float = 0.12,
                 known_story_threshold: float = 0.22,
                 embedder: Callable[[Sequence[str]], Any] | None = None,
                 embed_floor: float = 0.80) -> None:
        self.timeline = timeline
        self._embedder = embedder
        self._embed_floor = embed_floor
        self.update_window = timedelta(days=update_window_days)
        self.index_window = timedelta(days=index_window_days)
        self.update_threshold = update_threshold
        self.known_story_threshold = known_story_threshold
        self._stories: dict[int, _Ref] = {}
        self._newest: date | None = None
        # IDF of character n-grams over the baseline events: n-grams common to the topic's
        # background ("azerbaijan", "russia") weigh less than names and rare words.
        self._events = [self._event_ref(e) for e in timeline.events]
        df: Counter = Counter()
        for ref in self._events:
            df.update(set(ref.grams))
        n = len(self._events) + 1
        self._idf = {g: math.log((n + 1) / (c + 1)) + 1.0 for g, c in df.items()}
        self._default_idf = math.log(n + 1) + 1.0
        for ref in self._events:
            ref.vec = tfidf(ref.grams, self._idf, self._default_idf)
        if embedder is not None:
            embs = embedder([e.what for e in timeline.events])
            for ref, emb in zip(self._events, embs):
                ref.emb = emb
        # Names present in several events (Moscow, Baku, Putin) identify nothing.
        name_df: Counter = Counter()
        for ref in self._events:
            name_df.update(ref.names)
        self._common_names = {k for k, c in name_df.items() if c >= 3}
        self._topic_names: dict[str, set[str]] = {}
        for ref in self._events:
            for t in ref.watchlists:
                self._topic_names.setdefault(t, set()).update(ref.names)

    # ---------------------------------------------------------------- references
    def _event_ref(self, e: Event) -> _Ref:
        summary = "\n".join([*e.phrases, ", ".join(e.entities), " ".join(e.numbers)])
        facts = extract(e.what, summary, e.end)
        ref = _Ref("event", e.id, e.label(), frozenset(e.topics), e.start, e.end, facts,
                   char_ngrams(f"{e.what}\n{summary}"), words=set(words(f"{e.what}\n{summary}")))
        # Names the editor listed count wherever they stand in the list.
        ref.names |= set(name_keys("\n".join([*e.entities, *e.phrases])))
        ref.keys = ref.names | ref.numbers
        return ref

    def _story_ref(self, story_id: int, watchlist: str, title: str, summary: str,
                   published: date) -> _Ref:
        facts = extract(title, summary, published)
        grams = char_ngrams(f"{title}\n{summary}")
        ref = _Ref("story", story_id, f"story #{story_id}: {title[:90]}", frozenset({watchlist}),
                   published, published, facts, grams, words=set(words(f"{title}\n{summary}")))
        ref.set_vec(tfidf(grams, self._idf, self._default_idf))
        if self._embedder is not None:
            ref.emb = self._embedder([f"{title}\n{summary}"])[0]
        return ref

    # ---------------------------------------------------------------- state changes
    def load(self, stories: Iterable[Story]) -> None:
        """Rebuild the index from stored stories (at start-up). Stories whose signature this
        version cannot read are skipped (they stay in the store, only not compared)."""
        for story in stories:
            sig = story.signature or {}
            if sig.get("v") != SIGNATURE_VERSION:
                continue
            published = date.fromisoformat(sig["published"])
            ref = self._story_ref(story.id, story.watchlist, sig.get("title", story.title),
                                  sig.get("summary", ""), published)
            for src in story.sources:
                self._fold_into(ref, src.title, "", _utc_date(src.published) or published)
            self._stories[story.id] = ref
            self._advance(published)

    def remember(self, story: Story) -> None:
        """Add a story the store just created from an alert (its signature from decide)."""
        self.load([story])

    def add_source(self, story_id: int, item: Item) -> None:
        """An update was stored for ``story_id``: its facts become part of what the story says,
        so a later recap repeating them is known."""
        ref = self._stories.get(story_id)
        if ref is None:
            return
        self._fold_into(ref, item.title, item.summary, _utc_date(item.published) or ref.start)

    def _fold_into(self, ref: _Ref, title: str, summary: str, published: date) -> None:
        f = extract(title, summary, published)
        ref.names.update(f.names)
        ref.numbers.update(f.numbers)
        ref.keys = ref.names | ref.numbers
        ref.kinds.update(f.kinds)
        ref.words.update(words(f"{title}\n{summary}"))

    def _advance(self, day: date) -> None:
        if self._newest is not None and day <= self._newest:
            return
        self._newest = day
        cutoff = self._newest - self.index_window
        for sid in [sid for sid, r in self._stories.items() if r.start < cutoff]:
            del self._stories[sid]

    # ---------------------------------------------------------------- deciding
    def _name_weight(self, key: str) -> float:
        if key in self._common_names:
            return 0.3
        if key.startswith("#"):
            return 0.5  # acronyms: often an organisation already named in full
        return 1.0

    def _new_facts(self, facts: Facts, known_names: set[str], known_numbers: set[str],
                   known_kinds: set[str], *, title_only: bool,
                   known_words: set[str] | frozenset[str] = frozenset()
                   ) -> tuple[float, list[str]]:
        """Weighted score and description of the facts of ``facts`` not among the known ones."""
        names = facts.title_names if title_only else facts.names.keys()
        numbers = facts.title_numbers if title_only else facts.numbers
        kinds = facts.title_kinds if title_only else facts.kinds
        score = 0.0
        new: list[str] = []
        for k in names:
            surface = translit(facts.names.get(k, "")).strip("'-")
            if k not in known_names and surface not in known_words:
                w = self._name_weight(k)
                score += w
                new.append(facts.names.get(k, k))
        for n in sorted(numbers):
            if n not in known_numbers:
                score += 0.5
                new.append(n)
        for kind in sorted(kinds):
            if kind not in known_kinds:
                score += 1.0 if kind in STRONG_KINDS else 0.5
                new.append(f"<{kind}>")
        if not title_only:
            later = [d for d in facts.dates if d[0] > self.timeline.as_of]
            if later:
                score += 0.5
                new.append(f"date {later[0][0].isoformat()}")
        return score, new

    def _fact_weights(self, facts: Facts) -> dict[str, float]:
        w = {k: self._name_weight(k) for k in facts.names}
        w.update({n: 0.5 for n in facts.numbers})
        return w

    def _similarity(self, vec: dict[str, float], ref: _Ref, fw: dict[str, float],
                    emb: Any = None) -> float:
        """0.5 * n-gram cosine + 0.5 * share of the item's names/numbers the reference has
        (weighted by ``fw``, the item's _fact_weights: names common to the baseline weigh
        less). Names bridge languages where n-grams do not. With an embedder, the embedding
        cosine (rescaled from [floor, 1] to [0, 1]: e5 puts unrelated ledes near 0.75)
        replaces the n-gram cosine."""
        if emb is not None and ref.emb is not None:
            raw = float(emb @ ref.emb)
            cos = min(1.0, max(0.0, (raw - self._embed_floor) / (1.0 - self._embed_floor)))
        else:
            cos = cosine(ref.vec, vec) if len(ref.vec) <= len(vec) else cosine(vec, ref.vec)
        if not fw:
            return cos
        theirs = ref.keys
        shared = sum(v for k, v in fw.items() if k in theirs)
        return 0.5 * cos + 0.5 * shared / sum(fw.values())

    def decide(self, item: Item, matches: Sequence[Match], now: datetime) -> Decision:
        """The verdict on one item (does not change state; see module docstring)."""
        if not matches:
            return Decision(kind="ignored", reasons=("matched no watchlist",))
        topics = {m.watchlist for m in matches}
        primary = matches[0].watchlist
        published = _utc_date(item.published) or _utc_date(now)
        assert published is not None
        as_of = self.timeline.as_of
        # The words that made the item match name the topic, not what happened: never new facts.
        match_names: set[str] = set()
        match_words: set[str] = set()
        for m in matches:
            for h in m.hits:
                match_names |= set(name_keys(h.surface.title() if h.surface.islower() else h.surface))
                match_words |= words(h.surface)
        facts = extract(item.title, item.summary, published)
        grams = char_ngrams(item.text)
        vec = tfidf(grams, self._idf, self._default_idf)

        emb = self._embedder([item.text])[0] if self._embedder is not None else None
        fw = self._fact_weights(facts)
        events = [r for r in self._events if r.watchlists & topics] or self._events
        e_sim, best_event = max(((self._similarity(vec, r, fw, emb), r) for r in events),
                                key=lambda x: x[0])

        if published <= as_of:
            return Decision(kind="known", watchlist=primary, nearest=best_event.label,
                            similarity=round(e_sim, 3),
                            reasons=(f"published {published} on or before the baseline date {as_of}",
                                     f"nearest event {best_event.label} (similarity {e_sim:.2f})"))
        if facts.anniversary:
            return Decision(kind="known", watchlist=primary, nearest=best_event.label,
                            similarity=round(e_sim, 3),
                            reasons=("anniversary/recap wording",
                                     f"recalls {best_event.label} (similarity {e_sim:.2f})"))

        # Stories of the same watchlist(s) still in the index.
        oldest = published - self.index_window
        topic_names = set().union(*(self._topic_names.get(t, set()) for t in topics)) | match_names
        scored = [(self._similarity(vec, ref, fw, emb), ref) for ref in self._stories.values()
                  if ref.watchlists & topics and ref.start >= oldest]
        best_story: _Ref | None = None
        s_sim = 0.0
        if scored:
            s_sim, best_story = max(scored, key=lambda x: x[0])
        # 3. Another report of a recent story: the nearest story of the last days whose facts
        # cover the headline's. When either headline yields no checkable fact at all (a script
        # without capitals, no numbers), similarity across scripts means little: the nearest
        # recent story of the watchlist is taken if the headline adds nothing.
        recent = [(sim, ref) for sim, ref in scored
                  if abs((published - ref.start).days) <= self.update_window.days]
        headline_facts = bool(facts.title_names or facts.title_numbers)
        for sim, ref in sorted(recent, key=lambda x: -x[0]):
            story_facts = bool(ref.facts.title_names or ref.facts.title_numbers)
            if sim < self.update_threshold and headline_facts and story_facts:
                break
            t_score, _ = self._new_facts(facts, ref.names | topic_names, ref.numbers, ref.kinds,
                                         title_only=True, known_words=ref.words | match_words)
            if t_score < 1.0:
                _, f_new = self._new_facts(facts, ref.names | topic_names, ref.numbers, ref.kinds,
                                           title_only=False, known_words=ref.words | match_words)
                return Decision(
                    kind="update", watchlist=sorted(ref.watchlists)[0], story_id=int(ref.key),
                    nearest=ref.label, similarity=round(sim, 3), new_facts=tuple(f_new),
                    reasons=(f"same development as {ref.label} (similarity {sim:.2f}, "
                             f"{abs((published - ref.start).days)} d apart)",
                             "headline adds no new fact" + (f"; details: {', '.join(f_new[:6])}" if f_new else "")))
            break  # only the nearest recent story is a candidate
        # 4. A recap of an older story without a new fact.
        if best_story is not None and s_sim >= self.known_story_threshold:
            # Only the story's own names: a name from the baseline with a new event is news
            # (Belousov, named in the raid, later released).
            f_score, f_new = self._new_facts(facts, best_story.names | match_names, best_story.numbers,
                                             best_story.kinds, title_only=False,
                                             known_words=best_story.words | match_words)
            # New names only in the lede, with nothing new happening, are new voices; a new name
            # in the headline is a new subject (another person released).
            headline_names = {translit(facts.names[k]).strip("'-") for k in facts.title_names}
            voices = all(not f.startswith("<") and not f.startswith("date ") and
                         not f.replace(".", "").isdigit() and
                         translit(f).strip("'-") not in headline_names for f in f_new)
            if f_score < 1.0 or voices:
                return Decision(
                    kind="known", watchlist=primary, nearest=best_story.label,
                    similarity=round(s_sim, 3), new_facts=tuple(f_new),
                    reasons=(f"restates {best_story.label} (similarity {s_sim:.2f}) without a new fact"
                             + (f" (new voices only: {', '.join(f_new[:4])})" if f_new else ""),))

        # 5. The baseline: nearest event, plus every name the topic's events mention. (Not merged
        # with the nearest story: a known name with a known event kind can still be a new
        # combination.)
        known_names = best_event.names | topic_names
        known_numbers = set(best_event.numbers)
        known_kinds = set(best_event.kinds)
        known_words = best_event.words | match_words
        score, new = self._new_facts(facts, known_names, known_numbers, known_kinds,
                                     title_only=False, known_words=known_words)
        dated_before = bool(facts.dates) and all(d[1] <= as_of for d in facts.dates)
        if dated_before:
            score -= 1.0
        # New names alone are new voices on known facts (an analyst, an outlet): a development
        # also has something that happened, a number or a date.
        only_voices = all(not f.startswith("<") and not f.startswith("date ") and
                          not f.replace(".", "").isdigit() for f in new)
        if score < 1.0 or only_voices:
            why = "dates what it tells before the baseline; " if dated_before else ""
            if only_voices and new:
                why += "only new names, no new event, number or date; "
            return Decision(
                kind="known", watchlist=primary, nearest=best_event.label,
                similarity=round(e_sim, 3), new_facts=tuple(new),
                reasons=(f"{why}restates {best_event.label} (similarity {e_sim:.2f})",
                         "no new fact" if not new else f"only minor new details: {', '.join(new[:6])}"))
        near = best_story if best_story is not None and s_sim > e_sim else best_event
        near_sim = s_sim if near is best_story else e_sim
        signature = {
            "v": SIGNATURE_VERSION,
            "title": item.title,
            "summary": item.summary,
            "published": published.isoformat(),
            "watchlist": primary,
            "facts": new[:20],
        }
        return Decision(
            kind="alert", watchlist=primary, nearest=near.label, similarity=round(near_sim, 3),
            new_facts=tuple(new), signature=signature,
            reasons=(f"new development: new facts {', '.join(new[:8])}",
                     f"nearest {near.label} (similarity {near_sim:.2f})"))
