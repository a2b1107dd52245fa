"""`fixgate bench --upstream N`: ack and fill latency through an upstream FIX venue.

Three processes: the load generator (one FIX client session), fixgate, and
`fixgate venue-sim` as the upstream venue that fixgate logs on to as an
initiator. N marketable IOC orders of 100 AAPL go one at a time (buy, then sell
what was bought, so the account stays flat and no order is refused as a short
sale), each timed from the send of its NewOrderSingle to

- its ack (ExecutionReport New): the gateway's own answer, after its journal
  commit and before the venue sees the order, so the hop adds nothing here;
- its first Trade report: client -> fixgate -> venue-sim -> fixgate -> client,
  with two journal commits (the ack's and the fill's) on the way.

The same orders then go to a gateway whose venue is the built-in simulated
exchange (in process), so the cost of the FIX hop reads off the difference.
One order at a time: this is the unloaded latency, not throughput.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from gateway.bench import bench_config
from gateway.fix_client import open_session
from gateway.launcher import ServerProcess, VenueSimProcess

_SIM_VENUE = '[[venues]]\nname = "SIM"\nkind = "sim"\nseed = 7\n'


def upstream_venue(port: int) -> str:
    return ('[[venues]]\nname = "UPX"\nkind = "fix"\nhost = "127.0.0.1"\n'
            f'port = {port}\nsender_comp_id = "FIXGATE"\ntarget_comp_id = "VSIM"\n'
            '[venues.settings]\nReconnectInterval = 1\n')


def _pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(np.asarray(values), q)), 3) if values else 0.0


async def _ping_pong(port: int, n: int, warmup: int = 50) -> dict[str, Any]:
    client = await open_session("127.0.0.1", port, "BENCH1", "FIXGATE")
    acks: list[float] = []
    fills: list[float] = []
    position = 0
    unfilled = rejected = 0
    tag = f"U{time.time_ns()}"
    for k in range(warmup + n):
        buy = position < 100
        cl = f"{tag}-{k}"
        t0 = time.perf_counter()
        client.new_order(cl, "AAPL", "1" if buy else "2", 100, "2",
                         "185.00" if buy else "160.00", tif="3")
        acked = filled = None
        while True:
            msg = await client.next_message(timeout=30)
            if msg.msg_type != "8" or msg.get(11) != cl:
                continue
            now = time.perf_counter()
            exec_type, status = msg.get(150), msg.get(39)
            if exec_type == "0" and acked is None:
                acked = now - t0
            elif exec_type == "F":
                if filled is None:
                    filled = now - t0
                qty = int(float(msg.get(32) or 0))
                position += qty if buy else -qty
            if exec_type == "8":
                rejected += 1
            if status in ("2", "4", "8"):
                break
        if k < warmup:
            continue
        if acked is not None:
            acks.append(acked * 1000)
        if filled is not None:
            fills.append(filled * 1000)
        else:
            unfilled += 1
    await client.logout()
    return {"orders": n, "filled": len(fills), "unfilled": unfilled, "rejected": rejected,
            "ack_p50_ms": _pct(acks, 50), "ack_p99_ms": _pct(acks, 99),
            "fill_p50_ms": _pct(fills, 50), "fill_p99_ms": _pct(fills, 99),
            "fill_max_ms": round(max(fills), 3) if fills else 0.0}


def _wait_up(server: ServerProcess, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while '"status": "up"' not in server.tail(10**9):
        if time.monotonic() > deadline:
            raise RuntimeError(f"upstream venue never came up:\n{server.tail()}")
        time.sleep(0.05)


def run_upstream(n: int) -> dict[str, Any]:
    base = bench_config(1, "BENCH")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="fixgate-upstream-") as tmp:
        venue = VenueSimProcess(Path(tmp) / "venue", comp_id="VSIM")
        venue.start()
        try:
            server = ServerProcess(Path(tmp) / "gw", base.replace(
                _SIM_VENUE, upstream_venue(venue.port)))
            server.start()
            try:
                _wait_up(server)
                results["upstream"] = asyncio.run(_ping_pong(server.fix_port, n))
            finally:
                server.stop()
        finally:
            venue.stop()
        server = ServerProcess(Path(tmp) / "local", base)
        server.start()
        try:
            results["in_process"] = asyncio.run(_ping_pong(server.fix_port, n))
        finally:
            server.stop()
    return results
