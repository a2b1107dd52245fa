"""Parent and child orders worked by TWAP, VWAP and POV, on an injected clock.

The real OrderService, gates and simulated exchange; a SimulatedClock that the test
moves, so a ten-minute schedule runs in milliseconds and nothing sleeps.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from compliance.desk import RiskDesk
from compliance.lists import RESTRICTED_KIND, RestrictedList
from compliance.pretrade import ComplianceRules
from gateway.venues.sim.exchange import SimExchange
from oms.clock import SimulatedClock
from oms.commands import AlgoRequest, CancelOrder, ReplaceOrder, SubmitOrder
from oms.enums import ExecType, OrdStatus
from oms.execution.algos import Schedule, parse_algo
from oms.execution.profile import VolumeProfile, u_shaped
from oms.journal import InMemoryJournal
from oms.service import OrderService
from oms.universe import default_universe
from risk.limits import Limits, LimitsBook
from tests.unit.test_order_service import Recorder

START = datetime(2021, 3, 1, 14, 30, tzinfo=UTC)
SESSION = "FIX.4.4:FIXGATE->CLIENT1"


def stamp(t: datetime) -> str:
    return t.strftime("%Y%m%d-%H:%M:%S")


class World:
    def __init__(self, journal: InMemoryJournal | None = None,
                 clock: SimulatedClock | None = None, limits: Limits | None = None) -> None:
        self.clock = clock or SimulatedClock(START)
        self.journal = journal or InMemoryJournal()
        self.universe = default_universe()
        self.sim = SimExchange(self.universe, liquidity=False)
        self.desk = RiskDesk(limits=LimitsBook(limits or Limits()),
                             rules=ComplianceRules(sell_short_action="remark"))
        self.service: OrderService
        self.rec: Recorder
        self._liquidity = 0

    async def start(self) -> World:
        self.service, _ = self.desk.order_service(self.universe, self.journal,
                                                  {"SIM": self.sim}, clock=self.clock)
        self.rec = Recorder(self.journal)
        self.service.add_sink(self.rec)
        await self.service.start()
        return self

    async def settle(self) -> None:
        for _ in range(4):
            await self.service.barrier()

    async def run_for(self, seconds: float, step: float = 1.0) -> None:
        """Move the clock in steps, letting each step's children commit and trade."""
        end = self.clock.now() + timedelta(seconds=seconds)
        while self.clock.now() < end:
            self.clock.advance_to(min(end, self.clock.now() + timedelta(seconds=step)))
            await self.settle()

    def offer(self, qty: int, price: str, symbol: str = "AAPL") -> None:
        self._liquidity += 1
        self.sim.place_liquidity(symbol, f"L{self._liquidity}", False, D(qty), D(price))

    def bid(self, qty: int, price: str, symbol: str = "AAPL") -> None:
        self._liquidity += 1
        self.sim.place_liquidity(symbol, f"L{self._liquidity}", True, D(qty), D(price))

    def print_trade(self, qty: int, price: str) -> None:
        """Somebody else's trade on the tape."""
        self.offer(qty, price)
        self.bid(qty, price)

    def submit(self, cl: str, qty: int = 1000, price: str | None = "171.00", side: str = "1",
               **algo: str) -> str:
        return self.service.submit(SubmitOrder(
            cl_ord_id=cl, account="ACC1", symbol="AAPL", side=side,
            ord_type="2" if price else "1", qty=D(qty), price=D(price) if price else None,
            session=SESSION, algo=AlgoRequest(**algo)))

    def parent(self, order_id: str):
        return self.service.orders[order_id]

    def children(self, order_id: str):
        return self.service.store.children(order_id)


def twap(minutes: int = 10, **extra: str) -> dict[str, str]:
    return {"target_strategy": "1000", "expire_time": stamp(START + timedelta(minutes=minutes)),
            **extra}


def run(coro):
    return asyncio.run(coro)


# -- parameters ----------------------------------------------------------------------------

@pytest.mark.parametrize(("algo", "ord_type", "tif", "words"), [
    ({"target_strategy": "7"}, "2", "0", "TargetStrategy(847)=7"),
    ({"target_strategy": "1000"}, "2", "0", "ExpireTime(126) is required for TWAP"),
    ({"target_strategy": "1"}, "2", "0", "ExpireTime(126) is required for VWAP"),
    ({"target_strategy": "1000", "expire_time": "20210301-14:00:00"}, "2", "0",
     "ExpireTime(126) 20210301-14:00:00 is not after the start"),
    ({"target_strategy": "1000", "expire_time": "tomorrow"}, "2", "0",
     "ExpireTime(126) 'tomorrow' is not a UTC timestamp"),
    ({"target_strategy": "1000", "expire_time": "20210301-15:00:00",
      "effective_time": "20210301-15:30:00"}, "2", "0", "is not after the start"),
    ({"target_strategy": "2"}, "2", "0", "ParticipationRate(849) is required for POV"),
    ({"target_strategy": "2", "participation_rate": "0"}, "2", "0",
     "ParticipationRate(849)=0 out of range"),
    ({"target_strategy": "2", "participation_rate": "0.6"}, "2", "0",
     "ParticipationRate(849)=0.6 out of range"),
    ({"target_strategy": "2", "participation_rate": "x"}, "2", "0",
     "ParticipationRate(849) 'x' is not a number"),
    ({"target_strategy": "2", "participation_rate": "0.1", "max_participation": "0.2"},
     "2", "0", "MaxParticipation(9849) caps TWAP and VWAP"),
    ({"target_strategy": "1000", "expire_time": "20210301-15:00:00",
      "max_participation": "0.51"}, "2", "0", "MaxParticipation(9849)=0.51 out of range"),
    ({"target_strategy": "1000", "expire_time": "20210301-15:00:00"}, "3", "0",
     "works market or limit orders, not OrdType(40)=3"),
    ({"target_strategy": "1000", "expire_time": "20210301-15:00:00"}, "2", "3",
     "needs TimeInForce(59) 0 (Day) or 1 (GTC), not 3"),
    ({"participation_rate": "0.1"}, "2", "0", "ParticipationRate(849) needs TargetStrategy"),
])
def test_bad_algorithm_parameters_are_rejected_naming_the_tag(algo, ord_type, tif, words):
    async def go():
        w = await World().start()
        w.service.submit(SubmitOrder(
            cl_ord_id="P1", account="ACC1", symbol="AAPL", side="1", ord_type=ord_type,
            qty=D(100), price=D("171") if ord_type != "3" else None,
            stop_px=D("172") if ord_type == "3" else None, time_in_force=tif,
            session=SESSION, algo=AlgoRequest(**algo)))
        await w.settle()
        (report,) = w.rec.of("P1")
        assert report.exec_type is ExecType.REJECTED
        assert words in report.text
        assert w.children(report.order_id) == []
    run(go())


def test_twap_works_the_order_evenly_and_finishes_by_the_end_time():
    async def go():
        w = await World().start()
        w.offer(5000, "170.50")
        oid = w.submit("P1", 1000, **twap(10))
        await w.settle()
        assert [r.exec_type for r in w.rec.of("P1")] == [ExecType.NEW]
        checkpoints = []
        for _ in range(10):
            await w.run_for(60, step=2)
            checkpoints.append(w.parent(oid).cum_qty)
        parent = w.parent(oid)
        assert parent.status is OrdStatus.FILLED and parent.cum_qty == 1000
        # Even over the window: after k minutes about k tenths, never a slice ahead.
        for k, done in enumerate(checkpoints[:-1], start=1):
            assert abs(done - 100 * k) <= 25, checkpoints
        children = w.children(oid)
        assert len(children) >= 20
        assert sum(c.cum_qty for c in children) == 1000
        assert all(c.price == D("171.00") for c in children)
        trades = [r for r in w.rec.of("P1") if r.exec_type is ExecType.TRADE]
        assert sum(r.last_qty for r in trades) == 1000
        assert {r.last_mkt for r in trades} == {"SIM"}
        assert trades[-1].ord_status is OrdStatus.FILLED and trades[-1].order_id == oid
        # The client hears of its own order only: no report names a child.
        assert {r.order_id for r in w.rec.reports} == {oid}
        # Positions are booked once, by the parent.
        assert w.service.position_qty("ACC1", "AAPL") == 1000
        assert w.rec.violations == []
        await w.run_for(1)  # the clock moves on past the fill that completed it
        # Execution quality, journaled when the parent finished: every print was ours,
        # at 170.50, so no slippage against the interval VWAP; the arrival price was the
        # reference (the universe's last close for AAPL).
        quality = w.service.execution.quality(parent)
        assert quality["interval_vwap"] == "170.5000" and quality["slippage_bps"] == 0.0
        arrival = w.universe.get("AAPL").reference_price
        assert quality["arrival_price"] == str(arrival)
        assert quality["shortfall_bps"] == round(float((D("170.5") - arrival) / arrival) * 1e4,
                                                 2)
        journaled = [e for _, e in w.journal.entries if getattr(e, "kind", "") ==
                     "execution_quality"]
        assert len(journaled) == 1 and journaled[0].payload["order_id"] == oid
    run(go())


def test_twap_slices_are_randomised_within_bounds_and_the_same_for_the_same_order():
    spec = parse_algo(AlgoRequest(**twap(60)), *_limit_day(), START, None)
    a, b, c = (Schedule(spec, seed) for seed in ("FG00000001", "FG00000001", "FG00000002"))
    assert a.times == b.times and a.fractions == b.fractions
    assert a.times != c.times
    step = 3600 / len(a.times)
    for k, t in enumerate(a.times):
        offset = (t - START).total_seconds() - (k + 0.5) * step
        assert abs(offset) <= 0.25 * step + 1e-6
    assert a.fractions == sorted(a.fractions) and a.fractions[-1] == 1.0
    for k, f in enumerate(a.fractions[:-1]):
        assert abs(f - (k + 1) / len(a.times)) <= 0.5 / len(a.times) + 1e-9


def _limit_day():
    from oms.enums import OrdType, TimeInForce
    return OrdType.LIMIT, TimeInForce.DAY


def test_vwap_front_loads_the_open_on_the_u_shaped_default():
    spec_v = parse_algo(AlgoRequest(target_strategy="1", expire_time=stamp(
        START + timedelta(hours=6, minutes=30))), *_limit_day(), START, None)
    spec_t = parse_algo(AlgoRequest(**twap(390)), *_limit_day(), START, None)
    v, t = Schedule(spec_v, "X"), Schedule(spec_t, "X")
    first_hour = START + timedelta(hours=1)
    assert v.due(first_hour, D(10_000)) > t.due(first_hour, D(10_000)) * D("1.3")
    # A profile of the symbol's own is followed instead of the default.
    flat = Schedule(spec_v, "X", VolumeProfile("AAPL", (1 / 78,) * 78))
    assert abs(flat.due(first_hour, D(10_000)) - t.due(first_hour, D(10_000))) <= 200
    assert u_shaped().cumulative(60) > 60 / 390 * 1.3


def test_limit_never_reached_ends_the_window_with_the_reason():
    async def go():
        w = await World().start()
        w.offer(5000, "172.00")  # above the client's limit
        oid = w.submit("P1", 300, price="171.00", **twap(5))
        await w.run_for(5 * 60 + 5, step=5)
        parent = w.parent(oid)
        assert parent.status is OrdStatus.CANCELED
        last = w.rec.of("P1")[-1]
        assert last.exec_type is ExecType.CANCELED
        assert last.text == "TWAP window ended with 300 unfilled: limit price 171.00 not reached"
        # No child ever traded through the limit, and none is left working.
        assert all(c.cum_qty == 0 and not c.is_open for c in w.children(oid))
    run(go())


def test_cancel_of_the_parent_takes_children_off_and_answers_once():
    async def go():
        w = await World().start()
        w.offer(150, "170.50")
        oid = w.submit("P1", 1000, **twap(10))
        await w.run_for(120, step=5)
        filled = w.parent(oid).cum_qty
        assert 0 < filled <= 150
        w.service.cancel(CancelOrder(cl_ord_id="X1", orig_cl_ord_id="P1", session=SESSION))
        await w.settle()
        await w.run_for(60, step=5)
        parent = w.parent(oid)
        assert parent.status is OrdStatus.CANCELED and parent.cum_qty == filled
        canceled = [r for r in w.rec.reports if r.exec_type is ExecType.CANCELED]
        assert len(canceled) == 1 and canceled[0].cl_ord_id == "X1"
        assert not any(c.is_open for c in w.children(oid))
    run(go())


def test_replace_changes_the_remaining_schedule_but_not_below_what_filled():
    async def go():
        w = await World().start()
        w.offer(10_000, "170.50")
        oid = w.submit("P1", 1000, **twap(10))
        await w.run_for(300, step=5)
        done = w.parent(oid).cum_qty
        assert 400 <= done <= 600
        w.service.replace(ReplaceOrder(cl_ord_id="P2", orig_cl_ord_id="P1", qty=done,
                                       session=SESSION))
        await w.settle()
        reject = w.rec.rejects[-1]
        assert "must exceed the quantity already filled" in reject.text
        w.service.replace(ReplaceOrder(cl_ord_id="P3", orig_cl_ord_id="P1", qty=D(1600),
                                       price=D("171.00"), session=SESSION))
        await w.settle()
        assert w.rec.of("P3")[0].exec_type is ExecType.REPLACED
        await w.run_for(300, step=5)
        parent = w.parent(oid)
        assert parent.status is OrdStatus.FILLED and parent.cum_qty == 1600
    run(go())


def test_pov_follows_the_tape_and_never_exceeds_its_share():
    async def go():
        w = await World().start()
        w.offer(100_000, "170.60")
        oid = w.submit("P1", 5000, target_strategy="2", participation_rate="0.1")
        await w.settle()
        for _ in range(30):
            w.print_trade(400, "170.55")
            await w.run_for(2)
            parent = w.parent(oid)
            market = w.service.execution.quality(parent)["market_volume"]
            assert parent.cum_qty <= D("0.1") * D(market) + 1
        parent = w.parent(oid)
        # Others traded 12,000: a tenth of all volume (theirs and ours) is about 1,333.
        assert 1200 <= parent.cum_qty <= 1340
    run(go())


def test_max_participation_caps_a_twap():
    async def go():
        w = await World().start()
        w.offer(100_000, "170.60")
        oid = w.submit("P1", 5000, **twap(10, max_participation="0.05"))
        for _ in range(20):
            w.print_trade(1000, "170.55")
            await w.run_for(10)
        parent = w.parent(oid)
        market = D(w.service.execution.quality(parent)["market_volume"])
        assert 0 < parent.cum_qty <= D("0.05") * market
    run(go())


def test_a_child_refused_by_a_gate_is_journaled_and_the_parent_ends_with_the_reason():
    async def go():
        w = await World().start()
        w.offer(10_000, "170.50")
        oid = w.submit("P1", 600, **twap(5))
        await w.run_for(60, step=5)
        done = w.parent(oid).cum_qty
        assert done > 0
        w.service.record_control(RESTRICTED_KIND, RestrictedList.event(
            "AAPL", None, "restricted", "compliance"))
        await w.run_for(250, step=5)
        parent = w.parent(oid)
        assert parent.status is OrdStatus.CANCELED and parent.cum_qty == done
        refused = [c for c in w.children(oid) if c.status is OrdStatus.REJECTED]
        assert refused and "restricted list" in refused[0].text
        assert "AAPL is on the restricted list" in w.rec.of("P1")[-1].text
    run(go())


def test_a_working_algorithm_resumes_after_a_restart_without_starting_over():
    async def go():
        journal = InMemoryJournal()
        clock = SimulatedClock(START)
        w = await World(journal, clock).start()
        w.offer(10_000, "170.50")
        oid = w.submit("P1", 1000, **twap(10))
        await w.run_for(300, step=5)
        before = w.parent(oid).cum_qty
        children_before = len(w.children(oid))
        await w.service.stop()
        # A new process on the same journal, five minutes in.
        w2 = await World(journal, clock).start()
        w2.offer(10_000, "170.50")
        parent = w2.parent(oid)
        assert parent.cum_qty == before and parent.algo is not None
        await w2.run_for(310, step=5)
        parent = w2.parent(oid)
        assert parent.status is OrdStatus.FILLED and parent.cum_qty == 1000
        # Picked up where it was: the second half took about half the children.
        assert len(w2.children(oid)) - children_before <= children_before + 3
        assert sum(c.cum_qty for c in w2.children(oid)) == 1000
    run(go())


def test_kill_switch_stops_an_algorithm():
    async def go():
        from risk.kill_switch import KillSwitch
        w = await World().start()
        w.offer(10_000, "170.50")
        oid = w.submit("P1", 1000, **twap(10))
        await w.run_for(60, step=5)
        w.service.record_control("kill_switch", KillSwitch.event("ACC1", True, "ops"))
        w.service.cancel_all("ACC1", reason="kill switch engaged by ops", by="ops")
        await w.settle()
        await w.run_for(60, step=5)
        parent = w.parent(oid)
        assert parent.status is OrdStatus.CANCELED
        assert w.rec.of("P1")[-1].text == "kill switch engaged by ops"
    run(go())


def test_algo_quality_bench_runs_each_schedule_on_the_simulated_clock():
    from gateway.bench_algos import SCHEDULES, format_algo_quality, run_algo_quality
    result = run_algo_quality(2, qty=600, minutes=5)
    for schedule in ("TWAP", "VWAP", "equal_slices"):
        assert result[schedule]["fill_rate_mean"] == 1.0
        assert abs(result[schedule]["slippage_bps_mean"]) < 5
    text = format_algo_quality(result)
    assert all(s in text for s in SCHEDULES)


def test_a_day_algorithm_expires_at_the_close_and_its_children_come_off():
    async def go():
        w = await World().start()
        w.offer(100, "170.50")  # a little, then nothing within the limit
        oid = w.submit("P1", 1000, price="172.00", **twap(60))
        await w.run_for(60, step=5)
        done = w.parent(oid).cum_qty
        assert 0 < done <= 100
        w.service.trading_day.close_now()
        await w.settle()
        parent = w.parent(oid)
        assert parent.status is OrdStatus.EXPIRED and parent.cum_qty == done
        assert w.rec.of("P1")[-1].exec_type is ExecType.EXPIRED
        assert not any(c.is_open for c in w.children(oid))
        sent = len(w.children(oid))
        w.offer(5000, "170.50")
        await w.run_for(300, step=10)  # the schedule is over: nothing more is sent
        assert len(w.children(oid)) == sent and w.parent(oid).cum_qty == done
    run(go())


def test_a_parent_cancel_pending_at_a_restart_takes_its_children_off_first():
    async def go():
        journal, clock = InMemoryJournal(), SimulatedClock(START)
        w = await World(journal, clock).start()
        w.offer(10_000, "170.50")
        oid = w.submit("P1", 1000, **twap(10))
        await w.run_for(60, step=5)
        parent = w.parent(oid)
        # The client's cancel is journaled, and the process dies before it is carried out.
        from oms.events import OrderPendingCancel
        w.service._record(OrderPendingCancel(order_id=oid, ts=clock.now(), cl_ord_id="X1",
                                             reason="canceled on request"))
        await w.service.barrier()
        done = parent.cum_qty
        await w.service.stop()
        w2 = await World(journal, clock).start()
        await w2.settle()
        again = w2.parent(oid)
        assert again.status is OrdStatus.CANCELED and again.cum_qty == done
        assert not any(c.is_open for c in w2.children(oid))
        assert w2.rec.of("X1")[-1].exec_type is ExecType.CANCELED
        await w2.run_for(120, step=10)
        assert len(w2.children(oid)) == len(w.children(oid))
    run(go())


def test_a_wake_up_that_raises_is_logged_and_the_algorithm_carries_on():
    async def go():
        w = await World().start()
        w.offer(10_000, "170.50")
        oid = w.submit("P1", 600, **twap(5))
        await w.run_for(30, step=5)
        engine = w.service.execution
        real = engine._wake
        calls = {"n": 0}

        def flaky(run, rearm=True):
            calls["n"] += 1
            if calls["n"] == 1:
                raise RuntimeError("boom")
            real(run, rearm)

        engine._wake = flaky  # type: ignore[method-assign]
        await w.run_for(300, step=5)
        assert calls["n"] > 1
        assert w.parent(oid).status is OrdStatus.FILLED
    run(go())
