"""`fixgate bench --algos N`: execution quality of TWAP, VWAP and POV on the simulator
over N seeds, next to two naive schedules (one market order at the start; equal market
slices at fixed times).

Each run is the real OrderService, gates and simulated exchange (background
liquidity on) on a SimulatedClock: the sim's flow steps once per simulated second,
so a 30-minute window runs in a fraction of a second and every seed is reproducible.
Slippage is the parent's average price against the interval VWAP (every print of the
symbol at the venue over the window, ours included), in bps, positive worse for the
client; buys and sells alternate by seed.
"""

from __future__ import annotations

import asyncio
import statistics
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from compliance.desk import RiskDesk
from compliance.lists import Locates
from compliance.pretrade import ComplianceRules
from gateway.venues.sim.exchange import SimExchange
from oms.clock import SimulatedClock
from oms.commands import AlgoRequest, SubmitOrder
from oms.execution.algos import slippage_bps
from oms.instruments import Universe
from oms.journal import InMemoryJournal
from oms.marketdata import Quote, TradeTick
from oms.universe import default_universe
from risk.limits import Limits, LimitsBook

START = datetime(2021, 3, 1, 14, 30, tzinfo=UTC)
SYMBOL = "AAPL"
SCHEDULES = ("TWAP", "VWAP", "POV", "market_at_start", "equal_slices")
NAIVE_SLICES = 10


class _Tape:
    def __init__(self, clock: SimulatedClock, end: datetime) -> None:
        self.clock, self.end = clock, end
        self.qty = Decimal(0)
        self.notional = Decimal(0)

    def __call__(self, data: Quote | TradeTick) -> None:
        if isinstance(data, TradeTick) and data.symbol == SYMBOL and self.clock.now() <= self.end:
            self.qty += data.qty
            self.notional += data.qty * data.price


async def _one(schedule: str, seed: int, qty: int, minutes: int, rate: str) -> dict[str, Any]:
    clock = SimulatedClock(START)
    instrument = default_universe().get(SYMBOL)
    assert instrument is not None
    universe = Universe([instrument])
    sim = SimExchange(universe, seed=seed)
    desk = RiskDesk(limits=LimitsBook(Limits(max_order_notional=None, max_order_qty=None,
                                             price_collar_pct=None, price_collar_ticks=None)),
                    rules=ComplianceRules(sell_short_action="remark"))
    # Sells are short sales, located in full.
    desk.locates.apply(Locates.event("BENCH", SYMBOL, Decimal(qty), "bench"))
    service, _ = desk.order_service(universe, InMemoryJournal(), {"SIM": sim}, clock=clock)
    await service.start()
    end = START + timedelta(minutes=minutes)
    tape = _Tape(clock, end)
    sim.subscribe(tape)
    side = "1" if seed % 2 == 0 else "2"
    account = "BENCH"

    def order(cl: str, size: int, algo: AlgoRequest | None = None) -> str:
        return service.submit(SubmitOrder(cl_ord_id=cl, account=account, symbol=SYMBOL,
                                          side=side, ord_type="1", qty=Decimal(size),
                                          session="bench", algo=algo))

    window = end.strftime("%Y%m%d-%H:%M:%S")
    ids: list[str] = []
    if schedule == "TWAP":
        ids.append(order("P", qty, AlgoRequest(target_strategy="1000", expire_time=window)))
    elif schedule == "VWAP":
        ids.append(order("P", qty, AlgoRequest(target_strategy="1", expire_time=window)))
    elif schedule == "POV":
        ids.append(order("P", qty, AlgoRequest(target_strategy="2", participation_rate=rate,
                                               expire_time=window)))
    elif schedule == "market_at_start":
        ids.append(order("P", qty))
    slice_every = minutes * 60 / NAIVE_SLICES
    for second in range(minutes * 60 + 2):
        if schedule == "equal_slices" and second % slice_every == 0 \
                and len(ids) < NAIVE_SLICES:
            ids.append(order(f"S{len(ids)}", qty // NAIVE_SLICES))
        clock.advance(1)
        sim.step_liquidity(1)
        await service.barrier()
    for _ in range(3):
        await service.barrier()
    await service.stop()
    filled = sum((service.orders[i].cum_qty for i in ids), Decimal(0))
    notional = sum((service.orders[i].notional for i in ids), Decimal(0))
    vwap = tape.notional / tape.qty if tape.qty else Decimal(0)
    sign = 1 if side == "1" else -1
    return {"filled": float(filled / qty),
            "slippage_bps": slippage_bps(sign, notional / filled, vwap) if filled else None}


def run_algo_quality(seeds: int, qty: int = 3000, minutes: int = 30,
                     rate: str = "0.1") -> dict[str, Any]:
    out: dict[str, Any] = {"seeds": seeds, "qty": qty, "minutes": minutes, "pov_rate": rate}
    for schedule in SCHEDULES:
        runs = [asyncio.run(_one(schedule, seed, qty, minutes, rate)) for seed in range(seeds)]
        bps = [r["slippage_bps"] for r in runs if r["slippage_bps"] is not None]
        out[schedule] = {
            "slippage_bps_mean": round(statistics.fmean(bps), 2) if bps else None,
            "slippage_bps_stdev": round(statistics.stdev(bps), 2) if len(bps) > 1 else None,
            "fill_rate_mean": round(statistics.fmean(r["filled"] for r in runs), 3),
        }
    return out


def format_algo_quality(r: dict[str, Any]) -> str:
    lines = [f"execution quality over {r['seeds']} seeds: {r['qty']} {SYMBOL} over "
             f"{r['minutes']} simulated minutes (POV at {r['pov_rate']}); slippage against "
             "interval VWAP, bps, positive = worse for the client"]
    for schedule in SCHEDULES:
        s = r[schedule]
        lines.append(f"  {schedule:16} mean {s['slippage_bps_mean']:>7} stdev "
                     f"{s['slippage_bps_stdev']:>7}  filled {s['fill_rate_mean']:.1%}")
    return "\n".join(lines)
