"""The throw-away PostgreSQL server the test suite starts for itself (tests/pg_server.py)."""

from __future__ import annotations


def test_server_gives_each_test_its_own_empty_database(pg_server, pg_url):
    """A database from pg_url is new and empty, and a second one is a different database."""
    import psycopg  # here, not at the top: without it the fixture says why the test is skipped

    with psycopg.connect(pg_url) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname='public'").fetchone()[0]
        conn.execute("CREATE TABLE marker (x int)")
        conn.commit()
    other = pg_server.create_database()
    assert other != pg_url
    with psycopg.connect(other) as conn:
        assert tables == 0
        assert conn.execute("SELECT to_regclass('marker')").fetchone()[0] is None
        assert conn.execute("SHOW server_version_num").fetchone()[0] >= "150000"
