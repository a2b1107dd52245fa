"""PostgreSQL: the embedded server (pgserver) or a configured URL, plus migrations."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any

import asyncpg
import structlog

log = structlog.get_logger("database")


class EmbeddedPostgres:
    """A PostgreSQL server in `<data_dir>/pgdata`, started on demand by pgserver.

    The server outlives a crashed (kill -9) fixgate process and is reused by the
    next start; a clean shutdown stops it.
    """

    def __init__(self, data_dir: Path) -> None:
        self.pgdata = (data_dir / "pgdata").resolve()
        self._server: Any = None

    def start(self) -> str:
        import pgserver  # imported late: only the embedded mode needs it

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._server = pgserver.get_server(self.pgdata, cleanup_mode="stop")
        return str(self._server.get_uri())

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every numbered file in gateway/migrations, in order."""
    found = []
    for entry in resources.files("gateway.migrations").iterdir():
        m = re.fullmatch(r"(\d+)_(\w+)\.sql", entry.name)
        if m:
            found.append((int(m.group(1)), m.group(2), entry.read_text()))
    return sorted(found)


async def migrate(pool: asyncpg.Pool) -> list[int]:
    """Apply the migrations this database has not seen; returns the versions applied."""
    applied = []
    async with pool.acquire() as conn, conn.transaction():
        # One migrator at a time, even with two servers on one database.
        await conn.execute("SELECT pg_advisory_xact_lock(4242001)")
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INT PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for version, name, sql in migrations():
            if version in done:
                continue
            await conn.execute(sql)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name
            )
            applied.append(version)
            log.info("migration applied", version=version, name=name)
    return applied
