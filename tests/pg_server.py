"""A throw-away PostgreSQL server for tests and benchmarks, started and stopped by the caller.

Why a server of our own: the PostgreSQL store's tests need a real server (real locks, real
conflict handling), and ``make test`` on a clean clone must need nothing pre-started. The
installed server binaries (``initdb``, ``pg_ctl``, Debian's PostgreSQL 15) are run into a
temporary folder: the cluster listens only on a unix socket in that folder (no port to collide
with another test run on the same machine), with ``fsync=off`` (a test cluster that dies is
thrown away anyway) and trust authentication (nobody but this machine's users can reach the
socket's folder).

``initdb`` refuses to run as root, so when the tests run as root the cluster belongs to the
``postgres`` system user (``runuser``); the folder is made theirs first.

    with PgServer.start() as server:       # a few seconds: initdb + start
        url = server.create_database()      # a fresh, empty database each call
        ...

``PgServer.unavailable()`` says why no server can be started here (no binaries, root without a
non-root user to run them as), or None.
"""

from __future__ import annotations

import atexit
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

# Where Debian/Ubuntu (and the PGDG packages) put the server binaries when they are not on PATH.
_BIN_GLOBS = ("/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/usr/local/pgsql/bin")
_RUN_AS = "postgres"  # the system user Debian's package creates
_PORT = 5432  # only names the socket file (.s.PGSQL.5432) inside our own folder


def _bin_dir() -> Path | None:
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    candidates = sorted((p for g in _BIN_GLOBS for p in Path("/").glob(g.lstrip("/"))
                         if (p / "initdb").exists() and (p / "pg_ctl").exists()), reverse=True)
    return candidates[0] if candidates else None


class PgServer:
    """One running throw-away cluster; ``stop()`` (or leaving the ``with``) removes it."""

    def __init__(self, folder: Path, bin_dir: Path, user: str | None):
        self.folder = folder
        self.bin_dir = bin_dir
        self.user = user  # None: run the binaries as ourselves
        self.data = folder / "data"
        self.log = folder / "server.log"
        self._names = itertools.count(1)
        self._running = False

    # ------------------------------------------------------------------ availability

    @staticmethod
    def unavailable() -> str | None:
        """Why this machine cannot start a test server, or None if it can."""
        try:
            import psycopg  # noqa: F401
        except ImportError:
            return "psycopg is not installed (pip install -e '.[test]')"
        if _bin_dir() is None:
            return ("PostgreSQL's server binaries (initdb, pg_ctl) are not installed; "
                    "e.g. apt-get install postgresql")
        if os.geteuid() == 0:
            try:
                pwd.getpwnam(_RUN_AS)
            except KeyError:
                return (f"running as root, and initdb refuses root; no '{_RUN_AS}' user to run "
                        "the test server as")
            if shutil.which("runuser") is None:
                return "running as root and no runuser to start the test server as another user"
        return None

    # ------------------------------------------------------------------ life cycle

    @classmethod
    def start(cls, *, durable: bool = False, options: str = "") -> "PgServer":
        """initdb into a new temporary folder and start the server (raises with its log if not).

        ``durable``: keep fsync on, as a production server has it (benchmarks of commit cost);
        tests leave it off. ``options``: more ``-c name=value`` settings for the server (e.g.
        bench-scale's ``shared_preload_libraries=pg_stat_statements``)."""
        reason = cls.unavailable()
        if reason:
            raise RuntimeError(reason)
        bin_dir = _bin_dir()
        assert bin_dir is not None
        user = _RUN_AS if os.geteuid() == 0 else None
        # Short path: a unix socket's path is limited to about 100 bytes.
        folder = Path(tempfile.mkdtemp(prefix="wbpg-", dir="/tmp"))
        if user:
            entry = pwd.getpwnam(user)
            os.chown(folder, entry.pw_uid, entry.pw_gid)
        server = cls(folder, bin_dir, user)
        try:
            server._run("initdb", "-D", str(server.data), "-A", "trust", "-U", "postgres",
                        "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
            flags = (f"-k {folder} -p {_PORT} -c listen_addresses='' {'' if durable else '-F '}"
                     f"-c max_connections=200 -c shared_buffers=32MB {options}")
            server._run("pg_ctl", "-D", str(server.data), "-l", str(server.log), "-w", "-t", "60",
                        "-o", flags, "start")
        except BaseException:
            server._remove()
            raise
        server._running = True
        atexit.register(server.stop)  # a test session killed by an error still stops its server
        return server

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin_dir / tool), *args]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=self.folder, timeout=120)
        if done.returncode:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip()[-2000:]}\n{log}")

    def stop(self) -> None:
        """Stop the server at once (nothing in it is worth a checkpoint) and delete its folder."""
        if self._running:
            self._running = False
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        self._remove()

    def _remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> "PgServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ databases

    def url(self, database: str = "postgres") -> str:
        """A libpq URL of ``database`` on this server (over its unix socket)."""
        return f"postgresql://postgres@/{database}?host={self.folder}&port={_PORT}"

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; returns its URL. Databases die with the server."""
        import psycopg

        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


__all__ = ["PgServer"]
