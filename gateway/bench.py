"""`fixgate bench`: drive FIX sessions with NewOrderSingle and measure acks.

Measures orders/s and ack latency (send of D -> receipt of its ExecutionReport
New or Rejected, matched by ClOrdID) at p50/p99/p99.9/max. With no --port it
starts a real server (embedded PostgreSQL, durable journal) in a temporary
directory; --baseline runs the same load against a bare quickfix acceptor in
the same run and prints the ratio. The load generator runs in this process,
the servers in their own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gateway.fix_client import FixClient
from gateway.launcher import ServerProcess, free_port


@dataclass
class LoadResult:
    sent: int = 0
    acked: int = 0
    rejected: int = 0
    elapsed_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        lat = np.asarray(self.latencies_ms) if self.latencies_ms else np.zeros(1)
        return {
            "orders": self.sent,
            "acked": self.acked,
            "rejected": self.rejected,
            "orders_per_s": round(self.acked / self.elapsed_s, 1) if self.elapsed_s else 0.0,
            "p50_ms": round(float(np.percentile(lat, 50)), 3),
            "p99_ms": round(float(np.percentile(lat, 99)), 3),
            "p999_ms": round(float(np.percentile(lat, 99.9)), 3),
            "max_ms": round(float(lat.max()), 3),
        }


async def _session(
    host: str,
    port: int,
    sender: str,
    target: str,
    n: int,
    rate: float,
    window: int,
    symbol: str,
    price: str,
    tag: str,
    result: LoadResult,
    start: asyncio.Event,
    password: str | None,
) -> tuple[float, float]:
    client = FixClient(sender, target)
    await client.connect(host, port)
    await client.logon(password=password, reset_seq=True)
    sent_at: dict[str, float] = {}
    slots = asyncio.Semaphore(window)
    first_send = last_ack = 0.0

    async def receive() -> None:
        nonlocal last_ack
        done = 0
        while done < n:
            msg = await client.next_message(timeout=30)
            if msg.msg_type != "8" or msg.get(150) not in ("0", "8"):
                continue
            t0 = sent_at.pop(msg.get(11) or "", None)
            if t0 is None:
                continue
            last_ack = time.perf_counter()
            result.latencies_ms.append((last_ack - t0) * 1000)
            result.acked += 1
            result.rejected += msg.get(150) == "8"
            done += 1
            if rate <= 0:
                slots.release()

    reader = asyncio.create_task(receive())
    await start.wait()
    first_send = time.perf_counter()
    interval = 1.0 / rate if rate > 0 else 0.0
    for k in range(n):
        if rate > 0:
            delay = first_send + k * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        else:
            await slots.acquire()
        cl = f"{tag}-{sender}-{k}"
        sent_at[cl] = time.perf_counter()
        client.new_order(cl, symbol, "1", 100, "2", price)
        result.sent += 1
    await reader
    await client.logout()
    return first_send, last_ack


async def run_load(
    host: str,
    port: int,
    *,
    sessions: int = 4,
    orders: int = 5000,
    rate: float = 0.0,
    window: int = 50,
    sender_prefix: str = "BENCH",
    target: str = "FIXGATE",
    symbol: str = "AAPL",
    price: str = "165.00",
    password: str | None = None,
) -> LoadResult:
    """Send `orders` in total over `sessions`; `rate` orders/s in total, or 0 for a window."""
    result = LoadResult()
    start = asyncio.Event()
    tag = f"R{time.time_ns()}"
    per_session = orders // sessions
    tasks = [
        asyncio.create_task(
            _session(
                host,
                port,
                f"{sender_prefix}{i + 1}",
                target,
                per_session,
                rate / sessions,
                window,
                symbol,
                price,
                tag,
                result,
                start,
                password,
            )
        )
        for i in range(sessions)
    ]
    await asyncio.sleep(0.5)  # every session logged on before the clock starts
    start.set()
    spans = await asyncio.gather(*tasks)
    result.elapsed_s = max(s[1] for s in spans) - min(s[0] for s in spans)
    return result


BENCH_CONFIG = """
[server]
log_format = "json"
[fix]
host = "127.0.0.1"
sender_comp_id = "FIXGATE"
{clients}
[api]
host = "127.0.0.1"
jwt_secret = "bench-secret-bench-secret-bench-secret"
[[venues]]
name = "SIM"
kind = "sim"
seed = 7
"""


def bench_config(sessions: int, prefix: str) -> str:
    clients = "\n".join(
        f'[[fix.clients]]\ncomp_id = "{prefix}{i + 1}"\naccount = "ACC{i + 1}"'
        for i in range(sessions)
    )
    return BENCH_CONFIG.replace("{clients}", clients)


class _Baseline:
    def __init__(self, sessions: int, prefix: str) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gateway.baseline",
                "--port",
                str(self.port),
                "--sessions",
                str(sessions),
                "--sender-prefix",
                prefix,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if b"ready" not in line:
            raise RuntimeError(f"baseline acceptor failed to start: {line!r}")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


async def _measure(host: str, port: int, args: argparse.Namespace) -> dict[str, float]:
    load = dict(
        sessions=args.sessions,
        rate=args.rate,
        window=args.window,
        sender_prefix=args.sender_prefix,
        target=args.target,
        symbol=args.symbol,
        price=args.price,
    )
    await run_load(host, port, orders=min(args.orders, 400), **load)  # warm-up
    return (await run_load(host, port, orders=args.orders, **load)).summary()


def _print(label: str, s: dict[str, float]) -> None:
    print(
        f"{label:<10} {s['orders_per_s']:>10,.0f} orders/s   ack p50 {s['p50_ms']:.2f} ms  "
        f"p99 {s['p99_ms']:.2f} ms  p99.9 {s['p999_ms']:.2f} ms  max {s['max_ms']:.2f} ms  "
        f"({s['acked']} acks, {s['rejected']} rejected)"
    )


def bench_main(args: argparse.Namespace) -> int:
    results: dict[str, Any] = {
        "sessions": args.sessions,
        "orders": args.orders,
        "rate": args.rate,
        "window": args.window,
    }
    if args.port:
        results["fixgate"] = asyncio.run(_measure(args.host, args.port, args))
    else:
        with tempfile.TemporaryDirectory(prefix="fixgate-bench-") as tmp:
            server = ServerProcess(
                Path(tmp) / "data", bench_config(args.sessions, args.sender_prefix)
            )
            server.start()
            try:
                results["fixgate"] = asyncio.run(_measure("127.0.0.1", server.fix_port, args))
            finally:
                server.stop()
    if args.baseline:
        baseline = _Baseline(args.sessions, args.sender_prefix)
        try:
            results["baseline"] = asyncio.run(_measure("127.0.0.1", baseline.port, args))
        finally:
            baseline.stop()
        base = results["baseline"]["orders_per_s"]
        results["ratio"] = round(results["fixgate"]["orders_per_s"] / base, 3) if base else 0.0
    if args.json:
        print(json.dumps(results))
        return 0
    mode = f"{args.rate:,.0f} orders/s" if args.rate else f"window {args.window}/session"
    print(f"{args.orders} orders over {args.sessions} sessions, {mode}")
    _print("fixgate", results["fixgate"])
    if args.baseline:
        _print("baseline", results["baseline"])
        print(f"fixgate / baseline throughput: {results['ratio']:.2f}")
    return 0


def add_bench_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("bench", help="measure orders/s and ack latency")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, help="a running server (default: start one)")
    p.add_argument("--sessions", type=int, default=4)
    p.add_argument("--orders", type=int, default=5000, help="orders in total")
    p.add_argument(
        "--rate", type=float, default=0.0, help="orders/s in total; 0 = as fast as acks come back"
    )
    p.add_argument("--window", type=int, default=50, help="un-acked orders per session")
    p.add_argument("--sender-prefix", default="BENCH")
    p.add_argument("--target", default="FIXGATE")
    p.add_argument("--symbol", default="AAPL")
    p.add_argument("--price", default="165.00", help="a resting buy price inside the collar")
    p.add_argument(
        "--baseline",
        action="store_true",
        help="also run against a bare quickfix acceptor and print the ratio",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=bench_main)
