"""`fixgate bench`: drive FIX sessions with NewOrderSingle and measure acks.

Measures orders/s and ack latency (send of D -> receipt of its ExecutionReport
New or Rejected, matched by ClOrdID) at p50/p99/p99.9/max. With no --port it
starts a real server (embedded PostgreSQL, durable journal) in a temporary
directory. Modes:

- `--baseline`: the same load against a bare quickfix acceptor, and the ratio;
- `--compare-gates`: the same load with every pre-trade gate and without
  (`serve --no-gates`), over `--accounts`, `--symbols` and a `--restricted`
  list of that many entries, and the throughput cost of the gates;
- `--kill-switch N`: N working orders, then `POST /kill-switch` for the firm,
  timed until the venue has acknowledged the last cancel;
- `--matching N`: the simulated exchange's matching engine alone, in this
  process, no server (`bench_matching.py`).
- `--upstream N`: ack and fill latency through an upstream FIX venue
  (`gateway/bench_upstream.py`).
- `--var`: Monte Carlo and historical VaR on a 500-symbol book, no server
  (`gateway/bench_var.py`).

The load generator runs in this process, the servers in their own.
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
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from gateway.fix_client import open_session
from gateway.launcher import ServerProcess, free_port

SECTORS = ("Information Technology", "Financials", "Health Care", "Energy", "Industrials",
           "Consumer Staples", "Consumer Discretionary", "Utilities", "Materials",
           "Communication Services", "Real Estate")


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


@dataclass(frozen=True)
class Workload:
    """What each order is: order k buys 100 of book[k % len] for accounts[k % len]."""

    book: tuple[tuple[str, str], ...] = (("AAPL", "165.00"),)  # (symbol, resting price)
    accounts: tuple[str, ...] = ()  # empty: each session's configured account
    tif: str = "0"  # TimeInForce(59): "3" (IOC) makes every order done once acked

    def order(self, k: int) -> tuple[str, str, str | None]:
        symbol, price = self.book[k % len(self.book)]
        account = self.accounts[k % len(self.accounts)] if self.accounts else None
        return symbol, price, account


async def _session(host: str, port: int, sender: str, target: str, n: int, rate: float,
                   window: int, work: Workload, offset: int, tag: str, result: LoadResult,
                   start: asyncio.Event, password: str | None) -> tuple[float, float]:
    client = await open_session(host, port, sender, target, password=password)
    sent_at: dict[str, float] = {}
    slots = asyncio.Semaphore(window)
    last_ack = 0.0

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
        symbol, price, account = work.order(offset + k)
        sent_at[cl] = time.perf_counter()
        client.new_order(cl, symbol, "1", 100, "2", price, tif=work.tif, account=account)
        result.sent += 1
    await reader
    await client.logout()
    return first_send, last_ack


async def run_load(host: str, port: int, *, sessions: int = 4, orders: int = 5000,
                   rate: float = 0.0, window: int = 50, sender_prefix: str = "BENCH",
                   target: str = "FIXGATE", work: Workload = Workload(),
                   password: str | None = None) -> LoadResult:
    """Send `orders` in total over `sessions`; `rate` orders/s in total, or 0 for a window."""
    result = LoadResult()
    start = asyncio.Event()
    tag = f"R{time.time_ns()}"
    per_session = orders // sessions
    tasks = [asyncio.create_task(_session(
        host, port, f"{sender_prefix}{i + 1}", target, per_session, rate / sessions, window,
        work, i * per_session, tag, result, start, password)) for i in range(sessions)]
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
[[api.users]]
name = "bench"
password = "bench"
roles = ["admin"]
[[venues]]
name = "SIM"
kind = "sim"
seed = 7
{instruments}
"""


def synthetic_symbols(n: int) -> list[tuple[str, str, str]]:
    """(symbol, sector, reference price) for n made-up instruments."""
    return [(f"SYN{i:04d}", SECTORS[i % len(SECTORS)], f"{20 + (i * 7) % 300}.00")
            for i in range(n)]


def bench_config(sessions: int, prefix: str, extra_symbols: int = 0) -> str:
    clients = "\n".join(f'[[fix.clients]]\ncomp_id = "{prefix}{i + 1}"\naccount = "ACC{i + 1}"'
                        for i in range(sessions))
    instruments = "\n".join(
        f'[[instruments]]\nsymbol = "{s}"\nsector = "{sector}"\nreference_price = "{px}"'
        for s, sector, px in synthetic_symbols(extra_symbols))
    return BENCH_CONFIG.replace("{clients}", clients).replace("{instruments}", instruments)


def gated_workload(args: argparse.Namespace) -> Workload:
    """Orders spread over every symbol and account, resting 5% under the reference."""
    book = [(s, str((Decimal(px) * Decimal("0.95")).quantize(Decimal("0.01"))))
            for s, _sector, px in synthetic_symbols(max(args.symbols - 20, 0))]
    book.append((args.symbol, args.price))
    return Workload(tuple(book), tuple(f"ACC{i + 1}" for i in range(args.accounts)))


class _Baseline:
    def __init__(self, sessions: int, prefix: str) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gateway.baseline", "--port", str(self.port),
             "--sessions", str(sessions), "--sender-prefix", prefix],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if b"ready" not in line:
            raise RuntimeError(f"baseline acceptor failed to start: {line!r}")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def _token(api: str) -> dict[str, str]:
    r = httpx.post(f"{api}/auth/token", data={"username": "bench", "password": "bench"})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def load_restricted(api: str, n: int) -> None:
    """n firm-wide entries for symbols that are not traded: the cost is the lookup."""
    headers = _token(api)
    for start in range(0, n, 2000):
        chunk = [{"symbol": f"R{i:05d}", "account": None, "kind": "restricted"}
                 for i in range(start, min(n, start + 2000))]
        httpx.post(f"{api}/restricted-list", json=chunk, headers=headers,
                   timeout=120).raise_for_status()


async def _measure(host: str, port: int, args: argparse.Namespace,
                   work: Workload = Workload()) -> dict[str, float]:
    load = dict(sessions=args.sessions, rate=args.rate, window=args.window,
                sender_prefix=args.sender_prefix, target=args.target, work=work)
    await run_load(host, port, orders=min(args.orders, 400), **load)  # warm-up
    return (await run_load(host, port, orders=args.orders, **load)).summary()


def _server(tmp: str, name: str, args: argparse.Namespace, extra_symbols: int = 0,
            gates: bool = True) -> ServerProcess:
    server = ServerProcess(Path(tmp) / name,
                           bench_config(args.sessions, args.sender_prefix, extra_symbols),
                           () if gates else ("--no-gates",))
    server.start()
    return server


def _compare_gates(args: argparse.Namespace, results: dict[str, Any]) -> None:
    work = gated_workload(args)
    extra = max(args.symbols - 20, 0)
    with tempfile.TemporaryDirectory(prefix="fixgate-bench-") as tmp:
        for label, gates in (("gates", True), ("no_gates", False)):
            server = _server(tmp, label, args, extra, gates)
            try:
                if gates:
                    load_restricted(server.api, args.restricted)
                results[label] = asyncio.run(_measure("127.0.0.1", server.fix_port, args, work))
            finally:
                server.stop()
    off = results["no_gates"]["orders_per_s"]
    results["gates_cost"] = round(1 - results["gates"]["orders_per_s"] / off, 3) if off else 0.0


async def _fill_book(port: int, n: int, args: argparse.Namespace) -> None:
    """n working orders from the bench sessions, all acknowledged."""
    work = Workload((("AAPL", "165.00"), ("MSFT", "310.00"), ("JPM", "135.00")))
    result = await run_load("127.0.0.1", port, sessions=args.sessions, orders=n, window=50,
                            sender_prefix=args.sender_prefix, target=args.target, work=work)
    if result.acked != n or result.rejected:
        raise RuntimeError(f"only {result.acked - result.rejected} of {n} orders are working")


def _kill_switch(args: argparse.Namespace, results: dict[str, Any]) -> None:
    n = args.kill_switch
    with tempfile.TemporaryDirectory(prefix="fixgate-bench-") as tmp:
        server = _server(tmp, "kill", args)
        try:
            asyncio.run(_fill_book(server.fix_port, n, args))
            headers = _token(server.api)
            with httpx.Client(base_url=server.api, headers=headers, timeout=60) as http:
                http.get("/kill-switch").raise_for_status()  # connection open before the clock
                t0 = time.perf_counter()
                r = http.post("/kill-switch", json={})
                wall_ms = (time.perf_counter() - t0) * 1000
            r.raise_for_status()
            body = r.json()
            results["kill_switch"] = {"working_orders": n, "canceled": body["canceled"],
                                      "all_canceled_at_venue": body["all_canceled_at_venue"],
                                      "server_ms": body["elapsed_ms"],
                                      "http_round_trip_ms": round(wall_ms, 3)}
        finally:
            server.stop()


def _print(label: str, s: dict[str, float]) -> None:
    print(f"{label:<10} {s['orders_per_s']:>10,.0f} orders/s   ack p50 {s['p50_ms']:.2f} ms  "
          f"p99 {s['p99_ms']:.2f} ms  p99.9 {s['p999_ms']:.2f} ms  max {s['max_ms']:.2f} ms  "
          f"({s['acked']} acks, {s['rejected']} rejected)")


def bench_main(args: argparse.Namespace) -> int:
    results: dict[str, Any] = {"sessions": args.sessions, "orders": args.orders,
                               "rate": args.rate, "window": args.window}
    if args.matching:
        from gateway.bench_matching import run_matching
        m = run_matching(args.matching)
        print(json.dumps(m) if args.json else
              f"matching engine, one core, {m['messages']:,} messages ({m['orders']:,} orders, "
              f"{m['cancels']:,} cancels, {m['trades']:,} trades):\n"
              f"  order book alone  {m['book_orders_per_s']:>9,} orders/s  "
              f"({m['book_messages_per_s']:,} messages/s)\n"
              f"  whole SimExchange {m['exchange_orders_per_s']:>9,} orders/s  "
              f"({m['exchange_messages_per_s']:,} messages/s, events and market data "
              f"delivered)")
        return 0
    if args.stress:
        from gateway.bench_stress import run_stress
        r = run_stress(args.stress)
        print(json.dumps(r) if args.json else
              f"stress tests, {r['positions']:,} positions on {r['symbols']} symbols in "
              f"{r['accounts']} accounts (best of 5, one thread):\n"
              f"  gfc-2008 replay          {r['replay_ms']:>8.2f} ms  (firm P&L {r['gfc_pnl']})\n"
              f"  custom shocks            {r['shocks_ms']:>8.2f} ms\n"
              f"  liquidity                {r['liquidity_ms']:>8.2f} ms\n"
              f"  correlation check, {r['symbols']} symbols x 60 returns "
              f"{r['correlation_check_ms']:.2f} ms")
        return 0
    if args.var:
        from gateway.bench_var import format_var_bench, run_var_bench
        v = run_var_bench()
        print(json.dumps(v) if args.json else format_var_bench(v))
        return 0
    if args.replay:
        from gateway.bench_recovery import run_recovery
        results = run_recovery(args.replay)
        print(json.dumps(results) if args.json else
              f"restart on {results['events']:,} journal events: replayed in "
              f"{results['replay_s']} s ({results['open_orders']:,} orders put back to work), "
              f"REST up {results['start_to_api_s']} s after launch, first order acked "
              f"{results['first_ack_s']} s later")
        return 0
    if args.sor:
        from gateway.bench_sor import format_sor, run_sor
        sor = run_sor(args.sor)
        print(json.dumps(sor) if args.json else format_sor(sor))
        return 0
    if args.algos:
        from gateway.bench_algos import format_algo_quality, run_algo_quality
        quality = run_algo_quality(args.algos)
        print(json.dumps(quality) if args.json else format_algo_quality(quality))
        return 0
    if args.flat_day:
        from gateway.bench_day import run_flat_day
        results = run_flat_day(args.flat_day, rate=args.rate or 500, orders=args.orders,
                               sessions=args.sessions)
        print(json.dumps(results) if args.json else
              f"ack latency at {results['rate']:,.0f} orders/s, fresh: p50 "
              f"{results['fresh']['p50_ms']} ms, p99 {results['fresh']['p99_ms']} ms; after "
              f"{results['day_orders']:,} orders: p50 {results['after']['p50_ms']} ms, p99 "
              f"{results['after']['p99_ms']} ms (p99 ratio {results['p99_ratio']}); full GC "
              f"pauses max {results['gc_max_full_ms']} ms, {results['gc']['frozen_objects']:,} "
              f"objects frozen")
        return 0
    if args.upstream:
        from gateway.bench_upstream import run_upstream
        results = run_upstream(args.upstream)
        if args.json:
            print(json.dumps(results))
            return 0
        print(f"{args.upstream} marketable IOC orders, one at a time")
        for label, name in (("upstream", "via venue-sim (FIX)"), ("in_process", "built-in sim")):
            r = results[label]
            print(f"{name:<20} ack p50 {r['ack_p50_ms']:.2f} ms  p99 {r['ack_p99_ms']:.2f} ms   "
                  f"fill p50 {r['fill_p50_ms']:.2f} ms  p99 {r['fill_p99_ms']:.2f} ms  "
                  f"({r['filled']} filled, {r['unfilled']} unfilled, {r['rejected']} rejected)")
        return 0
    if args.kill_switch:
        _kill_switch(args, results)
    elif args.compare_gates:
        results.update(accounts=args.accounts, symbols=args.symbols, restricted=args.restricted)
        _compare_gates(args, results)
    elif args.port:
        results["fixgate"] = asyncio.run(_measure(args.host, args.port, args))
    else:
        with tempfile.TemporaryDirectory(prefix="fixgate-bench-") as tmp:
            server = _server(tmp, "data", args)
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
    if "kill_switch" in results:
        k = results["kill_switch"]
        print(f"kill switch: {k['canceled']} of {k['working_orders']} working orders canceled "
              f"and acknowledged by the venue in {k['server_ms']:.1f} ms (HTTP round trip "
              f"{k['http_round_trip_ms']:.1f} ms)")
        return 0
    mode = f"{args.rate:,.0f} orders/s" if args.rate else f"window {args.window}/session"
    print(f"{args.orders} orders over {args.sessions} sessions, {mode}")
    for label in ("fixgate", "baseline", "gates", "no_gates"):
        if label in results:
            _print(label, results[label])
    if "ratio" in results:
        print(f"fixgate / baseline throughput: {results['ratio']:.2f}")
    if "gates_cost" in results:
        print(f"gates cost {results['gates_cost']:.1%} of throughput ({args.accounts} accounts, "
              f"{args.symbols} symbols, {args.restricted:,} restricted entries)")
    return 0


def add_bench_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("bench", help="measure orders/s and ack latency")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, help="a running server (default: start one)")
    p.add_argument("--sessions", type=int, default=4)
    p.add_argument("--orders", type=int, default=5000, help="orders in total")
    p.add_argument("--rate", type=float, default=0.0,
                   help="orders/s in total; 0 = as fast as acks come back")
    p.add_argument("--window", type=int, default=50, help="un-acked orders per session")
    p.add_argument("--sender-prefix", default="BENCH")
    p.add_argument("--target", default="FIXGATE")
    p.add_argument("--symbol", default="AAPL")
    p.add_argument("--price", default="165.00", help="a resting buy price inside the collar")
    p.add_argument("--baseline", action="store_true",
                   help="also run against a bare quickfix acceptor and print the ratio")
    p.add_argument("--compare-gates", action="store_true",
                   help="run with all pre-trade gates and with none, and print the cost")
    p.add_argument("--accounts", type=int, default=100, help="with --compare-gates")
    p.add_argument("--symbols", type=int, default=500, help="with --compare-gates")
    p.add_argument("--restricted", type=int, default=10_000,
                   help="restricted-list entries, with --compare-gates")
    p.add_argument("--kill-switch", type=int, default=0, metavar="N",
                   help="time the firm kill switch over N working orders")
    p.add_argument("--replay", type=int, default=0, metavar="N",
                   help="time a restart on a journal of N events, until the first order ack")
    p.add_argument("--matching", type=int, default=0, metavar="N",
                   help="the sim's matching engine alone, N messages on one core: orders/s")
    p.add_argument("--flat-day", type=int, default=0, metavar="N",
                   help="ack latency at --rate on a fresh journal and after N orders")
    p.add_argument("--algos", type=int, default=0, metavar="SEEDS",
                   help="execution quality of TWAP/VWAP/POV and naive schedules on the sim")
    p.add_argument("--sor", type=int, default=0, metavar="SEEDS",
                   help="the smart order router against the single best venue on the sim")
    p.add_argument("--upstream", type=int, default=0, metavar="N",
                   help="ack and fill latency of N orders through `fixgate venue-sim` as an "
                        "upstream FIX venue, next to the built-in sim")
    p.add_argument("--stress", type=int, default=0, metavar="N",
                   help="stress tests and a correlation check on a book of N positions, "
                        "in this process")
    p.add_argument("--var", action="store_true",
                   help="Monte Carlo and historical VaR on a 500-symbol book, in this process")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=bench_main)
