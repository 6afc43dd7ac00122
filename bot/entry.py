"""The `watchbot` console script's entry point; deliberately imports nothing at module level.

A parser worker (``bot.parse.ParsePool``, started by multiprocessing's forkserver or spawn)
re-runs the parent's main script before it takes its first task, so that functions defined
there could be unpickled. For `watchbot` that script is the console script pip generated, which
does ``from bot.entry import main``: whatever this module imports at module level, every worker
of every cron run imports again. Pointing the script at ``bot.cli`` made each worker import the
whole CLI (issue 15); from here a worker pays for an empty module.
"""


def main() -> None:
    """Run the command line (``bot.cli``); a `run --once` that closed everything exits at once."""
    from bot import cli

    cli.owns_process = True
    try:
        cli.main()
    except SystemExit as exc:
        if not _may_exit_now(cli) or not (exc.code is None or isinstance(exc.code, int)):
            raise
        _exit_now(exc.code or 0)
    if _may_exit_now(cli):
        _exit_now(0)


def _may_exit_now(cli) -> bool:
    # A profiler or tracer (python -m cProfile, coverage) writes its results at the normal
    # exit: leave that exit to it.
    import sys

    return cli.closed_everything and sys.getprofile() is None and sys.gettrace() is None


def _exit_now(code: int) -> None:
    """Flush what was written and end the process without the interpreter's teardown.

    A cron run spent 0.1 s (a tenth of a warm 1,000-feed run) after its summary line tearing
    down modules and freeing objects one by one (issue 15); the operating system frees the
    process's memory at once. Only for a run whose resources are all closed (its database
    commits, its lock released, its workers joined): nothing is lost by skipping the rest.
    """
    import logging
    import os
    import sys

    logging.shutdown()  # flushes and closes every handler (log files, stderr)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken pipe: nothing more can be said
            pass
    os._exit(code)
