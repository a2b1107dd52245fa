"""The journal in PostgreSQL: one INSERT per batch (one commit, one fsync), numbered by
the OMS, with the outbox cursor written by the same statement."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
import orjson
import structlog

from oms.events import event_from_row
from oms.journal import ControlEvent, JournalEntry, JournalReadError, Numbered
from oms.text import printable

log = structlog.get_logger("journal")
CONTROL_STREAM = "control"

_INSERT = """
INSERT INTO journal (seq, ts, stream, kind, payload)
SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::jsonb[])
"""
# The outbox cursor rides on an INSERT (no extra round trip), a few times a second: a
# cursor that lags only means a few more reports checked against the FIX store at start.
_INSERT_AND_CURSOR = """
WITH cursor AS (
    UPDATE outbox SET handed_seq = GREATEST(handed_seq, $6) WHERE id = 1 AND $6 > handed_seq
)
""" + _INSERT
_CURSOR = "UPDATE outbox SET handed_seq = $1 WHERE id = 1 AND $1 > handed_seq"
CURSOR_EVERY_S = 0.2
LOAD_CHUNK = 50_000


class PostgresJournal:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        # The OMS has one writer, so it keeps one connection: a pool release
        # would cost a reset round trip per batch.
        self._writer: asyncpg.Connection | None = None
        self._cursor = (0, 0)  # (handed_through last passed, last written)
        self._cursor_at = 0.0

    async def close(self) -> None:
        if self._writer is not None:
            handed, written = self._cursor
            if handed > written:
                await self._writer.execute(_CURSOR, handed)
            await self.pool.release(self._writer)
            self._writer = None

    def _cursor_due(self, handed: int) -> bool:
        written = self._cursor[1]
        self._cursor = (handed, written)
        now = time.monotonic()
        if handed <= written or now - self._cursor_at < CURSOR_EVERY_S:
            return False
        self._cursor, self._cursor_at = (handed, handed), now
        return True

    async def append(self, batch: Sequence[Numbered], *, handed_through: int = 0) -> None:
        if self._writer is None:
            self._writer = await self.pool.acquire()
        cursor = self._cursor_due(handed_through)
        if not batch:
            if cursor:
                await self._writer.execute(_CURSOR, handed_through)
            return
        seqs, ts, streams, kinds, payloads = [], [], [], [], []
        for seq, e in batch:
            seqs.append(seq)
            ts.append(e.ts)
            kinds.append(e.kind)
            if isinstance(e, ControlEvent):
                streams.append(CONTROL_STREAM)
                payloads.append(_dumps(e.payload))
            else:
                streams.append(e.order_id)
                payloads.append(_dumps(e.to_payload()))
        sql, args = (_INSERT_AND_CURSOR, (handed_through,)) if cursor else (_INSERT, ())
        try:
            await self._writer.execute(sql, seqs, ts, streams, kinds, payloads, *args)
        except asyncpg.DataError as exc:
            # Text the boundaries should have refused (a NUL): store it made safe rather
            # than let one event take the journal down for everyone.
            log.critical("journal refused a batch's text; storing it sanitised",
                         error=repr(exc), first_seq=seqs[0])
            clean = [_dumps(_sanitise(orjson.loads(p))) for p in payloads]
            await self._writer.execute(sql, seqs, ts, [printable(s) for s in streams],
                                       kinds, clean, *args)

    async def handed_through(self) -> int:
        async with self.pool.acquire() as conn:
            value = await conn.fetchval("SELECT handed_seq FROM outbox WHERE id = 1")
        return int(value or 0)

    async def load(self) -> AsyncIterator[list[Numbered]]:
        async with self.pool.acquire() as conn, conn.transaction():
            # In chunks through a cursor, each decoded in a plain loop (an `async for` per
            # row would cost an await for each of a million rows), the next chunk asked
            # for before this one is decoded and applied, so PostgreSQL reads it on its
            # own core meanwhile.
            cursor = await conn.cursor("SELECT seq, ts, stream, kind, payload FROM journal "
                                       "ORDER BY seq")
            ahead = asyncio.ensure_future(cursor.fetch(LOAD_CHUNK))
            try:
                while rows := await ahead:
                    ahead = asyncio.ensure_future(cursor.fetch(LOAD_CHUNK))
                    await asyncio.sleep(0)  # let the request go out
                    yield _decode(rows)
            finally:
                # Replay stopped early (an unreadable row): let the read in flight end
                # before the transaction does.
                with contextlib.suppress(Exception):
                    await ahead


def _decode(rows: list[asyncpg.Record]) -> list[Numbered]:
    out: list[Numbered] = []
    for seq, ts, stream, kind, raw in rows:
        try:
            payload = orjson.loads(raw)
            entry: JournalEntry = (
                ControlEvent(kind, payload, ts) if stream == CONTROL_STREAM
                else event_from_row(kind, stream, ts, payload))
        except Exception as exc:
            raise JournalReadError(
                f"journal row {seq} ({kind} of {stream}, {ts.isoformat()}) cannot be "
                f"read: {exc!r}; payload {raw}") from exc
        out.append((seq, entry))
    return out


def _dumps(payload: dict[str, Any]) -> str:
    try:
        return orjson.dumps(payload).decode()
    except orjson.JSONEncodeError:  # a lone surrogate: stored made safe, never lost
        return orjson.dumps(_sanitise(payload)).decode()


def _sanitise(value: Any) -> Any:
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, list):
        return [_sanitise(v) for v in value]
    if isinstance(value, dict):
        return {printable(k): _sanitise(v) for k, v in value.items()}
    return value
