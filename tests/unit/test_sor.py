"""The smart order router in the order path: an unpinned order with two venues is split
by visible price net of fees, a remainder rests where it is likeliest to fill, what a
venue did not fill is re-routed, and every decision is kept as a best-execution record."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

from compliance.desk import RiskDesk
from gateway.venues.sim.exchange import SimExchange
from oms.commands import CancelOrder, ReplaceOrder, SubmitOrder
from oms.enums import ExecType, OrdStatus
from oms.journal import InMemoryJournal
from oms.service import OrderService
from oms.universe import default_universe
from oms.venue import VenueStatus
from risk.limits import Limits, LimitsBook
from tests.unit.test_order_service import Recorder

SESSION = "FIX.4.4:FIXGATE->CLIENT1"


class Two:
    def __init__(self, fee_a: str = "0", fee_b: str = "0") -> None:
        universe = default_universe()
        self.universe = universe
        self.a = SimExchange(universe, name="SIM-A", liquidity=False, taker_fee_bps=D(fee_a))
        self.b = SimExchange(universe, name="SIM-B", liquidity=False, taker_fee_bps=D(fee_b))
        self.journal = InMemoryJournal()
        self.n = 0

    async def start(self) -> Two:
        desk = RiskDesk(limits=LimitsBook(Limits()))
        self.service, _ = desk.order_service(self.universe, self.journal,
                                             {"SIM-A": self.a, "SIM-B": self.b})
        self.rec = Recorder(self.journal)
        self.service.add_sink(self.rec)
        await self.service.start()
        return self

    def offer(self, venue: SimExchange, qty: int, price: str) -> str:
        self.n += 1
        oid = f"L{self.n}"
        venue.place_liquidity("AAPL", oid, False, D(qty), D(price))
        return oid

    def buy(self, cl: str, qty: int, price: str | None, tif: str = "0") -> OrderService:
        self.service.submit(SubmitOrder(
            cl_ord_id=cl, account="ACC1", symbol="AAPL", side="1",
            ord_type="2" if price else "1", qty=D(qty), price=D(price) if price else None,
            time_in_force=tif, session=SESSION))
        return self.service

    async def settle(self) -> None:
        for _ in range(6):
            await self.service.barrier()

    def parent(self, cl: str):
        return self.service.orders[self.rec.of(cl)[0].order_id]


def test_a_marketable_order_is_split_across_venues_by_price():
    async def go():
        t = await Two().start()
        t.offer(t.a, 200, "170.50")
        t.offer(t.b, 400, "170.40")
        t.buy("B1", 500, "171.00")
        await t.settle()
        parent = t.parent("B1")
        assert parent.status is OrdStatus.FILLED and parent.cum_qty == 500
        # 400 at the better SIM-B, the other 100 at SIM-A: 170.42 on average.
        assert parent.avg_px == D("170.42")
        by_venue = {c.venue: c.cum_qty for c in t.service.store.children(parent.order_id)}
        assert by_venue == {"SIM-B": 400, "SIM-A": 100}
        trades = [r for r in t.rec.of("B1") if r.exec_type is ExecType.TRADE]
        assert [(r.last_mkt, r.last_qty) for r in trades] == [("SIM-B", 400), ("SIM-A", 100)]
        # The interval VWAP is the market's over every venue it could trade on: here,
        # only its own fills printed (400 at 170.40 on SIM-B, 100 at 170.50 on SIM-A).
        quality = t.service.execution.quality(parent)
        assert quality["interval_vwap"] == "170.4200" and quality["slippage_bps"] == 0.0
        (record,) = t.service.execution.routing(parent.order_id)
        assert record["decision"] == [{"venue": "SIM-B", "qty": "400", "price": "170.40"},
                                      {"venue": "SIM-A", "qty": "100", "price": "170.50"}]
        assert {(c["venue"], c["price"], c["size"]) for c in record["considered"]} == {
            ("SIM-A", "170.50", "200"), ("SIM-B", "170.40", "400")}
        assert "SIM-B" in record["reason"]
    asyncio.run(go())


def test_fees_can_flip_the_ranking():
    async def go():
        # SIM-B shows a cent better but charges 5 bp: 170.49 x 1.0005 = 170.575 > 170.50.
        t = await Two(fee_a="0", fee_b="5").start()
        t.offer(t.a, 300, "170.50")
        t.offer(t.b, 300, "170.49")
        t.buy("B1", 300, "171.00")
        await t.settle()
        children = t.service.store.children(t.parent("B1").order_id)
        assert [(c.venue, c.cum_qty) for c in children] == [("SIM-A", 300)]
    asyncio.run(go())


def test_the_remainder_rests_and_a_cancel_takes_it_off():
    async def go():
        t = await Two().start()
        t.offer(t.a, 300, "170.50")
        t.buy("B1", 1000, "170.50")
        await t.settle()
        parent = t.parent("B1")
        assert parent.status is OrdStatus.PARTIALLY_FILLED and parent.cum_qty == 300
        resting = [c for c in t.service.store.children(parent.order_id) if c.is_open]
        assert len(resting) == 1 and resting[0].qty == 700
        assert resting[0].time_in_force.value == "0" and resting[0].price == D("170.50")
        t.service.cancel(CancelOrder(cl_ord_id="X1", orig_cl_ord_id="B1", session=SESSION))
        await t.settle()
        assert parent.status is OrdStatus.CANCELED and parent.cum_qty == 300
        assert [r.exec_type for r in t.rec.of("X1")] == [ExecType.CANCELED]
        assert not any(c.is_open for c in t.service.store.children(parent.order_id))
        assert len(t.a.book("AAPL")) + len(t.b.book("AAPL")) == 0
    asyncio.run(go())


def test_a_routed_day_order_expires_at_the_close_and_its_resting_child_comes_off():
    async def go():
        t = await Two().start()
        t.offer(t.a, 300, "170.50")
        t.buy("B1", 1000, "170.50")
        await t.settle()
        parent = t.parent("B1")
        assert len(t.a.book("AAPL")) + len(t.b.book("AAPL")) == 1  # the rest of it
        t.service.trading_day.close_now()
        await t.settle()
        assert parent.status is OrdStatus.EXPIRED and parent.cum_qty == 300
        assert t.rec.of("B1")[-1].exec_type is ExecType.EXPIRED
        assert not any(c.is_open for c in t.service.store.children(parent.order_id))
        assert len(t.a.book("AAPL")) + len(t.b.book("AAPL")) == 0
    asyncio.run(go())


def test_a_resting_routed_order_can_be_replaced_again_and_again():
    async def go():
        t = await Two().start()
        t.buy("B1", 500, "170.00")
        await t.settle()
        parent = t.parent("B1")
        for n, price in enumerate(("170.01", "170.02", "170.03", "170.04", "170.05")):
            t.service.replace(ReplaceOrder(cl_ord_id=f"R{n}", orig_cl_ord_id=parent.cl_ord_id,
                                           qty=D(500), price=D(price), session=SESSION))
            await t.settle()
            assert t.rec.of(f"R{n}")[-1].exec_type is ExecType.REPLACED
        assert parent.is_open and parent.price == D("170.05")
        resting = [c for c in t.service.store.children(parent.order_id) if c.is_open]
        assert [(c.qty, c.price) for c in resting] == [(500, D("170.05"))]
        assert len(t.a.book("AAPL")) + len(t.b.book("AAPL")) == 1
    asyncio.run(go())


def test_what_a_venue_did_not_fill_is_re_routed():
    async def go():
        t = await Two().start()
        t.offer(t.a, 500, "170.60")
        gone = t.offer(t.b, 500, "170.50")
        seen = t.service.books

        def stale(symbol: str):
            # The router sees SIM-B's offer; it is gone before the child gets there.
            books = seen(symbol)
            t.b.cancel_liquidity("AAPL", gone)
            return books

        t.service.books = stale  # type: ignore[method-assign]
        t.buy("B1", 500, "171.00")
        await t.settle()
        parent = t.parent("B1")
        assert parent.status is OrdStatus.FILLED and parent.avg_px == D("170.60")
        first, second = t.service.execution.routing(parent.order_id)
        assert first["decision"][0]["venue"] == "SIM-B"
        assert second["decision"] == [{"venue": "SIM-A", "qty": "500", "price": "170.60"}]
    asyncio.run(go())


def test_a_market_order_with_nothing_to_take_is_canceled_with_the_reason():
    async def go():
        t = await Two().start()
        t.buy("M1", 100, None)
        await t.settle()
        last = t.rec.of("M1")[-1]
        assert last.exec_type is ExecType.CANCELED
        assert "no visible liquidity for a market order" in last.text
    asyncio.run(go())


def test_a_down_venue_is_not_considered():
    async def go():
        t = await Two().start()
        t.offer(t.a, 300, "170.60")
        t.offer(t.b, 300, "170.40")
        t.b.status = VenueStatus.DOWN
        t.buy("B1", 300, "171.00")
        await t.settle()
        parent = t.parent("B1")
        assert parent.status is OrdStatus.FILLED and parent.avg_px == D("170.60")
        (record,) = t.service.execution.routing(parent.order_id)
        assert "not considered (down): SIM-B" in record["reason"]
    asyncio.run(go())


def test_routing_records_survive_a_restart():
    async def go():
        t = await Two().start()
        t.offer(t.a, 100, "170.50")
        t.buy("B1", 100, "171.00")
        await t.settle()
        oid = t.parent("B1").order_id
        before = t.service.execution.routing(oid)
        await t.service.stop()
        again = Two()
        again.journal = t.journal
        await again.start()
        assert again.service.execution.routing(oid) == before
        assert again.service.orders[oid].status is OrdStatus.FILLED
    asyncio.run(go())


def test_sor_bench_compares_routed_and_single_venue_orders():
    from gateway.bench_sor import format_sor, run_sor
    result = run_sor(4)
    # Orders bigger than one venue's depth: the router fills at least as much.
    assert result["fill_rate_sor"] >= result["fill_rate_single_best"]
    assert result["fill_rate_sor"] > 0.9
    assert "single best venue" in format_sor(result)
