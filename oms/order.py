"""The order and its state machine, with FIX OrdStatus semantics.

Every move is a row of `TRANSITIONS`; anything else is refused by name
("FILLED -> NEW"), in the style of nautilus_trader's order state table. An
order is rebuilt by applying its events in journal order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from oms.enums import OrdStatus, OrdType, Side, TimeInForce
from oms.events import (
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderPendingCancel,
    OrderPendingReplace,
    OrderRejected,
    OrderReplaced,
    OrderStopMoved,
    OrderSubmitted,
    OrderTriggered,
)

S = OrdStatus
AVG_PX_QUANTUM = Decimal("0.00000001")  # AvgPx to 8 places: exact for any real tick size

# (state, event kind) -> next state. "filled" resolves to FILLED or
# PARTIALLY_FILLED by quantity; "cancel_rejected" reverts to the state held
# before the pending request. Real-world edges: a fill may arrive while a
# cancel or replace is pending, and a cancel may be refused by the venue.
TRANSITIONS: dict[tuple[OrdStatus, str], OrdStatus | None] = {
    (S.PENDING_NEW, "accepted"): S.NEW,
    (S.PENDING_NEW, "rejected"): S.REJECTED,
    (S.NEW, "rejected"): S.REJECTED,  # accepted by the OMS, refused by the venue
    (S.NEW, "filled"): None,
    (S.NEW, "triggered"): S.NEW,
    (S.NEW, "pending_cancel"): S.PENDING_CANCEL,
    (S.NEW, "pending_replace"): S.PENDING_REPLACE,
    (S.NEW, "canceled"): S.CANCELED,
    (S.NEW, "expired"): S.EXPIRED,
    (S.NEW, "replaced"): S.NEW,
    (S.NEW, "stop_moved"): S.NEW,
    (S.PENDING_CANCEL, "stop_moved"): S.PENDING_CANCEL,
    (S.PENDING_REPLACE, "stop_moved"): S.PENDING_REPLACE,
    (S.PARTIALLY_FILLED, "filled"): None,
    (S.PARTIALLY_FILLED, "triggered"): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, "pending_cancel"): S.PENDING_CANCEL,
    (S.PARTIALLY_FILLED, "pending_replace"): S.PENDING_REPLACE,
    (S.PARTIALLY_FILLED, "canceled"): S.CANCELED,
    (S.PARTIALLY_FILLED, "expired"): S.EXPIRED,
    (S.PARTIALLY_FILLED, "replaced"): None,
    (S.PENDING_CANCEL, "filled"): None,
    (S.PENDING_CANCEL, "triggered"): S.PENDING_CANCEL,  # the stop fired before the cancel
    (S.PENDING_CANCEL, "canceled"): S.CANCELED,
    (S.PENDING_CANCEL, "expired"): S.EXPIRED,
    (S.PENDING_CANCEL, "cancel_rejected"): None,
    (S.PENDING_REPLACE, "filled"): None,
    (S.PENDING_REPLACE, "triggered"): S.PENDING_REPLACE,
    (S.PENDING_REPLACE, "replaced"): None,
    (S.PENDING_REPLACE, "canceled"): S.CANCELED,
    (S.PENDING_REPLACE, "expired"): S.EXPIRED,
    (S.PENDING_REPLACE, "cancel_rejected"): None,
    (S.PENDING_REPLACE, "pending_cancel"): S.PENDING_CANCEL,
    # A late fill: the venue traded the order before our cancel (or expiry) reached it.
    # Booked; by FIX OrdStatus precedence the order shows Filled once complete and
    # otherwise stays Canceled/Expired (no venue works its remainder).
    (S.CANCELED, "filled"): None,
    (S.EXPIRED, "filled"): None,
}


_REFUSED: Any = object()  # "no row in the table" (None is a row: resolved by its handler)
_PENDING = frozenset({OrdStatus.PENDING_CANCEL, OrdStatus.PENDING_REPLACE})


class InvalidTransition(Exception):
    def __init__(self, order_id: str, status: OrdStatus | None, kind: str) -> None:
        where = status.name if status is not None else "UNKNOWN ORDER"
        super().__init__(f"order {order_id}: illegal transition {where} -> {kind}")
        self.status = status
        self.kind = kind


@dataclass(slots=True)
class Fill:
    exec_id: str
    last_qty: Decimal
    last_px: Decimal
    ts: datetime
    venue_trade_id: str = ""
    venue: str = ""
    fee: Decimal = Decimal(0)


@dataclass(slots=True)
class Order:
    order_id: str
    cl_ord_id: str
    account: str
    symbol: str
    side: Side
    ord_type: OrdType
    time_in_force: TimeInForce
    qty: Decimal
    price: Decimal | None
    stop_px: Decimal | None
    session: str | None
    venue: str
    created: datetime
    updated: datetime
    status: OrdStatus = OrdStatus.PENDING_NEW
    orig_cl_ord_id: str | None = None
    cum_qty: Decimal = Decimal(0)
    notional: Decimal = Decimal(0)  # sum of fill qty x price; AvgPx is derived when read
    triggered: bool = False
    text: str = ""
    fills: list[Fill] = field(default_factory=list)
    previous_status: OrdStatus | None = None
    pending_cl_ord_id: str | None = None  # ClOrdID of an in-flight cancel/replace
    pending_replace: OrderPendingReplace | None = None
    pending_reason: str = ""  # why a pending cancel was asked for, reported when it lands
    version: int = 1  # events applied; makes ExecIDs deterministic across replays
    parent_id: str | None = None  # a child: the client order it works a part of
    algo: dict[str, str] | None = None  # a parent worked by an algorithm: its parameters
    expire_time: datetime | None = None  # GTD
    trail_offset: Decimal | None = None  # a trailing stop, held by the OMS until triggered
    trail_in_bps: bool = False
    trail_best_px: Decimal | None = None  # the high (sell) or low (buy) the stop trails

    @property
    def is_trailing(self) -> bool:
        return self.trail_offset is not None

    @classmethod
    def from_submitted(cls, e: OrderSubmitted) -> Order:
        return cls(
            order_id=e.order_id,
            cl_ord_id=e.cl_ord_id,
            account=e.account,
            symbol=e.symbol,
            side=e.side,
            ord_type=e.ord_type,
            time_in_force=e.time_in_force,
            qty=e.qty,
            price=e.price,
            stop_px=e.stop_px,
            session=e.session,
            venue=e.venue,
            created=e.ts,
            updated=e.ts,
            parent_id=e.parent_id,
            algo=e.algo,
            expire_time=e.expire_time,
            trail_offset=e.trail_offset,
            trail_in_bps=e.trail_in_bps,
        )

    @property
    def leaves_qty(self) -> Decimal:
        if self.status.is_terminal:
            return Decimal(0)
        return self.qty - self.cum_qty

    @property
    def avg_px(self) -> Decimal:
        if not self.cum_qty:
            return Decimal(0)
        return tidy((self.notional / self.cum_qty).quantize(AVG_PX_QUANTUM))

    @property
    def is_open(self) -> bool:
        return not self.status.is_terminal and self.status is not OrdStatus.PENDING_NEW

    @property
    def is_pending_request(self) -> bool:
        return self.status in _PENDING

    def to_dict(self) -> dict[str, object]:
        """The order as the REST API shows it: snake_case FIX names, decimals as strings."""
        return {
            "order_id": self.order_id,
            "cl_ord_id": self.cl_ord_id,
            "orig_cl_ord_id": self.orig_cl_ord_id,
            "account": self.account,
            "symbol": self.symbol,
            "side": self.side.value,
            "ord_type": self.ord_type.value,
            "time_in_force": self.time_in_force.value,
            "qty": str(self.qty),
            "price": None if self.price is None else str(self.price),
            "stop_px": None if self.stop_px is None else str(self.stop_px),
            "status": self.status.value,
            "status_name": self.status.name,
            "cum_qty": str(self.cum_qty),
            "leaves_qty": str(self.leaves_qty),
            "avg_px": str(self.avg_px),
            "venue": self.venue,
            "session": self.session,
            "parent_id": self.parent_id,
            "text": self.text,
            "expire_time": None if self.expire_time is None else self.expire_time.isoformat(),
            "trailing": None if self.trail_offset is None else {
                "offset": str(self.trail_offset), "offset_type": "bps" if self.trail_in_bps
                else "price", "best_px": _str_or_none(self.trail_best_px),
                "triggered": self.triggered},
            "created": self.created.isoformat(),
            "updated": self.updated.isoformat(),
        }

    def apply(self, event: OrderEvent) -> None:
        """Move the order by one event, or raise InvalidTransition and change nothing."""
        kind = event.kind
        target = TRANSITIONS.get((self.status, kind), _REFUSED)
        if target is _REFUSED:
            raise InvalidTransition(self.order_id, self.status, kind)
        handler = _HANDLERS.get(kind)
        if handler is not None:
            target = handler(self, event, target)
        if target is None:
            raise InvalidTransition(self.order_id, self.status, kind)
        if target in _PENDING and self.status not in _PENDING:
            self.previous_status = self.status
        self.status = target
        self.updated = event.ts
        self.version += 1

    # Handlers return the target state; they change fields the event carries.

    def _status_by_fill(self) -> OrdStatus:
        if self.cum_qty >= self.qty:
            return OrdStatus.FILLED
        if self.cum_qty > 0:
            return OrdStatus.PARTIALLY_FILLED
        return OrdStatus.NEW

    def _on_rejected(self, e: OrderRejected, target: OrdStatus | None) -> OrdStatus | None:
        self.text = e.reason
        return target

    def _on_filled(self, e: OrderFilled, target: OrdStatus | None) -> OrdStatus | None:
        if e.last_qty <= 0 or e.last_qty > self.qty - self.cum_qty:
            raise InvalidTransition(self.order_id, self.status, f"filled {e.last_qty} > leaves")
        if e.venue_trade_id and any(f.venue_trade_id == e.venue_trade_id for f in self.fills):
            raise InvalidTransition(self.order_id, self.status,
                                    f"filled again by trade {e.venue_trade_id}")
        self.notional += e.last_px * e.last_qty
        self.cum_qty += e.last_qty
        self.fills.append(Fill(e.exec_id, e.last_qty, e.last_px, e.ts, e.venue_trade_id,
                               e.venue or self.venue, e.fee))
        by_fill = self._status_by_fill()
        if self.status.is_terminal:  # a late fill
            return by_fill if by_fill is OrdStatus.FILLED else self.status
        if self.is_pending_request and by_fill is not OrdStatus.FILLED:
            # Still pending: remember what the order would revert to.
            self.previous_status = by_fill
            return self.status
        return by_fill

    def _on_triggered(self, e: OrderTriggered, target: OrdStatus | None) -> OrdStatus | None:
        self.triggered = True
        return target

    def _on_stop_moved(self, e: OrderStopMoved, target: OrdStatus | None) -> OrdStatus | None:
        self.stop_px = e.stop_px
        self.trail_best_px = e.best_px
        return target

    def _on_pending_cancel(
        self, e: OrderPendingCancel, target: OrdStatus | None
    ) -> OrdStatus | None:
        self.pending_cl_ord_id = e.cl_ord_id
        self.pending_reason = e.reason
        return target

    def _on_pending_replace(
        self, e: OrderPendingReplace, target: OrdStatus | None
    ) -> OrdStatus | None:
        self.pending_cl_ord_id = e.cl_ord_id
        self.pending_replace = e
        return target

    def _clear_pending(self) -> None:
        self.pending_cl_ord_id = None
        self.pending_replace = None
        self.pending_reason = ""

    def _on_canceled(self, e: OrderCanceled, target: OrdStatus | None) -> OrdStatus | None:
        # A cancel the client asked for answers with the cancel's ClOrdID; an
        # unsolicited one (kill switch, operator, IOC remainder) keeps the order's.
        if self.pending_cl_ord_id and self.status is OrdStatus.PENDING_CANCEL:
            self.orig_cl_ord_id, self.cl_ord_id = self.cl_ord_id, self.pending_cl_ord_id
        self._clear_pending()
        self.text = e.reason
        return target

    def _on_expired(self, e: OrderExpired, target: OrdStatus | None) -> OrdStatus | None:
        self._clear_pending()
        self.text = e.reason
        return target

    def _on_cancel_rejected(
        self, e: OrderCancelRejected, target: OrdStatus | None
    ) -> OrdStatus | None:
        self._clear_pending()
        restored = self.previous_status or self._status_by_fill()
        self.previous_status = None
        return restored

    def _on_replaced(self, e: OrderReplaced, target: OrdStatus | None) -> OrdStatus | None:
        if e.qty < self.cum_qty:
            raise InvalidTransition(self.order_id, self.status, f"replace qty {e.qty} < cum_qty")
        self.orig_cl_ord_id, self.cl_ord_id = self.cl_ord_id, e.cl_ord_id
        self.qty = e.qty
        self.price = e.price
        self.stop_px = e.stop_px
        self._clear_pending()
        self.previous_status = None
        return self._status_by_fill()


# Each event kind's handler, looked up once (replay applies every event of the journal).
_HANDLERS = {name.removeprefix("_on_"): fn for name, fn in vars(Order).items()
             if name.startswith("_on_")}


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def tidy(value: Decimal) -> Decimal:
    """Drop trailing zeros without switching to exponent notation (170, not 1.7E+2)."""
    value = value.normalize()
    return value.quantize(Decimal(1)) if value.as_tuple().exponent > 0 else value  # type: ignore[operator]
