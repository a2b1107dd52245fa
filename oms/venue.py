"""The venue adapter protocol: the only way an order reaches a venue.

The OMS hands a venue a `VenueOrder` (the leaves of a parent order or an
algorithm's child) and hears back through a `VenueListener`. Adapters call
the listener on the event loop that owns the OMS; an adapter whose library
runs its own threads hands events over with `loop.call_soon_threadsafe`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, runtime_checkable

from oms.enums import OrdType, Side, TimeInForce
from oms.marketdata import MarketDataHandler


class VenueStatus(StrEnum):
    """Whether a venue takes orders: `GET /venues` shows it, and a pinned order to a venue
    that is `down` is refused ("venue X is down")."""

    UP = "up"
    DOWN = "down"
    DEGRADED = "degraded"  # connected but impaired (slow, recovering): orders still go


@dataclass(frozen=True, slots=True)
class VenueOrder:
    order_id: str
    account: str
    symbol: str
    side: Side
    ord_type: OrdType
    time_in_force: TimeInForce
    qty: Decimal  # quantity still to work (the parent's leaves)
    price: Decimal | None = None
    stop_px: Decimal | None = None


@dataclass(frozen=True, slots=True)
class VenueAccepted:
    order_id: str


@dataclass(frozen=True, slots=True)
class VenueFill:
    order_id: str
    qty: Decimal
    price: Decimal
    trade_id: str
    # What the venue charges (positive) or pays as a rebate (negative) for this fill, in
    # the instrument's currency; 0 where the venue reports none.
    fee: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class VenueTriggered:
    order_id: str
    trigger_px: Decimal


@dataclass(frozen=True, slots=True)
class VenueCanceled:
    """The venue took the order (or its remainder) off: a cancel request or IOC/FOK expiry."""

    order_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class VenueReplaced:
    """The venue applied the replace exactly as asked."""

    order_id: str


@dataclass(frozen=True, slots=True)
class VenueRequestRejected:
    """The venue refused a cancel or replace (too late, unknown order)."""

    order_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class VenueOrderRejected:
    """The venue refused a new order outright."""

    order_id: str
    reason: str


VenueEvent = (
    VenueAccepted
    | VenueFill
    | VenueTriggered
    | VenueCanceled
    | VenueReplaced
    | VenueRequestRejected
    | VenueOrderRejected
)


class VenueListener(Protocol):
    def on_venue_event(self, event: VenueEvent) -> None: ...


class Venue(Protocol):
    name: str
    status: VenueStatus
    status_since: datetime  # UTC: when `status` last changed

    def set_listener(self, listener: VenueListener) -> None: ...

    def submit(self, order: VenueOrder) -> None: ...

    def cancel(self, order_id: str) -> None: ...

    def replace(
        self, order_id: str, leaves_qty: Decimal, price: Decimal | None, stop_px: Decimal | None
    ) -> None:
        """Change an open order: `leaves_qty` is what should still work after the replace."""
        ...

    def subscribe(self, handler: MarketDataHandler) -> None: ...

    def last_price(self, symbol: str) -> Decimal | None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@runtime_checkable
class ResumableVenue(Protocol):
    """A venue whose orders outlive this process (an upstream FIX venue): after a
    restart the OMS asks it to reconcile each order it believes working there,
    instead of submitting the order again. Answers come as ordinary venue events
    (an order the venue no longer knows: VenueCanceled with the reason)."""

    def resume(self, order: VenueOrder) -> None: ...
