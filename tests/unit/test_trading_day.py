"""The trading day under a simulated clock: the calendar, Day expiry at the close, the roll
(P&L marks, day_closed replayed once), GTD expiry, trailing stops on a scripted price path."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from decimal import Decimal as D
from typing import Any

import pytest

from compliance.desk import RiskDesk
from compliance.lists import Locates
from compliance.pretrade import ComplianceRules
from gateway.config import ConfigError, parse_config
from gateway.venues.sim.exchange import SimExchange
from oms.clock import SimulatedClock
from oms.commands import CancelOrder, SubmitOrder
from oms.enums import ExecType, OrdStatus, TimeInForce
from oms.events import OrderStopMoved
from oms.journal import ControlEvent, InMemoryJournal
from oms.reports import ExecutionReport
from oms.service import OrderService
from oms.trading_day import DAY_CLOSED, MONDAY_TO_FRIDAY, TradingCalendar
from oms.universe import default_universe
from risk.limits import Limits, LimitsBook

UTC = dt.UTC
NY_HOURS = TradingCalendar("America/New_York", dt.time(9, 30), dt.time(16, 0), MONDAY_TO_FRIDAY)
ALWAYS_OPEN = TradingCalendar()
MONDAY_OPEN = dt.datetime(2021, 1, 4, 14, 30, tzinfo=UTC)  # 09:30 New York (UTC-5)
SESSION = "FIX.4.4:FIXGATE->CLIENT1"


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))


class Reports:
    def __init__(self) -> None:
        self.reports: list[ExecutionReport] = []

    def execution_report(self, report: ExecutionReport) -> None:
        self.reports.append(report)

    def cancel_reject(self, reject: object) -> None:
        pass

    def mass_cancel_report(self, report: object) -> None:
        pass

    def of(self, cl: str) -> list[ExecutionReport]:
        return [r for r in self.reports if r.cl_ord_id == cl]


class Oms:
    """OrderService + desk + sim on one simulated clock; restartable from its journal."""

    def __init__(self, clock: SimulatedClock, calendar: TradingCalendar = ALWAYS_OPEN,
                 journal: InMemoryJournal | None = None) -> None:
        self.clock, self.journal = clock, journal or InMemoryJournal()
        universe = default_universe()
        self.sim = SimExchange(universe, liquidity=False)
        self.desk = RiskDesk(limits=LimitsBook(Limits()), calendar=calendar,
                             rules=ComplianceRules(sell_short_action="remark"))
        self.desk.locates.apply(Locates.event("ACC1", "AAPL", D(10_000), "test"))
        self.service, self.monitor = self.desk.order_service(
            universe, self.journal, {"SIM": self.sim}, clock=clock)
        self.out = Reports()
        self.service.add_sink(self.out)

    async def start(self) -> Oms:
        await self.service.start()
        await self.service.barrier()
        return self

    async def restart(self) -> Oms:
        await self.service.stop()
        return await Oms(self.clock, self.desk.calendar, self.journal).start()

    async def order(self, cl: str, *, side: str = "1", qty: str = "100", ord_type: str = "2",
                    price: str | None = "170.00", tif: str = "0", **kw: Any) -> Any:
        self.service.submit(SubmitOrder(
            cl_ord_id=cl, account="ACC1", symbol="AAPL", side=side, ord_type=ord_type,
            qty=D(qty), price=D(price) if price else None, time_in_force=tif,
            session=SESSION, **kw))
        await self.service.barrier()
        return self.service.by_cl_ord_id(SESSION, cl)

    async def advance_to(self, when: dt.datetime) -> None:
        self.clock.advance_to(when)
        await self.service.barrier()

    async def trade_at(self, price: str, qty: str = "1") -> None:
        """A print on the tape: background liquidity meets itself at `price`."""
        self.sim.place_liquidity("AAPL", f"S{price}", False, D(qty), D(price))
        self.sim.place_liquidity("AAPL", f"B{price}", True, D(qty), D(price), TimeInForce.IOC)
        await self.service.barrier()

    def days_closed(self) -> list[dict[str, Any]]:
        return [e.payload for _, e in self.journal.entries
                if isinstance(e, ControlEvent) and e.kind == DAY_CLOSED]


# -- the calendar ----------------------------------------------------------------------------


def test_calendar_closes_opens_and_trading_dates():
    close, date = NY_HOURS.close_of(dt.date(2021, 1, 4)), dt.date(2021, 1, 4)
    assert close == dt.datetime(2021, 1, 4, 21, 0, tzinfo=UTC)
    assert NY_HOURS.next_close(MONDAY_OPEN) == (date, close)
    assert NY_HOURS.next_close(MONDAY_OPEN, past=date)[0] == dt.date(2021, 1, 5)
    friday_evening = dt.datetime(2021, 1, 8, 22, 0, tzinfo=UTC)
    assert NY_HOURS.next_close(friday_evening)[0] == dt.date(2021, 1, 11)  # over the weekend
    assert NY_HOURS.is_open(MONDAY_OPEN)
    assert not NY_HOURS.is_open(MONDAY_OPEN - dt.timedelta(minutes=1))
    assert not NY_HOURS.is_open(dt.datetime(2021, 1, 9, 15, 0, tzinfo=UTC))  # Saturday
    # The default: always open, the day rolls at 00:00 UTC and is named by the day it ends.
    always = TradingCalendar()
    assert always.is_open(friday_evening) and not always.has_hours
    assert always.next_close(friday_evening) == (
        dt.date(2021, 1, 8), dt.datetime(2021, 1, 9, 0, 0, tzinfo=UTC))
    assert always.previous_close(friday_evening) == (
        dt.date(2021, 1, 7), dt.datetime(2021, 1, 8, 0, 0, tzinfo=UTC))


def test_overnight_session_opens_the_evening_before_its_trading_date():
    chicago = TradingCalendar("America/Chicago", dt.time(17, 0), dt.time(16, 0), MONDAY_TO_FRIDAY)
    local = dt.timezone(dt.timedelta(hours=-6))  # CST in January

    def at(day: int, hour: float) -> dt.datetime:
        return dt.datetime(2021, 1, day, tzinfo=local) + dt.timedelta(hours=hour)

    assert chicago.is_open(at(4, 15)) and chicago.next_close(at(4, 15))[0] == dt.date(2021, 1, 4)
    assert not chicago.is_open(at(4, 16.5))  # the daily break
    assert chicago.is_open(at(4, 17.5)) and chicago.next_close(at(4, 17.5))[0] == dt.date(
        2021, 1, 5)  # Monday evening trades Tuesday's date
    assert not chicago.is_open(at(8, 17.5))  # Friday evening: no Saturday session
    assert chicago.is_open(at(10, 17.5))  # Sunday evening opens Monday's


def test_trading_table_in_config_and_the_older_compliance_hours_are_one_calendar():
    cfg = parse_config('[trading]\ntimezone = "America/New_York"\nopen = "09:30"\n'
                       'close = 16:00:00\nweekdays = ["Mon", "Tue", "Wednesday"]\n')
    assert cfg.trading.open == dt.time(9, 30) and cfg.trading.close == dt.time(16, 0)
    assert cfg.trading.weekdays == frozenset({0, 1, 2})
    assert parse_config("").trading == TradingCalendar()
    legacy = parse_config('[compliance.trading_hours]\nstart = "09:30"\nend = "16:00"\n')
    assert legacy.trading == NY_HOURS
    for text, message in [
        ('[trading]\nopen_at = "09:30"\n', "[trading]: unknown key(s) open_at"),
        ('[trading]\nopen = "09:30"\n', "[trading] open needs a close"),
        ('[trading]\ntimezone = "Mars/Base"\n', "[trading] unknown timezone 'Mars/Base'"),
        ('[trading]\nweekdays = ["Funday"]\n', "[trading] weekdays: unknown weekday 'Funday'"),
        ('[trading]\nclose = "4pm"\n', "[trading] close must be HH:MM"),
        ('[trading]\nweekdays = []\n', "[trading] weekdays must name at least one day"),
        ('[trading]\nopen = "16:00"\nclose = "16:00"\n', "[trading] open and close must differ"),
        ('[trading]\nclose = "16:00"\n[compliance.trading_hours]\nstart = "09:30"\n',
         "both set trading hours"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(message)):
            parse_config(text)


# -- the close -----------------------------------------------------------------------------


def test_day_orders_expire_at_the_configured_close_and_the_roll_replays_once():
    async def scenario():
        clock = SimulatedClock(MONDAY_OPEN)
        oms = await Oms(clock, NY_HOURS).start()
        day = await oms.order("DAY1")
        gtc = await oms.order("GTC1", tif="1")
        stop = await oms.order("STOP1", side="2", ord_type="3", price=None, stop_px=D("165.00"))
        assert oms.sim.book("AAPL").get("C:" + day.order_id) is not None

        await oms.advance_to(dt.datetime(2021, 1, 4, 20, 59, 59, tzinfo=UTC))
        assert day.status is OrdStatus.NEW and not oms.days_closed()
        await oms.advance_to(dt.datetime(2021, 1, 4, 21, 0, 1, tzinfo=UTC))
        assert day.status is OrdStatus.EXPIRED and stop.status is OrdStatus.EXPIRED
        assert gtc.status is OrdStatus.NEW
        expired = oms.out.of("DAY1")[-1]
        assert (expired.exec_type, expired.ord_status) == (ExecType.EXPIRED, OrdStatus.EXPIRED)
        assert expired.text == "Day order expired at the close of trading day 2021-01-04"
        assert expired.leaves_qty == 0
        # Off the venue: the book no longer holds it, nor the stop book the stop.
        assert oms.sim.book("AAPL").get("C:" + day.order_id) is None
        assert stop.order_id not in oms.sim._working
        assert [p["date"] for p in oms.days_closed()] == ["2021-01-04"]

        # Restart after the close: the expiries replay, the date is known, no second roll.
        oms2 = await oms.restart()
        assert oms2.service.orders[day.order_id].status is OrdStatus.EXPIRED
        assert oms2.service.trading_day.last_closed == dt.date(2021, 1, 4)
        assert len(oms2.days_closed()) == 1
        # The next close rolls the next date (Tuesday).
        await oms2.advance_to(dt.datetime(2021, 1, 5, 21, 0, 1, tzinfo=UTC))
        assert [p["date"] for p in oms2.days_closed()] == ["2021-01-04", "2021-01-05"]
        await oms2.service.stop()
    run(scenario())


def test_a_close_missed_while_down_is_rolled_at_start():
    async def scenario():
        clock = SimulatedClock(MONDAY_OPEN)
        oms = await Oms(clock, NY_HOURS).start()
        day = await oms.order("DAY1")
        await oms.service.stop()
        clock._timers.clear()  # the process is gone: its timers with it
        clock.advance_to(dt.datetime(2021, 1, 5, 1, 0, tzinfo=UTC))  # after Monday's close
        oms2 = await Oms(clock, NY_HOURS, oms.journal).start()
        assert oms2.service.orders[day.order_id].status is OrdStatus.EXPIRED
        assert [p["date"] for p in oms2.days_closed()] == ["2021-01-04"]
        await oms2.service.stop()
    run(scenario())


def test_forced_close_rolls_the_day_in_progress_and_resets_the_days_pnl():
    async def scenario():
        clock = SimulatedClock(MONDAY_OPEN)
        oms = await Oms(clock).start()  # default calendar: always open, roll at 00:00 UTC
        limits = oms.desk.limits
        limits.apply(limits.change_event("ACC1", {"drawdown_limit": 1500}, "test"))
        await oms.trade_at("150.00")
        oms.sim.place_liquidity("AAPL", "ASK", False, D(100), D("150.00"))
        bought = await oms.order("B1", price="150.00", tif="1")
        assert bought.status is OrdStatus.FILLED
        await oms.trade_at("160.00")  # up 1,000: the day's high-water mark
        await oms.trade_at("140.00")  # then down 2,000 from it: in drawdown
        assert oms.monitor.day_pnl("ACC1") == D(-1000)
        assert oms.desk.states.high_water == {"ACC1": D(1000)}
        assert oms.desk.states.in_drawdown == {"ACC1"}

        assert oms.service.trading_day.close_now() == dt.date(2021, 1, 4)
        await oms.service.barrier()
        assert oms.monitor.day_pnl("ACC1") == 0  # a new day starts from the close
        assert oms.desk.states.high_water == {} and oms.desk.states.in_drawdown == set()
        assert oms.days_closed()[-1]["pnl_at_close"] == {"ACC1": "-1000.00"}
        # A second forced close closes the next trading date, never the same one twice.
        assert oms.service.trading_day.close_now() == dt.date(2021, 1, 5)
        # The day's P&L after a restart is measured from the journaled mark, not from zero.
        oms2 = await oms.restart()
        await oms2.trade_at("140.00")
        assert oms2.monitor.day_pnl("ACC1") == 0
        assert oms2.service.trading_day.last_closed == dt.date(2021, 1, 5)
        await oms2.service.stop()
    run(scenario())


# -- GTD -------------------------------------------------------------------------------------


def test_gtd_expires_at_expire_time_and_survives_a_restart():
    async def scenario():
        clock = SimulatedClock(MONDAY_OPEN)
        oms = await Oms(clock, NY_HOURS).start()
        at = MONDAY_OPEN + dt.timedelta(hours=1)
        gtd = await oms.order("GTD1", tif="6", expire_time=at)
        later = await oms.order("GTD2", tif="6", expire_time=at + dt.timedelta(days=3))
        by_date = await oms.order("GTD3", tif="6", expire_date=dt.date(2021, 1, 6))
        assert gtd.status is OrdStatus.NEW and gtd.expire_time == at
        assert by_date.expire_time == dt.datetime(2021, 1, 6, 21, 0, tzinfo=UTC)
        canceled = await oms.order("GTD4", tif="6", expire_time=at + dt.timedelta(days=1))
        oms.service.cancel(CancelOrder(cl_ord_id="X4", order_id=canceled.order_id,
                                       session=SESSION))
        await oms.service.barrier()
        assert canceled.status is OrdStatus.CANCELED  # and its timer is let go
        assert canceled.order_id not in oms.service._expiry_timers
        assert later.order_id in oms.service._expiry_timers
        await oms.advance_to(at - dt.timedelta(seconds=1))
        assert gtd.status is OrdStatus.NEW
        await oms.advance_to(at)
        report = oms.out.of("GTD1")[-1]
        assert (report.exec_type, report.ord_status) == (ExecType.EXPIRED, OrdStatus.EXPIRED)
        assert report.text == "GTD order expired at ExpireTime(126) 2021-01-04 15:30:00 UTC"
        assert oms.sim.book("AAPL").get("C:" + gtd.order_id) is None
        # The Day close leaves GTD orders alone.
        await oms.advance_to(dt.datetime(2021, 1, 4, 21, 0, 1, tzinfo=UTC))
        assert later.status is OrdStatus.NEW and by_date.status is OrdStatus.NEW

        oms2 = await oms.restart()  # the timers are re-armed from the journal
        await oms2.advance_to(dt.datetime(2021, 1, 6, 21, 0, tzinfo=UTC))
        assert oms2.service.orders[by_date.order_id].status is OrdStatus.EXPIRED
        assert oms2.service.orders[later.order_id].status is OrdStatus.NEW
        await oms2.advance_to(at + dt.timedelta(days=3))
        assert oms2.service.orders[later.order_id].status is OrdStatus.EXPIRED
        await oms2.service.stop()
    run(scenario())


@pytest.mark.parametrize("kw,text", [
    ({}, "TimeInForce(59)=6 (GTD) needs ExpireTime(126) or ExpireDate(432)"),
    ({"expire_time": MONDAY_OPEN - dt.timedelta(seconds=1)},
     "ExpireTime(126) is not in the future"),
    ({"expire_date": dt.date(2021, 1, 1)}, "ExpireDate(432) is not in the future"),
])
def test_gtd_without_a_future_expiry_is_rejected_naming_the_tag(kw, text):
    async def scenario():
        oms = await Oms(SimulatedClock(MONDAY_OPEN), NY_HOURS).start()
        refused = await oms.order("BAD", tif="6", **kw)
        assert refused.status is OrdStatus.REJECTED and text in refused.text
        assert oms.out.of("BAD")[-1].exec_type is ExecType.REJECTED
        await oms.service.stop()
    run(scenario())


# -- trailing stops --------------------------------------------------------------------------


def stop_moves(oms: Oms, order_id: str) -> list[str]:
    return [str(e.stop_px) for _, e in oms.journal.entries
            if isinstance(e, OrderStopMoved) and e.order_id == order_id]


def test_trailing_buy_stop_absolute_offset_trails_down_never_up_and_triggers():
    async def scenario():
        oms = await Oms(SimulatedClock(MONDAY_OPEN)).start()
        await oms.trade_at("100.00")
        order = await oms.order("T1", ord_type="3", price=None, tif="1", exec_inst="a",
                                peg_offset=D("2"))
        assert order.status is OrdStatus.NEW and order.stop_px == D("102.00")
        assert order.order_id not in oms.sim._working  # held by the OMS, not the venue
        for px in ("99.00", "98.00", "99.50"):
            await oms.trade_at(px)
        assert stop_moves(oms, order.order_id) == ["101.00", "100.00"]  # never back up
        assert order.stop_px == D("100.00") and not order.triggered

        oms.sim.place_liquidity("AAPL", "ASK", False, D(500), D("100.10"))
        await oms.trade_at("100.00")  # touches the stop
        assert order.triggered and order.status is OrdStatus.FILLED
        assert order.avg_px == D("100.10")
        assert [r.exec_type for r in oms.out.of("T1")] == [ExecType.NEW, ExecType.TRADE]
        await oms.service.stop()
    run(scenario())


def test_trailing_sell_stop_in_basis_points_resumes_after_restart():
    async def scenario():
        clock = SimulatedClock(MONDAY_OPEN)
        oms = await Oms(clock).start()
        await oms.trade_at("200.00")
        order = await oms.order("T2", side="2", ord_type="3", price=None, exec_inst="a",
                                peg_offset=D("100"), peg_offset_type="1")  # 1%
        assert order.stop_px == D("198.00") and order.side.value == "5"  # re-marked short
        await oms.trade_at("202.00")
        await oms.trade_at("205.00")
        await oms.trade_at("203.00")
        assert stop_moves(oms, order.order_id) == ["199.98", "202.95"]

        oms2 = await oms.restart()
        held = oms2.service.orders[order.order_id]
        assert held.stop_px == D("202.95") and held.trail_best_px == D("205.00")
        assert oms2.service.trailing.held() == 1
        oms2.sim.place_liquidity("AAPL", "BID", True, D(500), D("202.00"))
        await oms2.trade_at("202.90")
        assert held.triggered and held.status is OrdStatus.FILLED and held.avg_px == D("202.00")
        await oms2.service.stop()
    run(scenario())


def test_a_held_trailing_stop_cancels_and_expires_without_the_venue():
    async def scenario():
        oms = await Oms(SimulatedClock(MONDAY_OPEN)).start()
        await oms.trade_at("100.00")
        kept = await oms.order("T3", ord_type="3", price=None, exec_inst="a", peg_offset=D("1"))
        gone = await oms.order("T4", ord_type="3", price=None, exec_inst="a", peg_offset=D("1"))
        oms.service.cancel(CancelOrder(cl_ord_id="X4", order_id=gone.order_id, session=SESSION))
        await oms.service.barrier()
        assert gone.status is OrdStatus.CANCELED
        oms.service.trading_day.close_now()
        await oms.service.barrier()
        assert kept.status is OrdStatus.EXPIRED
        await oms.trade_at("200.00")  # far through both stops: nothing is sent
        assert not kept.triggered and not gone.triggered
        await oms.service.stop()
    run(scenario())


@pytest.mark.parametrize("kw,text", [
    ({"exec_inst": "a"}, "a trailing stop needs PegOffsetValue(211) > 0"),
    ({"exec_inst": "a", "peg_offset": D("-1")}, "a trailing stop needs PegOffsetValue(211) > 0"),
    ({"exec_inst": "a", "peg_offset": D("1"), "peg_offset_type": "2"},
     "unsupported PegOffsetType(836)=2"),
    ({"exec_inst": "a", "peg_offset": D("10000"), "peg_offset_type": "1"}, "100% or more"),
    ({"peg_offset": D("1")}, "PegOffsetValue(211) is accepted only for a trailing stop"),
])
def test_bad_trailing_terms_are_rejected_naming_the_tag(kw, text):
    async def scenario():
        oms = await Oms(SimulatedClock(MONDAY_OPEN)).start()
        await oms.trade_at("100.00")
        refused = await oms.order("BAD", ord_type="3", price=None, **kw)
        assert refused.status is OrdStatus.REJECTED and text in refused.text, refused.text
        limit = await oms.order("BAD2", exec_inst="a", peg_offset=D("1"))
        assert "ExecInst(18)=a (trailing stop) needs OrdType(40)=3" in limit.text
        await oms.service.stop()
    run(scenario())


def test_service_default_calendar_is_always_open():
    service = OrderService(universe=default_universe(), journal=InMemoryJournal(), venues={})
    assert not service.trading_day.calendar.has_hours


# -- the clock's timers ------------------------------------------------------------------------


def test_simulated_clock_fires_timers_in_time_order_at_their_own_time():
    clock = SimulatedClock(MONDAY_OPEN)
    seen: list[tuple[str, dt.datetime]] = []
    clock.call_at(MONDAY_OPEN + dt.timedelta(seconds=20), lambda: seen.append(("b", clock.now())))
    clock.call_at(MONDAY_OPEN + dt.timedelta(seconds=10), lambda: seen.append(("a", clock.now())))
    dropped = clock.call_at(MONDAY_OPEN + dt.timedelta(seconds=15), lambda: seen.append(("x", 0)))
    dropped.cancel()
    clock.advance(15)
    assert seen == [("a", MONDAY_OPEN + dt.timedelta(seconds=10))]
    clock.advance(100)
    assert [name for name, _ in seen] == ["a", "b"] and seen[1][1].second == 20
    assert clock.now() == MONDAY_OPEN + dt.timedelta(seconds=115)


def test_wall_clock_timer_fires_on_the_loop_and_a_canceled_one_does_not():
    from oms.clock import WallClock

    async def scenario():
        clock = WallClock()
        fired = asyncio.Event()
        canceled: list[str] = []
        clock.call_at(clock.now() + dt.timedelta(milliseconds=20), fired.set)
        clock.call_at(clock.now() - dt.timedelta(seconds=1), lambda: canceled.append("x")).cancel()
        await asyncio.wait_for(fired.wait(), 5)
        assert canceled == []
    run(scenario())
