"""Positions and average cost per account and symbol, a projection of fills."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(slots=True)
class Position:
    account: str
    symbol: str
    qty: Decimal = Decimal(0)  # signed: long > 0, short < 0
    avg_px: Decimal = Decimal(0)
    realized_pnl: Decimal = Decimal(0)

    def apply_fill(self, signed_qty: Decimal, px: Decimal) -> None:
        """Average-cost accounting: adding to a position averages in, reducing realises P&L."""
        if self.qty == 0 or (self.qty > 0) == (signed_qty > 0):
            total = self.qty + signed_qty
            self.avg_px = (self.avg_px * abs(self.qty) + px * abs(signed_qty)) / abs(total)
            self.qty = total
            return
        closing = min(abs(signed_qty), abs(self.qty))
        direction = 1 if self.qty > 0 else -1
        self.realized_pnl += (px - self.avg_px) * closing * direction
        self.qty += signed_qty
        if self.qty == 0:
            self.avg_px = Decimal(0)
        elif (self.qty > 0) != (direction > 0):
            # Flipped through flat: the remainder opens at the fill price.
            self.avg_px = px


class PositionBook:
    def __init__(self) -> None:
        self._positions: dict[tuple[str, str], Position] = {}
        self._by_account: dict[str, dict[str, Position]] = {}

    def apply_fill(self, account: str, symbol: str, signed_qty: Decimal, px: Decimal) -> Position:
        key = (account, symbol)
        pos = self._positions.get(key)
        if pos is None:
            pos = self._positions[key] = Position(account, symbol)
            self._by_account.setdefault(account, {})[symbol] = pos
        pos.apply_fill(signed_qty, px)
        return pos

    def get(self, account: str, symbol: str) -> Position | None:
        return self._positions.get((account, symbol))

    def of_account(self, account: str) -> list[Position]:
        return list(self._by_account.get(account, {}).values())

    def all(self) -> list[Position]:
        return sorted(self._positions.values(), key=lambda p: (p.account, p.symbol))
