"""Order events: the immutable facts the journal stores, in the past tense.

An order is the fold of its events; positions and reports are projections of
the same rows. Each event serialises to a flat JSON-able dict (decimals as
strings) and back, so a journal row reads like a FIX log line.
"""

from __future__ import annotations

import dataclasses
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
        for name, optional, encode in _codec(type(self))[0]:
            value = getattr(self, name)
            if value is None:
                if optional:
                    continue  # read back as its default: smaller rows, faster replay
            elif encode is not None:
                value = encode(value)
            out[name] = value
        return out

    @classmethod
    def from_payload(cls, order_id: str, ts: datetime, payload: dict[str, Any]) -> OrderEvent:
        """Rebuild an event; keys this version does not know are ignored (events outlive
        code), a missing required one raises TypeError naming it.

        Replay rebuilds every event of the journal, so this fills the slots directly
        (the frozen dataclass __init__ costs several times more); the event is as
        immutable afterwards as one built the usual way."""
        event = object.__new__(cls)
        _SET_ORDER_ID(event, order_id)
        _SET_TS(event, ts)
        for name, decode, setter, default in _codec(cls)[1]:
            value = payload.get(name, _MISSING)
            if value is _MISSING:
                if default is _MISSING:
                    raise TypeError(f"{cls.kind} event without its {name!r} field")
                value = default() if callable(default) else default
            elif value is not None and decode is not None:
                value = decode(value)
            setter(event, value)
        return event


_MISSING = object()


def _datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


Writer = tuple[tuple[str, bool, Any], ...]  # (field, None is its default, encode)
Reader = tuple[tuple[str, Any, Any, Any], ...]  # (field, decode, slot setter, default)
_CODECS: dict[type, tuple[Writer, Reader]] = {}
_ENUMS = (("Side", Side), ("OrdType", OrdType), ("TimeInForce", TimeInForce))


def _codec(cls: type) -> tuple[Writer, Reader]:
    """How each stored field of an event class is written and read back, worked out once
    per class from its annotations: every event is journaled and replayed, so writing or
    reading one is a getattr or a slot set per field, not a type test."""
    known = _CODECS.get(cls)
    if known is not None:
        return known
    write, read = [], []
    for f in dataclasses.fields(cls):
        if f.name in ("order_id", "ts"):
            continue
        kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
        encode: Any = None
        decode: Any = None
        if kind.startswith("Decimal"):
            encode, decode = str, Decimal
        elif kind.startswith("datetime"):  # orjson writes ISO 8601 itself
            decode = _datetime
        for prefix, enum in _ENUMS:
            if kind.startswith(prefix):
                encode = _enum_value
                decode = enum._value2member_map_.__getitem__  # a dict lookup, not Enum()
        default: Any = _MISSING
        if f.default is not dataclasses.MISSING:
            default = f.default
            if callable(default):  # a callable default would be called: wrap it
                default = (lambda v: lambda: v)(default)
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory
        write.append((f.name, f.default is None, encode))
        read.append((f.name, decode, getattr(cls, f.name).__set__, default))
    known = _CODECS[cls] = (tuple(write), tuple(read))
    return known


def _enum_value(member: Any) -> Any:
    return member.value


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
    parent_id: str | None = None  # a child order: the client order it works a part of
    # A parent worked by an algorithm: its strategy and parameters as strings
    # (oms/execution/algos.py reads them back), fixed for the order's life.
    algo: dict[str, str] | None = None
    expire_time: datetime | None = None  # GTD: when the order expires (UTC)
    # Trailing stop held by the OMS: the stop trails the best price by this offset,
    # a price amount, or basis points of the best price when trail_in_bps.
    trail_offset: Decimal | None = None
    trail_in_bps: bool = False


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
    # Added later: rows written before have neither and replay with these defaults.
    venue: str = ""  # where it traded (LastMkt(30)); "" means the order's venue
    fee: Decimal = Decimal(0)  # the venue's fee for this fill (negative: a rebate)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderTriggered(OrderEvent):
    """A stop order's stop price was touched; it now works as market/limit."""

    kind: ClassVar[str] = "triggered"
    trigger_px: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderStopMoved(OrderEvent):
    """A trailing stop moved with the market: `best_px` is the high (sell) or low (buy)
    it trails; journaled so that a restart resumes the trail where it was."""

    kind: ClassVar[str] = "stop_moved"
    stop_px: Decimal
    best_px: Decimal


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
        OrderStopMoved,
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


_SET_ORDER_ID = OrderEvent.__dict__["order_id"].__set__  # the slots' own setters
_SET_TS = OrderEvent.__dict__["ts"].__set__
