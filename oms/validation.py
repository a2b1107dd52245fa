"""Validate and normalise a SubmitOrder before any gate sees it.

Returns the typed fields or a Denial whose reason names the FIX field, so a
client reading Text(58) knows what to fix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

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
                ("time_in_force", "TimeInForce(59)"), ("venue", "ExDestination(100)"),
                ("exec_inst", "ExecInst(18)"), ("peg_offset_type", "PegOffsetType(836)"))

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
                    f"{cmd.time_in_force}{cmd.venue or ''}{cmd.exec_inst}"
                    f"{cmd.peg_offset_type}", ""):  # one scan; name it below
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
            f"unsupported TimeInForce(59)={cmd.time_in_force}: use 0, 1, 3, 4 or 6",
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
    if ord_type is OrdType.MARKET and time_in_force in (TimeInForce.GTC, TimeInForce.GTD):
        return Denial(
            "time_in_force",
            f"a market order cannot be {time_in_force.name}(59={time_in_force.value})",
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


@dataclass(frozen=True, slots=True)
class Extras:
    """What TimeInForce=GTD and a trailing stop add to an order, resolved at entry."""

    expire_time: datetime | None = None
    stop_px: Decimal | None = None
    trail_offset: Decimal | None = None
    trail_in_bps: bool = False


def check_extras(cmd: SubmitOrder, codes: Codes, now: datetime,
                 close_of: Callable[[date], datetime],
                 reference_price: Callable[[], Decimal | None],
                 instrument: Callable[[], Instrument | None]) -> Extras | Denial:
    """GTD expiry and trailing-stop terms, or a Denial naming the tag.

    GTD: ExpireTime(126), or ExpireDate(432) meaning that date's close; it must lie
    ahead. Trailing stop: OrdType(40)=3 with ExecInst(18) holding 'a' and
    PegOffsetValue(211) > 0, a price (PegOffsetType(836)=0, the default) or basis
    points (836=1); StopPx(99) is optional (default: the last price less the offset)."""
    if (codes.time_in_force is not TimeInForce.GTD and not cmd.exec_inst
            and cmd.peg_offset is None):
        return Extras(None, cmd.stop_px)  # the usual order: nothing to resolve
    expire_time = None
    if codes.time_in_force is TimeInForce.GTD:
        if cmd.expire_time is not None:
            expire_time, tag = cmd.expire_time, "ExpireTime(126)"
        elif cmd.expire_date is not None:
            expire_time, tag = close_of(cmd.expire_date), "ExpireDate(432)"
        else:
            return Denial("expire_time", "TimeInForce(59)=6 (GTD) needs ExpireTime(126) or "
                          "ExpireDate(432)", OrdRejReason.OTHER)
        if expire_time <= now:
            return Denial("expire_time", f"{tag} is not in the future: the order would expire "
                          f"at {expire_time:%Y-%m-%d %H:%M:%S} UTC, now is "
                          f"{now:%Y-%m-%d %H:%M:%S} UTC", OrdRejReason.TOO_LATE_TO_ENTER)
    trailing = "a" in cmd.exec_inst.split()
    if not trailing:
        if cmd.peg_offset is not None:
            return Denial("peg_offset", "PegOffsetValue(211) is accepted only for a trailing "
                          "stop: OrdType(40)=3 with ExecInst(18)=a",
                          OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC)
        return Extras(expire_time, cmd.stop_px)
    if codes.ord_type is not OrdType.STOP:
        return Denial("exec_inst", f"ExecInst(18)=a (trailing stop) needs OrdType(40)=3 (stop), "
                      f"got {codes.ord_type.value}", OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC)
    offset = cmd.peg_offset
    if offset is None or not offset.is_finite() or offset <= 0:
        return Denial("peg_offset", "a trailing stop needs PegOffsetValue(211) > 0: the distance "
                      f"of the stop from the best price, got {offset}", OrdRejReason.OTHER)
    if cmd.peg_offset_type not in ("", "0", "1"):
        return Denial("peg_offset_type", f"unsupported PegOffsetType(836)={cmd.peg_offset_type}: "
                      "use 0 (price) or 1 (basis points)",
                      OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC)
    in_bps = cmd.peg_offset_type == "1"
    if in_bps and offset >= 10_000:
        return Denial("peg_offset", f"PegOffsetValue(211) {offset} basis points is 100% or more "
                      "of the price", OrdRejReason.OTHER)
    if not in_bps and offset > MAX_PRICE:
        return Denial("peg_offset", f"PegOffsetValue(211) must be at most {MAX_PRICE:,}",
                      OrdRejReason.OTHER)
    stop_px = cmd.stop_px
    if stop_px is None:
        last = reference_price()
        if last is None:
            return Denial("stop_px", f"no last price for {cmd.symbol} to trail from: send "
                          "StopPx(99)", OrdRejReason.OTHER)
        known = instrument()
        stop_px = trail_stop(codes.side.is_buy, last, offset, in_bps,
                             known.tick_size if known else None)
        if stop_px is None:
            return Denial("peg_offset", f"PegOffsetValue(211) {offset} puts the stop at or below "
                          f"zero (last price {last})", OrdRejReason.OTHER)
    return Extras(expire_time, stop_px, offset, in_bps)


def trail_stop(is_buy: bool, best: Decimal, offset: Decimal, in_bps: bool,
               tick: Decimal | None) -> Decimal | None:
    """The stop a trail puts `offset` from the best price, on the tick on the far side
    (a sell's stop rounds down, a buy's up); None if it would not be positive."""
    distance = best * offset / 10_000 if in_bps else offset
    raw = best + distance if is_buy else best - distance
    if tick:
        steps = raw / tick
        steps = steps.to_integral_value(rounding=ROUND_CEILING if is_buy else ROUND_FLOOR)
        raw = steps * tick
    return raw if raw > 0 else None
