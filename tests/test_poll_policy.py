"""The poll policy decider on plain inputs: fetch results and stored feed states in, plans out.

No server, no store: bot.poll_policy is pure, so each rule is checked by what it returns. The
integration of the same rules (a real feed server, a real store) is in tests/test_pipeline.py
and tests/test_hostile_feeds.py.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from bot.models import Feed, FetchResult, Item, ParsedFeed, Validators
from bot.poll_policy import (FIRST_RETRY, GONE_REASON, MAX_INTERVAL, PollPolicy, credible_dates,
                             publication_order)
from bot.storage import FeedState

NOW = datetime(2025, 10, 25, 12, tzinfo=timezone.utc)
FEED = Feed("https://news.example/rss")
POLICY = PollPolicy(interval=900, max_backoff=6 * 3600, backfill=0)


def state(**changes) -> FeedState:
    """A stored feed state: polled before, no errors, already seeded, unless ``changes`` say so."""
    base = FeedState(url=FEED.url, current_url=FEED.url, title="", validators=Validators(),
                     body_hash="old", last_fetch=NOW - timedelta(minutes=15), last_success=None,
                     last_status=200, last_error=None, consecutive_errors=0, next_check=None,
                     paused_reason=None, ttl_minutes=None, items_total=0, last_new=0, seeded=True,
                     first_seen=NOW - timedelta(days=30))
    return replace(base, **changes)


def ok(**changes) -> FetchResult:
    return replace(FetchResult(FEED.url, 200, body=b"<rss/>", body_hash="new",
                               validators=Validators('"e1"', None)), **changes)


def item(n: int, published: datetime | None) -> Item:
    return Item(key=f"guid:{n}", feed_url=FEED.url, title=f"Story {n}", published=published)


def parsed(*items: Item, **changes) -> ParsedFeed:
    return replace(ParsedFeed(items=tuple(items), title="News"), **changes)


def test_410_pauses_the_feed_and_records_an_event():
    """A 410 Gone pauses the feed with its reason, counts as a failure and is kept as an event."""
    decision = POLICY.decide(FEED, state(), FetchResult(FEED.url, 410), None, NOW)
    plan = decision.plan
    assert plan.paused_reason == GONE_REASON and plan.error == GONE_REASON
    assert plan.success is False and plan.next_check == NOW and decision.items is None
    assert [(n.level, n.event) for n in decision.notices] == [("warning", True)]


def test_back_off_starts_soon_doubles_and_stops_at_the_ceiling():
    """After the n-th failure in a row the wait is FIRST_RETRY * 2**(n-1), never above WATCHBOT_MAX_BACKOFF."""
    waits = []
    for errors_before in range(12):
        decision = POLICY.decide(FEED, state(consecutive_errors=errors_before),
                                 FetchResult(FEED.url, 500), None, NOW)
        assert decision.plan.success is False and decision.plan.error == "HTTP 500"
        waits.append((decision.plan.next_check - NOW).total_seconds())
    assert waits[:4] == [FIRST_RETRY, 2 * FIRST_RETRY, 4 * FIRST_RETRY, 8 * FIRST_RETRY]
    assert max(waits) == POLICY.max_backoff and waits == sorted(waits)


def test_first_retry_never_waits_longer_than_the_feeds_interval():
    """A feed polled every 20 s is retried after 20 s, not after the 60 s first retry."""
    decision = POLICY.decide(Feed(FEED.url, interval=20), state(), FetchResult(FEED.url, 0, error="refused"),
                             None, NOW)
    assert decision.plan.next_check == NOW + timedelta(seconds=20) and decision.plan.error == "refused"


def test_retry_after_lengthens_the_wait_but_never_shortens_it():
    """A 429's Retry-After beyond the back-off is obeyed; a shorter one leaves the back-off as it is."""
    long = POLICY.decide(FEED, state(), FetchResult(FEED.url, 429, retry_after=3600), None, NOW)
    assert long.plan.next_check == NOW + timedelta(seconds=3600)
    short = POLICY.decide(FEED, state(consecutive_errors=3), FetchResult(FEED.url, 429, retry_after=5),
                          None, NOW)
    assert short.plan.next_check == NOW + timedelta(seconds=8 * FIRST_RETRY)


def test_a_body_that_is_not_a_feed_is_a_failure():
    """A 200 whose body parsed to an error and no items is a failure named after the parse error."""
    decision = POLICY.decide(FEED, state(), ok(), parsed(error="not a feed: an HTML page"), NOW)
    assert decision.plan.error == "not a usable feed: not a feed: an HTML page"
    assert decision.plan.success is False and decision.items is None


def test_not_modified_keeps_the_stored_body_and_polls_again_after_the_interval():
    """A 304 is a success that stores the validators and leaves the body hash, title and seeding alone."""
    decision = POLICY.decide(FEED, state(), FetchResult(FEED.url, 304, validators=Validators('"e1"')), None, NOW)
    plan = decision.plan
    assert plan.success and plan.error is None and decision.items is None
    assert plan.validators == Validators('"e1"') and plan.body_hash is None and plan.seeded is None
    assert plan.next_check == NOW + timedelta(seconds=POLICY.interval)


def test_rss_ttl_is_a_floor_on_the_interval_and_is_remembered():
    """A <ttl> above the interval delays the next poll; a 304 later still honours the stored ttl."""
    first = POLICY.decide(FEED, state(), ok(), parsed(item(1, NOW), ttl_minutes=60), NOW)
    assert first.plan.next_check == NOW + timedelta(minutes=60) and first.plan.ttl_minutes == 60
    later = POLICY.decide(FEED, state(ttl_minutes=60), FetchResult(FEED.url, 304), None, NOW)
    assert later.plan.next_check == NOW + timedelta(minutes=60)
    below = POLICY.decide(FEED, state(), ok(), parsed(item(1, NOW), ttl_minutes=5), NOW)
    assert below.plan.next_check == NOW + timedelta(seconds=POLICY.interval)


def test_an_absurd_per_feed_interval_is_clamped():
    """An OPML interval of 10**14 seconds waits MAX_INTERVAL instead of overflowing a timedelta."""
    decision = POLICY.decide(Feed(FEED.url, interval=10 ** 14), state(), FetchResult(FEED.url, 304), None, NOW)
    assert decision.plan.next_check == NOW + timedelta(seconds=MAX_INTERVAL)


def test_a_permanent_redirect_moves_the_subscription():
    """A 301 chain's final URL goes into the plan and is logged, whatever else the poll did."""
    decision = POLICY.decide(FEED, state(), ok(permanent_url="https://new.example/rss"),
                             parsed(item(1, NOW)), NOW)
    assert decision.plan.current_url == "https://new.example/rss"
    assert decision.notices[0].level == "info" and "moved permanently" in decision.notices[0].message


def test_a_parse_warning_is_stored_and_announced_once_per_change():
    """A repaired body's warning is stored with it; the event is raised only when the warning changed."""
    body = parsed(item(1, NOW), warning="garbage before the XML prolog removed")
    new = POLICY.decide(FEED, state(), ok(), body, NOW)
    assert new.plan.warning == body.warning and [n.event for n in new.notices] == [True]
    same = POLICY.decide(FEED, state(last_warning=body.warning), ok(), body, NOW)
    assert same.plan.warning == body.warning and same.notices == ()


def test_a_parser_bug_is_logged_as_an_error_apart_from_the_feed_failure():
    """ParsedFeed.internal_error yields an error-level notice as well as the usual failure."""
    broken = parsed(error="parser failure: boom", internal_error="KeyError: boom")
    decision = POLICY.decide(FEED, state(), ok(), broken, NOW)
    assert decision.plan.error == "not a usable feed: parser failure: boom"
    assert [n.level for n in decision.notices] == ["error", "warning"]
    assert "KeyError: boom" in decision.notices[0].message


def test_first_sight_seeds_all_but_the_newest_backfill_items():
    """On first sight only the `backfill` newest items (an undated one counts as newest) go on, oldest first; the rest are seeded."""
    items = [item(1, NOW - timedelta(hours=3)), item(2, None), item(3, NOW - timedelta(hours=1)),
             item(4, NOW - timedelta(hours=2))]
    first = state(seeded=False, first_seen=None)
    decision = POLICY.decide(FEED, first, ok(), parsed(*items), NOW)
    assert decision.items == tuple(items) and decision.plan.seeded is True
    quiet = POLICY.admit(decision, items, feed=FEED, state=first, now=NOW)
    assert quiet.process == () and {i.key for i in quiet.seed} == {i.key for i in items}
    assert quiet.plan.new_items == 4  # first sight counts every item of the body

    backfilled = POLICY.admit(decision, items, feed=Feed(FEED.url, backfill=2), state=first, now=NOW)
    assert [i.key for i in backfilled.process] == ["guid:3", "guid:2"]
    assert {i.key for i in backfilled.seed} == {"guid:1", "guid:4"}
    assert backfilled.plan.new_items == 4  # the let-through items are among them, counted once


def test_a_seeded_feed_processes_every_fresh_item_in_publication_order():
    """After first sight nothing is seeded: every fresh item goes on, oldest first, undated last."""
    items = [item(1, None), item(2, NOW), item(3, NOW - timedelta(hours=1))]
    decision = POLICY.decide(FEED, state(), ok(), parsed(*items), NOW)
    admission = POLICY.admit(decision, items[1:], feed=FEED, state=state(), now=NOW)
    assert admission.seed == () and [i.key for i in admission.process] == ["guid:3", "guid:2"]
    assert admission.plan.new_items == 2


def test_implausible_dates_become_the_first_seen_time_with_a_note():
    """Items dated 1970 or years before the feed's first sight are re-dated to now, noted in the warning."""
    items = [item(1, datetime(1970, 1, 1, tzinfo=timezone.utc)), item(2, NOW - timedelta(days=5 * 365)),
             item(3, NOW - timedelta(days=1))]
    body = parsed(*items, warning="1 bad byte replaced")
    decision = POLICY.decide(FEED, state(), ok(), body, NOW)
    admission = POLICY.admit(decision, items, feed=FEED, state=state(), now=NOW)
    dates = {i.key: i.published for i in admission.process}
    assert dates == {"guid:1": NOW, "guid:2": NOW, "guid:3": NOW - timedelta(days=1)}
    assert admission.plan.warning.startswith("1 bad byte replaced; 2 new item(s) dated before 1990")
    assert [n.event for n in admission.notices] == [True]


def test_credible_dates_floor_follows_the_feeds_first_sight():
    """Two years before the feed was first seen is the floor, never earlier than 1990."""
    old_feed = datetime(1991, 1, 1, tzinfo=timezone.utc)
    items = [item(1, datetime(1989, 12, 31, tzinfo=timezone.utc)), item(2, datetime(1990, 6, 1, tzinfo=timezone.utc))]
    out, redated = credible_dates(items, old_feed, NOW)
    assert redated == 1 and [i.published for i in out] == [NOW, items[1].published]


def test_publication_order_puts_undated_items_last_in_feed_order():
    """Sorting by publication_order: dated oldest first, then undated ones as the feed listed them."""
    items = [item(1, None), item(2, NOW), item(3, None), item(4, NOW - timedelta(days=1))]
    assert [i.key for i in sorted(items, key=publication_order)] == ["guid:4", "guid:2", "guid:1", "guid:3"]
