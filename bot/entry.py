"""The `watchbot` console script's entry point; deliberately imports nothing at module level.

A parser worker (``bot.parse.ParsePool``, started by multiprocessing's forkserver or spawn)
re-runs the parent's main script before it takes its first task, so that functions defined
there could be unpickled. For `watchbot` that script is the console script pip generated, which
does ``from bot.entry import main``: whatever this module imports at module level, every worker
of every cron run imports again. Pointing the script at ``bot.cli`` made each worker import the
whole CLI (issue 15); from here a worker pays for an empty module.
"""


def main() -> None:
    """Run the command line (``bot.cli``)."""
    from bot.cli import main as cli_main

    cli_main()
