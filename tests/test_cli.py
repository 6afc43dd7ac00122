"""The thin CLI over the library: check, try, status, settings, feeds import/export."""

from __future__ import annotations

import re

import os
import shutil
import subprocess
import sys
from pathlib import Path

from bot.config import SETTINGS, load_feeds
from tests.conftest import REPO
from tests.feedgen import Entry, rss
from tests.test_pipeline import NEW, OLD


def _env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WATCHBOT_"))}


def watchbot(tmp_path: Path, *args: str, watchlists: Path | None = None, extra: str = "") -> subprocess.CompletedProcess:
    config = tmp_path / "watchbot.toml"
    config.write_text(f'WATCHBOT_WATCHLISTS = "{watchlists or REPO / "watchlists"}"\nWATCHBOT_STATE = "state"\n'
                      f'WATCHBOT_PARSE_WORKERS = 0\n{extra}')
    if not (tmp_path / "feeds.opml").exists():
        (tmp_path / "feeds.opml").write_text('<opml version="2.0"><body/></opml>', encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "bot", "--config", str(config), *args], capture_output=True,
                          text=True, env=_env(), timeout=120, cwd=tmp_path)


def test_check_accepts_the_shipped_configuration(tmp_path):
    """`watchbot check` on the shipped watchlists and timeline exits 0 and names the watchlists."""
    run = watchbot(tmp_path, "check")
    assert run.returncode == 0, run.stderr
    assert "aktau_crash" in run.stdout and "sputnik_azerbaijan" in run.stdout


def test_check_reports_every_problem_with_its_location_and_exits_2(tmp_path):
    """Two broken watchlist files and a bad setting are all reported at once, with file:line, exit 2."""
    folder = tmp_path / "lists"
    shutil.copytree(REPO / "watchlists", folder)
    (folder / "aktau_crash.yaml").write_text((folder / "aktau_crash.yaml").read_text().replace("title:", "titel:", 1))
    (folder / "akkuyu.yaml").write_text("id: akkuyu\n  bad: [indent\n")
    run = watchbot(tmp_path, "check", watchlists=folder, extra="WATCHBOT_INTERVAL = -5\n")
    assert run.returncode == 2
    assert "WATCHBOT_INTERVAL" in run.stderr
    run = watchbot(tmp_path, "check", watchlists=folder)
    assert run.returncode == 2
    assert "aktau_crash.yaml:" in run.stderr and "titel" in run.stderr
    assert "akkuyu.yaml:" in run.stderr


def test_token_in_the_config_file_is_refused(tmp_path):
    """A bot token written into watchbot.toml is an error: secrets come only from the environment."""
    run = watchbot(tmp_path, "check", extra='TELEGRAM_BOT_TOKEN = "1:abc"\n')
    assert run.returncode == 2
    assert "TELEGRAM_BOT_TOKEN must not be in a file" in run.stderr
    assert "1:abc" not in run.stderr


def test_try_text_shows_watchlist_terms_and_decision(tmp_path):
    """`watchbot try TEXT` names the matched watchlist, the terms, and a novelty decision with reasons."""
    run = watchbot(tmp_path, "try", "Картавых освобождён и направляется в Россию из Баку")
    assert run.returncode == 0, run.stderr
    assert "sputnik_azerbaijan" in run.stdout
    assert "Картавых" in run.stdout
    assert "decision:" in run.stdout


def test_try_shows_facts_nearest_event_and_story_and_the_deciding_step(tmp_path):
    """`watchbot try` on the central AZAL development lists its facts, the nearest baseline event
    and story with their similarity, the deciding step, and calls it an alert (issue 10 saw
    `known`)."""
    run = watchbot(tmp_path, "try", "Putin admits Russia's guilt in AZAL crash")
    assert run.returncode == 0, run.stderr
    assert "aktau_crash" in run.stdout
    assert "facts: " in run.stdout and "admission" in run.stdout
    assert re.search(r"nearest baseline event: aktau-\S+ .*similarity \d\.\d\d", run.stdout), run.stdout
    assert "nearest story: none" in run.stdout
    assert re.search(r"decision: alert \(step new-development\)", run.stdout), run.stdout


def test_try_text_that_matches_nothing_says_so(tmp_path):
    """An unrelated text matches no watchlist and gets no decision."""
    run = watchbot(tmp_path, "try", "Local football club wins the cup after extra time")
    assert run.returncode == 0, run.stderr
    assert "decision:" not in run.stdout
    assert "sputnik_azerbaijan" not in run.stdout


def test_try_feed_reports_each_item(tmp_path):
    """`watchbot try --feed FILE` reports every item of the feed."""
    feed = tmp_path / "feed.xml"
    feed.write_bytes(rss("News", OLD + [NEW]))
    run = watchbot(tmp_path, "try", "--feed", str(feed))
    assert run.returncode == 0, run.stderr
    for entry in OLD + [NEW]:
        assert entry.title in run.stdout


def test_try_feed_reads_a_url_as_run_does(tmp_path):
    """`try --feed URL` gives each item the identity `run` stores for it (an opaque GUID scoped to the feed) and obeys WATCHBOT_TIMEOUT."""
    import json
    import sqlite3

    from tests.servers.feedserver import FeedServer

    entries = [Entry(NEW.title, NEW.link, NEW.published, NEW.summary, guid="1001"), OLD[0]]
    with FeedServer.in_thread() as srv:
        srv.set_feed("/news.rss", rss("News", entries))
        srv.trickle("/slow.rss", interval=1.0)
        url = srv.url("/news.rss")
        (tmp_path / "feeds.opml").write_text(f'<opml version="2.0"><body><outline xmlUrl="{url}"/></body></opml>',
                                             encoding="utf-8")
        timeout = "WATCHBOT_TIMEOUT = 2.0\n"
        assert watchbot(tmp_path, "run", "--once", extra=timeout).returncode == 0
        tried = watchbot(tmp_path, "try", "--feed", url, "--json", extra=timeout)
        slow = watchbot(tmp_path, "try", "--feed", srv.url("/slow.rss"), extra=timeout)
    assert tried.returncode == 0, tried.stderr
    keys = {json.loads(line)["title"]: json.loads(line)["key"] for line in tried.stdout.splitlines()}
    assert keys[NEW.title] == f"guid:{url}#1001"
    db = sqlite3.connect(tmp_path / "state" / "watchbot.sqlite3")
    try:
        stored = {title: key for key, title in db.execute("SELECT key, title FROM items")}
    finally:
        db.close()
    assert stored == keys
    assert slow.returncode == 1 and "timeout after 2" in slow.stderr, slow.stderr


def test_status_shows_each_feed_with_its_problem(tmp_path):
    """After a cycle, `watchbot status` lists each feed with its HTTP status, item count and error."""
    good = tmp_path / "good.xml"
    good.write_bytes(rss("Good outlet", OLD))
    (tmp_path / "feeds.opml").write_text(
        f'<opml version="2.0"><body><outline xmlUrl="{good}"/><outline xmlUrl="{tmp_path / "missing.xml"}"/>'
        f"</body></opml>", encoding="utf-8")
    local = f'WATCHBOT_LOCAL_FEEDS = "{tmp_path}"\n'  # local feed files only from named folders
    assert watchbot(tmp_path, "run", "--once", extra=local).returncode == 0
    run = watchbot(tmp_path, "status", extra=local)
    assert run.returncode == 0, run.stderr
    flat = " ".join(run.stdout.split())
    assert "Good outlet" in flat
    assert "missing.xml" in flat
    assert "outbox:" in flat


def test_status_shows_what_the_parser_had_to_repair(tmp_path):
    """A feed read despite junk before its XML shows the parser's warning in `status` and `status --json`, per feed."""
    import json

    from bot.parse import parse_feed

    repaired = tmp_path / "repaired.xml"
    repaired.write_bytes(b"PHP Notice: undefined index in feed.php on line 3\n" + rss("Repaired outlet", OLD))
    clean = tmp_path / "clean.xml"
    clean.write_bytes(rss("Clean outlet", OLD[:1]))
    (tmp_path / "feeds.opml").write_text(
        f'<opml version="2.0"><body><outline xmlUrl="{repaired}"/><outline xmlUrl="{clean}"/></body></opml>',
        encoding="utf-8")
    local = f'WATCHBOT_LOCAL_FEEDS = "{tmp_path}"\n'
    assert watchbot(tmp_path, "run", "--once", extra=local).returncode == 0
    table = watchbot(tmp_path, "status", extra=local)
    as_json = watchbot(tmp_path, "status", "--json", extra=local)
    assert table.returncode == 0 and as_json.returncode == 0, table.stderr + as_json.stderr
    expected = parse_feed(repaired.read_bytes(), {}, str(repaired)).warning
    assert expected and "junk" in expected
    flat = " ".join(table.stdout.split())  # the problem column wraps long text
    assert "Repaired outlet" in flat and " ".join(expected.split()) in flat
    feeds = {f["title"]: f for f in json.loads(as_json.stdout)["feeds"]}
    assert feeds["Repaired outlet"]["warning"] == expected and feeds["Repaired outlet"]["problem"] is None
    assert feeds["Clean outlet"]["warning"] is None


def test_feeds_import_merges_and_export_round_trips(tmp_path):
    """Importing an OPML adds only new feeds, and export writes a list that loads back identically."""
    (tmp_path / "feeds.opml").write_text(
        '<opml version="2.0"><body><outline xmlUrl="https://a.example/rss"/></body></opml>', encoding="utf-8")
    incoming = tmp_path / "other.opml"
    incoming.write_text('<opml version="2.0"><body><outline text="Folder">'
                        '<outline xmlUrl="https://a.example/rss"/><outline title="B" xmlUrl="https://b.example/feed" interval="600"/>'
                        "</outline></body></opml>", encoding="utf-8")
    run = watchbot(tmp_path, "feeds", "import", str(incoming))
    assert run.returncode == 0, run.stderr
    assert "1 feeds added" in run.stdout
    exported = watchbot(tmp_path, "feeds", "export", "-o", str(tmp_path / "out.opml"))
    assert exported.returncode == 0
    feeds, problems = load_feeds(tmp_path / "out.opml")
    assert problems == []
    assert [(f.url, f.interval) for f in feeds] == [("https://a.example/rss", None), ("https://b.example/feed", 600)]


def test_settings_lists_every_setting(tmp_path):
    """`watchbot settings` prints every setting with its help."""
    run = watchbot(tmp_path, "settings")
    assert run.returncode == 0
    for spec in SETTINGS:
        assert spec.name in run.stdout


# Libraries (and our stage modules wrapping them) that only fetching, parsing or delivering need.
_HEAVY = ("httpx", "httpcore", "feedparser", "telegram", "rich", "apscheduler", "multiprocessing",
          "concurrent.futures.process", "bot.fetch", "bot.parse", "bot.channels.telegram",
          "bot.channels.telegram_html", "bot.pipeline")


def _modules_after(tmp_path: Path, *args: str, watchlists: Path | None = None,
                   extra: str = "") -> tuple[subprocess.CompletedProcess, set[str]]:
    """Run the console script's entry point with ``args`` in a fresh interpreter; return the
    completed process and every module it had imported when the command finished."""
    watchbot(tmp_path, "settings", watchlists=watchlists, extra=extra)  # configuration, empty feed list
    out = tmp_path / "modules.txt"
    driver = ("import sys\nfrom bot.cli import main\nsys.argv = ['watchbot', *sys.argv[2:]]\n"
              "try:\n    main()\nfinally:\n    open(sys.argv_out, 'w').write('\\n'.join(sys.modules))\n")
    driver = driver.replace("sys.argv_out", repr(str(out)))
    run = subprocess.run([sys.executable, "-c", driver, "-", "--config", str(tmp_path / "watchbot.toml"), *args],
                         capture_output=True, text=True, env=_env(), timeout=120, cwd=tmp_path)
    return run, set(out.read_text().split("\n"))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in _HEAVY))


def test_help_imports_no_stage_libraries(tmp_path):
    """`watchbot --help` imports neither httpx, feedparser, python-telegram-bot nor rich, nor our settings."""
    run, modules = _modules_after(tmp_path, "--help")
    assert run.returncode == 0 and "run" in run.stdout, run.stderr
    assert _heavy(modules) == []
    assert "bot.config" not in modules and "jsonschema" not in modules


def test_check_imports_only_what_validation_needs(tmp_path):
    """`watchbot check` validates the rules without importing the fetcher, the parser pool or Telegram."""
    run, modules = _modules_after(tmp_path, "check")
    assert run.returncode == 0 and "watchlists" in run.stdout, run.stderr
    assert _heavy(modules) == []
    assert "bot.watchlists" in modules and "bot.rules" in modules  # it did load the rules


def _imports_by_process_tree(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict[str, int]]:
    """Run the installed console script under ``-X importtime`` (multiprocessing passes the flag
    on to the forkserver and the parser workers, which share our stderr); return the process
    and how many processes imported each module."""
    script = Path(sys.executable).parent / "watchbot"
    assert script.exists(), "watchbot is not installed in this interpreter's environment"
    run = subprocess.run([sys.executable, "-X", "importtime", str(script), *args], capture_output=True,
                         text=True, env=_env(), timeout=120, cwd=tmp_path)
    counts: dict[str, int] = {}
    for line in run.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            counts[name] = counts.get(name, 0) + 1
    return run, counts


def test_parser_workers_do_not_import_the_cli_and_start_only_for_bodies(tmp_path):
    """Parser workers of `watchbot run --once` never import bot.cli, and a cycle with nothing to parse starts none."""
    feeds = []
    for i in range(3):
        path = tmp_path / f"feed{i}.xml"
        path.write_bytes(rss(f"Outlet {i}", OLD))
        feeds.append(f'<outline xmlUrl="{path}"/>')
    (tmp_path / "feeds.opml").write_text(f'<opml version="2.0"><body>{"".join(feeds)}</body></opml>',
                                         encoding="utf-8")
    (tmp_path / "watchbot.toml").write_text(f'WATCHBOT_WATCHLISTS = "{REPO / "watchlists"}"\n'
                                            'WATCHBOT_STATE = "state"\nWATCHBOT_PARSE_WORKERS = 2\n'
                                            'WATCHBOT_LOCAL_FEEDS = "."\n')  # local feeds: named folders only
    run, first = _imports_by_process_tree(tmp_path, "run", "--once")
    assert run.returncode == 0, run.stderr
    assert "3 feeds" in run.stderr and "0 feeds failing" in run.stderr
    assert first.get("bot.parse") == 2  # this process and the forkserver: workers were started
    assert first.get("bot.cli") == 1  # only this process; the workers imported bot.entry alone
    run, second = _imports_by_process_tree(tmp_path, "run", "--once")  # unchanged files: all 304
    assert run.returncode == 0, run.stderr
    assert second.get("bot.parse") == 1 and second.get("bot.cli") == 1  # no forkserver, no worker


def test_a_cron_run_starts_telegram_only_once_a_feed_has_answered(tmp_path):
    """`run --once` asks Telegram's getMe only after the first feed response is back (its
    start costs CPU the first requests should not share), and still delivers and exits 0."""
    from tests.conftest import cli_run
    from tests.servers.botapi import BotApiStandIn
    from tests.servers.feedserver import FeedServer

    latency = 1.5
    with FeedServer.in_thread() as srv, BotApiStandIn.in_thread() as api:
        srv.set_feed("/news.xml", rss("News", [NEW]),
                     latency=latency)
        cmd, env = cli_run(tmp_path, [srv.url("/news.xml")], api.root, once=True,
                           WATCHBOT_PARSE_WORKERS="0")
        done = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        requested = srv.requests("/news.xml")[0].time
        asked = api.call_times[api.calls.index("getMe")]
        assert api.calls.count("getMe") == 1
    # The response left the feed server `latency` after the request arrived.
    assert asked >= requested + latency, (asked - requested)


def test_a_run_that_decides_nothing_imports_neither_matcher_nor_novelty(tmp_path):
    """`run --once` that has nothing to match (no feed here) loads and validates the rules but imports neither the matcher's libraries nor the novelty engine."""
    run, modules = _modules_after(tmp_path, "run", "--once")
    assert run.returncode == 0 and "cycle: 0 feeds polled" in run.stderr, run.stderr
    assert "bot.rules" in modules and "bot.watchlists" in modules  # the rules were loaded
    assert not {"bot.match", "snowballstemmer", "ahocorasick_rs", "bot.novelty", "bot.embed",
                "bot.features"} & modules


def test_a_run_with_unchanged_watchlists_parses_no_yaml(tmp_path):
    """A second `run --once` over unchanged watchlists reads them from the validation cache without importing a YAML parser or jsonschema."""
    folder = tmp_path / "lists"
    shutil.copytree(REPO / "watchlists", folder)
    first, modules = _modules_after(tmp_path, "run", "--once", watchlists=folder)
    assert first.returncode == 0 and "ruamel.yaml" in modules, first.stderr  # validated, cached
    # Saved again with the same bytes: the rules are checked again (see the next test), from
    # the validation cache.
    touched = folder / "akkuyu.yaml"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    again, modules = _modules_after(tmp_path, "run", "--once", watchlists=folder)
    assert again.returncode == 0 and "cycle: 0 feeds polled" in again.stderr, again.stderr
    assert "bot.watchlists" in modules
    assert not {"ruamel.yaml", "jsonschema"} & modules


def test_rules_a_run_verified_are_not_loaded_again_until_a_response_or_an_edit_needs_them(tmp_path):
    """A `run --once` over the rule files and settings the previous run verified, with nothing to match, imports neither the watchlists nor the rules; an edit of a file or of a setting the check reads is checked by the next run, broken or not."""
    folder = tmp_path / "lists"
    shutil.copytree(REPO / "watchlists", folder)

    def run(extra: str = "") -> tuple[subprocess.CompletedProcess, set[str]]:
        return _modules_after(tmp_path, "run", "--once", watchlists=folder, extra=extra)

    first, modules = run()
    assert first.returncode == 0 and "bot.rules" in modules, first.stderr
    again, modules = run()
    assert again.returncode == 0 and "cycle: 0 feeds polled" in again.stderr, again.stderr
    assert not {"bot.rules", "bot.watchlists", "bot.timeline"} & modules
    edited = folder / "akkuyu.yaml"
    good = edited.read_bytes()
    edited.write_bytes(good.replace(b"title:", b"titel:", 1))
    broken, _ = run()
    assert broken.returncode == 2 and "akkuyu.yaml" in broken.stderr, broken.stderr
    edited.write_bytes(good)
    assert run()[0].returncode == 0
    wrong = run('WATCHBOT_DIGEST_WATCHLISTS = "akuyu"\n')[0]  # files unchanged, a setting not
    assert wrong.returncode == 2 and "akuyu" in wrong.stderr, wrong.stderr


def test_rules_a_run_verified_are_loaded_for_the_first_response_with_items(tmp_path):
    """After a run that verified the rules, a `run --once` whose feed has a new item loads them and decides the item."""
    import sqlite3
    import time

    feed = tmp_path / "feed.xml"
    feed.write_bytes(rss("Outlet", OLD))
    (tmp_path / "feeds.opml").write_text(f'<opml version="2.0"><body><outline xmlUrl="{feed}"/></body></opml>',
                                         encoding="utf-8")
    extra = 'WATCHBOT_LOCAL_FEEDS = "."\nWATCHBOT_INTERVAL = 1\n'
    seeded, modules = _modules_after(tmp_path, "run", "--once", extra=extra)
    assert seeded.returncode == 0 and "bot.rules" in modules, seeded.stderr  # verified
    time.sleep(2.1)  # the feed's 1-second interval (stored rounded up to the second) has passed
    unchanged, modules = _modules_after(tmp_path, "run", "--once", extra=extra)
    assert unchanged.returncode == 0 and "1 feeds polled" in unchanged.stderr, unchanged.stderr
    assert "bot.rules" not in modules
    feed.write_bytes(rss("Outlet", [*OLD, NEW]))
    time.sleep(2.1)
    changed, modules = _modules_after(tmp_path, "run", "--once", extra=extra)
    assert changed.returncode == 0 and "bot.rules" in modules and "bot.match" in modules, changed.stderr
    db = sqlite3.connect(tmp_path / "state" / "watchbot.sqlite3")
    try:
        decisions = dict(db.execute("SELECT link, decision FROM items"))
    finally:
        db.close()
    assert all(decisions[e.link] == "seeded" for e in OLD) and decisions[NEW.link] not in (None, "seeded"), decisions


def test_a_cron_run_with_nothing_to_send_skips_telegram_once_it_accepted_the_bot(tmp_path):
    """A `run --once` within the hour of Telegram accepting the same bot and chat makes no Bot API call when it has nothing to send, and one that has something to send asks again and exits 2 if the bot was removed meanwhile."""
    import sqlite3

    from tests.conftest import DEFAULT_CHAT, TOKEN, cli_run
    from tests.servers.botapi import BotApiStandIn
    from tests.servers.feedserver import FeedServer

    def remembered() -> str | None:
        with sqlite3.connect(tmp_path / "state" / "watchbot.sqlite3") as db:
            row = db.execute("SELECT value FROM meta WHERE key='telegram_verified'").fetchone()
        return row[0] if row else None

    def make_due() -> None:  # the next cron run, as if the feed's interval had passed
        with sqlite3.connect(tmp_path / "state" / "watchbot.sqlite3") as db:
            db.execute("UPDATE feeds SET next_check=NULL")

    with FeedServer.in_thread() as srv, BotApiStandIn.in_thread() as api:
        srv.set_feed("/news.xml", rss("News", OLD[1:]))  # nothing any watchlist is about
        cmd, env = cli_run(tmp_path, [srv.url("/news.xml")], api.root, once=True,
                           WATCHBOT_PARSE_WORKERS="0")
        first = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert first.returncode == 0, first.stderr[-2000:]
        assert api.calls == ["getMe", "getChat"]  # no memory yet: asked before anything is sent
        memory = remembered()
        assert memory and TOKEN not in memory and TOKEN.split(":")[1] not in memory

        make_due()
        second = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stderr[-2000:]
        assert "1 feeds polled" in second.stderr and len(srv.requests("/news.xml")) == 2, second.stderr
        assert api.calls == ["getMe", "getChat"]  # polled, nothing to send: Telegram not asked

        api.kick(DEFAULT_CHAT)
        srv.set_feed("/news.xml", rss("News", [NEW]))
        make_due()
        third = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert third.returncode == 2, third.stderr[-2000:]
        assert "kicked" in third.stderr
        assert api.calls[2:] == ["getMe", "getChat"]  # asked once there was something to send
    assert remembered() is None  # the refusal cleared the memory: the next run asks first
    status = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(tmp_path / "watchbot.toml"), "status"],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert "1 pending" in status.stdout, status.stdout  # the alert waits in the outbox


def test_only_a_process_of_its_own_freezes_its_start_up_objects(tmp_path, monkeypatch):
    """`python -m bot run --once` freezes its start-up objects out of the garbage collector's work (its debug log counts them), while the same command run in-process through bot.cli leaves the calling process's collector as it was."""
    import gc

    from bot import cli
    from tests.conftest import cli_run
    from tests.servers.feedserver import FeedServer

    with FeedServer.in_thread() as srv:
        srv.set_feed("/news.xml", rss("News", OLD))
        cmd, env = cli_run(tmp_path, [srv.url("/news.xml")], "http://127.0.0.1:9", once=True,
                           WATCHBOT_PARSE_WORKERS="0", WATCHBOT_LOG_LEVEL="DEBUG")
        env = {k: v for k, v in env.items() if not k.startswith("TELEGRAM_")}  # the console channel
        proc = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        frozen = re.search(r"garbage collector: (\d+) start-up objects frozen", proc.stderr)
        assert frozen and int(frozen.group(1)) > 10_000, proc.stderr[-2000:]

        for key, value in env.items():
            monkeypatch.setenv(key, value)
        monkeypatch.chdir(tmp_path)
        before = gc.get_freeze_count(), gc.get_threshold()
        try:
            cli.cli.main(cmd[3:], standalone_mode=False)
        finally:
            after = gc.get_freeze_count(), gc.get_threshold()
            gc.unfreeze()  # should the assertion fail, the rest of the suite gets its collector back
            gc.set_threshold(*before[1])
    assert after == before


def test_a_cron_run_that_skips_the_interpreter_teardown_still_leaves_all_it_wrote(tmp_path):
    """A `run --once` that ends without the interpreter's teardown still leaves its alert in a redirected stdout file and its summary on stderr, repeats nothing on the next run, and keeps exit code 1 when every feed failed."""
    import sqlite3

    from tests.conftest import cli_run
    from tests.servers.feedserver import FeedServer

    with FeedServer.in_thread() as srv:
        srv.set_feed("/news.xml", rss("News", OLD))
        cmd, env = cli_run(tmp_path, [srv.url("/news.xml")], "http://127.0.0.1:9", once=True,
                           WATCHBOT_PARSE_WORKERS="0")
        env = {k: v for k, v in env.items() if not k.startswith("TELEGRAM_")}  # the console channel

        def make_due() -> None:  # the next cron run, as if the feed's interval had passed
            with sqlite3.connect(tmp_path / "state" / "watchbot.sqlite3") as db:
                db.execute("UPDATE feeds SET next_check=NULL")

        def run(name: str, code: int = 0) -> tuple[str, str]:
            out_path, err_path = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
            # Files, as a crontab's `>> watchbot.log 2>&1` gives: stdout is then block-buffered.
            with open(out_path, "wb") as out, open(err_path, "wb") as err:
                proc = subprocess.run(cmd, env=env, cwd=tmp_path, stdout=out, stderr=err, timeout=120)
            text = out_path.read_text(encoding="utf-8"), err_path.read_text(encoding="utf-8")
            assert proc.returncode == code, text[1][-2000:]
            return text

        run("seed")
        make_due()
        srv.set_feed("/news.xml", rss("News", OLD + [NEW]))
        out, err = run("news")
        assert "Belousov" in out, (out, err[-2000:])
        assert "cycle: 1 feeds polled" in err and "1 alerts" in err, err[-2000:]
        make_due()
        again, err = run("again")
        assert "Belousov" not in again and "0 alerts" in err, (again, err[-2000:])
        make_due()
        srv.set_status("/news.xml", 500)
        _, err = run("failing", code=1)
        assert "every feed failed" in err, err[-2000:]
