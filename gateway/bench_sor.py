"""`fixgate bench --sor N`: the smart order router against sending the whole order to the
single best venue, over N seeds.

Two simulated venues with their own seeded books, depth and fees (SIM-A: full depth,
taker 0.3 bp; SIM-B: half the depth, taker 0.1 bp). Each seed builds the same two
venues twice and sends the same marketable IOC order (a buy or a sell, alternating,
for 1,500 to 4,000 shares, limit 0.2 % through the reference): once unpinned, so the
router splits it, once pinned (ExDestination) to the venue whose best price net of
its fee is best. Price improvement is in bps of the average price net of fees,
positive when the router did better; fill rate is the share of the order filled.
"""

from __future__ import annotations

import asyncio
import random
import statistics
from decimal import Decimal
from typing import Any

from compliance.desk import RiskDesk
from compliance.lists import Locates
from compliance.pretrade import ComplianceRules
from gateway.venues.sim.exchange import SimExchange
from oms.commands import SubmitOrder
from oms.execution.router import net_price
from oms.instruments import Universe
from oms.journal import InMemoryJournal
from oms.universe import default_universe
from risk.limits import Limits, LimitsBook

SYMBOL = "AAPL"
FEES = {"SIM-A": Decimal("0.3"), "SIM-B": Decimal("0.1")}


def _venues(universe: Universe, seed: int) -> dict[str, SimExchange]:
    return {"SIM-A": SimExchange(universe, name="SIM-A", seed=seed * 2 + 1,
                                 taker_fee_bps=FEES["SIM-A"]),
            "SIM-B": SimExchange(universe, name="SIM-B", seed=seed * 2 + 2,
                                 liquidity_scale=0.5, taker_fee_bps=FEES["SIM-B"])}


async def _one(seed: int, pinned: bool) -> tuple[Decimal, Decimal, Decimal, bool]:
    """(filled, net notional, qty, is_buy) of the seed's order, routed or pinned."""
    rng = random.Random(seed)
    instrument = default_universe().get(SYMBOL)
    assert instrument is not None
    universe = Universe([instrument])
    venues = _venues(universe, seed)
    for exchange in venues.values():
        exchange.step_liquidity(rng.randint(20, 60))  # books that differ from seed to seed
    is_buy = seed % 2 == 0
    qty = Decimal(rng.randrange(1500, 4001, 100))
    ref = instrument.reference_price
    limit = (ref * (Decimal("1.002") if is_buy else Decimal("0.998"))).quantize(Decimal("0.01"))
    desk = RiskDesk(limits=LimitsBook(Limits(max_order_notional=None, price_collar_pct=None,
                                             price_collar_ticks=None)),
                    rules=ComplianceRules(sell_short_action="remark"))
    desk.locates.apply(Locates.event("BENCH", SYMBOL, qty, "bench"))
    service, _ = desk.order_service(universe, InMemoryJournal(), dict(venues))
    await service.start()
    venue = None
    if pinned:  # the single best venue by its best price net of fees
        def best(name: str) -> Decimal:
            depth = venues[name].depth(SYMBOL, 1)
            side = depth.asks if is_buy else depth.bids
            if not side:
                return Decimal("Infinity") if is_buy else Decimal(0)
            return net_price(is_buy, side[0][0], FEES[name])
        venue = (min if is_buy else max)(venues, key=best)
    oid = service.submit(SubmitOrder(cl_ord_id="B", account="BENCH", symbol=SYMBOL,
                                     side="1" if is_buy else "2", ord_type="2", qty=qty,
                                     price=limit, time_in_force="3", session="bench",
                                     venue=venue))
    for _ in range(10):
        await service.barrier()
    await service.stop()
    order = service.orders[oid]
    net = sum((net_price(is_buy, f.last_px, FEES[f.venue]) * f.last_qty for f in order.fills),
              Decimal(0))
    return order.cum_qty, net, qty, is_buy


def run_sor(seeds: int) -> dict[str, Any]:
    improvement, fill_sor, fill_single = [], [], []
    for seed in range(seeds):
        routed = asyncio.run(_one(seed, pinned=False))
        single = asyncio.run(_one(seed, pinned=True))
        fill_sor.append(float(routed[0] / routed[2]))
        fill_single.append(float(single[0] / single[2]))
        if routed[0] and single[0]:
            px_r, px_s = routed[1] / routed[0], single[1] / single[0]
            sign = 1 if routed[3] else -1
            improvement.append(float((px_s - px_r) / px_s) * 1e4 * sign)
    return {"seeds": seeds,
            "improvement_bps_mean": round(statistics.fmean(improvement), 2),
            "improvement_bps_stdev": round(statistics.stdev(improvement), 2)
            if len(improvement) > 1 else None,
            "fill_rate_sor": round(statistics.fmean(fill_sor), 3),
            "fill_rate_single_best": round(statistics.fmean(fill_single), 3)}


def format_sor(r: dict[str, Any]) -> str:
    return (f"smart order router vs the single best venue over {r['seeds']} seeds "
            f"(marketable IOC orders of 1,500-4,000 shares, two sim venues): price improvement "
            f"net of fees {r['improvement_bps_mean']} bps (stdev {r['improvement_bps_stdev']}); "
            f"fill rate {r['fill_rate_sor']:.1%} routed vs {r['fill_rate_single_best']:.1%} "
            "at the single best venue")
