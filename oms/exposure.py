"""Working-order exposure per account and symbol, kept current on every order event.

Risk checks need "what could this account end up holding if everything it has
working fills": the sum over its open orders. Summing on each new order would
cost O(open orders); this projection keeps each order's contribution and moves
it when the order changes, so every read is O(1).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

from oms.order import Order

ZERO = Decimal(0)


@dataclass(slots=True)
class WorkingExposure:
    """Open (unfilled) quantity and notional of one account's orders in one symbol."""

    buy_qty: Decimal = ZERO
    sell_qty: Decimal = ZERO
    buy_notional: Decimal = ZERO
    sell_notional: Decimal = ZERO
    short_qty: Decimal = ZERO  # of sell_qty: SellShort orders

    @property
    def notional(self) -> Decimal:
        return self.buy_notional + self.sell_notional


class ExposureBook:
    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], WorkingExposure] = {}
        self._orders: dict[str, tuple[str, str, bool, bool, Decimal, Decimal]] = {}
        self.open_orders: dict[str, int] = {}
        self.open_notional: dict[str, Decimal] = {}

    def get(self, account: str, symbol: str) -> WorkingExposure:
        return self._by_key.get((account, symbol)) or WorkingExposure()

    def update(self, order: Order, working_px: Decimal | None) -> None:
        """Move the order's contribution to what it is now (nothing once it is done)."""
        old = self._orders.pop(order.order_id, None)
        if old is not None:
            self._add(*old, sign=-1)
        if order.is_open and order.leaves_qty > 0:
            px = order.price or order.stop_px or working_px or ZERO
            new = (order.account, order.symbol, order.side.is_buy,
                   order.side.value == "5", order.leaves_qty, px)
            self._orders[order.order_id] = new
            self._add(*new, sign=1)

    @contextmanager
    def without(self, order: Order) -> Iterator[None]:
        """The book as if `order` were not working (to vet a replace of it), then restored."""
        old = self._orders.pop(order.order_id, None)
        if old is not None:
            self._add(*old, sign=-1)
        try:
            yield
        finally:
            if old is not None:
                self._orders[order.order_id] = old
                self._add(*old, sign=1)

    def _add(self, account: str, symbol: str, is_buy: bool, is_short: bool, qty: Decimal,
             px: Decimal, sign: int) -> None:
        exp = self._by_key.get((account, symbol))
        if exp is None:
            exp = self._by_key[(account, symbol)] = WorkingExposure()
        notional = qty * px * sign
        if is_buy:
            exp.buy_qty += qty * sign
            exp.buy_notional += notional
        else:
            exp.sell_qty += qty * sign
            exp.sell_notional += notional
            if is_short:
                exp.short_qty += qty * sign
        self.open_orders[account] = self.open_orders.get(account, 0) + sign
        self.open_notional[account] = self.open_notional.get(account, ZERO) + notional
