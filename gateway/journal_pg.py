"""The journal in PostgreSQL: one INSERT per batch, so one commit (one fsync) per loop turn."""

from __future__ import annotations

import json
from collections.abc import Sequence

import asyncpg

from oms.events import OrderEvent, event_from_row
from oms.journal import ControlEvent, JournalEntry

CONTROL_STREAM = "control"

_INSERT = """
INSERT INTO journal (ts, stream, kind, payload)
SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::jsonb[])
"""


class PostgresJournal:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        # The OMS has one writer, so it keeps one connection: a pool release
        # would cost a reset round trip per batch.
        self._writer: asyncpg.Connection | None = None

    async def close(self) -> None:
        if self._writer is not None:
            await self.pool.release(self._writer)
            self._writer = None

    async def append(self, entries: Sequence[JournalEntry]) -> None:
        ts, streams, kinds, payloads = [], [], [], []
        for e in entries:
            ts.append(e.ts)
            if isinstance(e, ControlEvent):
                streams.append(CONTROL_STREAM)
                kinds.append(e.kind)
                payloads.append(json.dumps(e.payload))
            else:
                streams.append(e.order_id)
                kinds.append(e.kind)
                payloads.append(json.dumps(e.to_payload()))
        if self._writer is None:
            self._writer = await self.pool.acquire()
        await self._writer.execute(_INSERT, ts, streams, kinds, payloads)

    async def load(self) -> list[JournalEntry]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch("SELECT ts, stream, kind, payload FROM journal ORDER BY seq")
        out: list[JournalEntry] = []
        for r in rows:
            payload = json.loads(r["payload"])
            if r["stream"] == CONTROL_STREAM:
                out.append(ControlEvent(r["kind"], payload, r["ts"]))
            else:
                entry: OrderEvent = event_from_row(r["kind"], r["stream"], r["ts"], payload)
                out.append(entry)
        return out
