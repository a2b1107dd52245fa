"""FIX <-> domain: inbound messages to commands, reports to outbound messages.

Works on plain tag->value dicts so it is testable without quickfix; the
acceptor does the quickfix-specific reading and writing.
"""

from __future__ import annotations

import functools
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

import fix_specs
from oms.commands import (
    AlgoRequest,
    CancelOrder,
    MassCancel,
    ReplaceOrder,
    StatusRequest,
    SubmitOrder,
)
from oms.enums import CxlRejReason, CxlRejResponseTo, ExecType, OrdRejReason, OrdStatus
from oms.reports import CancelReject, ExecutionReport, MassCancelReport, refusal
from oms.text import printable, text_problem

Fields = dict[int, str]
Body = list[tuple[int, str]]
Command = SubmitOrder | CancelOrder | ReplaceOrder | StatusRequest | MassCancel

# BusinessRejectReason(380)
BMR_OTHER = "0"
BMR_UNSUPPORTED_MSG_TYPE = "3"
BMR_MISSING_FIELD = "5"


def fields_of(raw: str) -> Fields:
    """A FIX message's fields as tag -> value (the messages read as plain dicts carry no
    repeating groups that matter, so a repeated tag keeps its last value)."""
    out: Fields = {}
    for part in raw.split("\x01"):
        tag, _, value = part.partition("=")
        if tag.isdigit():
            out[int(tag)] = value
    return out


class MappingError(ValueError):
    """A field is missing or malformed; the message is a readable Text(58)."""

    pass


def _req(f: Fields, tag: int, name: str) -> str:
    value = f.get(tag)
    if value is None or value == "":
        raise MappingError(f"required field {name}({tag}) missing")
    return value


def _dec(f: Fields, tag: int, name: str, required: bool = False) -> Decimal | None:
    raw = f.get(tag)
    if raw is None or raw == "":
        if required:
            raise MappingError(f"required field {name}({tag}) missing")
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise MappingError(f"{name}({tag}) is not a number: {raw!r}") from None
    if not value.is_finite():
        raise MappingError(f"{name}({tag}) is not a finite number: {raw!r}")
    return value


def _utc_timestamp(f: Fields, tag: int, name: str) -> datetime | None:
    """A UTCTimestamp field: YYYYMMDD-HH:MM:SS with optional .sss (up to nanoseconds)."""
    raw = f.get(tag)
    if not raw:
        return None
    stamp, _, fraction = raw.partition(".")
    try:
        value = datetime.strptime(stamp, "%Y%m%d-%H:%M:%S").replace(tzinfo=UTC)
        if fraction:
            if not fraction.isdigit() or len(fraction) > 9:
                raise ValueError
            value += timedelta(microseconds=int(fraction[:6].ljust(6, "0")))
    except ValueError:
        raise MappingError(f"{name}({tag}) is not a UTC timestamp YYYYMMDD-HH:MM:SS[.sss]: "
                           f"{raw!r}") from None
    return value


def _local_date(f: Fields, tag: int, name: str) -> date | None:
    raw = f.get(tag)
    if not raw:
        return None
    try:
        if len(raw) != 8 or not raw.isdigit():
            raise ValueError
        return datetime.strptime(raw, "%Y%m%d").date()
    except ValueError:
        raise MappingError(f"{name}({tag}) is not a date YYYYMMDD: {raw!r}") from None


def new_order(f: Fields, session: str, default_account: str) -> SubmitOrder:
    return SubmitOrder(
        cl_ord_id=_req(f, 11, "ClOrdID"),
        account=f.get(1) or default_account,
        symbol=_req(f, 55, "Symbol"),
        side=_req(f, 54, "Side"),
        ord_type=_req(f, 40, "OrdType"),
        qty=_dec(f, 38, "OrderQty", required=True) or Decimal(0),
        time_in_force=f.get(59) or "0",
        price=_dec(f, 44, "Price"),
        stop_px=_dec(f, 99, "StopPx"),
        session=session,
        algo=_algo(f),
        venue=f.get(100) or None,  # ExDestination: pins the order to that venue
        expire_time=_utc_timestamp(f, 126, "ExpireTime"),
        expire_date=_local_date(f, 432, "ExpireDate"),
        exec_inst=f.get(18, ""),
        peg_offset=_dec(f, 211, "PegOffsetValue"),
        peg_offset_type=f.get(836, ""),
    )


_ALGO_TAGS = (847, 168, 126, 849, 9849)


def _algo(f: Fields) -> AlgoRequest | None:
    """The algorithm tags, as sent: the OMS names the one that is wrong."""
    if not any(tag in f for tag in _ALGO_TAGS):
        return None
    return AlgoRequest(target_strategy=f.get(847), effective_time=f.get(168),
                       expire_time=f.get(126), participation_rate=f.get(849),
                       max_participation=f.get(9849))


def cancel_order(f: Fields, session: str) -> CancelOrder:
    return CancelOrder(
        cl_ord_id=_req(f, 11, "ClOrdID"),
        orig_cl_ord_id=f.get(41),
        order_id=f.get(37),
        session=session,
        requested_by=session,
    )


def replace_order(f: Fields, session: str) -> ReplaceOrder:
    return ReplaceOrder(
        cl_ord_id=_req(f, 11, "ClOrdID"),
        orig_cl_ord_id=f.get(41),
        order_id=f.get(37),
        qty=_dec(f, 38, "OrderQty", required=True) or Decimal(0),
        price=_dec(f, 44, "Price"),
        stop_px=_dec(f, 99, "StopPx"),
        ord_type=f.get(40),
        side=f.get(54),
        symbol=f.get(55),
        session=session,
    )


def status_request(f: Fields, session: str) -> StatusRequest:
    return StatusRequest(cl_ord_id=f.get(11), order_id=f.get(37), session=session,
                         symbol=f.get(55, ""), side=f.get(54, ""))


def mass_cancel(f: Fields, session: str) -> MassCancel:
    return MassCancel(cl_ord_id=_req(f, 11, "ClOrdID"), session=session,
                      request_type=_req(f, 530, "MassCancelRequestType"), symbol=f.get(55))


# -- text at the boundary ------------------------------------------------------------------


@functools.cache
def _field_names() -> dict[int, str]:
    names: dict[int, str] = {}
    spec_dir = Path(fix_specs.__file__).parent
    for dictionary in ("FIX42.xml", "FIX44.xml"):  # 4.4's name wins where they differ
        fields = ET.parse(spec_dir / dictionary).getroot().find("fields")
        for field in fields if fields is not None else ():
            number, name = field.get("number"), field.get("name")
            if number and name:
                names[int(number)] = name
    return names


def field_name(tag: int) -> str:
    """`ClOrdID(11)`: how Text(58) names a field."""
    name = _field_names().get(tag)
    return f"{name}({tag})" if name else f"tag {tag}"


def bad_text(raw: str) -> str | None:
    """Why a message (as quickfix's toString gives it) cannot be taken in, naming the
    first field whose value holds a NUL or a byte that is not UTF-8 (a lone surrogate
    after quickfix's decoding): such text can be neither journaled nor echoed. The
    rule is `oms.text`'s, applied once to the whole message and field by field only
    when that finds something."""
    if text_problem(raw, "") is None:
        return None
    for part in raw.split("\x01"):
        tag, eq, value = part.partition("=")
        if eq and tag.isdigit():
            problem = text_problem(value, field_name(int(tag)))
            if problem is not None:
                return problem
    return text_problem(raw, "the message")


_ECHO_QTY_BELOW = Decimal(10) ** 15


def boundary_reject(msg_type: str, f: Fields, text: str, begin_string: str,
                    exec_id: str) -> tuple[str, Body]:
    """The answer a client expects to an application message refused before it reaches
    the OMS: an ExecutionReport Rejected for an order, an OrderCancelReject for a
    cancel or replace, an OrderMassCancelReport for a mass cancel, otherwise a
    BusinessMessageReject. Everything echoed is made printable."""
    def echo(tag: int, default: str = "") -> str:
        return printable(f.get(tag) or default)

    if msg_type == "D":
        qty = f.get(38, "")
        try:
            order_qty = Decimal(qty) if qty else Decimal(0)
        except InvalidOperation:
            order_qty = Decimal(0)
        if not order_qty.is_finite() or not 0 <= order_qty < _ECHO_QTY_BELOW:
            order_qty = Decimal(0)  # "1e999999" would echo as a million digits
        report = refusal(session=None, order_id="NONE", exec_id=exec_id,
                         exec_type=ExecType.REJECTED, cl_ord_id=echo(11), account=echo(1),
                         symbol=echo(55), side=echo(54, "1"), ord_type=echo(40),
                         time_in_force=echo(59), qty=order_qty,
                         ord_rej_reason=int(OrdRejReason.OTHER), text=text)
        return "8", execution_report(report, begin_string)
    if msg_type in ("F", "G"):
        response_to = CxlRejResponseTo.CANCEL if msg_type == "F" else CxlRejResponseTo.REPLACE
        reject = CancelReject(session=None, cl_ord_id=echo(11), orig_cl_ord_id=echo(41, "NONE"),
                              order_id=echo(37, "NONE"), ord_status=OrdStatus.REJECTED,
                              response_to=response_to.value,
                              cxl_rej_reason=int(CxlRejReason.OTHER), text=text,
                              account=echo(1))
        return "9", cancel_reject(reject)
    if msg_type == "q":
        mass = MassCancelReport(None, echo(11), "NONE", echo(530, "7"), False, 0, text)
        return "r", mass_cancel_report(mass)
    return "j", business_reject(f, msg_type, BMR_OTHER, text)


def business_reject(f: Fields, msg_type: str, reason: str, text: str) -> Body:
    """BusinessMessageReject(j) body: the answer to an application message we cannot act on."""
    body: Body = [(45, f.get(34, "0"))]
    if f.get(11):
        body.append((379, printable(f[11])))
    body += [(372, printable(msg_type) or "?"), (380, reason), (58, text)]
    return body


def render(body: Body) -> str:
    """A body as FIX text, `tag=value<SOH>` per field. Any value that could not be sent
    (a NUL, a lone surrogate: the binding cannot encode it) or that would break the
    framing (an SOH) is made printable, so every answer can be sent whatever the
    client sent."""
    raw = "".join(f"{tag}={value}\x01" for tag, value in body)
    if raw.count("\x01") == len(body) and text_problem(raw, "") is None:
        return raw
    return "".join(f"{tag}={_sendable(value)}\x01" for tag, value in body)


def _sendable(value: object) -> str:
    return printable(str(value)).replace("\x01", "\ufffd")


INBOUND: dict[str, Callable[..., Command]] = {
    "q": mass_cancel,
    "D": new_order,
    "F": cancel_order,
    "G": replace_order,
    "H": status_request,
}


def fmt(value: Decimal) -> str:
    """A FIX decimal: plain notation, no trailing zeros."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


_second: tuple[int, str] = (-1, "")


def transact_time() -> str:
    """UTC now as FIX UTCTimestamp with milliseconds; the date part is formatted once a
    second, since this runs for every report."""
    global _second
    now = time.time()
    whole = int(now)
    if _second[0] != whole:
        _second = (whole, time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(whole)))
    return f"{_second[1]}.{int((now - whole) * 1000):03d}"


def execution_report(r: ExecutionReport, begin_string: str) -> list[tuple[int, str]]:
    """The body of an ExecutionReport(8) for this session's FIX version."""
    exec_type = r.exec_type.value
    fields: list[tuple[int, str]] = [(37, r.order_id), (11, r.cl_ord_id)]
    if r.orig_cl_ord_id and r.exec_type in (ExecType.CANCELED, ExecType.REPLACED):
        fields.append((41, r.orig_cl_ord_id))
    if begin_string == "FIX.4.2":
        # 4.2 has ExecTransType and no Trade/OrderStatus ExecType values.
        trans = "3" if r.exec_type is ExecType.ORDER_STATUS else "0"
        if r.exec_type is ExecType.TRADE:
            exec_type = "2" if r.ord_status is OrdStatus.FILLED else "1"
        elif r.exec_type is ExecType.ORDER_STATUS:
            exec_type = r.ord_status.value
        fields.append((20, trans))
    fields += [(17, r.exec_id), (150, exec_type), (39, r.ord_status.value)]
    if r.account:
        fields.append((1, r.account))
    fields += [(55, r.symbol), (54, r.side)]
    if r.ord_type:
        fields.append((40, r.ord_type))
    if r.time_in_force:
        fields.append((59, r.time_in_force))
    fields.append((38, fmt(r.qty)))
    if r.price is not None:
        fields.append((44, fmt(r.price)))
    if r.stop_px is not None:
        fields.append((99, fmt(r.stop_px)))
    if r.exec_type is ExecType.TRADE:
        fields += [(32, fmt(r.last_qty)), (31, fmt(r.last_px))]
        if r.last_mkt:
            fields.append((30, r.last_mkt))
    fields += [(14, fmt(r.cum_qty)), (151, fmt(r.leaves_qty)), (6, fmt(r.avg_px))]
    if r.ord_rej_reason is not None and r.ord_status is OrdStatus.REJECTED:
        fields.append((103, str(r.ord_rej_reason)))
    if r.text:
        fields.append((58, r.text))
    fields.append((60, transact_time()))
    return fields


def cancel_reject(r: CancelReject) -> list[tuple[int, str]]:
    fields = [
        (37, r.order_id),
        (11, r.cl_ord_id),
        (41, r.orig_cl_ord_id),
        (39, r.ord_status.value),
        (434, r.response_to),
        (102, str(r.cxl_rej_reason)),
    ]
    if r.account:
        fields.append((1, r.account))
    fields.append((58, r.text))
    return fields


def mass_cancel_report(r: MassCancelReport) -> list[tuple[int, str]]:
    fields = [(11, r.cl_ord_id), (37, r.mass_cancel_id), (530, r.request_type),
              (531, r.request_type if r.accepted else "0"), (533, str(r.affected))]
    if not r.accepted:
        fields.append((532, "99"))
    if r.text:
        fields.append((58, r.text))
    return fields
