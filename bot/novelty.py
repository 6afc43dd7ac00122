"""Novelty stage: is a matched item a new development, another report of one, or known?

Pure stage: ``decide`` reads state and returns a Decision; only ``remember`` / ``add_source``
(called by the pipeline after the store committed) change state, so a crash between deciding
and storing loses nothing and a replay gives the same decisions. Dependencies are parameters:
the embedder (``bot.embed``, optional) and the fitted model (``bot.novelty_model``).

Method. Similarity finds the nearest known thing; facts and time decide whether the item is
new (no similarity separates "the same development" from "a follow-up on the same story": every
method tried scores AUC 0.68-0.81 on that pair). Similarity is the multilingual embedding cosine
(one language-independent vector per item, so an Azerbaijani, a Turkish and a Russian headline
meet) with character n-gram TF-IDF over transliterated text beside it; facts are names
(transliterated to one key across scripts), numbers, event kinds and dates (``bot.features``,
vocabularies per language in ``bot.lang``). The weights that combine them for step 3 and its
threshold are not chosen by hand: ``bench/fit_novelty.py`` fits a logistic model on labelled real
items (``bot/novelty_model.json``), and ``make eval`` fits it on four story folds and scores the
fifth.

Decision steps for an item matching watchlists W (``Decision.step`` names the one that decided):
1. ``predates-baseline``: published on or before the timeline's as_of -> known;
2. ``anniversary``: anniversary/recap wording -> known;
3. ``same-development``: among stories of W first reported within ``update_window_days`` whose
   reports already state every strong event kind of the item's headline, the one the update
   model finds likeliest to be the same development; at or above its threshold -> update;
4. ``restates-story``: nearer to an older story of W than to any baseline event, and every
   fact it states is already that story's -> known (a rehash; no threshold: fact by fact),
   unless it is a quote headed by its speaker published after the story's update window (a
   statement made again is a new statement);
5. ``restates-baseline``: nothing the nearest baseline event and the topic's names lack, or
   only event kinds of the lede that another baseline event of W states (an explainer), or
   everything dated on or before the baseline date with no new event kind -> known;
6. ``new-development``: what is left states a fact (name, number, event kind, later date) that
   neither the nearest baseline event nor the nearest older story of W states, and steps 4-5
   found it is more than new voices or background -> alert. No fitted model decides here: one
   was fitted and never changed a decision (bot/novelty_model.py says why).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable, Sequence

from bot.embed import item_text, pack, unpack
from bot.features import (Facts, char_ngrams, cosine, extract, facts_from_json, facts_to_json,
                          name_keys, tfidf, translit, words)
from bot.lang import kind_family
from bot.models import Decision, Item, Match, Story
from bot.novelty_model import NoveltyModel, load_model
from bot.timeline import Event, Timeline

# Event kinds that on their own make a development (a release after an arrest); the others
# (talks, reports of arrests, statements) are common in background paragraphs too.
STRONG_KINDS = frozenset({"release", "verdict", "custody", "appeal", "deport", "payment",
                          "agreement", "sale", "launch", "apology", "growth", "death",
                          "complaint", "office", "admission", "lawsuit"})
#: Version 2 signatures carry the story's facts, n-gram vector and embedding, so loading a
#: story costs a JSON parse, not a feature extraction (start-up independent of history).
SIGNATURE_VERSION = 2
_VEC_KEEP = 100  # n-grams kept per story vector (bounds time and memory per story)
_SOURCE_EMBS = 12  # report vectors kept per story besides its own (bounds compare time)

#: The features of the fitted update model with the sign their weight must have (+1: more of it
#: makes the outcome likelier, -1: less likely, 0: either). The signs are what the feature
#: means, not fitted: with a few hundred labelled items a weight can otherwise take the wrong
#: sign by chance (bench/fit_novelty.py drops a feature whose fitted sign contradicts its
#: meaning).
UPDATE_SIGNS = {"sem": 1, "lex": 1, "shared_facts": 1, "story_facts_found": 1,
                "headline_new": -1, "lede_new": -1, "shared_kind": 1, "kind_conflict": -1,
                "days_apart": -1, "unchecked_headline": 0, "lede_kinds_new": -1}
UPDATE_FEATURES = tuple(UPDATE_SIGNS)


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
    vec: dict[str, float] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)
    numbers: set[str] = field(default_factory=set)
    kinds: set[str] = field(default_factory=set)
    words: set[str] = field(default_factory=set)  # lower-case words: "corridor" is no name
    keys: set[str] = field(default_factory=set)  # names | numbers, for the fact overlap
    emb: Any = None  # embedding (numpy vector) when an embedder is configured
    source_embs: list = field(default_factory=list)  # vectors of reports folded into a story

    def __post_init__(self) -> None:
        self.names |= set(self.facts.names)
        self.numbers |= set(self.facts.numbers)
        self.kinds |= set(self.facts.kinds)
        self.keys = self.names | self.numbers

    def keep_vec(self, vec: dict[str, float]) -> None:
        """Keep the heaviest n-grams only: a story is compared with every new item of its
        watchlist, and the light n-grams (common letter sequences) barely move the cosine."""
        if len(vec) > _VEC_KEEP:
            vec = dict(sorted(vec.items(), key=lambda kv: -kv[1])[:_VEC_KEEP])
        self.vec = vec


@dataclass
class _Seen:
    """One item as novelty sees it (computed once per decide)."""

    item: Item
    published: date
    facts: Facts
    vec: dict[str, float]
    emb: Any
    weights: dict[str, float]  # fact key -> weight (common names weigh less)
    match_names: set[str]
    match_words: set[str]


@dataclass
class _Context:
    """An item and the nearest things it could restate (see NoveltyEngine._context)."""

    seen: _Seen
    primary: str  # the first matched watchlist: a new story's watchlist
    event: _Ref  # nearest baseline event of the matched watchlists
    e_sim: float
    candidates: list[_Ref]  # stories of the matched watchlists in the index window
    story: _Ref | None  # the nearest of them
    s_sim: float
    topic_names: set[str]  # names the matched watchlists' events and terms already give
    topic_kinds: set[str]  # event kinds the matched watchlists' baseline events state
    topics: frozenset[str]  # every matched watchlist
    # Filled by the steps as they run (each computed once): what the item adds to the nearest
    # event and story (_added), to the nearest story alone (steps 4-6), and the likeliest
    # recent story (step 3).
    added: tuple[list[str], list[str], bool] | None = None
    story_new: tuple[float, list[str]] | None = None
    best_update: tuple[float, "_Ref", dict[str, float]] | None = None


def _utc_date(dt: datetime | None) -> date | None:
    if dt is None:
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc)
    return dt.date()


def _fold(title: str, published: date) -> dict:
    """A report's headline facts as a signature stores them ("fold"; read back by _story_ref)."""
    return facts_to_json(extract(title, "", published))


def _shared_watchlist(ref: "_Ref", c: "_Context") -> str:
    """The watchlist an item's update or restatement of story ``ref`` is recorded under: one the
    item matched, when the story has several (signature ``also``)."""
    return sorted(ref.watchlists & c.topics or ref.watchlists)[0]


def _is_event_fact(f: str) -> bool:
    return f.startswith("<") or f.startswith("date ") or f.replace(".", "").isdigit()


class NoveltyEngine:
    """Decides alert / update / known / ignored for matched items (see module docstring).

    ``embedder``: ``bot.embed.Embedder`` or None (lexical similarity only); ``model``: the
    fitted weights and thresholds (default: the shipped ``bot/novelty_model.json``, the variant
    for the similarity in use). ``update_window_days``: how long after a story's first report
    another report can fold into it. ``index_window_days``: stories older than this (relative to
    the newest item seen) leave the comparison index, bounding memory and time.
    """

    def __init__(self, timeline: Timeline, *, embedder: Any = None,
                 model: NoveltyModel | None = None, update_window_days: float = 3.0,
                 index_window_days: float = 120.0) -> None:
        self.timeline = timeline
        self._embedder = embedder
        self._model = model
        self._resolved = not hasattr(embedder, "resolve")
        self.update_window = timedelta(days=update_window_days)
        self.index_window = timedelta(days=index_window_days)
        self._stories: dict[int, _Ref] = {}
        self._newest: date | None = None
        # IDF of character n-grams over the baseline events: n-grams common to the topic's
        # background ("azerbaijan", "russia") weigh less than names and rare words.
        self._events = [self._event_ref(e) for e in timeline.events]
        df: Counter = Counter()
        grams = [char_ngrams(self._event_text(e)) for e in timeline.events]
        for g in grams:
            df.update(set(g))
        n = len(self._events) + 1
        self._idf = {g: math.log((n + 1) / (c + 1)) + 1.0 for g, c in df.items()}
        self._default_idf = math.log(n + 1) + 1.0
        for ref, g in zip(self._events, grams):
            ref.vec = tfidf(g, self._idf, self._default_idf)
        self._events_embedded = False
        # Names present in several events (Moscow, Baku, Putin) identify nothing.
        name_df: Counter = Counter()
        for ref in self._events:
            name_df.update(ref.names)
        self._common_names = {k for k, c in name_df.items() if c >= 3}
        self._topic_names: dict[str, set[str]] = {}
        self._topic_kinds: dict[str, set[str]] = {}
        for ref in self._events:
            for t in ref.watchlists:
                self._topic_names.setdefault(t, set()).update(ref.names)
                self._topic_kinds.setdefault(t, set()).update(ref.kinds)

    def prepare(self) -> None:
        """Do now what the first decision would otherwise do: load the embedder and the fitted
        model, embed the timeline's events. A long-running worker calls it before it claims
        any feed, so its first decision does not take seconds under the novelty lock."""
        self._resolve()
        self.model
        self._embed_events()

    def _resolve(self) -> None:
        """A lazy embedder (bot.embed.LazyEmbedder) becomes the real one, or None if the model
        cannot load, on first use; the fitted model's variant follows what was resolved."""
        if not self._resolved:
            self._embedder = self._embedder.resolve()
            self._resolved = True

    @property
    def model(self) -> NoveltyModel:
        """The fitted model in use: the one given, else the shipped variant for the similarity
        in use (embedding or lexical)."""
        self._resolve()
        if self._model is None:
            self._model = load_model("embed" if self._embedder is not None else "lexical")
        return self._model

    @property
    def similarity_kind(self) -> str:
        """'embedding' or 'lexical': what ``sem`` features are computed with."""
        self._resolve()
        return "embedding" if self._embedder is not None else "lexical"

    # ---------------------------------------------------------------- references
    @staticmethod
    def _event_text(e: Event) -> str:
        return "\n".join([e.what, *e.phrases, ", ".join(e.entities), " ".join(e.numbers)])

    def _event_ref(self, e: Event) -> _Ref:
        summary = "\n".join([*e.phrases, ", ".join(e.entities), " ".join(e.numbers)])
        facts = extract(e.what, summary, e.end, since=e.start)
        ref = _Ref("event", e.id, e.label(), frozenset(e.topics), e.start, e.end, facts,
                   words=set(words(f"{e.what}\n{summary}")))
        # Names the editor listed count wherever they stand in the list.
        ref.names |= set(name_keys("\n".join([*e.entities, *e.phrases])))
        ref.keys = ref.names | ref.numbers
        return ref

    def _embed_events(self) -> None:
        """Event vectors on first use, not at construction: a cron run with no matched item
        never pays for them."""
        self._resolve()
        if self._events_embedded or self._embedder is None:
            return
        texts = [item_text(e.what, " ".join(e.phrases)) for e in self.timeline.events]
        # persist: the same texts at every start-up; their vectors are read back, not embedded.
        for ref, emb in zip(self._events, self._embedder.vectors(texts, persist=True)):
            ref.emb = emb
        self._events_embedded = True

    def signature(self, item: Item, watchlist: str, published: date,
                  facts: Facts | None = None, vec: dict[str, float] | None = None,
                  emb: Any = None, watchlists: Sequence[str] = ()) -> dict:
        """What a new story stores so that loading it later needs no feature extraction.
        ``watchlists``: every watchlist the first report matched, when more than ``watchlist``
        (the story's own): a later report matching only another of them still folds into it."""
        if facts is None:
            facts = extract(item.title, item.summary, published)
        if vec is None:
            vec = tfidf(char_ngrams(item.text), self._idf, self._default_idf)
        sig: dict[str, Any] = {
            "v": SIGNATURE_VERSION, "title": item.title, "summary": item.summary,
            "published": published.isoformat(), "watchlist": watchlist,
            "facts": facts_to_json(facts),
            "words": sorted(words(f"{item.title}\n{item.summary}")),
            "vec": {g: round(v, 4) for g, v in sorted(vec.items(), key=lambda kv: -kv[1])[:_VEC_KEEP]},
            # The headline's own facts, which _story_ref folds into the story as one of its
            # reports: stored, so loading a story extracts nothing (issue 15: ~4 ms a story at
            # the first decision of every run, 5 s of CPU with a year of stories).
            "fold": _fold(item.title, published),
        }
        also = sorted(set(watchlists) - {watchlist})
        if also:
            sig["also"] = also
        if emb is None and self._embedder is not None:
            emb = self._embedder.vector(item_text(item.title, item.summary))
        if emb is not None:
            sig["emb"] = pack(emb)
        return sig

    def _story_ref(self, story: Story) -> _Ref | None:
        sig = story.signature or {}
        version = sig.get("v")
        if version not in (1, SIGNATURE_VERSION):
            return None
        published = date.fromisoformat(sig["published"])
        title, summary = sig.get("title", story.title), sig.get("summary", "")
        watchlists = frozenset({story.watchlist, *sig.get("also", ())})
        if version == SIGNATURE_VERSION:
            facts = facts_from_json(sig["facts"])
            ref = _Ref("story", story.id, f"story #{story.id}: {title[:90]}",
                       watchlists, published, published, facts,
                       words=set(sig.get("words", ())))
            ref.vec = dict(sig.get("vec", {}))
        else:  # written before facts were stored: extract once (old state folders)
            facts = extract(title, summary, published)
            ref = _Ref("story", story.id, f"story #{story.id}: {title[:90]}",
                       watchlists, published, published, facts,
                       words=set(words(f"{title}\n{summary}")))
            ref.keep_vec(tfidf(char_ngrams(f"{title}\n{summary}"), self._idf, self._default_idf))
        # A story stored without a vector (written in lexical mode, or by an older version) is
        # compared lexically: embedding it here would cost ~70 ms per story at EVERY start-up.
        if self._embedder is not None and "emb" in sig:
            ref.emb = unpack(sig["emb"])
        for src in story.sources:
            # A report's headline facts as the signature stored them (see signature); a story
            # or an update written before they were stored is extracted here.
            held = sig if src.signature is None else src.signature
            fold = held.get("fold") if src.title == held.get("title", src.title) else None
            self._fold_into(ref, src.title, "", _utc_date(src.published) or published,
                            facts_from_json(fold) if fold is not None else None)
            if ref.emb is not None and src.signature and "emb" in src.signature:
                self._keep_source_emb(ref, unpack(src.signature["emb"]))
        return ref

    # ---------------------------------------------------------------- state changes
    def load(self, stories: Iterable[Story]) -> None:
        """Rebuild the index from stored stories (at start-up). Stories whose signature this
        version cannot read are skipped (they stay in the store, only not compared)."""
        self._resolve()
        for story in stories:
            ref = self._story_ref(story)
            if ref is None:
                continue
            self._stories[story.id] = ref
            self._advance(ref.start)

    def replace_index(self, stories: Iterable[Story]) -> None:
        """The index becomes exactly ``stories`` (it is a cache of the store's stories): after a
        rollback a story the store lost must not stay comparable, nor keep an id the store is
        about to hand out again."""
        self._stories.clear()
        self.load(stories)

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
        if self._embedder is not None:
            self._keep_source_emb(ref, self._embedder.vector(item_text(item.title, item.summary)))

    @staticmethod
    def _keep_source_emb(ref: _Ref, emb: Any) -> None:
        """A story is compared with each of its reports, not only the first: the next outlet's
        wording is often closer to another outlet's report than to the first one. Bounded: the
        first reports of a story are the ones in other languages and outlets."""
        if len(ref.source_embs) < _SOURCE_EMBS:
            ref.source_embs.append(emb)

    def _fold_into(self, ref: _Ref, title: str, summary: str, published: date,
                   facts: Facts | None = None) -> None:
        """Add a report's facts to its story (``facts``: already extracted from this very
        title and summary, e.g. stored with the report)."""
        f = facts if facts is not None else extract(title, summary, published)
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

    @property
    def stories_in_index(self) -> int:
        return len(self._stories)

    # ---------------------------------------------------------------- facts
    def _name_weight(self, key: str) -> float:
        if key in self._common_names:
            return 0.3
        if key.startswith("#"):
            return 0.5  # acronyms: often an organisation already named in full
        return 1.0

    def _new_facts(self, facts: Facts, known_names: set[str], known_numbers: set[str],
                   known_kinds: set[str], *, title_only: bool,
                   known_words: set[str] | frozenset[str] = frozenset(),
                   known_until: date | None = None, families: bool = False) -> tuple[float, list[str]]:
        """Weighted score and description of the facts of ``facts`` not among the known ones;
        a date mentioned is new when it is after ``known_until`` (default: the baseline date).
        With ``families`` (comparing reports of one story), a kind is known when a kind of its
        family is (bot.lang.KIND_FAMILIES: one word for both in many languages)."""
        names = facts.title_names if title_only else facts.names.keys()
        numbers = facts.title_numbers if title_only else facts.numbers
        kinds = facts.title_kinds if title_only else facts.kinds
        score = 0.0
        new: list[str] = []
        for k in names:
            surface = translit(facts.names.get(k, "")).strip("'-")
            if k not in known_names and surface not in known_words:
                score += self._name_weight(k)
                new.append(facts.names.get(k, k))
        for n in sorted(numbers):
            if n not in known_numbers:
                score += 0.5
                new.append(n)
        for kind in sorted(kinds):
            if kind not in known_kinds and not (families and kind_family(kind) & known_kinds):
                score += 1.0 if kind in STRONG_KINDS else 0.5
                new.append(f"<{kind}>")
        if not title_only:
            until = known_until or self.timeline.as_of
            later = [d for d in facts.dates if d[0] > until]
            if later:
                score += 0.5
                new.append(f"date {later[0][0].isoformat()}")
        return score, new

    def _sem(self, seen: _Seen, ref: _Ref) -> float:
        """Embedding cosine when both sides have a vector, else the n-gram cosine."""
        if seen.emb is not None and ref.emb is not None:
            sim = float(seen.emb @ ref.emb)
            for v in ref.source_embs:
                sim = max(sim, float(seen.emb @ v))
            return sim
        return self._lex(seen, ref)

    @staticmethod
    def _lex(seen: _Seen, ref: _Ref) -> float:
        a, b = (ref.vec, seen.vec) if len(ref.vec) <= len(seen.vec) else (seen.vec, ref.vec)
        return cosine(a, b)

    def _shared(self, seen: _Seen, ref: _Ref) -> float:
        """Weighted share of the item's names and numbers that ``ref`` also has: names bridge
        languages where n-grams do not."""
        total = sum(seen.weights.values())
        if not total:
            return 0.0
        return sum(v for k, v in seen.weights.items() if k in ref.keys) / total

    # ---------------------------------------------------------------- features
    def _see(self, item: Item, matches: Sequence[Match], published: date) -> _Seen:
        # The words that made the item match name the topic, not what happened: never new facts.
        match_names: set[str] = set()
        match_words: set[str] = set()
        for m in matches:
            for h in m.hits:
                match_names |= set(name_keys(h.surface.title() if h.surface.islower() else h.surface))
                match_words |= words(h.surface)
        facts = extract(item.title, item.summary, published)
        vec = tfidf(char_ngrams(item.text), self._idf, self._default_idf)
        emb = None
        if self._embedder is not None:
            emb = self._embedder.vector(item_text(item.title, item.summary))
        # Matched names still count as shared facts (two reports naming Belousov), only never
        # as new ones (see _new_facts' known names).
        weights = {k: self._name_weight(k) for k in facts.names}
        weights.update({n: 0.5 for n in facts.numbers})
        return _Seen(item, published, facts, vec, emb, weights, match_names, match_words)

    def update_features(self, seen: _Seen, ref: _Ref, topic_names: set[str]) -> dict[str, float]:
        """How alike an item and a recent story are (features of the update model)."""
        known_names = ref.names | topic_names
        known_words = ref.words | seen.match_words
        t_score, _ = self._new_facts(seen.facts, known_names, ref.numbers, ref.kinds,
                                     title_only=True, known_words=known_words, families=True)
        f_score, f_new = self._new_facts(seen.facts, known_names, ref.numbers, ref.kinds,
                                         title_only=False, known_words=known_words, families=True)
        # The headline's kinds with their families (bot.lang.KIND_FAMILIES): "freed" and
        # "back in Moscow" are one development told with two words.
        mine = {f for k in seen.facts.title_kinds for f in kind_family(k)}
        theirs = set(ref.facts.title_names) | set(ref.facts.title_numbers)
        found = (sum(1 for k in theirs if k in seen.facts.names or k in seen.facts.numbers)
                 / len(theirs)) if theirs else 0.0
        unchecked = not (seen.facts.title_names or seen.facts.title_numbers) or not theirs
        return {
            "sem": self._sem(seen, ref), "lex": self._lex(seen, ref),
            "shared_facts": self._shared(seen, ref), "story_facts_found": found,
            "headline_new": min(t_score, 4.0), "lede_new": min(f_score, 6.0),
            "shared_kind": float(bool(mine & ref.kinds)),
            # Both headlines say what happened, and not the same thing (arrested / released).
            "kind_conflict": float(bool(mine) and bool(ref.facts.title_kinds)
                                   and not mine & ref.facts.title_kinds),
            "days_apart": float(abs((seen.published - ref.start).days)),
            "unchecked_headline": float(unchecked),
            # Strong event kinds the item states (headline or lede) and no report of the story
            # does: another outlet's report of one development rarely adds what happened.
            "lede_kinds_new": float(sum(1 for f in f_new if f.startswith("<") and f[1:-1] in STRONG_KINDS)),
        }

    def _added(self, c: "_Context") -> tuple[list[str], list[str], bool]:
        """(facts the nearest baseline event and the topic's names lack, those of them the
        nearest older story lacks too, whether every date the item mentions is on or before the
        baseline date). Computed once per item (kept on the context: steps 5 and 6 read it)."""
        if c.added is not None:
            return c.added
        seen, event = c.seen, c.event
        facts = seen.facts
        _, new = self._new_facts(facts, event.names | c.topic_names, set(event.numbers),
                                 set(event.kinds), title_only=False,
                                 known_words=event.words | seen.match_words)
        dated_before = bool(facts.dates) and all(d[1] <= self.timeline.as_of for d in facts.dates)
        both_new = new
        if c.story is not None:
            # A fact counts as new only if neither the event nor the story has it.
            _, s_new = self._new_to_nearest_story(c)
            both_new = [f for f in new if f in set(s_new)]
        c.added = (new, both_new, dated_before)
        return c.added

    def _new_to_story(self, seen: _Seen, ref: _Ref, known_names: set[str] | None = None
                      ) -> tuple[float, list[str]]:
        """The item's facts that story ``ref`` (every report folded into it) does not state;
        the words and names that made the item match are never new, nor a date before the
        story's first report."""
        names = ref.names | (seen.match_names if known_names is None else known_names)
        # A date before the story's first report is the story's background, not news of it.
        return self._new_facts(seen.facts, names, ref.numbers, ref.kinds, title_only=False,
                               known_words=ref.words | seen.match_words,
                               known_until=max(ref.start, self.timeline.as_of))

    def _new_to_nearest_story(self, c: "_Context") -> tuple[float, list[str]]:
        """_new_to_story for the context's nearest story, computed once per item (steps 4 and
        6 both read it)."""
        assert c.story is not None
        if c.story_new is None:
            c.story_new = self._new_to_story(c.seen, c.story)
        return c.story_new

    @staticmethod
    def _only_voices(seen: _Seen, new: list[str]) -> bool:
        """True when the new facts are at most names outside the headline: people quoted about
        known facts (an analyst, an outlet). A new event kind, number or date, or a new name in
        the headline (the subject: another person released), is something that happened.
        (The one definition of "only new voices": steps 4 and 5 both use it.)"""
        headline = {translit(seen.facts.names[k]).strip("'-") for k in seen.facts.title_names}
        return all(not _is_event_fact(f) and translit(f).strip("'-") not in headline for f in new)

    @staticmethod
    def _only_background(seen: _Seen, new: list[str]) -> bool:
        """True when the new facts are only weak event kinds (an arrest, talks, a charge) that
        the lede alone states: what background paragraphs retell. A strong kind, a kind in the
        headline, or any new name, number or date is something that happened."""
        return all(f.startswith("<") and f[1:-1] not in STRONG_KINDS
                   and f[1:-1] not in seen.facts.title_kinds for f in new)

    def _retells_topic(self, c: "_Context", new: list[str]) -> bool:
        """True when the new facts are only event kinds the lede alone states and that some
        baseline event of the item's watchlists states: an explainer retelling several known
        events (the crash, then the apology) against the one nearest to it."""
        title_kinds = c.seen.facts.title_kinds
        return all(f.startswith("<") and f[1:-1] in c.topic_kinds and f[1:-1] not in title_kinds
                   for f in new)

    # ---------------------------------------------------------------- deciding
    def _context(self, item: Item, matches: Sequence[Match], now: datetime) -> "_Context":
        """Everything the steps compare an item with, computed once per item."""
        topics = {m.watchlist for m in matches}
        published = _utc_date(item.published) or _utc_date(now)
        assert published is not None
        self._embed_events()
        seen = self._see(item, matches, published)
        events = [r for r in self._events if r.watchlists & topics] or self._events
        e_sim, event = max(((self._sem(seen, r), r) for r in events), key=lambda x: x[0])
        candidates = [r for r in self._stories.values()
                      if r.watchlists & topics and r.start >= published - self.index_window]
        s_sim, story = max(((self._sem(seen, r), r) for r in candidates),
                           key=lambda x: x[0]) if candidates else (0.0, None)
        topic_names = set().union(*(self._topic_names.get(t, set()) for t in topics)) | seen.match_names
        topic_kinds = set().union(*(self._topic_kinds.get(t, set()) for t in topics))
        return _Context(seen, matches[0].watchlist, event, e_sim, candidates, story, s_sim, topic_names,
                        topic_kinds, frozenset(topics))

    def decide(self, item: Item, matches: Sequence[Match], now: datetime) -> Decision:
        """The verdict on one item: the first step of the module docstring that decides, in
        order (does not change state)."""
        if not matches:
            return Decision(kind="ignored", step="no-match", reasons=("matched no watchlist",))
        c = self._context(item, matches, now)
        decision = (self._predates_baseline(c) or self._anniversary(c)
                    or self._same_development(c) or self._restates_story(c)
                    or self._restates_baseline(c) or self._new_development(c))
        return decision.with_facts(self._facts_note(c.seen.facts), self._compared(c))

    def _compared(self, c: "_Context") -> tuple[str, ...]:
        """The nearest baseline event and story with their similarity (for ``watchbot try``)."""
        kind = self.similarity_kind
        event = f"nearest baseline event: {c.event.label} ({kind} similarity {c.e_sim:.2f})"
        if c.story is None:
            return (event, f"nearest story: none of this watchlist in the last {self.index_window.days} days")
        return (event, f"nearest story: {c.story.label} ({kind} similarity {c.s_sim:.2f})")

    # Step 1
    def _predates_baseline(self, c: "_Context") -> Decision | None:
        """Published on or before the timeline's as_of: the baseline already tells it."""
        as_of = self.timeline.as_of
        if c.seen.published > as_of:
            return None
        return Decision(kind="known", watchlist=c.primary, nearest=c.event.label,
                        step="predates-baseline", similarity=round(c.e_sim, 3),
                        reasons=(f"published {c.seen.published} on or before the baseline date {as_of}",
                                 f"nearest event {c.event.label} (similarity {c.e_sim:.2f})"))

    # Step 2
    def _anniversary(self, c: "_Context") -> Decision | None:
        """Anniversary or recap wording in any registered language."""
        if not c.seen.facts.anniversary:
            return None
        return Decision(kind="known", watchlist=c.primary, nearest=c.event.label, step="anniversary",
                        similarity=round(c.e_sim, 3),
                        reasons=("anniversary/recap wording",
                                 f"recalls {c.event.label} (similarity {c.e_sim:.2f})"))

    # Step 3
    @staticmethod
    def _may_fold(seen: _Seen, ref: _Ref) -> bool:
        """False when the headline says something happened that no report of the story said (a
        release after an arrest, a verdict after a trial): a development of its own, whatever
        the similarity. A kind of the same family as one the story has is not new (a "dava
        açtı" report of a story of charges: bot.lang.KIND_FAMILIES)."""
        return all(kind_family(k) & ref.kinds for k in seen.facts.title_kinds & STRONG_KINDS)

    def _recent(self, c: "_Context") -> list[_Ref]:
        """Stories of the item's watchlists first reported within the update window."""
        return [r for r in c.candidates
                if abs((c.seen.published - r.start).days) <= self.update_window.days]

    def _likeliest_story(self, c: "_Context") -> tuple[float, _Ref, dict[str, float]] | None:
        """(p, story, features) of the recent story the update model finds likeliest to be the
        item's development, among those the fact gate lets it fold into."""
        best: tuple[float, _Ref, dict[str, float]] | None = None
        for ref in self._recent(c):
            if not self._may_fold(c.seen, ref):
                continue
            feats = self.update_features(c.seen, ref, c.topic_names)
            p = self.model.update.probability(feats)
            if best is None or p > best[0]:
                best = (p, ref, feats)
        return best

    def _same_development(self, c: "_Context") -> Decision | None:
        """Another report of a recent story: the likeliest one at or above the update model's
        threshold."""
        best = c.best_update = self._likeliest_story(c)
        if best is None or best[0] < self.model.update.threshold:
            return None
        p, ref, feats = best
        seen = c.seen
        _, details = self._new_to_story(seen, ref, c.topic_names)
        signature = None
        if seen.emb is not None:
            signature = {"v": SIGNATURE_VERSION, "emb": pack(seen.emb),
                         "fold": _fold(seen.item.title, seen.published)}
        return Decision(
            kind="update", watchlist=_shared_watchlist(ref, c), story_id=int(ref.key),
            signature=signature,
            nearest=ref.label, similarity=round(feats["sem"], 3), new_facts=tuple(details),
            step="same-development", score=round(p, 3),
            reasons=(f"same development as {ref.label} (p={p:.2f} >= {self.model.update.threshold:.2f}; "
                     f"{self.similarity_kind} similarity {feats['sem']:.2f}, "
                     f"{int(feats['days_apart'])} d apart)",
                     "details: " + (", ".join(details[:6]) if details else "none new")))

    # Step 4
    def _restates_story(self, c: "_Context") -> Decision | None:
        """A rehash of an alerted story: nearer to that story than to any baseline event, and
        every fact it states (names, numbers, event kinds, later dates) is already the story's,
        or only new voices. No threshold to fit: "nothing new" is checked fact by fact."""
        seen, story, s_sim = c.seen, c.story, c.s_sim
        if story is None or s_sim <= c.e_sim:
            return None
        if seen.facts.speaker and (seen.published - story.start) > self.update_window:
            # A quote headed by its speaker is a statement made when published: said again
            # after the story's reports could fold, it is a new statement (Zakharova repeating
            # a demand at another forum weeks later), not a retelling of the first one. Time
            # decides, since the words are the same.
            return None
        _, new = self._new_to_nearest_story(c)
        if not (seen.facts.names or seen.facts.kinds) or not self._only_voices(seen, new):
            return None
        why = ("every name, number and event it states is the story's" if not new else
               f"only new voices in the lede ({', '.join(new[:4])}), nothing new happened")
        return Decision(kind="known", watchlist=_shared_watchlist(story, c), nearest=story.label,
                        similarity=round(s_sim, 3), step="restates-story", new_facts=tuple(new),
                        reasons=(f"restates {story.label} ({self.similarity_kind} similarity "
                                 f"{s_sim:.2f})", why))

    # Step 5
    def _restates_baseline(self, c: "_Context") -> Decision | None:
        """Known without weighing: the item states nothing the baseline (its nearest event and
        the topic's names) lacks, or only new voices, or only background events in its lede, or
        only lede events that other baseline events of its watchlists state, or it dates everything it tells on or before the baseline date and its headline names no
        new event kind (the lede's kinds are those of the dated events). Facts, not thresholds."""
        new, _both, dated_before = self._added(c)
        later_date = any(d[0] > self.timeline.as_of for d in c.seen.facts.dates)
        if not new:
            why = "states no name, number, event or date the baseline lacks"
        elif self._only_voices(c.seen, new):
            why = f"only new voices in the lede ({', '.join(new[:4])}), nothing new happened"
        elif self._only_background(c.seen, new):
            why = (f"only background events in the lede ({', '.join(new[:4])}), no new name, "
                   "number or date")
        elif self._retells_topic(c, new):
            why = (f"its lede retells other events of the baseline ({', '.join(new[:4])}), its "
                   "headline nothing new")
        elif (dated_before and not later_date
              and not any(f[1:-1] in c.seen.facts.title_kinds for f in new if f.startswith("<"))):
            why = f"dates what it tells on or before the baseline date {self.timeline.as_of}"
        else:
            return None
        return Decision(kind="known", watchlist=c.primary, nearest=c.event.label,
                        similarity=round(c.e_sim, 3), new_facts=tuple(new), step="restates-baseline",
                        reasons=(f"restates {c.event.label} ({self.similarity_kind} similarity "
                                 f"{c.e_sim:.2f})", why))

    # Step 6
    def _new_development(self, c: "_Context") -> Decision:
        """What steps 1-5 let through states something neither the baseline nor an older story
        does, and more than voices or background: a new development (alert)."""
        seen, primary, story = c.seen, c.primary, c.story
        new, both_new, _ = self._added(c)
        near, near_sim = (story, c.s_sim) if story is not None and c.s_sim > c.e_sim else (c.event, c.e_sim)
        unfolded = ()
        if c.best_update is not None:
            bp, bref, _ = c.best_update
            unfolded = (f"not another report of {bref.label} (p={bp:.2f} < "
                        f"{self.model.update.threshold:.2f})",)
        shown = both_new or new
        return Decision(
            kind="alert", watchlist=primary, nearest=near.label, similarity=round(near_sim, 3),
            new_facts=tuple(shown), step="new-development",
            signature=self.signature(seen.item, primary, seen.published, seen.facts, seen.vec, seen.emb,
                                     watchlists=sorted(c.topics)),
            reasons=("new development: " + (f"new facts {', '.join(shown[:8])}" if shown else "no listed fact"),
                     f"nearest {near.label} ({self.similarity_kind} similarity {near_sim:.2f})",
                     *unfolded))

    @staticmethod
    def _facts_note(facts: Facts) -> str:
        parts = []
        if facts.names:
            parts.append("names " + ", ".join(list(facts.names.values())[:8]))
        if facts.numbers:
            parts.append("numbers " + ", ".join(sorted(facts.numbers)[:6]))
        if facts.kinds:
            parts.append("events " + ", ".join(sorted(facts.kinds)))
        if facts.dates:
            parts.append("dates " + ", ".join(f"{a.isoformat()}" for a, _ in facts.dates[:4]))
        return "; ".join(parts) or "no names, numbers, event words or dates found"

    # ---------------------------------------------------------------- for fitting
    def training_view(self, item: Item, matches: Sequence[Match], now: datetime):
        """(update candidates [(story key, update features)], whether steps 4-5 call it known
        before step 6) for one item against the current state, exactly as ``decide`` computes
        them (bench/fit_novelty.py fits the update model on these). None when steps 1-2 decide
        the item."""
        c = self._context(item, matches, now)
        if self._predates_baseline(c) or self._anniversary(c):
            return None
        # Candidates the fact gate (_may_fold) excludes stay in: the update model is fitted on
        # every recent pair, and the gate overrides it at decision time.
        recent = [(r.key, self.update_features(c.seen, r, c.topic_names)) for r in self._recent(c)]
        gated = (self._restates_story(c) or self._restates_baseline(c)) is not None
        return recent, gated
