"""Where the shipped defaults are: the feed list, watchbot.toml and watchlists/.

An installed watchbot (wheel, pipx, container) carries them as ``bot/_defaults/`` (copied in by
setup.py's build step); a source checkout (``pip install -e .``, the tests) reads the
repository's own files. Either way there is one copy of each file in the repository.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGED = Path(__file__).resolve().parent / "_defaults"
_CHECKOUT = Path(__file__).resolve().parent.parent


def defaults_dir() -> Path:
    """The folder holding watchbot.toml, feeds.opml and watchlists/ as shipped."""
    if (_PACKAGED / "watchlists").is_dir():
        return _PACKAGED
    return _CHECKOUT


def default_watchlists() -> Path:
    return defaults_dir() / "watchlists"


def default_feeds() -> Path:
    return defaults_dir() / "feeds.opml"
