"""ExDestination(100) pins an order to a venue; fills say where they traded and what
they cost; replay puts open orders back on their own venue."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal as D

from compliance.desk import RiskDesk
from compliance.lists import Locates
from compliance.pretrade import ComplianceRules
from gateway.fix.mapping import execution_report, new_order
from gateway.venues.sim.exchange import SimExchange
from oms.enums import ExecType, OrdStatus
from oms.events import OrderFilled, event_from_row
from oms.journal import InMemoryJournal
from oms.service import OrderService
from oms.universe import default_universe
from oms.venue import VenueStatus
from risk.limits import Limits, LimitsBook
from tests.unit.test_order_service import Recorder, order, settle, stop


async def make(journal: InMemoryJournal | None = None,
               b_status: VenueStatus = VenueStatus.UP
               ) -> tuple[OrderService, Recorder, dict[str, SimExchange]]:
    universe = default_universe()
    journal = journal or InMemoryJournal()
    desk = RiskDesk(limits=LimitsBook(Limits()), rules=ComplianceRules(sell_short_action="remark"))
    desk.locates.apply(Locates.event("ACC2", "AAPL", D(10_000), "test"))
    venues = {"SIM-A": SimExchange(universe, name="SIM-A", liquidity=False,
                                   taker_fee_bps=D("0.3"), maker_fee_bps=D("-0.2")),
              "SIM-B": SimExchange(universe, name="SIM-B", liquidity=False,
                                   taker_fee_bps=D("0.5"))}
    venues["SIM-B"].status = b_status
    service, _ = desk.order_service(universe, journal, dict(venues), default_venue="SIM-A")
    rec = Recorder(journal)
    service.add_sink(rec)
    await service.start()
    return service, rec, venues


def test_pinned_orders_trade_on_their_venue_and_fills_carry_venue_and_fee():
    async def scenario():
        service, rec, venues = await make()
        service.submit(order("S1", side="2", account="ACC2", venue="SIM-B"))
        service.submit(order("B-B", qty="100", price="171.00", venue="SIM-B"))
        await settle(service)
        service.submit(order("B-A", qty="100", price="171.00"))  # unpinned: the router's
        await settle(service)
        # Nothing is left to take anywhere: the router rests the unpinned buy where the
        # symbol has traded (SIM-B), not at the default venue.
        assert rec.of("B-A")[-1].ord_status is OrdStatus.NEW
        assert len(venues["SIM-A"].book("AAPL")) == 0
        assert len(venues["SIM-B"].book("AAPL")) == 1
        trade = rec.of("B-B")[-1]
        assert trade.exec_type is ExecType.TRADE and trade.last_mkt == "SIM-B"
        assert rec.of("S1")[-1].last_mkt == "SIM-B"
        fill = service.orders[trade.order_id].fills[0]
        assert (fill.venue, fill.fee) == ("SIM-B", D("0.85"))  # 17,000 x 0.5 bp
        # On the wire: LastMkt(30) on the Trade report, in 4.4 and 4.2 alike.
        for begin in ("FIX.4.4", "FIX.4.2"):
            assert (30, "SIM-B") in execution_report(trade, begin)
        assert (30, "SIM-B") not in execution_report(rec.of("B-A")[-1], "FIX.4.4")
        await stop(service, rec)

    asyncio.run(scenario())


def test_an_unknown_destination_is_rejected_naming_the_configured_venues():
    async def scenario():
        service, rec, _ = await make()
        service.submit(order("X1", venue="NYSE"))
        await settle(service)
        (report,) = rec.of("X1")
        assert report.exec_type is ExecType.REJECTED
        assert report.text == ("unknown ExDestination(100) 'NYSE': configured venues are "
                               "SIM-A, SIM-B")
        await stop(service, rec)

    asyncio.run(scenario())


def test_an_order_pinned_to_a_venue_that_is_down_is_rejected():
    async def scenario():
        service, rec, _ = await make(b_status=VenueStatus.DOWN)
        service.submit(order("D1", venue="SIM-B"))
        service.submit(order("U1"))  # the other venue still takes orders
        await settle(service)
        assert rec.of("D1")[-1].exec_type is ExecType.REJECTED
        assert rec.of("D1")[-1].text == "venue SIM-B is down"
        assert rec.of("U1")[-1].exec_type is ExecType.NEW
        await stop(service, rec)

    asyncio.run(scenario())


def test_replay_puts_an_open_order_back_on_its_own_venue():
    async def scenario():
        journal = InMemoryJournal()
        service, rec, _ = await make(journal)
        service.submit(order("B1", venue="SIM-B"))
        await stop(service, rec)
        again, rec2, venues = await make(journal)
        await settle(again)
        assert len(venues["SIM-B"].book("AAPL")) == 1
        assert len(venues["SIM-A"].book("AAPL")) == 0
        await stop(again, rec2)

    asyncio.run(scenario())


def test_a_fill_journaled_before_venue_and_fee_existed_still_replays():
    old = {"exec_id": "FG1.3", "last_qty": "10", "last_px": "170.00", "venue_trade_id": "T1"}
    event = event_from_row("filled", "FG1", datetime(2026, 1, 5, tzinfo=UTC), old)
    assert isinstance(event, OrderFilled)
    assert (event.venue, event.fee) == ("", D(0))
    new = OrderFilled(order_id="FG1", exec_id="FG1.3", last_qty=D(10), last_px=D(170),
                      venue="SIM-B", fee=D("-0.34")).to_payload()
    assert (new["venue"], new["fee"]) == ("SIM-B", "-0.34")


def test_exdestination_is_read_from_a_new_order_single():
    fields = {11: "C1", 55: "AAPL", 54: "1", 40: "2", 38: "100", 44: "170", 100: "SIM-B"}
    assert new_order(fields, "FIX.4.4:FIXGATE->CLIENT1", "ACC1").venue == "SIM-B"
    del fields[100]
    assert new_order(fields, "FIX.4.4:FIXGATE->CLIENT1", "ACC1").venue is None


def test_a_burst_beyond_a_venues_message_rate_is_spread_not_dropped():
    from gateway.venues.timing import ManualTimers
    from oms.commands import CancelOrder

    async def scenario():
        universe = default_universe()
        timers = ManualTimers()
        slow = SimExchange(universe, name="SLOW", liquidity=False, messages_per_second=2,
                           timers=timers)
        desk = RiskDesk(limits=LimitsBook(Limits()), rules=ComplianceRules())
        journal = InMemoryJournal()
        service, _ = desk.order_service(universe, journal, {"SLOW": slow})
        rec = Recorder(journal)
        service.add_sink(rec)
        await service.start()
        for i in range(5):
            service.submit(order(f"B{i}", price=f"170.0{i}"))
        await settle(service)
        book = slow.book("AAPL")
        assert len(book) == 2 and slow.queued == 3  # all acknowledged by fixgate, 2 at venue
        assert all(rec.of(f"B{i}")[-1].exec_type is ExecType.NEW for i in range(5))
        timers.advance(1.0)
        assert len(book) == 4
        # A cancel queues behind the orders it follows: it never overtakes B4.
        oid = rec.of("B4")[-1].order_id
        service.cancel(CancelOrder(cl_ord_id="X4", order_id=oid, session=None))
        await settle(service)
        timers.advance(1.0)
        await settle(service)
        assert book.best_bid == D("170.03") and slow.queued == 0
        (canceled,) = [r for r in rec.reports if r.exec_type is ExecType.CANCELED]
        assert (canceled.order_id, canceled.cl_ord_id) == (oid, "X4")
        await stop(service, rec)

    asyncio.run(scenario())
