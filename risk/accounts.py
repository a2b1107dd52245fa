"""Account trading states (ACTIVE, REDUCING, HALTED) and the day's P&L marks.

States change by journaled control events, so a HALTED account is still
HALTED after a restart.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum
from typing import Any

from oms.positions import Position

KIND = "account_state"
DRAWDOWN_KIND = "drawdown"  # the P&L high-water mark and whether the account is past it


class AccountState(StrEnum):
    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"  # only orders that reduce a position are accepted
    HALTED = "HALTED"  # everything refused, working orders canceled


class AccountStates:
    def __init__(self) -> None:
        self.states: dict[str, AccountState] = {}
        self.reasons: dict[str, str] = {}
        self.high_water: dict[str, Decimal] = {}
        self.in_drawdown: set[str] = set()
        # Each account's total P&L at the last close: the day's P&L is measured from it.
        self.day_start_pnl: dict[str, Decimal] = {}
        self.trading_date: str | None = None  # the last trading date closed

    def get(self, account: str) -> AccountState:
        return self.states.get(account, AccountState.ACTIVE)

    @staticmethod
    def event(account: str, state: AccountState, reason: str, by: str) -> dict[str, Any]:
        return {"account": account, "state": state.value, "reason": reason, "by": by}

    def apply(self, payload: dict[str, Any]) -> None:
        account, state = payload["account"], AccountState(payload["state"])
        self.states[account] = state
        self.reasons[account] = payload.get("reason", "")
        if state is AccountState.ACTIVE:
            # Re-activated by an operator: the drawdown clock starts again.
            self.in_drawdown.discard(account)
            self.high_water.pop(account, None)


    @staticmethod
    def drawdown_event(account: str, high_water: Decimal, in_drawdown: bool) -> dict[str, Any]:
        return {"account": account, "high_water": str(high_water), "in_drawdown": in_drawdown}

    def apply_drawdown(self, payload: dict[str, Any]) -> None:
        account = payload["account"]
        self.high_water[account] = Decimal(payload["high_water"])
        if payload.get("in_drawdown"):
            self.in_drawdown.add(account)
        else:
            self.in_drawdown.discard(account)


    def apply_day_closed(self, payload: dict[str, Any]) -> None:
        """The day rolled (a day_closed event): the day's P&L starts again from the P&L at
        the close, and the drawdown high-water marks reset with it. Account states
        (REDUCING, HALTED) stay as they are: an operator releases them."""
        self.trading_date = payload.get("date", self.trading_date)
        self.day_start_pnl = {a: Decimal(v) for a, v in payload.get("pnl_at_close", {}).items()}
        self.high_water.clear()
        self.in_drawdown.clear()


def pnl(positions: Iterable[Position], mark: Any) -> tuple[Decimal, Decimal]:
    """(realised, unrealised) P&L of positions marked by `mark(symbol)`."""
    realised = unrealised = Decimal(0)
    for p in positions:
        realised += p.realized_pnl
        price = mark(p.symbol) if p.qty else None
        if price is not None:
            unrealised += (price - p.avg_px) * p.qty
    return realised, unrealised
