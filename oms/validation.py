"""Validate and normalise a SubmitOrder before any gate sees it.

Returns the typed fields or a Denial whose reason names the FIX field, so a
client reading Text(58) knows what to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from oms.commands import SubmitOrder
from oms.enums import OrdRejReason, OrdType, Side, TimeInForce
from oms.gates import Denial
from oms.instruments import Instrument
from oms.text import text_problem

# Beyond these a value is a typo or an attack, and Decimal arithmetic on it (a lot-size
# check of 10^30 shares) would fail instead of answering.
MAX_QTY = Decimal(10) ** 12
MAX_PRICE = Decimal(10) ** 9
_TEXT_FIELDS = (("cl_ord_id", "ClOrdID(11)"), ("account", "Account(1)"), ("symbol", "Symbol(55)"),
                ("side", "Side(54)"), ("ord_type", "OrdType(40)"),
                ("time_in_force", "TimeInForce(59)"), ("venue", "ExDestination(100)"))

_SIDES = {s.value: s for s in Side}
_ORD_TYPES = {t.value: t for t in OrdType}
_TIFS = {t.value: t for t in TimeInForce}


@dataclass(frozen=True, slots=True)
class Codes:
    side: Side
    ord_type: OrdType
    time_in_force: TimeInForce


def parse_codes(cmd: SubmitOrder) -> Codes | Denial:
    """The order's FIX codes typed, or a Denial naming the field (text fields first: no
    byte the journal cannot store gets past this)."""
    if text_problem(f"{cmd.cl_ord_id}{cmd.account}{cmd.symbol}{cmd.side}{cmd.ord_type}"
                    f"{cmd.time_in_force}{cmd.venue or ''}", ""):  # one scan; name it below
        for attr, name in _TEXT_FIELDS:
            value = getattr(cmd, attr)
            problem = text_problem(value, name) if isinstance(value, str) else None
            if problem is not None:
                return Denial(attr, problem, OrdRejReason.OTHER)
    side = _SIDES.get(cmd.side)
    if side is None:
        return Denial(
            "side",
            f"unsupported Side(54)={cmd.side}: use 1 (Buy), 2 (Sell) or 5 (SellShort)",
            OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC,
        )
    ord_type = _ORD_TYPES.get(cmd.ord_type)
    if ord_type is None:
        return Denial(
            "ord_type",
            f"unsupported OrdType(40)={cmd.ord_type}: use 1, 2, 3 or 4",
            OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC,
        )
    tif = _TIFS.get(cmd.time_in_force)
    if tif is None:
        return Denial(
            "time_in_force",
            f"unsupported TimeInForce(59)={cmd.time_in_force}: use 0, 1, 3 or 4",
            OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC,
        )
    return Codes(side, ord_type, tif)


def check_order_terms(
    ord_type: OrdType,
    time_in_force: TimeInForce,
    qty: Decimal,
    price: Decimal | None,
    stop_px: Decimal | None,
    instrument: Instrument | None,
) -> Denial | None:
    """Quantity, price presence and increments; shared by new orders and replaces."""
    if not qty.is_finite() or qty <= 0:
        return Denial(
            "qty", f"OrderQty(38) must be positive, got {qty}", OrdRejReason.INCORRECT_QUANTITY
        )
    if qty > MAX_QTY:
        return Denial("qty", f"OrderQty(38) {qty:E} is larger than {MAX_QTY:,} shares",
                      OrdRejReason.INCORRECT_QUANTITY)
    if ord_type.needs_price and price is None:
        return Denial(
            "price",
            f"Price(44) is required for OrdType(40)={ord_type.value} ({ord_type.name.lower()})",
            OrdRejReason.OTHER,
        )
    if ord_type.needs_stop_px and stop_px is None:
        return Denial(
            "stop_px",
            f"StopPx(99) is required for OrdType(40)={ord_type.value} ({ord_type.name.lower()})",
            OrdRejReason.OTHER,
        )
    if ord_type is OrdType.MARKET and time_in_force is TimeInForce.GTC:
        return Denial(
            "time_in_force",
            "a market order cannot be GTC(59=1)",
            OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC,
        )
    for name, tag, value in (("price", 44, price), ("stop_px", 99, stop_px)):
        if value is None:
            continue
        if not value.is_finite() or value <= 0 or value > MAX_PRICE:
            return Denial(
                name,
                f"{'Price' if tag == 44 else 'StopPx'}({tag}) must be positive and at most "
                f"{MAX_PRICE:,}, got {value}",
                OrdRejReason.OTHER,
            )
        if instrument is not None and not instrument.on_tick(value):
            return Denial(
                name,
                f"{'Price' if tag == 44 else 'StopPx'}({tag}) {value} is not a "
                f"multiple of the tick size {instrument.tick_size}",
                OrdRejReason.INVALID_PRICE_INCREMENT,
            )
    if instrument is not None and qty % instrument.lot_size != 0:
        return Denial(
            "qty",
            f"OrderQty(38) {qty} is not a multiple of the lot size {instrument.lot_size}",
            OrdRejReason.INCORRECT_QUANTITY,
        )
    return None
