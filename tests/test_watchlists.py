"""Watchlist loading: shipped files are valid; every mistake is reported with file:line:column;
every topic has its names in every reporting language (the coverage table)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from bot.watchlists import SCHEMA, load_watchlists
from bot.yamlconf import ConfigProblem, load_yaml_validated

ROOT = Path(__file__).resolve().parent.parent

GOOD = """\
id: {id}
title: T
groups:
  place: [Aktau]
rules:
  - name: r
    all: [place]
"""


def write(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def test_shipped_watchlists_load_cleanly() -> None:
    """The repository's watchlists load without problems and include the five seed topics."""
    wls, problems = load_watchlists(ROOT / "watchlists")
    assert problems == []
    ids = {w.id for w in wls}
    assert {"aktau_crash", "sputnik_azerbaijan", "north_south", "akkuyu",
            "diaspora_arrests"} <= ids
    assert all(w.description.strip() for w in wls)


def test_schema_json_matches_code() -> None:
    """watchlists/schema.json is the same schema the loader enforces."""
    shipped = json.loads((ROOT / "watchlists" / "schema.json").read_text(encoding="utf-8"))
    assert shipped == json.loads(json.dumps(SCHEMA))


def test_unknown_key_located_with_suggestion(tmp_path: Path) -> None:
    """A misspelt key is reported at its line and column with a did-you-mean hint."""
    write(tmp_path, "a.yaml", """\
        id: a
        title: T
        groups:
          place: [Aktau]
        rules:
          - name: r
            al: [place]
    """)
    wls, problems = load_watchlists(tmp_path)
    assert wls == []
    texts = [str(p) for p in problems]
    assert any(t.startswith(f"{tmp_path / 'a.yaml'}:7:5: unknown key 'al'") and "did you mean 'all'" in t
               for t in texts), texts


def test_all_problems_at_once_across_files(tmp_path: Path) -> None:
    """Wrong types, empty groups, unknown group names, bad regexes, syntax errors and duplicate
    ids in several files are all reported in one run, each with a location."""
    write(tmp_path, "a.yaml", GOOD.format(id="same"))
    write(tmp_path, "b.yaml", GOOD.format(id="same"))
    write(tmp_path, "c.yaml", """\
        id: c
        title: 5
        groups:
          place: []
        rules:
          - name: r
            all: [place]
    """)
    write(tmp_path, "d.yaml", """\
        id: d
        title: T
        groups:
          place: [Aktau]
          code: [{regex: 'j2(8243'}]
        rules:
          - name: r
            all: [plase]
    """)
    write(tmp_path, "e.yaml", "id: e\ntitle: [unclosed\n")
    write(tmp_path, "timeline.yaml", "events: not a watchlist\n")
    wls, problems = load_watchlists(tmp_path)
    assert [w.id for w in wls] == ["same"]
    by_file = {}
    for p in problems:
        by_file.setdefault(Path(p.path).name, []).append(p)
    assert set(by_file) == {"b.yaml", "c.yaml", "d.yaml", "e.yaml"}
    (dup,) = by_file["b.yaml"]
    assert (dup.line, dup.column) == (1, 5) and "duplicate watchlist id 'same'" in dup.message
    c = {(p.line, p.column): p for p in by_file["c.yaml"]}
    assert "expected a string" in c[(2, 8)].message
    assert "empty" in c[(4, 10)].message and c[(4, 10)].hint
    d = {(p.line, p.column): p for p in by_file["d.yaml"]}
    assert "bad regex" in d[(5, 18)].message
    assert "unknown group 'plase'" in d[(8, 11)].message and "did you mean 'place'" in d[(8, 11)].hint
    (e,) = by_file["e.yaml"]
    assert e.line == 3 and "YAML syntax error" in e.message


def test_missing_required_key_points_at_mapping(tmp_path: Path) -> None:
    """A missing required key names the key and says what to add."""
    write(tmp_path, "a.yaml", "id: a\ntitle: T\ngroups:\n  g: [x]\n")
    _, problems = load_watchlists(tmp_path)
    (p,) = problems
    assert p.line == 1 and "missing required key 'rules'" in p.message and "add 'rules" in p.hint


def test_bad_wildcard_is_reported(tmp_path: Path) -> None:
    """A '*' in the middle of a word is rejected with its location."""
    write(tmp_path, "a.yaml", GOOD.format(id="a").replace("[Aktau]", "[Ak*tau]"))
    _, problems = load_watchlists(tmp_path)
    (p,) = problems
    assert (p.line, p.column) == (4, 11) and "'*'" in p.message


def test_load_yaml_validated_returns_plain_data(tmp_path: Path) -> None:
    """The generic loader returns plain dict/list/str and problems; ConfigProblem formats itself."""
    path = write(tmp_path, "x.yaml", "a: 1\nb: [x, y]\n")
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    data, problems = load_yaml_validated(path, schema)
    assert data == {"a": 1, "b": ["x", "y"]} and type(data) is dict and type(data["b"]) is list
    assert [str(p) for p in problems] == [f"{path}:1:4: a: expected a string, got a number"]
    assert str(ConfigProblem("f.yaml", 12, 5, "unknown key 'tems'", "did you mean 'terms'?")) == (
        "f.yaml:12:5: unknown key 'tems' (did you mean 'terms'?)")


def test_missing_folder_and_empty_folder(tmp_path: Path) -> None:
    """A missing or empty watchlist folder is a problem, not a crash."""
    assert load_watchlists(tmp_path / "nope")[1]
    assert "no watchlist files" in load_watchlists(tmp_path)[1][0].message


def test_fast_loader_reads_every_shipped_file_as_the_round_trip_loader_does() -> None:
    """Every shipped watchlist and the timeline load to exactly the data the position-keeping round-trip loader gives."""
    from ruamel.yaml import YAML

    from bot.timeline import _schema as timeline_schema
    from bot.watchlists import TIMELINE_FILE
    from bot.yamlconf import to_plain

    files = sorted((ROOT / "watchlists").glob("*.yaml"))
    assert len(files) > 3
    for path in files:
        schema = timeline_schema() if path.name == TIMELINE_FILE else SCHEMA
        data, problems = load_yaml_validated(path, schema)
        assert problems == []
        assert data == to_plain(YAML(typ="rt").load(path.read_text(encoding="utf-8"))), path.name


# -- coverage by language -------------------------------------------------------------------------
# The languages every topic must be reported in (issue 10), then those where outlets also report
# these stories. tests/data/match/coverage.yaml holds headlines written for this table, one row
# per (topic, language): a watchlist without its names or context words in a language fails there.
REQUIRED_LANGUAGES = ("ru", "uk", "kk", "az", "tr", "en", "hy", "ka", "fa", "ar", "de", "fr", "it",
                      "es", "pt", "pl", "bg")
OTHER_LANGUAGES = ("be", "ro", "nl", "sv", "cs", "sr", "hr", "el", "he", "ja", "zh", "ko")
FIVE = ("aktau_crash", "sputnik_azerbaijan", "north_south", "akkuyu", "diaspora_arrests")
#: The further watchlists the seed documents support: required languages only.
OTHER_TOPICS = ("turkish_gas_hub", "iran_israel_airspace", "azerbaijani_oligarchs")
#: Topics that may also match beside another (a Sputnik arrest is part of the tit-for-tat arrests).
NEIGHBOURS = {"sputnik_azerbaijan", "diaspora_arrests"}


def _coverage() -> dict:
    from ruamel.yaml import YAML

    return YAML(typ="safe").load((ROOT / "tests" / "data" / "match" / "coverage.yaml")
                                 .read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def shipped_matcher():
    from bot.match import Matcher

    wls, problems = load_watchlists(ROOT / "watchlists")
    assert problems == []
    return Matcher.compile(wls)


def _got(matcher, headline: str) -> set[str]:
    from bot.models import Item

    return {m.watchlist for m in matcher.match(Item(key="k", feed_url="t", title=headline))}


def test_coverage_table_lists_every_language_of_every_topic() -> None:
    """The coverage table has headlines for each of the five topics in every required and
    every other reporting language, for the further topics in every required language, and
    near-misses in the main ones."""
    table = _coverage()
    for topic in FIVE:
        missing = [c for c in REQUIRED_LANGUAGES + OTHER_LANGUAGES
                   if not table["probes"].get(topic, {}).get(c)]
        assert missing == [], (topic, missing)
    for topic in OTHER_TOPICS:
        missing = [c for c in REQUIRED_LANGUAGES if not table["probes"].get(topic, {}).get(c)]
        assert missing == [], (topic, missing)
    assert {"en", "ru", "tr", "az", "kk"} <= set(table["near_misses"])


@pytest.mark.parametrize("code", REQUIRED_LANGUAGES)
@pytest.mark.parametrize("topic", OTHER_TOPICS)
def test_other_topics_match_their_headlines_in_the_required_languages(shipped_matcher,
                                                                      topic: str, code: str) -> None:
    """The three further watchlists (gas hub, airspace, oligarchs) match their headlines in
    every required language."""
    for headline in _coverage()["probes"][topic][code]:
        assert topic in _got(shipped_matcher, headline), (topic, code, headline)


@pytest.mark.parametrize("code", REQUIRED_LANGUAGES + OTHER_LANGUAGES)
@pytest.mark.parametrize("topic", FIVE)
def test_topic_matches_its_headlines_in_every_language(shipped_matcher, topic: str, code: str) -> None:
    """Each topic's headlines in each language (outlets' spellings, inflected forms) match that
    topic and no other of the five except its neighbour."""
    for headline in _coverage()["probes"][topic][code]:
        got = _got(shipped_matcher, headline)
        assert topic in got, (topic, code, headline)
        assert not (got & set(FIVE)) - {topic} - NEIGHBOURS, (headline, got)


@pytest.mark.parametrize("code", sorted(_coverage()["near_misses"]))
def test_near_misses_match_no_watchlist(shipped_matcher, code: str) -> None:
    """The topics' names in other news (port of Aktau, 'kaza' beside 'Kazakistan', Sputnik V,
    Minister Belousov, other crashes and migrants, plain diplomacy) match no watchlist."""
    for headline in _coverage()["near_misses"][code]:
        assert _got(shipped_matcher, headline) == set(), (code, headline)


def test_unchanged_rule_files_skip_the_schema_check_and_an_edit_is_checked_again(tmp_path):
    """With the validation cache (what `run` uses), a second load of unchanged watchlists does not even import jsonschema, and a schema-breaking edit is still refused at its line."""
    import shutil
    import subprocess
    import sys

    from tests.conftest import REPO, WATCHLISTS

    folder = tmp_path / "watchlists"
    shutil.copytree(WATCHLISTS, folder)
    program = (
        "import sys\nfrom pathlib import Path\nfrom bot import yamlconf\nfrom bot.rules import Rules, RulesError\n"
        "yamlconf.use_validation_cache(Path(sys.argv[1]))\n"
        "try:\n    Rules.load(Path(sys.argv[2]))\nexcept RulesError as exc:\n    print('refused', exc)\n"
        "else:\n    print('loaded', 'jsonschema' in sys.modules)\n")

    def load() -> str:
        run = subprocess.run([sys.executable, "-c", program, str(tmp_path / "cache"), str(folder)],
                             cwd=REPO, capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        return run.stdout.strip()

    assert load() == "loaded True"  # validated, and remembered
    assert load() == "loaded False"  # the same bytes: no schema check
    akkuyu = folder / "akkuyu.yaml"
    akkuyu.write_text(akkuyu.read_text(encoding="utf-8") + "colour: red\n", encoding="utf-8")
    lines = len(akkuyu.read_text(encoding="utf-8").splitlines())
    refused = load()
    assert refused.startswith("refused") and f"akkuyu.yaml:{lines}:1: unknown key 'colour'" in refused, refused


def _marker_loads(tmp_path, source: str, schema: dict):
    """Load ``source`` twice through the validation cache in ``tmp_path/cache``; the data of
    each load, and the markers written."""
    from bot import yamlconf

    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "rules.yaml"
    path.write_text(source, encoding="utf-8")
    yamlconf.use_validation_cache(tmp_path / "cache")
    try:
        first = yamlconf.load_yaml_validated(path, schema)
        markers = sorted((tmp_path / "cache").glob("valid-*"))
        second = yamlconf.load_yaml_validated(path, schema)
    finally:
        yamlconf.use_validation_cache(None)
    return first, second, markers


def test_unchanged_rule_files_are_read_from_the_cache_not_parsed_again(tmp_path):
    """A second load of the same bytes returns the data the cache holds for them (here edited
    by hand to show it is what is read), equal to the YAML's own data for every shipped file."""
    import json

    from bot import yamlconf
    from bot.watchlists import SCHEMA
    from tests.conftest import WATCHLISTS

    for shipped in sorted(WATCHLISTS.glob("*.yaml")):
        if shipped.name == "timeline.yaml":
            continue
        source = shipped.read_text(encoding="utf-8")
        (first, problems), (second, _), markers = _marker_loads(tmp_path / shipped.stem, source, SCHEMA)
        assert not problems and first is not None, shipped
        assert second == first, shipped
        assert json.loads(markers[0].read_text(encoding="utf-8"))["data"] == first, shipped
    (first, _), _, markers = _marker_loads(tmp_path / "edit", source, SCHEMA)
    held = json.loads(markers[0].read_text(encoding="utf-8"))
    held["data"]["title"] = "Read from the cache"
    markers[0].write_text(json.dumps(held), encoding="utf-8")
    yamlconf.use_validation_cache(tmp_path / "edit" / "cache")
    try:
        data, _ = yamlconf.load_yaml_validated(tmp_path / "edit" / "rules.yaml", SCHEMA)
    finally:
        yamlconf.use_validation_cache(None)
    assert data["title"] == "Read from the cache" and first["title"] != data["title"]


def test_a_torn_cache_marker_is_ignored_and_data_json_changes_is_parsed_every_time(tmp_path):
    """A marker cut short by a crash is not trusted (the file is parsed, validated and the
    marker written again); data JSON would not give back exactly (a number as a key) is parsed
    from the YAML on every load, never read from the cache."""
    import json

    from bot import yamlconf

    (first, _), _, markers = _marker_loads(tmp_path / "torn", "a: [1, 2]\n", {"type": "object"})
    markers[0].write_text('{"data": {"a": [1', encoding="utf-8")
    (again, problems), _, markers = _marker_loads(tmp_path / "torn", "a: [1, 2]\n", {"type": "object"})
    assert again == first == {"a": [1, 2]} and not problems
    assert json.loads(markers[0].read_text(encoding="utf-8")) == {"data": {"a": [1, 2]}}

    (first, _), (second, _), markers = _marker_loads(tmp_path / "intkey", "1: one\n", {"type": "object"})
    assert first == second == {1: "one"}
    assert markers[0].read_text(encoding="utf-8") == ""
