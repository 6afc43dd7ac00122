"""The rules a pipeline runs with: compiled watchlists plus the novelty engine built on the
timeline, loaded from one consistent set of files.

Kept apart from ``pipeline`` so that commands which only need the rules (``check``, ``try``,
``digest``) do not import the fetcher (httpx), the parser (feedparser) or delivery
(a channel's client library): start-up costs what the command needs (issue 15).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot.rulefiles import rules_fingerprint  # noqa: F401  (re-exported: the reload's fingerprint)
from bot.timeline import Timeline, load_timeline
from bot.watchlists import TIMELINE_FILE, Watchlist, load_watchlists
from bot.yamlconf import ConfigProblem

if TYPE_CHECKING:
    # Imported where they are built (Rules.matcher, Rules.novelty): the matcher's libraries
    # (re2, the Aho-Corasick automaton, snowball stemmers) and the novelty engine's (features,
    # language modules, the embedder) cost ~40 ms of CPU before a cron run's first request,
    # and a run that decides nothing never builds either (issue 15).
    from bot.match import Matcher
    from bot.novelty import NoveltyEngine
    from bot.novelty_model import NoveltyModel


class RulesError(Exception):
    def __init__(self, problems: list[ConfigProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class Rules:
    """The compiled watchlists and the novelty engine built from one consistent set of files.

    The matcher and the engine are built on first use of ``matcher`` and ``novelty`` (then
    kept: one of each per Rules). Compiling every term into the automaton (~0.2 s) and
    extracting the facts and n-grams of every timeline event (~0.1 s) are work a cron run
    that decides nothing (all 304, or first sight only) never needs, and both came before its
    first request (issue 15). The files are read and validated by ``load`` all the same: a
    broken watchlist is refused before anything is fetched."""

    watchlists: tuple[Watchlist, ...]
    timeline: Timeline | None
    fingerprint: tuple
    novelty_model: NoveltyModel | None = None
    embeddings: bool = True
    _matcher: Matcher | None = field(default=None, init=False, repr=False, compare=False)
    _novelty: NoveltyEngine | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def matcher(self) -> Matcher:
        """Every watchlist's terms compiled into one automaton (built on first use)."""
        if self._matcher is None:
            from bot.match import Matcher
            self._matcher = Matcher.compile(self.watchlists)
        return self._matcher

    @property
    def novelty(self) -> NoveltyEngine:
        """The novelty engine on the timeline (built on first use)."""
        if self._novelty is None:
            from bot.embed import LazyEmbedder
            from bot.novelty import NoveltyEngine
            self._novelty = NoveltyEngine(self.timeline, model=self.novelty_model,
                                          embedder=LazyEmbedder() if self.embeddings else None)
        return self._novelty

    def prepare(self) -> None:
        """Build the matcher and the novelty engine now and load what the engine's first
        decision needs (``NoveltyEngine.prepare``), instead of on first use."""
        self.matcher
        self.novelty.prepare()

    @classmethod
    def load(cls, folder: Path, *, novelty_model: NoveltyModel | None = None,
             embeddings: bool = True) -> "Rules":
        """Load and compile every watchlist and the timeline; RulesError lists all problems.

        Novelty gets the process-wide multilingual embedder (``bot.embed``, loaded on first
        use, so ``check`` never pays for the model) unless ``embeddings`` is False or the
        package is missing (then lexical similarity), and the shipped fitted model of that
        variant unless ``novelty_model`` is given (evaluation)."""
        fingerprint = rules_fingerprint(folder)
        watchlists, problems = load_watchlists(folder)
        # Topics are checked only against a complete set: a broken watchlist is reported itself.
        known = None if problems else {w.id for w in watchlists}
        timeline, timeline_problems = load_timeline(folder / TIMELINE_FILE, known)
        problems = list(problems) + list(timeline_problems)
        if not problems and not watchlists:
            problems.append(ConfigProblem(str(folder), None, None, "no watchlists found",
                                          "add <topic>.yaml files (see watchlists/README.md)"))
        if problems:
            raise RulesError(problems)
        return cls(tuple(watchlists), timeline, fingerprint,
                   novelty_model=novelty_model, embeddings=embeddings)

    def stories_since(self, now: datetime) -> datetime:
        """Where the stories novelty compares with begin (its index window, a day's margin):
        what `run` and `try` load, so start-up costs the same after a year as after a month."""
        return now - self.novelty.index_window - timedelta(days=1)


@dataclass(frozen=True)
class RulesChange:
    """What a look at the rule files found: new ``rules``, or (``rules`` None) the problems of
    an edit that was rejected; ``message`` says which, for the log and the admin chat."""

    rules: Rules | None
    message: str
    problems: tuple[ConfigProblem, ...] = ()


@dataclass
class RulesReloader:
    """Hot reload: notices edits of the rule files and loads them, keeping the last good set
    when an edit is broken. A broken version is reported once, not on every look."""

    problems: list[ConfigProblem] = field(default_factory=list)  # of the rejected edit, for `status`
    _bad_fingerprint: tuple | None = None

    def check(self, folder: Path, current: Rules) -> RulesChange | None:
        """None while the files are those ``current`` was loaded from (or the rejected version);
        else the new rules, or the problems that keep ``current`` running."""
        fingerprint = rules_fingerprint(folder)
        if fingerprint == current.fingerprint or fingerprint == self._bad_fingerprint:
            return None
        try:
            rules = Rules.load(folder)
        except RulesError as exc:
            self._bad_fingerprint = fingerprint
            self.problems = exc.problems
            return RulesChange(None, "watchlist edit rejected, the previous rules keep running:\n" +
                               "\n".join(str(p) for p in exc.problems), tuple(exc.problems))
        self._bad_fingerprint = None
        self.problems = []
        return RulesChange(rules, f"watchlists reloaded from {folder}")
