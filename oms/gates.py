"""What a pre-trade gate sees and how it answers.

Gates live in `compliance/` and `risk/`; the OMS runs them in order before
anything is journaled as accepted. A gate returns a `Denial` with its reason,
an `Approval` carrying conditions (audit flags, orders to cancel first, a
re-marked side), or None. It never raises.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from oms.enums import OrdRejReason, Side
from oms.exposure import WorkingExposure
from oms.instruments import Instrument
from oms.order import Order
from oms.positions import Position


@dataclass(frozen=True, slots=True)
class Denial:
    check: str  # machine name of the check, e.g. "max_order_notional"
    reason: str  # what the client reads in Text(58)
    ord_rej_reason: OrdRejReason = OrdRejReason.OTHER
    cancel_first: tuple[str, ...] = ()  # refused, and these resting orders canceled too


@dataclass(frozen=True, slots=True)
class Approval:
    """Accepted, on conditions the OMS carries out before the order works."""

    flags: tuple[str, ...] = ()  # audit-trail notes: watch list, possible duplicate, …
    cancel_first: tuple[str, ...] = ()  # order ids to cancel first (self-match prevention)
    side: Side | None = None  # re-marked side (a Sell that would go short -> SellShort)


class OrderLookup(Protocol):
    def by_cl_ord_id(self, session: str | None, cl_ord_id: str) -> Order | None: ...


class AccountView(Protocol):
    """What an account holds and has working, as the OMS knows it now."""

    def position_qty(self, account: str, symbol: str) -> Decimal: ...

    def account_positions(self, account: str) -> Iterable[Position]: ...

    def working(self, account: str, symbol: str) -> WorkingExposure: ...

    def working_orders(self, account: str | None = None, session: str | None = None,
                       symbol: str | None = None) -> list[Order]: ...

    def open_order_count(self, account: str) -> int: ...

    def open_order_notional(self, account: str) -> Decimal: ...

    def mark(self, symbol: str) -> Decimal | None: ...

    def sector(self, symbol: str) -> str: ...


NEW = "new"
REPLACE = "replace"
CHILD = "child"  # a slice of an accepted parent: the parent's acceptance covers its terms


@dataclass(frozen=True, slots=True)
class OrderContext:
    """An order as it would work: a new order, or a working order with a replace's terms
    (`intent` REPLACE; the account view then leaves the order's own working quantity out,
    so a gate sees the change: the new leaves in place of the old)."""

    order: Order
    instrument: Instrument | None
    reference_price: Decimal | None  # last trade at the venue, else the instrument's reference
    orders: OrderLookup
    account: AccountView | None = None
    intent: str = NEW

    @property
    def working_qty(self) -> Decimal:
        """What the order would add to the account's working quantity."""
        return self.order.qty - self.order.cum_qty


class PreTradeGate(Protocol):
    def check(self, ctx: OrderContext) -> Denial | Approval | None: ...
