"""Every risk and compliance check at its limit and one unit past it, through the
in-process OMS (real sim exchange, in-memory journal)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from datetime import time as clock_time
from decimal import Decimal as D
from typing import Any

import pytest

from compliance.desk import RiskDesk
from compliance.lists import InstrumentStatus, Locates, RestrictedList
from compliance.pretrade import ComplianceGate, ComplianceRules
from gateway.venues.sim.exchange import SimExchange
from oms.commands import SubmitOrder
from oms.enums import OrdStatus, Side
from oms.journal import ControlEvent, InMemoryJournal
from oms.trading_day import MONDAY_TO_FRIDAY, TradingCalendar
from oms.universe import default_universe
from risk import accounts, limits
from risk.accounts import AccountState, AccountStates
from risk.limits import Limits, LimitsBook
from risk.monitor import RiskMonitor
from risk.sizing import kelly_continuous, kelly_fraction
from risk.volatility import VolatilityTracker, vol_adjusted_limit

MM = "MM"  # a market maker account on the other side of test fills


class Desk:
    def __init__(self, rules: ComplianceRules | None = None, **firm: Any) -> None:
        self.journal = InMemoryJournal()
        self.desk = RiskDesk(limits=LimitsBook(Limits(**firm)),
                             rules=rules or ComplianceRules())
        universe = default_universe()
        self.service, self.monitor = self.desk.order_service(
            universe, self.journal, {"SIM": SimExchange(universe, liquidity=False)})
        self._n = 0

    async def start(self) -> Desk:
        await self.service.start()
        for symbol in ("AAPL", "KO", "XOM", "JPM", "MSFT"):
            self.control(Locates.event(MM, symbol, D(1_000_000), "test"), "locate")
        return self

    def control(self, payload: dict[str, Any], kind: str) -> None:
        self.service.record_control(kind, payload)

    def set_limits(self, account: str, **values: Any) -> None:
        self.control(self.desk.limits.change_event(account, values, "test"), limits.KIND)

    async def order(self, account: str, symbol: str, side: str, qty: Any, price: Any = None,
                    **kw: Any) -> Any:
        self._n += 1
        order_id = self.service.submit(SubmitOrder(
            cl_ord_id=f"C{self._n}", account=account, symbol=symbol, side=side,
            ord_type="2" if price is not None else "1", qty=D(str(qty)),
            price=None if price is None else D(str(price)), session=f"S-{account}", **kw))
        for _ in range(3):
            await self.service.barrier()
        return self.service.orders.get(order_id)

    async def fill(self, account: str, symbol: str, side: str, qty: Any, price: Any) -> None:
        """Give `account` a fill: the market maker rests the other side first."""
        other = "2" if side == "1" else "1"
        mm_side = "5" if other == "2" else other
        await self.order(MM, symbol, mm_side, qty, price)
        done = await self.order(account, symbol, side, qty, price)
        assert done.status is OrdStatus.FILLED, done.text

    def flags(self) -> list[dict[str, Any]]:
        return [e.payload for _, e in self.journal.entries
                if isinstance(e, ControlEvent) and e.kind == "order_flagged"]


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def accepted(order: Any) -> bool:
    return order.status is not OrdStatus.REJECTED


@pytest.mark.parametrize("limit,at,past,text", [
    ({"max_order_qty": 100}, dict(qty=100), dict(qty=101), "max order qty 100 exceeded: 101"),
    ({"max_order_notional": 17_000}, dict(qty=100), dict(qty=101),
     "max order notional 17,000 exceeded: 17,170"),
    ({"max_position_qty": 100}, dict(qty=100), dict(qty=1),
     "max position qty 100 exceeded: 101 long if all working orders fill"),
    ({"credit_limit": 17_000}, dict(qty=100), dict(qty=1), "credit limit 17,000 exceeded: 17,170"),
    ({"max_open_orders": 1}, dict(qty=1), dict(qty=1), "max open orders 1 exceeded: 2"),
])
def test_per_order_and_working_order_limits(limit, at, past, text):
    async def scenario():
        d = await Desk().start()
        d.set_limits("ACC1", **limit)
        assert accepted(await d.order("ACC1", "AAPL", "1", at["qty"], "170.00"))
        late = await d.order("ACC1", "AAPL", "1", past["qty"], "170.00")
        assert late.status is OrdStatus.REJECTED and text in late.text, late.text
    run(scenario())


@pytest.mark.parametrize("limit,text", [
    ({"max_gross_exposure": 17_000}, "max gross exposure 17,000 exceeded: 17,170"),
    ({"max_net_exposure": 17_000}, "max net exposure 17,000 exceeded: 17,170"),
    ({"equity": 10_000, "max_leverage": "1.7"}, "max leverage 1.7 exceeded: 1.72"),
])
def test_exposure_limits_count_positions(limit, text):
    async def scenario():
        d = await Desk().start()
        d.set_limits("ACC1", **limit)
        await d.fill("ACC1", "AAPL", "1", 100, "170.00")  # exactly at the limit
        late = await d.order("ACC1", "AAPL", "1", 1, "170.00")
        assert late.status is OrdStatus.REJECTED and text in late.text, late.text
        # Reducing the position is still fine.
        assert accepted(await d.order("ACC1", "AAPL", "2", 1, "171.00"))
    run(scenario())


def test_sector_concentration_at_and_past_the_limit():
    async def scenario():
        d = await Desk().start()
        # KO (Consumer Staples) 100 @ 52.00 held; XOM (Energy) 100 @ 52.00 is exactly half.
        await d.fill("ACC1", "KO", "1", 100, "52.00")
        d.set_limits("ACC1", max_sector_concentration="0.5", concentration_min_gross=0)
        assert accepted(await d.order("ACC1", "XOM", "1", 100, "52.00"))
        late = await d.order("ACC1", "XOM", "1", 101, "52.00")
        assert late.status is OrdStatus.REJECTED
        assert "max sector concentration 50% exceeded: Energy would be 50.2%" in late.text
    run(scenario())


def test_message_throttle_per_session():
    async def scenario():
        d = await Desk().start()
        d.set_limits("ACC1", messages_per_second=3)
        for _ in range(3):
            assert accepted(await d.order("ACC1", "AAPL", "1", 1, "160.00"))
        late = await d.order("ACC1", "AAPL", "1", 1, "160.00")
        assert "message throttle: more than 3 messages per second" in late.text
        assert accepted(await d.order("ACC2", "AAPL", "1", 1, "160.00"))  # other session
    run(scenario())


def test_restricted_and_watch_lists_firm_and_account():
    async def scenario():
        d = await Desk().start()
        d.control(RestrictedList.event("GS", None, "restricted", "cco"), "restricted_list")
        d.control(RestrictedList.event("JPM", "ACC1", "restricted", "cco"), "restricted_list")
        d.control(RestrictedList.event("BAC", None, "watch", "cco"), "restricted_list")
        assert "GS is on the restricted list" in (await d.order("ACC2", "GS", "1", 1, "340")).text
        assert "JPM is on the restricted list for account ACC1" in (
            await d.order("ACC1", "JPM", "1", 1, "140.00")).text
        assert accepted(await d.order("ACC2", "JPM", "1", 1, "140.00"))
        watched = await d.order("ACC1", "BAC", "1", 1, "39.00")
        assert accepted(watched)
        assert d.flags()[-1]["flags"] == ["watch list: BAC"]
        d.control(RestrictedList.event("GS", None, None, "cco"), "restricted_list")
        assert accepted(await d.order("ACC2", "GS", "1", 1, "340"))
    run(scenario())


def test_short_sale_needs_a_locate_and_working_shorts_use_it():
    async def scenario():
        d = await Desk().start()
        assert "needs a locate: 0 located" in (await d.order("ACC1", "MSFT", "5", 1, "330")).text
        d.control(Locates.event("ACC1", "MSFT", D(100), "desk"), "locate")
        assert accepted(await d.order("ACC1", "MSFT", "5", 100, "330"))
        late = await d.order("ACC1", "MSFT", "5", 1, "330")
        assert "needs a locate: 0 located shares available" in late.text
    run(scenario())


def test_sell_that_would_go_short_refused_or_remarked():
    async def scenario():
        d = await Desk().start()
        await d.fill("ACC1", "AAPL", "1", 100, "170.00")
        assert accepted(await d.order("ACC1", "AAPL", "2", 100, "180.00"))
        late = await d.order("ACC1", "AAPL", "2", 1, "180.00")
        assert "would take account ACC1 short" in late.text

        r = await Desk(ComplianceRules(sell_short_action="remark")).start()
        r.control(Locates.event("ACC1", "AAPL", D(50), "desk"), "locate")
        remarked = await r.order("ACC1", "AAPL", "2", 50, "180.00")
        assert accepted(remarked) and remarked.side is Side.SELL_SHORT
        assert "needs a locate for 1" in (await r.order("ACC1", "AAPL", "2", 1, "180.00")).text
    run(scenario())


def test_possible_duplicate_orders_rejected_or_flagged():
    async def scenario():
        d = await Desk(ComplianceRules(duplicate_window_s=60)).start()
        assert accepted(await d.order("ACC1", "AAPL", "1", 10, "160.00"))
        assert accepted(await d.order("ACC1", "AAPL", "1", 11, "160.00"))  # differs by one
        dup = await d.order("ACC1", "AAPL", "1", 10, "160.00")
        assert dup.status is OrdStatus.REJECTED and "possible duplicate" in dup.text
        f = await Desk(ComplianceRules(duplicate_window_s=60, duplicate_action="flag")).start()
        await f.order("ACC1", "AAPL", "1", 10, "160.00")
        assert accepted(await f.order("ACC1", "AAPL", "1", 10, "160.00"))
        assert "possible duplicate" in f.flags()[-1]["flags"][0]
    run(scenario())


@pytest.mark.parametrize("mode,new_accepted,resting_canceled", [
    ("cancel-newest", False, False),
    ("cancel-oldest", True, True),
    ("cancel-both", False, True),
])
def test_self_match_prevention(mode, new_accepted, resting_canceled):
    async def scenario():
        rules = ComplianceRules(self_match=mode, owner_groups={"ACC1": "FUND", "ACC2": "FUND"})
        d = await Desk(rules).start()
        d.control(Locates.event("ACC2", "AAPL", D(100), "desk"), "locate")
        resting = await d.order("ACC2", "AAPL", "5", 100, "170.00")
        assert accepted(await d.order("ACC1", "AAPL", "1", 10, "169.99"))  # does not cross
        new = await d.order("ACC1", "AAPL", "1", 10, "170.00")
        assert accepted(new) is new_accepted
        assert (resting.status is OrdStatus.CANCELED) is resting_canceled
        assert not new.fills  # never traded with itself
    run(scenario())


def test_halted_symbol_and_trading_hours():
    async def scenario():
        d = await Desk().start()
        d.control(InstrumentStatus.event("AAPL", True, "news pending", "ops"),
                  "instrument_status")
        assert "AAPL is halted: news pending" in (await d.order("ACC1", "AAPL", "1", 1, "170")).text
        d.control(InstrumentStatus.event("AAPL", False, "", "ops"), "instrument_status")
        assert accepted(await d.order("ACC1", "AAPL", "1", 1, "170.00"))
    run(scenario())

    # The gate asks the one trading calendar ([trading]) whether the market is open.
    hours = TradingCalendar("America/New_York", clock_time(9, 30), clock_time(16, 0),
                            MONDAY_TO_FRIDAY)
    rules = ComplianceRules()
    # 2026-11-25 is a Wednesday; New York is UTC-5 in November.
    at_open = ComplianceGate(rules, now=lambda: datetime(2026, 11, 25, 14, 30, tzinfo=UTC),
                             calendar=hours)
    before = ComplianceGate(rules, now=lambda: datetime(2026, 11, 25, 14, 29, tzinfo=UTC),
                            calendar=hours)
    weekend = ComplianceGate(rules, now=lambda: datetime(2026, 11, 28, 15, 0, tzinfo=UTC),
                             calendar=hours)

    class Aapl:
        symbol = "AAPL"

    assert at_open._trading_hours(Aapl()) is None
    assert "outside trading hours for AAPL: 09:30-16:00" in before._trading_hours(Aapl()).reason
    assert weekend._trading_hours(Aapl()) is not None


def test_daily_loss_limit_halts_cancels_and_survives_restart():
    async def scenario():
        d = await Desk().start()
        d.set_limits("ACC1", daily_loss_limit=1000, loss_action="halt")
        await d.fill("ACC1", "AAPL", "1", 100, "170.00")
        working = await d.order("ACC1", "AAPL", "1", 1, "155.00")
        await d.fill("ACC3", "AAPL", "1", 1, "160.00")  # marks AAPL at 160: P&L exactly -1000
        assert d.desk.states.get("ACC1") is AccountState.ACTIVE
        await d.fill("ACC3", "AAPL", "1", 1, "159.99")  # -1001: breached
        assert d.desk.states.get("ACC1") is AccountState.HALTED
        assert working.status is OrdStatus.CANCELED and "daily loss limit" in working.text
        refused = await d.order("ACC1", "AAPL", "2", 1, "170.00")
        assert "account ACC1 is HALTED (daily loss limit 1,000 breached" in refused.text
        await d.service.stop()

        again = Desk()
        again.journal = d.journal
        universe = default_universe()
        again.service, _ = again.desk.order_service(
            universe, d.journal, {"SIM": SimExchange(universe, liquidity=False)})
        await again.service.start()
        assert again.desk.states.get("ACC1") is AccountState.HALTED
        again.control(AccountStates.event("ACC1", AccountState.ACTIVE, "reviewed", "cro"),
                      accounts.KIND)
        assert accepted(await again.order("ACC1", "AAPL", "2", 1, "170.00"))
    run(scenario())


def test_loss_limit_reduce_mode_accepts_only_reducing_orders():
    async def scenario():
        d = await Desk().start()
        d.set_limits("ACC1", daily_loss_limit=500, loss_action="reduce")
        await d.fill("ACC1", "AAPL", "1", 100, "170.00")
        await d.fill("ACC3", "AAPL", "1", 1, "164.00")  # -600
        assert d.desk.states.get("ACC1") is AccountState.REDUCING
        assert "only orders that reduce" in (await d.order("ACC1", "AAPL", "1", 1, "164")).text
        assert accepted(await d.order("ACC1", "AAPL", "2", 100, "175.00"))
        # Beyond the position a sell would open a short: refused.
        assert (await d.order("ACC1", "AAPL", "2", 1, "175.00")).status is OrdStatus.REJECTED
    run(scenario())


def test_drawdown_shrinks_position_limits():
    async def scenario():
        d = await Desk().start()
        d.set_limits("ACC1", max_position_qty=200, drawdown_limit=300, drawdown_factor="0.5")
        await d.fill("ACC1", "AAPL", "1", 100, "170.00")
        await d.fill("ACC3", "AAPL", "1", 1, "175.00")  # +500: the high-water mark
        assert accepted(await d.order("ACC1", "AAPL", "1", 50, "160.00"))  # 150 <= 200
        await d.fill("ACC3", "AAPL", "1", 1, "171.00")  # +100: 400 off the high
        assert "ACC1" in d.desk.states.in_drawdown
        late = await d.order("ACC1", "AAPL", "1", 1, "160.00")
        assert "max position qty 100 exceeded: 151" in late.text
        assert "(limit scaled from 200)" in late.text
    run(scenario())


def test_kill_switch_for_one_session():
    async def scenario():
        d = await Desk().start()
        working = await d.order("ACC1", "AAPL", "1", 1, "160.00")
        d.control({"account": None, "session": "S-ACC1", "engaged": True, "by": "ops"},
                  "kill_switch")
        d.service.cancel_all(None, reason="kill switch", session="S-ACC1")
        await d.order("ACC2", "AAPL", "1", 1, "160.00")
        assert working.status is OrdStatus.CANCELED
        assert "kill switch engaged for session S-ACC1" in (
            await d.order("ACC1", "AAPL", "1", 1, "160.00")).text
    run(scenario())


def test_volatility_scaling_and_kelly():
    vol = VolatilityTracker(interval_s=1.0, decay=0.5)
    for t, px in enumerate(["100", "101", "99", "102", "98"]):
        vol.on_trade("X", D(px), float(t))
    realised = vol.annualised("X")
    assert realised is not None and realised > 1.0  # a very jumpy symbol
    assert vol_adjusted_limit(D(1000), D("0.30"), realised) < 1000
    assert vol_adjusted_limit(D(1000), D("0.30"), 0.15) == 1000  # calm: never loosens
    assert vol_adjusted_limit(D(1000), None, realised) == 1000
    assert kelly_fraction(0.6, 1.0) == pytest.approx(0.2)
    assert kelly_fraction(0.6, 1.0, fraction=0.5) == pytest.approx(0.1)
    assert kelly_fraction(0.4, 1.0) == 0.0
    assert kelly_continuous(0.08, 0.04, cap=1.5) == pytest.approx(1.5)
    with pytest.raises(ValueError):
        kelly_fraction(1.2, 1.0)


def test_limits_validation_and_audit_event():
    book = LimitsBook(Limits())
    event = book.change_event("ACC1", {"max_order_qty": 500, "loss_action": "reduce"}, "risk1")
    assert event["changes"]["max_order_qty"] == ["100000", "500"]
    assert event["by"] == "risk1"
    book.apply(event)
    assert book.for_account("ACC1").max_order_qty == 500
    assert book.for_account("ACC2").max_order_qty == 100_000
    for bad, message in ([{"max_order_qty": -1}, "non-negative"], [{"nope": 1}, "unknown limit"],
                         [{"loss_action": "panic"}, "loss_action must be one of"],
                         [{"max_sector_concentration": 2}, "share between 0 and 1"],
                         [{"max_open_orders": 1.5}, "whole number"]):
        with pytest.raises(limits.LimitError, match=message):
            book.change_event("ACC1", bad, "risk1")


def test_monitor_acts_live_but_not_while_the_journal_replays():
    class Actions:
        started = False

        def __init__(self) -> None:
            self.recorded: list[tuple[str, dict[str, Any]]] = []
            self.canceled: list[str | None] = []

        def record_control(self, kind: str, payload: dict[str, Any]) -> None:
            self.recorded.append((kind, payload))

        def cancel_all(self, account: str | None, reason: str, by: str = "",
                       session: str | None = None) -> list[Any]:
            self.canceled.append(account)
            return []

        def account_positions(self, account: str) -> list[Any]:
            from oms.positions import Position
            return [Position(account, "AAPL", D(100), D("170"))]

        def mark(self, symbol: str) -> D:
            return D("160")  # 1,000 under water

    book = LimitsBook(Limits(daily_loss_limit=D(500)))
    actions = Actions()
    monitor = RiskMonitor(actions, book, AccountStates())  # type: ignore[arg-type]
    monitor._evaluate("ACC1")
    assert actions.recorded == [] and actions.canceled == []  # replay: states are journaled
    actions.started = True
    monitor._evaluate("ACC1")
    assert [k for k, _ in actions.recorded] == ["account_state"]
    assert actions.recorded[0][1]["state"] == "HALTED" and actions.canceled == ["ACC1"]
