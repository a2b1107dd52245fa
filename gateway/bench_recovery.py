"""`fixgate bench --replay N`: restart on a journal of N events, and `--flat-day N`: ack
latency on a fresh journal and again after N orders of the same day.

Recovery: the journal is filled with a realistic mix (orders submitted, accepted,
filled once or twice, canceled, left working; limit and locate changes among them)
written straight into PostgreSQL, then a real server is started on it and timed
until it has replayed the journal and until it acknowledges a new order over FIX.
"""

from __future__ import annotations

import asyncio
import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from gateway.database import EmbeddedPostgres, migrate
from gateway.fix_client import open_session
from gateway.launcher import ServerProcess
from oms.enums import OrdType, Side, TimeInForce
from oms.events import (
    OrderAccepted,
    OrderCanceled,
    OrderEvent,
    OrderFilled,
    OrderPendingCancel,
    OrderSubmitted,
)
from oms.journal import ControlEvent
from oms.universe import default_universe


def synthetic_journal(n: int, seed: int = 1) -> list[tuple[int, datetime, str, str, str]]:
    """About n journal rows: (seq, ts, stream, kind, payload json)."""
    rng = random.Random(seed)
    symbols = [i for i in default_universe()][:20]
    rows: list[tuple[int, datetime, str, str, str]] = []
    ts = datetime(2026, 11, 2, 14, 30, tzinfo=UTC)
    order_no = 0

    def add(entry: OrderEvent | ControlEvent) -> None:
        if isinstance(entry, ControlEvent):
            rows.append((len(rows) + 1, ts, "control", entry.kind, json.dumps(entry.payload)))
        else:
            rows.append((len(rows) + 1, ts, entry.order_id, entry.kind,
                         json.dumps(entry.to_payload())))

    while len(rows) < n:
        ts += timedelta(milliseconds=5)
        if len(rows) % 500 == 0:
            add(ControlEvent("limits", {"account": f"ACC{rng.randint(1, 20)}", "by": "bench",
                                        "changes": {"max_order_qty": ["100000", "200000"]}}, ts))
            add(ControlEvent("locate", {"account": "ACC1", "symbol": "AAPL", "qty": "1000",
                                        "by": "bench"}, ts))
        order_no += 1
        oid = f"FG{order_no:08d}"
        inst = rng.choice(symbols)
        buy = rng.random() < 0.5
        px = (inst.reference_price * Decimal("0.98" if buy else "1.02")).quantize(Decimal("0.01"))
        qty = Decimal(rng.choice((100, 200, 500)))
        add(OrderSubmitted(order_id=oid, ts=ts, cl_ord_id=f"C{order_no}",
                           account=f"ACC{rng.randint(1, 20)}", symbol=inst.symbol,
                           side=Side.BUY if buy else Side.SELL_SHORT, ord_type=OrdType.LIMIT,
                           # GTC: the journal's day is long closed by the time the bench
                           # restarts on it, and Day orders would rightly expire at start.
                           time_in_force=TimeInForce.GTC, qty=qty, price=px,
                           session=f"FIX.4.4:FIXGATE->BENCH{rng.randint(1, 4)}", venue="SIM"))
        add(OrderAccepted(order_id=oid, ts=ts))
        fate = rng.random()
        if fate < 0.6:
            half = qty / 2
            add(OrderFilled(order_id=oid, ts=ts, exec_id=f"{oid}.3", last_qty=half, last_px=px,
                            venue_trade_id=f"T{order_no}a"))
            add(OrderFilled(order_id=oid, ts=ts, exec_id=f"{oid}.4", last_qty=half, last_px=px,
                            venue_trade_id=f"T{order_no}b"))
        elif fate < 0.97:
            add(OrderPendingCancel(order_id=oid, ts=ts, cl_ord_id=f"X{order_no}"))
            add(OrderCanceled(order_id=oid, ts=ts, reason="canceled on request"))
        # else: still working at the restart (put back on the venue)
    return rows


async def _fill(data_dir: Path, rows: list[tuple[int, datetime, str, str, str]]) -> None:
    pg = EmbeddedPostgres(data_dir)
    url = await asyncio.to_thread(pg.start)
    try:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=1)
        await migrate(pool)
        async with pool.acquire() as conn:
            await conn.execute("TRUNCATE journal")
            await conn.copy_records_to_table(
                "journal", records=rows, columns=["seq", "ts", "stream", "kind", "payload"])
            await conn.execute("UPDATE outbox SET handed_seq = $1", len(rows))
        await pool.close()
    finally:
        await asyncio.to_thread(pg.stop)


CONFIG = """
[server]
log_format = "json"
[fix]
sender_comp_id = "FIXGATE"
[[fix.clients]]
comp_id = "BENCH1"
account = "ACC1"
[api]
jwt_secret = "bench-secret-bench-secret-bench-secret"
[[venues]]
name = "SIM"
kind = "sim"
tick_interval = 3600.0
"""


async def _first_ack(port: int) -> float:
    started = time.perf_counter()
    client = await open_session("127.0.0.1", port, "BENCH1", "FIXGATE")
    try:
        client.new_order("R1", "AAPL", "1", "100", price="150.00")
        while (await client.next_message(timeout=30, msg_type="8")).get(11) != "R1":
            pass
    finally:
        await client.logout()
    return time.perf_counter() - started


def run_recovery(events: int) -> dict[str, Any]:
    rows = synthetic_journal(events)
    with tempfile.TemporaryDirectory(prefix="fixgate-recovery-") as tmp:
        data = Path(tmp) / "data"
        server = ServerProcess(data, CONFIG)
        server.start()
        server.stop()
        asyncio.run(_fill(data, rows))
        began = time.perf_counter()
        server = ServerProcess(data, CONFIG)
        try:
            server.start(timeout=300)
            up_s = time.perf_counter() - began
            ack_s = asyncio.run(_first_ack(server.fix_port))
            replay = [json.loads(x) for x in server.tail(1_000_000).splitlines()
                      if '"journal replayed"' in x]
        finally:
            server.stop()
    line = replay[-1] if replay else {}
    return {"events": len(rows), "replay_s": line.get("seconds"),
            "open_orders": line.get("open_orders"), "start_to_api_s": round(up_s, 2),
            "first_ack_s": round(ack_s, 3)}
