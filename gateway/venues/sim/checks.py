"""What the exchange refuses: the reasons a new order or a replace is turned away."""

from __future__ import annotations

from decimal import Decimal

from oms.enums import OrdType
from oms.instruments import Instrument
from oms.venue import VenueOrder


def order_problem(order: VenueOrder, instrument: Instrument | None) -> str | None:
    """Why the venue would reject this new order, or None if it is acceptable."""
    if instrument is None:
        return f"unknown symbol {order.symbol!r}"
    if order.ord_type.needs_price and order.price is None:
        return f"{order.ord_type.name} order needs a price"
    if order.ord_type.needs_stop_px and order.stop_px is None:
        return f"{order.ord_type.name} order needs a stop price"
    price = order.price if order.ord_type.needs_price else None
    stop_px = order.stop_px if order.ord_type.needs_stop_px else None
    return terms_problem(instrument, order.qty, price, stop_px)


def terms_problem(
    instrument: Instrument, qty: Decimal, price: Decimal | None, stop_px: Decimal | None
) -> str | None:
    """Quantity and prices checked against the instrument (shared by new orders and replaces)."""
    if qty <= 0:
        return f"quantity must be positive, got {qty}"
    if qty % instrument.lot_size != 0:
        return f"quantity {qty} is not a multiple of the lot size {instrument.lot_size}"
    for label, px in (("price", price), ("stop price", stop_px)):
        if px is None:
            continue
        if px <= 0:
            return f"{label} must be positive, got {px}"
        if not instrument.on_tick(px):
            return f"{label} {px} is not a multiple of the tick size {instrument.tick_size}"
    return None


def works_as(ord_type: OrdType) -> OrdType:
    """What a stop becomes once triggered."""
    if ord_type is OrdType.STOP_LIMIT:
        return OrdType.LIMIT
    if ord_type is OrdType.STOP:
        return OrdType.MARKET
    return ord_type
