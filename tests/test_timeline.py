"""The baseline timeline file: the shipped one validates; broken edits are reported precisely."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from bot.timeline import load_timeline

SHIPPED = Path(__file__).resolve().parent.parent / "watchlists" / "timeline.yaml"

GOOD = """\
as_of: "2025-07-05"
events:
  - id: aktau-crash
    date: "2024-12-25"
    topics: [aktau_crash]
    what: AZAL Embraer 190 hit over Grozny, crashed near Aktau; 38 of 67 died.
    numbers: [38, 67]
  - id: stake-sale
    date: "2025-07"
    until: "2025-07-05"
    topics: [akkuyu]
    what: Rosatom intends to sell its 49% stake in Akkuyu.
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "timeline.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_shipped_timeline_validates_and_covers_the_watchlists():
    """The shipped timeline loads without problems and has events for the five topics."""
    tl, problems = load_timeline(SHIPPED)
    assert problems == []
    assert tl.as_of == date(2025, 7, 5)
    topics = {t for e in tl.events for t in e.topics}
    assert {"aktau_crash", "sputnik_azerbaijan", "north_south", "akkuyu", "diaspora_arrests"} <= topics
    crash = next(e for e in tl.events if e.id == "aktau-crash")
    assert crash.start == date(2024, 12, 25) and "38" in crash.numbers


def test_month_dates_span_the_month(tmp_path):
    """'YYYY-MM' spans the month; 'until' ends the period."""
    tl, problems = load_timeline(write(tmp_path, GOOD))
    assert problems == []
    sale = tl.events[1]
    assert (sale.start, sale.end) == (date(2025, 7, 1), date(2025, 7, 5))


def located(problems, line: int) -> bool:
    return any(re.search(rf"timeline\.yaml:{line}:\d+", str(p)) for p in problems)


def test_unquoted_date_is_reported_with_line_and_column(tmp_path):
    """A date written without quotes (YAML reads it as a date object) points at its line."""
    p = write(tmp_path, GOOD.replace('date: "2024-12-25"', "date: 2024-12-25"))
    tl, problems = load_timeline(p)
    assert tl is None
    assert located(problems, 4), [str(x) for x in problems]


def test_misspelt_key_and_missing_topics_are_both_reported(tmp_path):
    """Every problem is reported at once, each at its own line."""
    text = GOOD.replace("    topics: [aktau_crash]\n", "").replace("what: Rosatom", "wat: Rosatom")
    tl, problems = load_timeline(write(tmp_path, text))
    assert tl is None
    assert located(problems, 3)  # the event without topics
    assert located(problems, 11)  # 'wat' in the second event (line 11 once topics went)


def test_yaml_syntax_error_has_a_line(tmp_path):
    """Broken indentation is a syntax error with its line."""
    text = GOOD.replace("    topics: [akkuyu]", "  topics: [akkuyu]\n     - x")
    tl, problems = load_timeline(write(tmp_path, text))
    assert tl is None
    assert problems and problems[0].line is not None


def test_until_before_date_and_duplicate_ids_are_refused(tmp_path):
    """Semantic mistakes that the schema cannot see are reported too."""
    text = GOOD.replace('until: "2025-07-05"', 'until: "2025-06-01"').replace("stake-sale", "aktau-crash")
    tl, problems = load_timeline(write(tmp_path, text))
    assert tl is None
    messages = " ".join(str(p) for p in problems)
    assert "until is before date" in messages and "duplicate id" in messages


def test_editor_copy_of_the_timeline_schema_matches_the_packaged_one():
    """watchlists/timeline.schema.json (for editors) is the schema the loader enforces."""
    from bot.timeline import SCHEMA_PATH

    editor_copy = Path(__file__).resolve().parent.parent / "watchlists" / "timeline.schema.json"
    assert editor_copy.read_text(encoding="utf-8") == SCHEMA_PATH.read_text(encoding="utf-8")
