"""`fixgate bench --flat-day N`: does an order cost the same late in the day?

Ack latency at a steady rate is measured on a fresh journal, then N more orders
go through the same server as fast as it takes them (IOC orders, so each is
done once acked, with self-match prevention on, which reads working orders),
and the same steady measurement is taken again. The server's garbage-collection
pauses over the run come from its `GET /runtime`.

PostgreSQL checkpoints before each measured phase: a timed checkpoint (every 5
minutes by default) that falls into one phase and not the other adds its I/O
stall (up to ~100 ms at p99 here) to that phase alone, and would be read as the
gateway slowing down over the day. How many checkpoints ran is reported.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from gateway.bench import Workload, bench_config, run_load
from gateway.launcher import ServerProcess


def _get(api: str, path: str) -> Any:
    token = httpx.post(f"{api}/auth/token", data={"username": "bench", "password": "bench"}
                       ).json()["access_token"]
    return httpx.get(f"{api}{path}", headers={"Authorization": f"Bearer {token}"},
                     timeout=30).json()


async def _checkpoint(data_dir: Path) -> dict[str, Any]:
    """CHECKPOINT the server's embedded PostgreSQL; returns its checkpoint counters."""
    import pgserver  # the embedded server the bench's ServerProcess runs on

    uri = pgserver.get_server(data_dir / "pgdata", cleanup_mode=None).get_uri()
    conn = await asyncpg.connect(uri)
    try:
        stats = dict(await conn.fetchrow(
            "SELECT checkpoints_timed, checkpoints_req FROM pg_stat_bgwriter"))
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()
    return stats


def _sessions_free(api: str, timeout: float = 120.0) -> None:
    """Wait until every session has logged out: after a day's burst the gateway may still
    be writing the last reports of a session whose client has already said goodbye."""
    deadline = time.monotonic() + timeout
    while any(s["logged_on"] for s in _get(api, "/sessions")):
        if time.monotonic() > deadline:
            raise RuntimeError("sessions still logged on after the day's load")
        time.sleep(0.2)


def run_flat_day(day_orders: int, *, rate: float = 500, orders: int = 5000,
                 sessions: int = 4) -> dict[str, Any]:
    config = bench_config(sessions, "BENCH") + '\n[compliance]\nself_match = "cancel-newest"\n'
    work = Workload(tif="3")
    steady: dict[str, Any] = dict(sessions=sessions, rate=rate, work=work)
    with tempfile.TemporaryDirectory(prefix="fixgate-day-") as tmp:
        server = ServerProcess(Path(tmp) / "data", config)
        server.start()
        try:
            port = server.fix_port
            asyncio.run(run_load("127.0.0.1", port, orders=400, **steady))  # warm-up
            asyncio.run(_checkpoint(server.data_dir))
            fresh = asyncio.run(run_load("127.0.0.1", port, orders=orders, **steady)).summary()
            day = asyncio.run(run_load("127.0.0.1", port, orders=day_orders, sessions=sessions,
                                       window=50, work=work)).summary()
            _sessions_free(server.api)
            checkpoints = asyncio.run(_checkpoint(server.data_dir))
            after = asyncio.run(run_load("127.0.0.1", port, orders=orders, **steady)).summary()
            runtime = _get(server.api, "/runtime")
        finally:
            server.stop()
    gc = runtime["gc"]
    return {"rate": rate, "day_orders": day_orders, "fresh": fresh, "day": day,
            "after": after, "p99_ratio": round(after["p99_ms"] / fresh["p99_ms"], 2),
            "orders_in_memory": runtime["orders"], "pg_checkpoints_during_day": checkpoints,
            "gc_max_full_ms": gc["collections"]["2"]["max_pause_ms"], "gc": gc}
