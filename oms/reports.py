"""What the OMS tells the outside world, as snapshots taken when the fact happened.

Reports are derived from events: `reports_for` is the one function that says
which report an applied event produces, used live (delivered once the event's
batch commits) and at restart (the outbox: reports of committed events never
handed to their session are sent again, marked PossResend). A report can
therefore never describe a state that is not durable, and an ExecID always
names the same fact.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from oms.enums import CxlRejReason, ExecType, OrdRejReason, OrdStatus
from oms.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderReplaced,
)
from oms.journal import ControlEvent
from oms.order import Order


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    session: str | None
    order_id: str
    exec_id: str
    exec_type: ExecType
    ord_status: OrdStatus
    cl_ord_id: str
    orig_cl_ord_id: str | None
    account: str
    symbol: str
    side: str  # FIX codes, so a refused order can echo what the client sent
    ord_type: str
    time_in_force: str
    qty: Decimal
    price: Decimal | None
    stop_px: Decimal | None
    cum_qty: Decimal
    leaves_qty: Decimal
    avg_px: Decimal
    last_qty: Decimal = Decimal(0)
    last_px: Decimal = Decimal(0)
    ord_rej_reason: int | None = None
    text: str = ""
    last_mkt: str = ""  # LastMkt(30) of a Trade: the venue that filled
    seq: int = 0  # the journal entry this report tells of (0: a status, not a new fact)
    poss_resend: bool = False  # sent again after a restart: PossResend(97)=Y

    @classmethod
    def of(
        cls,
        order: Order,
        exec_type: ExecType,
        exec_id: str,
        *,
        last_qty: Decimal = Decimal(0),
        last_px: Decimal = Decimal(0),
        ord_rej_reason: int | None = None,
        text: str = "",
        last_mkt: str = "",
        seq: int = 0,
    ) -> ExecutionReport:
        return cls(
            session=order.session,
            order_id=order.order_id,
            exec_id=exec_id,
            exec_type=exec_type,
            ord_status=order.status,
            cl_ord_id=order.cl_ord_id,
            orig_cl_ord_id=order.orig_cl_ord_id,
            account=order.account,
            symbol=order.symbol,
            side=order.side.value,
            ord_type=order.ord_type.value,
            time_in_force=order.time_in_force.value,
            qty=order.qty,
            price=order.price,
            stop_px=order.stop_px,
            cum_qty=order.cum_qty,
            leaves_qty=order.leaves_qty,
            avg_px=order.avg_px,
            last_qty=last_qty,
            last_px=last_px,
            ord_rej_reason=ord_rej_reason,
            text=text,
            last_mkt=last_mkt,
            seq=seq,
        )


def refusal(*, session: str | None, order_id: str, exec_id: str, exec_type: ExecType,
            cl_ord_id: str, account: str, symbol: str, side: str, ord_rej_reason: int,
            text: str, ord_type: str = "", time_in_force: str = "", qty: Decimal = Decimal(0),
            price: Decimal | None = None, stop_px: Decimal | None = None) -> ExecutionReport:
    """A Rejected-status report where there is no order to snapshot (malformed, unknown)."""
    zero = Decimal(0)
    return ExecutionReport(
        session=session, order_id=order_id, exec_id=exec_id, exec_type=exec_type,
        ord_status=OrdStatus.REJECTED, cl_ord_id=cl_ord_id, orig_cl_ord_id=None,
        account=account, symbol=symbol, side=side, ord_type=ord_type,
        time_in_force=time_in_force, qty=qty, price=price, stop_px=stop_px, cum_qty=zero,
        leaves_qty=zero, avg_px=zero, ord_rej_reason=ord_rej_reason, text=text)


@dataclass(frozen=True, slots=True)
class CancelReject:
    """OrderCancelReject(9) content."""

    session: str | None
    cl_ord_id: str
    orig_cl_ord_id: str
    order_id: str  # "NONE" when the order is unknown, as FIX prescribes
    ord_status: OrdStatus
    response_to: str  # CxlRejResponseTo
    cxl_rej_reason: int
    text: str
    account: str = ""
    seq: int = 0
    poss_resend: bool = False


@dataclass(frozen=True, slots=True)
class MassCancelReport:
    """OrderMassCancelReport(r) content."""

    session: str | None
    cl_ord_id: str
    mass_cancel_id: str
    request_type: str
    accepted: bool
    affected: int
    text: str = ""
    seq: int = 0
    poss_resend: bool = False


Report = ExecutionReport | CancelReject | MassCancelReport


class ReportSink(Protocol):
    """Where reports go once durable: the FIX acceptor, and anything else listening."""

    def execution_report(self, report: ExecutionReport) -> None: ...

    def cancel_reject(self, reject: CancelReject) -> None: ...

    def mass_cancel_report(self, report: MassCancelReport) -> None: ...


def exec_id(order: Order) -> str:
    """ExecID of the report of the event just applied: "<OrderID>.<events applied>"."""
    return f"{order.order_id}.{order.version}"


def reports_for(order: Order, event: OrderEvent, seq: int = 0) -> Report | None:
    """The report an applied event produces, or None (pending states, triggers)."""
    match event:
        case OrderAccepted():
            return ExecutionReport.of(order, ExecType.NEW, exec_id(order), seq=seq)
        case OrderRejected(reason=reason, ord_rej_reason=why):
            return ExecutionReport.of(order, ExecType.REJECTED, exec_id(order),
                                      ord_rej_reason=why, text=reason, seq=seq)
        case OrderFilled(last_qty=qty, last_px=px):
            return ExecutionReport.of(order, ExecType.TRADE, exec_id(order), last_qty=qty,
                                      last_px=px, last_mkt=order.venue, seq=seq)
        case OrderCanceled(reason=reason):
            return ExecutionReport.of(order, ExecType.CANCELED, exec_id(order), text=reason,
                                      seq=seq)
        case OrderExpired(reason=reason):
            return ExecutionReport.of(order, ExecType.EXPIRED, exec_id(order), text=reason,
                                      seq=seq)
        case OrderReplaced():
            return ExecutionReport.of(order, ExecType.REPLACED, exec_id(order), seq=seq)
        case OrderCancelRejected(cl_ord_id=cl_ord_id) if cl_ord_id:
            # Unsolicited requests (operator, kill switch) have no client to answer.
            return CancelReject(session=order.session, cl_ord_id=cl_ord_id,
                                orig_cl_ord_id=order.cl_ord_id, order_id=order.order_id,
                                ord_status=order.status, response_to=event.response_to,
                                cxl_rej_reason=event.cxl_rej_reason, text=event.reason,
                                account=order.account, seq=seq)
    return None


ORDER_REFUSED = "order_refused"
REQUEST_REFUSED = "request_refused"
MASS_CANCEL = "mass_cancel"


def control_report(entry: ControlEvent) -> Report | None:
    """The answer a journaled refusal or mass cancel carries, rebuilt from its payload."""
    p: dict[str, Any] = entry.payload
    if entry.kind == ORDER_REFUSED:
        return refusal(
            session=p.get("session"), order_id=p["order_id"], exec_id=f"{p['order_id']}.1",
            exec_type=ExecType.REJECTED, cl_ord_id=p.get("cl_ord_id", ""),
            account=p.get("account", ""), symbol=p.get("symbol", ""), side=p.get("side", ""),
            ord_type=p.get("ord_type", ""), time_in_force=p.get("time_in_force", ""),
            qty=_decimal(p.get("qty")) or Decimal(0), price=_decimal(p.get("price")),
            stop_px=_decimal(p.get("stop_px")),
            ord_rej_reason=int(p.get("ord_rej_reason", OrdRejReason.OTHER)),
            text=p.get("reason", ""))
    if entry.kind == REQUEST_REFUSED and p.get("cl_ord_id"):
        return CancelReject(session=p.get("session"), cl_ord_id=p["cl_ord_id"],
                            orig_cl_ord_id=p.get("orig_cl_ord_id") or "NONE",
                            order_id=p.get("order_id") or "NONE",
                            ord_status=OrdStatus(p.get("ord_status", OrdStatus.REJECTED.value)),
                            response_to=p.get("response_to", "1"),
                            cxl_rej_reason=int(p.get("cxl_rej_reason", CxlRejReason.OTHER)),
                            text=p.get("reason", ""), account=p.get("account", ""))
    if entry.kind == MASS_CANCEL and "mass_cancel_id" in p:
        return MassCancelReport(p.get("session"), p.get("cl_ord_id", ""), p["mass_cancel_id"],
                                p.get("request_type", ""), bool(p.get("accepted")),
                                int(p.get("affected", 0)), p.get("text", ""))
    return None


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None
