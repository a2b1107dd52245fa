"""OrderService without a server: in-memory journal, the real simulated exchange."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest

from compliance.desk import RiskDesk
from compliance.lists import Locates
from compliance.pretrade import ComplianceRules
from gateway.venues.sim.exchange import SimExchange
from oms.commands import CancelOrder, ReplaceOrder, StatusRequest, SubmitOrder
from oms.enums import ExecType, OrdStatus
from oms.journal import InMemoryJournal
from oms.reports import CancelReject, ExecutionReport
from oms.service import JournalUnavailable, OrderService
from oms.universe import default_universe
from risk.kill_switch import KillSwitch
from risk.limits import Limits, LimitsBook


class Recorder:
    """A report sink that also checks each report was durable when it was sent."""

    def __init__(self, journal: InMemoryJournal) -> None:
        self.journal = journal
        self.reports: list[ExecutionReport] = []
        self.rejects: list[CancelReject] = []
        self.violations: list[str] = []
        self.mass_cancels: list[object] = []

    def execution_report(self, report: ExecutionReport) -> None:
        # A report names the journal entry it tells of: it must be committed already.
        if report.seq > max((seq for seq, _ in self.journal.entries), default=0):
            self.violations.append(report.exec_id)
        self.reports.append(report)

    def cancel_reject(self, reject: CancelReject) -> None:
        self.rejects.append(reject)

    def mass_cancel_report(self, report: object) -> None:
        self.mass_cancels.append(report)

    def of(self, cl_ord_id: str) -> list[ExecutionReport]:
        return [r for r in self.reports if r.cl_ord_id == cl_ord_id]


async def make(
    journal: InMemoryJournal | None = None, desk: RiskDesk | None = None
) -> tuple[OrderService, Recorder]:
    universe = default_universe()
    journal = journal or InMemoryJournal()
    if desk is None:
        # Sells from a flat ACC2 are short sales: re-marked, and covered by a locate.
        desk = RiskDesk(limits=LimitsBook(Limits()),
                        rules=ComplianceRules(sell_short_action="remark"))
        desk.locates.apply(Locates.event("ACC2", "AAPL", D(10_000), "test"))
    service, _ = desk.order_service(universe, journal,
                                    {"SIM": SimExchange(universe, liquidity=False)})
    rec = Recorder(journal)
    service.add_sink(rec)
    await service.start()
    return service, rec


def order(cl: str, side: str = "1", qty: str = "100", price: str | None = "170.00", **kw):
    fields = dict(
        cl_ord_id=cl,
        account="ACC1",
        symbol="AAPL",
        side=side,
        ord_type="2" if price else "1",
        qty=D(qty),
        price=D(price) if price else None,
        session="FIX.4.4:FIXGATE->CLIENT1",
    )
    fields.update(kw)
    return SubmitOrder(**fields)


async def stop(service: OrderService, rec: Recorder) -> None:
    """Every scenario ends here: nothing was ever reported before it was durable."""
    await settle(service)
    assert rec.violations == []
    await service.stop()


async def settle(service: OrderService) -> None:
    for _ in range(5):
        await service.barrier()


def test_crossing_orders_fill_both_sides_and_update_positions():
    async def scenario():
        service, rec = await make()
        service.submit(order("S1", side="2", qty="100", account="ACC2"))
        service.submit(order("B1", side="1", qty="60", price="171.00"))
        await settle(service)
        buy = rec.of("B1")
        assert [r.exec_type for r in buy] == [ExecType.NEW, ExecType.TRADE]
        assert buy[-1].last_px == D("170.00") and buy[-1].ord_status is OrdStatus.FILLED
        # The Trade report's ExecID is the journaled fill's, so a client can reconcile.
        assert buy[-1].exec_id == service.orders[buy[-1].order_id].fills[0].exec_id
        sell = rec.of("S1")[-1]
        assert sell.ord_status is OrdStatus.PARTIALLY_FILLED and sell.leaves_qty == 40
        pos = {(p.account, p.symbol): p.qty for p in service.positions.all()}
        assert pos == {("ACC1", "AAPL"): 60, ("ACC2", "AAPL"): -60}
        assert rec.violations == []
        await stop(service, rec)

    asyncio.run(scenario())


def test_reports_wait_for_the_journal_commit():
    async def scenario():
        gate, writing = asyncio.Event(), asyncio.Event()

        class SlowJournal(InMemoryJournal):
            async def append(self, entries, **kw):
                writing.set()
                await gate.wait()
                await super().append(entries, **kw)

        journal = SlowJournal()
        service, rec = await make(journal)
        service.submit(order("B1"))
        await writing.wait()  # the batch is at the database, not yet committed
        assert rec.reports == []  # accepted in memory, not yet durable: nothing said
        gate.set()
        await settle(service)
        assert [r.exec_type for r in rec.of("B1")] == [ExecType.NEW]
        await stop(service, rec)

    asyncio.run(scenario())


def test_group_commit_writes_a_burst_in_few_batches():
    async def scenario():
        journal = InMemoryJournal()
        service, rec = await make(journal)
        for i in range(200):
            service.submit(order(f"B{i}", price="160.00"))
        await settle(service)
        assert len([r for r in rec.reports if r.exec_type is ExecType.NEW]) == 200
        assert journal.batches <= 3
        await stop(service, rec)

    asyncio.run(scenario())


def test_cancel_replace_status_and_their_refusals():
    async def scenario():
        service, rec = await make()
        service.submit(order("B1", price="160.00"))
        await settle(service)
        service.replace(
            ReplaceOrder(
                cl_ord_id="B2",
                orig_cl_ord_id="B1",
                qty=D(150),
                price=D("161.00"),
                session="FIX.4.4:FIXGATE->CLIENT1",
            )
        )
        await settle(service)
        replaced = rec.of("B2")[-1]
        assert replaced.exec_type is ExecType.REPLACED and replaced.qty == 150
        assert replaced.orig_cl_ord_id == "B1"
        # A replace that may not change the side is refused and the order is untouched.
        service.replace(
            ReplaceOrder(
                cl_ord_id="B3",
                orig_cl_ord_id="B2",
                qty=D(150),
                price=D("161.00"),
                side="2",
                session="FIX.4.4:FIXGATE->CLIENT1",
            )
        )
        await settle(service)
        assert "Side(54) cannot be changed" in rec.rejects[-1].text
        service.cancel(
            CancelOrder(cl_ord_id="B4", orig_cl_ord_id="B2", session="FIX.4.4:FIXGATE->CLIENT1")
        )
        await settle(service)
        assert rec.of("B4")[-1].ord_status is OrdStatus.CANCELED
        service.status(StatusRequest(cl_ord_id="B4", session="FIX.4.4:FIXGATE->CLIENT1"))
        await settle(service)
        assert rec.reports[-1].exec_type is ExecType.ORDER_STATUS
        assert rec.reports[-1].ord_status is OrdStatus.CANCELED
        service.status(StatusRequest(cl_ord_id="NOPE", session="FIX.4.4:FIXGATE->CLIENT1"))
        await settle(service)
        unknown = rec.reports[-1]
        assert unknown.ord_status is OrdStatus.REJECTED and unknown.ord_rej_reason == 5
        assert unknown.text == "unknown order 'NOPE'"
        # Another session cannot see or cancel this session's orders.
        service.cancel(
            CancelOrder(cl_ord_id="X1", orig_cl_ord_id="B2", session="FIX.4.4:FIXGATE->CLIENT3")
        )
        await settle(service)
        assert rec.rejects[-1].order_id == "NONE"
        await stop(service, rec)

    asyncio.run(scenario())


def test_restart_replays_the_journal_and_resumes_open_orders():
    async def scenario():
        journal = InMemoryJournal()
        service, rec = await make(journal)
        service.submit(order("S1", side="2", qty="100", account="ACC2"))
        service.submit(order("B1", qty="40", price="171.00"))
        service.submit(order("B2", qty="10", price="150.00"))
        service.record_control("kill_switch", KillSwitch.event("ACC9", True, "ops"))
        await settle(service)
        before = {o.order_id: o.to_dict() for o in service.orders.values()}
        await stop(service, rec)

        desk2 = RiskDesk(limits=LimitsBook(Limits()),
                         rules=ComplianceRules(sell_short_action="remark"))
        again, rec = await make(journal, desk2)
        await settle(again)
        assert {o.order_id: o.to_dict() for o in again.orders.values()} == before
        assert desk2.kill_switch.accounts == {"ACC9"}
        # The resting sell is back on the exchange: a new buy fills against it.
        again.submit(order("B3", qty="10", price="170.00"))
        await settle(again)
        assert rec.of("B3")[-1].ord_status is OrdStatus.FILLED
        # New order ids never reuse an old one.
        assert rec.of("B3")[-1].order_id not in before
        await again.stop()

    asyncio.run(scenario())


def test_kill_switch_cancels_working_orders_in_scope_and_refuses_new_ones():
    async def scenario():
        service, rec = await make()
        service.submit(order("B1", price="160.00"))
        service.submit(order("C1", price="160.00", account="ACC2"))
        await settle(service)
        service.record_control("kill_switch", KillSwitch.event("ACC1", True, "ops"))
        canceled = service.cancel_all("ACC1", reason="kill switch engaged by ops", by="ops")
        await settle(service)
        assert [o.cl_ord_id for o in canceled] == ["B1"]
        last = rec.of("B1")[-1]
        assert last.exec_type is ExecType.CANCELED and "kill switch" in last.text
        assert rec.of("C1")[-1].ord_status is OrdStatus.NEW
        service.submit(order("B2", price="160.00"))
        await settle(service)
        assert rec.of("B2")[-1].ord_status is OrdStatus.REJECTED
        assert "kill switch engaged for account ACC1" in rec.of("B2")[-1].text
        await stop(service, rec)

    asyncio.run(scenario())


def test_ioc_remainder_and_unsupported_codes():
    async def scenario():
        service, rec = await make()
        service.submit(order("S1", side="2", qty="30", account="ACC2"))
        service.submit(order("B1", qty="100", price="170.00", time_in_force="3"))
        service.submit(order("B2", side="7"))
        await settle(service)
        b1 = rec.of("B1")
        assert [r.exec_type for r in b1] == [ExecType.NEW, ExecType.TRADE, ExecType.CANCELED]
        assert b1[-1].cum_qty == 30 and b1[-1].leaves_qty == 0
        b2 = rec.of("B2")[-1]
        assert b2.ord_status is OrdStatus.REJECTED and "Side(54)=7" in b2.text
        await stop(service, rec)

    asyncio.run(scenario())


def test_a_failed_journal_answers_waiters_and_refuses_new_orders():
    async def scenario():
        class BrokenJournal(InMemoryJournal):
            async def append(self, entries, **kw):
                raise OSError("disk full")

        service, rec = await make(BrokenJournal())
        service.submit(order("B1"))
        with pytest.raises(JournalUnavailable):
            await asyncio.wait_for(service.barrier(), 2)  # answered, never hangs
        # Nothing was durable, so nothing was acknowledged: B1 hears it was refused.
        (b1,) = rec.reports
        assert b1.ord_status is OrdStatus.REJECTED and "journal unavailable" in b1.text
        service.submit(order("B2"))
        with pytest.raises(JournalUnavailable):
            await service.barrier()
        (refused,) = rec.reports[1:]  # B2 is answered at once, without the journal
        assert refused.cl_ord_id == "B2" and refused.ord_status is OrdStatus.REJECTED
        assert "journal unavailable" in refused.text
    asyncio.run(scenario())
