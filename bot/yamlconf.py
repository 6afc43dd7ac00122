"""YAML configuration loading with schema validation and precise, actionable error locations.

Operators edit watchlists and the timeline by hand; a message like "'tems' was unexpected" with
no location wastes their time. This module loads YAML with ruamel.yaml's round-trip loader
(which remembers the line and column of every key, value and list item), validates the plain
data with jsonschema (Draft 2020-12), and maps EVERY validation error back to ``file:line:col``
of the offending node, with a hint of what to do.

Schemas may carry an ``"x-hint"`` string on any subschema: it becomes the hint of errors raised
by that subschema (e.g. "write a list of words, e.g. [Aktau, Актау]").
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

# ruamel.yaml (~10 ms to import) is imported where a file is parsed or a node located: an
# unchanged rule file is read from its validation-cache marker, so a cron run's start-up,
# before its first request, parses no YAML at all (issue 15).

# jsonschema is imported where a file is validated: with the validation cache (below) a cron
# run whose watchlists are unchanged never imports it (~0.25 s of start-up, issue 15).
if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

__all__ = ["ConfigProblem", "load_yaml_validated", "load_yaml_with_tree", "locate", "to_plain"]


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in a configuration file, with a 1-based location when one is known."""

    path: str
    line: int | None
    column: int | None
    message: str
    hint: str = ""

    def __str__(self) -> str:
        loc = self.path
        if self.line is not None:
            loc += f":{self.line}"
            if self.column is not None:
                loc += f":{self.column}"
        text = f"{loc}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


_JSON_TYPES = {
    "object": "a mapping (key: value)",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "nothing (null)",
}


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (int, float)):
        return "a number"
    return type(value).__name__


def to_plain(node: Any) -> Any:
    """Convert ruamel round-trip nodes to plain dict/list/str/int/float/bool/None."""
    if isinstance(node, dict):
        return {str(k) if not isinstance(k, (int, float, bool)) else k: to_plain(v)
                for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def locate(root: Any, path: Iterable[Any], *, key: Any = None) -> tuple[int | None, int | None]:
    """1-based (line, column) of the node at ``path`` inside a round-trip tree.

    With ``key``, the position of that key inside the mapping at ``path`` (for unknown keys).
    Falls back to the deepest ancestor whose position is known.
    """
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(root, _LazyTree):
        root = root.tree
    node = root
    line: int | None = None
    col: int | None = None
    if isinstance(root, (CommentedMap, CommentedSeq)):
        line, col = root.lc.line, root.lc.col
    for step in path:
        try:
            if isinstance(node, CommentedMap) and step in node:
                kl, kc = node.lc.key(step)
                vl, vc = node.lc.value(step)
                child = node[step]
                # A scalar or flow value: point at the value; a block mapping/list: at its key.
                if isinstance(child, (CommentedMap, CommentedSeq)) and vl != kl:
                    line, col = kl, kc
                else:
                    line, col = vl, vc
                node = child
            elif isinstance(node, CommentedSeq) and isinstance(step, int) and step < len(node):
                line, col = node.lc.item(step)
                node = node[step]
            else:
                break
        except (KeyError, AttributeError, TypeError, IndexError):
            break
    if key is not None and isinstance(node, CommentedMap) and key in node:
        try:
            line, col = node.lc.key(key)
        except (KeyError, AttributeError, TypeError):
            pass
    if line is None:
        return None, None
    return line + 1, (col + 1 if col is not None else None)


def _hint_from_schema(error: ValidationError) -> str:
    schema = error.schema if isinstance(error.schema, dict) else {}
    hint = schema.get("x-hint")
    return hint if isinstance(hint, str) else ""


def _problems_for(error: ValidationError, root: Any, path: str) -> list[ConfigProblem]:
    """Turn one jsonschema error into problems with locations and hints."""
    if error.context and error.validator in ("oneOf", "anyOf"):
        # "is not valid under any of the given schemas" says nothing useful; report the
        # sub-error that went deepest, which names the real mistake.
        # Prefer errors from the branch whose type fits the value (a list given where "list or
        # mapping" is allowed should be judged as a list, not told it is not a mapping).
        fitting = [e for e in error.context
                   if not (e.validator == "type" and len(e.relative_path) == 0)]
        from jsonschema.exceptions import best_match

        inner = best_match(fitting or error.context)
        if inner is not None and (len(inner.absolute_path) > 0 or inner.validator != "type"):
            problems = _problems_for(inner, root, path)
            if problems and not problems[0].hint:
                hint = _hint_from_schema(error)
                problems = [ConfigProblem(p.path, p.line, p.column, p.message, hint)
                            for p in problems]
            return problems
    where = list(error.absolute_path)
    schema_hint = _hint_from_schema(error)
    instance = error.instance
    validator = error.validator
    if validator == "additionalProperties" and isinstance(instance, dict):
        allowed = sorted((error.schema.get("properties") or {}).keys())
        patterns = error.schema.get("patternProperties") or {}
        out = []
        for extra in instance:
            if extra in allowed or any(re.search(p, str(extra)) for p in patterns):
                continue
            line, col = locate(root, where, key=extra)
            close = difflib.get_close_matches(str(extra), allowed, n=1, cutoff=0.6)
            if close:
                hint = f"did you mean '{close[0]}'?"
            else:
                hint = "allowed keys: " + ", ".join(allowed) if allowed else "remove it"
            out.append(ConfigProblem(path, line, col, f"unknown key '{extra}'", hint))
        return out
    line, col = locate(root, where)
    where_txt = "/".join(str(p) for p in where) or "top level"
    if validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return [ConfigProblem(path, line, col, f"missing required key '{missing}' in {where_txt}",
                              schema_hint or f"add '{missing}: ...'")]
    if validator == "type":
        expected = error.validator_value
        names = [expected] if isinstance(expected, str) else list(expected)
        want = " or ".join(_JSON_TYPES.get(n, n) for n in names)
        return [ConfigProblem(path, line, col,
                              f"{where_txt}: expected {want}, got {_type_name(instance)}",
                              schema_hint)]
    if validator in ("minItems", "minProperties"):
        return [ConfigProblem(path, line, col, f"{where_txt} is empty",
                              schema_hint or "add at least one entry or remove the key")]
    if validator == "minLength":
        return [ConfigProblem(path, line, col, f"{where_txt}: empty text",
                              schema_hint or "write a non-empty value or remove it")]
    if validator == "enum":
        options = ", ".join(repr(o) for o in error.validator_value)
        return [ConfigProblem(path, line, col, f"{where_txt}: {instance!r} is not allowed",
                              schema_hint or f"use one of {options}")]
    return [ConfigProblem(path, line, col, f"{where_txt}: {error.message}", schema_hint)]


# Most nodes a file may expand to once its aliases are followed. The shipped watchlists have a
# few thousand; a 522-byte file of nested aliases ("billion laughs" in YAML) expands to billions,
# and converting or validating it took 95 s and 2.8 GB before the next level ran out of memory
# (issue 13, class 11). Counting is linear in the file: each anchored node is sized once.
MAX_EXPANDED_NODES = 200_000


def _children(node: Any) -> list[tuple[Any, Any]]:
    """(key or index, child) pairs of a round-trip container; keys count as nodes too."""
    if isinstance(node, dict):
        return [(None, k) for k in node.keys()] + [(k, v) for k, v in node.items()]
    if isinstance(node, list):
        return list(enumerate(node))
    return []


def _alias_bomb(root: Any, shown: str, limit: int = MAX_EXPANDED_NODES) -> ConfigProblem | None:
    """A problem if ``root`` expands to more than ``limit`` nodes through shared (aliased) nodes.

    Sizes are computed bottom-up, once per container object (an alias is the same object as its
    anchor in ruamel's round-trip tree), so the check itself never expands anything. The problem
    points at the alias use that expands the most.
    """
    sizes: dict[int, int] = {}
    seen_from: dict[int, tuple[Any, Any]] = {}  # container id -> first (parent, key) holding it
    aliases: list[tuple[Any, Any, Any]] = []  # (parent, key, child) of every alias use
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            total = 1
            for _key, child in _children(node):
                total += sizes.get(id(child), 1) if isinstance(child, (dict, list)) else 1
                if total > 10 * limit:
                    break  # already hopeless; the exact figure does not matter
            sizes[id(node)] = total
            continue
        if id(node) in sizes:
            continue
        stack.append((node, True))
        for key, child in _children(node):
            if not isinstance(child, (dict, list)):
                continue
            if id(child) in seen_from:  # a second reference: an alias
                aliases.append((node, key, child))
                stack.append((child, False))  # sized already or on its way; a no-op if sized
                continue
            seen_from[id(child)] = (node, key)
            stack.append((child, False))
    total = sizes.get(id(root), 1)
    if total <= limit:
        return None
    line = col = None
    if aliases:
        from ruamel.yaml.comments import CommentedMap, CommentedSeq

        parent, key, _child = max(aliases, key=lambda a: sizes.get(id(a[2]), 1))
        try:
            if isinstance(parent, CommentedMap) and key is not None:
                line, col = parent.lc.key(key)  # an alias value's own mark is its anchor's
            elif isinstance(parent, CommentedSeq):
                line, col = parent.lc.item(key)
        except (KeyError, AttributeError, TypeError, IndexError):
            line = col = None
    return ConfigProblem(
        shown, line + 1 if line is not None else None, col + 1 if col is not None else None,
        f"YAML aliases expand to more than {limit:,} nodes (an alias bomb?); refused before "
        "expanding", "write the lists out, or use fewer nested aliases")


def load_yaml_validated(path: Path, schema: dict) -> tuple[Any | None, list[ConfigProblem]]:
    """``load_yaml_with_tree`` without the round-trip tree."""
    data, _root, problems = load_yaml_with_tree(path, schema)
    return data, problems


def load_yaml_with_tree(path: Path, schema: dict) -> tuple[Any | None, Any, list[ConfigProblem]]:
    """(plain data, round-trip tree for ``locate``, problems).

    Loads YAML with ruamel.yaml (round-trip loader, for line/column of every node), validates
    with jsonschema (Draft 2020-12), and maps EVERY validation error (iter_errors) back to the
    file:line:column of the offending node, with a hint of what to do. YAML syntax errors also
    become ConfigProblems with their line. The data is plain Python (dicts/lists/str).

    The data is returned even when validation fails (None only when the file could not be read
    or parsed), so callers can report further, semantic problems in the same run; the tree
    lets them give those problems locations too, without parsing the file a second time.
    """
    shown = str(path)
    try:
        source = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        return None, None, [ConfigProblem(shown, None, None, f"cannot read file: {exc.strerror or exc}",
                                          "check the path and permissions")]
    except UnicodeDecodeError as exc:
        return None, None, [ConfigProblem(shown, None, None, f"not UTF-8 text: {exc.reason}",
                                          "save the file as UTF-8")]
    fast = _load_valid_fast(source, schema)
    if fast is not None:
        return fast, _LazyTree(source), []
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="rt")
    try:
        root = yaml.load(source)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        col = mark.column + 1 if mark is not None else None
        what = " ".join(x for x in (exc.context, exc.problem) if x) or "invalid YAML"
        hint = "check indentation, colons and quotes near this line"
        if "duplicate key" in what:
            hint = "each key may appear only once in a mapping; merge or rename one"
        elif "\t" in source and "tab" in what.lower():
            hint = "YAML does not allow tabs for indentation; use spaces"
        return None, None, [ConfigProblem(shown, line, col, f"YAML syntax error: {what}", hint)]
    except YAMLError as exc:
        return None, None, [ConfigProblem(shown, None, None, f"YAML error: {exc}",
                                          "check the file is valid YAML")]
    except RecursionError:
        return None, None, [ConfigProblem(shown, None, None, "YAML nested too deeply to read",
                                          "flatten the structure")]
    bomb = _alias_bomb(root, shown)
    if bomb is not None:
        return None, None, [bomb]
    try:
        data = to_plain(root)
    except RecursionError:
        return None, None, [ConfigProblem(shown, None, None, "YAML nested too deeply to read",
                                          "flatten the structure")]
    validator = _validator(schema)
    problems: list[ConfigProblem] = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        problems.extend(_problems_for(error, root, shown))
    problems.sort(key=lambda p: (p.line or 0, p.column or 0))
    return data, root, problems


# ---------------------------------------------------------------------------------------------
# The fast path: most loads are of files that are fine
# ---------------------------------------------------------------------------------------------


def _validator(schema: dict) -> Any:
    import jsonschema

    validator_cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return validator_cls(schema)


def _load_valid_fast(source: str, schema: dict) -> Any | None:
    """The plain data of ``source`` if it parses and validates, else None (then the caller
    takes the round-trip path, which locates every problem).

    The round-trip loader keeps the position of every node, in pure Python: with the shipped
    watchlists (100 KB) it took 0.4-0.9 s, the largest fixed cost of every `run --once`
    (issue 15). The safe loader on ruamel.yaml's C parser (ruamel.yaml.clib; pure Python when
    that is missing) reads the same YAML 1.2 into the same plain data (tests/test_watchlists.py
    checks this for every shipped file) in a tenth of the time. Positions are needed only to
    report problems; a file without any gets a tree parsed only if a caller asks for one.
    """
    marker = _valid_marker(source, schema)
    known, data = _remembered(marker)
    if known == "data":
        return data  # these very bytes passed this very schema before, and parsed to this
    try:
        from ruamel.yaml import YAML

        loaded = YAML(typ="safe", pure=False).load(source)
        # Aliases are shared objects here too: refuse before to_plain expands them (the
        # round-trip path then reports the bomb with its line).
        if _alias_bomb(loaded, "") is not None:
            return None
        data = to_plain(loaded)
    except Exception:  # any syntax problem: the round-trip path reports it with its location
        return None
    if known == "valid":
        return data  # passed before; its data was not one JSON keeps exactly
    if next(iter(_validator(schema).iter_errors(data)), None) is not None:
        return None
    if marker is not None:
        _remember_valid(marker, data)
    return data


# ---------------------------------------------------------------------------------------------
# The validation cache: a file's bytes validated once are not validated on every cron run
# ---------------------------------------------------------------------------------------------

_VALID_CACHE: Path | None = None
VALID_CACHE_KEEP = 64  # markers kept (one per version of a file that passed): edits add more


def use_validation_cache(folder: Path | None) -> None:
    """Remember in ``folder`` which file contents passed their schema (None: no cache).

    Validating the shipped watchlists with jsonschema, and importing it, cost ~0.4 s of every
    `run --once` before its first request (issue 15), for files that rarely change. A marker
    is named by the SHA-256 of the schema and the file's text, so any edit of either is
    validated afresh, and a file that fails is never marked. The marker also holds the file's
    plain data as JSON, when JSON gives back exactly that data: the next load of the same
    bytes reads it instead of parsing the YAML again (ruamel.yaml's resolver took about half
    of loading the shipped watchlists, ~50 ms of every cron run before its first request,
    issue 15). The loaders still check the data on every run. Best effort: a folder that
    cannot be written just means validating every time.
    """
    global _VALID_CACHE
    _VALID_CACHE = Path(folder) if folder is not None else None


def _valid_marker(source: str, schema: dict) -> Path | None:
    if _VALID_CACHE is None:
        return None
    digest = hashlib.sha256(b"watchbot-valid-2\0")  # 2: markers hold the data
    digest.update(json.dumps(schema, sort_keys=True, default=str).encode("utf-8"))
    digest.update(b"\0")
    digest.update(source.encode("utf-8", "surrogatepass"))
    return _VALID_CACHE / f"valid-{digest.hexdigest()}"


def _remembered(marker: Path | None) -> tuple[str, Any]:
    """What ``marker`` says of its bytes: ("", None) nothing (validate them), ("valid", None)
    they passed, or ("data", their plain data). An unreadable marker says nothing."""
    if marker is None:
        return "", None
    try:
        text = marker.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return "", None
    if not text:
        return "valid", None
    try:
        return "data", json.loads(text)["data"]
    except (ValueError, KeyError, TypeError):  # torn or foreign: validate and write it again
        return "", None


def _remember_valid(marker: Path, data: Any) -> None:
    try:
        text = json.dumps({"data": data}, ensure_ascii=False, allow_nan=False)
        if json.loads(text)["data"] != data:
            text = ""  # not exact in JSON (a number as a key, say): parsed on every load
    except (TypeError, ValueError):  # dates, NaN: likewise
        text = ""
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        # Written whole, then renamed: a reader sees no marker or a complete one.
        part = marker.with_name(f".{marker.name}.{os.getpid()}")
        part.write_text(text, encoding="utf-8")
        os.replace(part, marker)
        markers = sorted(marker.parent.glob("valid-*"), key=lambda p: p.stat().st_mtime)
        for old in markers[:-VALID_CACHE_KEEP]:
            old.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only or full disk: validate again next time


class _LazyTree:
    """A round-trip tree parsed on first use: ``locate`` accepts it in place of the tree."""

    def __init__(self, source: str):
        self._source = source
        self._tree: Any = None

    @property
    def tree(self) -> Any:
        if self._tree is None:
            from ruamel.yaml import YAML

            self._tree = YAML(typ="rt").load(self._source)
        return self._tree
