"""Which files make up the rules, and how to tell cheaply that they have not changed.

Apart from ``bot.watchlists`` and ``bot.rules`` (their YAML loader, schemas, the timeline),
which a `run --once` with nothing to match never needs to import: telling that the rules it
verified last time are still the same files is a few ``stat`` calls (issue 15).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

RULE_SUFFIXES = (".yaml", ".yml")

# The modules whose code decides whether rule files are usable: a new version of any of them
# may judge the same files differently, so a verification made by another version is void.
_VALIDATING_MODULES = ("rulefiles.py", "rules.py", "watchlists.py", "timeline.py", "yamlconf.py",
                       "config.py", "text.py")


def rule_files(folder: Path) -> list[Path]:
    """The files of a rules folder, timeline included, sorted by name: what the loader reads and
    what the daemon's reload watches (``rules_fingerprint``), so the two never differ.

    .yml is as common a spelling as .yaml: both count, so a watchlist is never silently ignored
    for its extension. Anything else (``topic.yaml~``, ``topic.yaml.bak``, folders) does not."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix in RULE_SUFFIXES and p.is_file())


def rules_fingerprint(folder: Path) -> tuple:
    """Names, sizes and mtimes of the rule files (the very files the loader reads, see
    ``rule_files``): cheap to poll, changes on every save. Empty when the folder is unreadable."""
    try:
        return tuple(sorted(_stamp(p) for p in rule_files(Path(folder))))
    except OSError:
        return ()


def _stamp(path: Path) -> tuple[str, int, int]:
    """A file's name, size and mtime from one ``stat``."""
    st = path.stat()
    return path.name, st.st_size, st.st_mtime_ns


def verification_key(folder: Path, settings_part: str) -> str | None:
    """A digest of everything a successful rules check depended on: the rule files' fingerprint
    and folder, ``settings_part`` (the settings the check compares with the watchlists) and the
    validating code's own files. Equal keys mean a check now would find what it found then;
    None when a file cannot be looked at (then nothing counts as verified)."""
    fingerprint = rules_fingerprint(folder)
    if not fingerprint:
        return None
    here = Path(__file__).parent
    try:
        code = [_stamp(here / name) for name in _VALIDATING_MODULES]
        code += sorted(_stamp(p) for p in (here / "schemas").iterdir())
    except OSError:
        return None
    text = repr((str(Path(folder).resolve()), fingerprint, settings_part, code))
    return hashlib.sha256(text.encode()).hexdigest()
