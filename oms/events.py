"""Order events: the immutable facts the journal stores, in the past tense.

An order is the fold of its events; positions and reports are projections of
the same rows. Each event serialises to a flat JSON-able dict (decimals as
strings) and back, so a journal row reads like a FIX log line.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar

from oms.enums import OrdType, Side, TimeInForce


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderEvent:
    kind: ClassVar[str] = ""
    order_id: str
    ts: datetime = field(default_factory=utcnow)

    def to_payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in _payload_fields(type(self)):
            value = getattr(self, name)
            if isinstance(value, Decimal):
                value = str(value)
            elif isinstance(value, (Side, OrdType, TimeInForce)):
                value = value.value
            out[name] = value
        return out

    @classmethod
    def from_payload(cls, order_id: str, ts: datetime, payload: dict[str, Any]) -> OrderEvent:
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name in ("order_id", "ts") or f.name not in payload:
                continue
            kwargs[f.name] = _decode(f.type, payload[f.name])
        return cls(order_id=order_id, ts=ts, **kwargs)


@functools.cache
def _payload_fields(cls: type) -> tuple[str, ...]:
    """The fields an event stores (every event is journaled: reflect once per class)."""
    return tuple(f.name for f in dataclasses.fields(cls) if f.name not in ("order_id", "ts"))


def _decode(type_name: Any, value: Any) -> Any:
    if value is None:
        return None
    name = type_name if isinstance(type_name, str) else getattr(type_name, "__name__", "")
    if name.startswith("Decimal"):
        return Decimal(value)
    if name.startswith("Side"):
        return Side(value)
    if name.startswith("OrdType"):
        return OrdType(value)
    if name.startswith("TimeInForce"):
        return TimeInForce(value)
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderSubmitted(OrderEvent):
    """The full order as received; every order starts with this event."""

    kind: ClassVar[str] = "submitted"
    cl_ord_id: str
    account: str
    symbol: str
    side: Side
    ord_type: OrdType
    time_in_force: TimeInForce
    qty: Decimal
    price: Decimal | None = None
    stop_px: Decimal | None = None
    session: str | None = None  # the FIX session (or "api:<user>") the order came from
    venue: str = "SIM"


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderAccepted(OrderEvent):
    """Passed the gates: the gateway owns the order (ExecType New)."""

    kind: ClassVar[str] = "accepted"


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRejected(OrderEvent):
    kind: ClassVar[str] = "rejected"
    reason: str
    ord_rej_reason: int
    check: str = ""  # the gate check that said no, e.g. "max_order_notional"


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderFilled(OrderEvent):
    kind: ClassVar[str] = "filled"
    exec_id: str
    last_qty: Decimal
    last_px: Decimal
    venue_trade_id: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderTriggered(OrderEvent):
    """A stop order's stop price was touched; it now works as market/limit."""

    kind: ClassVar[str] = "triggered"
    trigger_px: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderPendingCancel(OrderEvent):
    kind: ClassVar[str] = "pending_cancel"
    cl_ord_id: str  # ClOrdID of the cancel request; "" when unsolicited (operator, kill switch)
    requested_by: str = ""
    reason: str = "canceled on request"


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderCanceled(OrderEvent):
    kind: ClassVar[str] = "canceled"
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderCancelRejected(OrderEvent):
    """A cancel or replace the venue or OMS refused; the order's state reverts."""

    kind: ClassVar[str] = "cancel_rejected"
    cl_ord_id: str
    reason: str
    cxl_rej_reason: int
    response_to: str  # CxlRejResponseTo value


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderPendingReplace(OrderEvent):
    kind: ClassVar[str] = "pending_replace"
    cl_ord_id: str
    qty: Decimal
    price: Decimal | None = None
    stop_px: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderReplaced(OrderEvent):
    kind: ClassVar[str] = "replaced"
    cl_ord_id: str
    qty: Decimal
    price: Decimal | None = None
    stop_px: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderExpired(OrderEvent):
    kind: ClassVar[str] = "expired"
    reason: str = ""


EVENT_TYPES: dict[str, type[OrderEvent]] = {
    cls.kind: cls
    for cls in (
        OrderSubmitted,
        OrderAccepted,
        OrderRejected,
        OrderFilled,
        OrderTriggered,
        OrderPendingCancel,
        OrderCanceled,
        OrderCancelRejected,
        OrderPendingReplace,
        OrderReplaced,
        OrderExpired,
    )
}


def event_from_row(kind: str, order_id: str, ts: datetime, payload: dict[str, Any]) -> OrderEvent:
    return EVENT_TYPES[kind].from_payload(order_id, ts, payload)
