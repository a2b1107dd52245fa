"""Automated risk controls: real-time P&L, the daily loss circuit breaker and
drawdown-based reduction.

P&L per account is realised (from fills) plus unrealised (positions marked to
the venue's last trade), recomputed on every fill and every trade print of a
symbol the account holds. A breach moves the account to REDUCING or HALTED
through a journaled control event, so the state survives a restart.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

from oms.events import OrderEvent, OrderFilled
from oms.marketdata import Quote, TradeTick
from oms.order import Order
from oms.positions import Position
from risk.accounts import DRAWDOWN_KIND, AccountState, AccountStates, pnl
from risk.accounts import KIND as STATE_KIND
from risk.limits import LimitsBook
from risk.volatility import VolatilityTracker


class RiskActions(Protocol):
    """What the monitor may do: the OrderService offers exactly this."""

    started: bool

    def record_control(self, kind: str, payload: dict[str, Any]) -> None: ...

    def cancel_all(self, account: str | None, reason: str, by: str = "",
                   session: str | None = None) -> list[Order]: ...

    def account_positions(self, account: str) -> list[Position]: ...

    def accounts_with_positions(self) -> list[str]: ...

    def mark(self, symbol: str) -> Decimal | None: ...


class RiskMonitor:
    def __init__(self, actions: RiskActions, limits: LimitsBook, states: AccountStates,
                 volatility: VolatilityTracker | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.actions = actions
        self.limits = limits
        self.states = states
        self.volatility = volatility
        self.clock = clock
        self._holders: dict[str, set[str]] = {}  # symbol -> accounts holding it
        self._high: dict[str, Decimal] = {}  # the exact high-water mark since start

    def account_pnl(self, account: str) -> tuple[Decimal, Decimal]:
        """(realised, unrealised) P&L since the account started trading."""
        return pnl(self.actions.account_positions(account), self.actions.mark)

    def day_pnl(self, account: str) -> Decimal:
        """The trading day's P&L: the total less the total at the last close."""
        realised, unrealised = self.account_pnl(account)
        return realised + unrealised - self.states.day_start_pnl.get(account, Decimal(0))

    def day_close_payload(self, payload: dict[str, Any]) -> None:
        """What a day_closed event carries for risk: each account's P&L at the close (the
        next day's zero), so a replay resets to the same marks without market data."""
        totals = {}
        for account in self.actions.accounts_with_positions():
            realised, unrealised = self.account_pnl(account)
            totals[account] = str(realised + unrealised)
        payload["pnl_at_close"] = totals
        self._high.clear()

    def on_order_event(self, order: Order, event: OrderEvent) -> None:
        if isinstance(event, OrderFilled):
            self._holders.setdefault(order.symbol, set()).add(order.account)
            self._evaluate(order.account)

    def on_market_data(self, data: Quote | TradeTick) -> None:
        if not isinstance(data, TradeTick):
            return
        if self.volatility is not None and self.clock is not None:
            self.volatility.on_trade(data.symbol, data.price, self.clock())
        for account in self._holders.get(data.symbol, ()):
            self._evaluate(account)

    def _drawdown(self, account: str, total: Decimal, limit: Decimal) -> None:
        """Track the high-water mark and the drawdown state, durably: a flip of the state
        is journaled at once, a rising mark each time it has risen by 1% of the limit
        (so a restart may see a mark at most that much lower)."""
        states = self.states
        if account not in states.high_water:  # none journaled yet, or reset by re-activation
            self._high.pop(account, None)
        journaled = states.high_water.get(account, Decimal(0))
        high = max(self._high.get(account, journaled), total)
        self._high[account] = high
        past = high - total > limit
        if past != (account in states.in_drawdown) or high - journaled >= limit / 100:
            self.actions.record_control(DRAWDOWN_KIND,
                                        AccountStates.drawdown_event(account, high, past))

    def _evaluate(self, account: str) -> None:
        if not self.actions.started:
            return  # replaying the journal: states come from their own events
        limits = self.limits.for_account(account)
        if limits.daily_loss_limit is None and limits.drawdown_limit is None:
            return
        total = self.day_pnl(account)
        if limits.drawdown_limit is not None:
            self._drawdown(account, total, limits.drawdown_limit)
        state = self.states.get(account)
        if (limits.daily_loss_limit is None or total >= -limits.daily_loss_limit
                or state is AccountState.HALTED
                or (state is AccountState.REDUCING and limits.loss_action == "reduce")):
            return
        target = AccountState.HALTED if limits.loss_action == "halt" else AccountState.REDUCING
        reason = (f"daily loss limit {limits.daily_loss_limit:,} breached: P&L {total:,.2f}")
        self.actions.record_control(STATE_KIND, AccountStates.event(account, target, reason,
                                                                    "risk monitor"))
        if target is AccountState.HALTED:
            self.actions.cancel_all(account, reason=f"account halted: {reason}", by="risk")
