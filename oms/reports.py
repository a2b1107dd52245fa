"""What the OMS tells the outside world, as snapshots taken when the fact happened.

A report is built when its event is applied and delivered only after the
event's journal batch commits, so it can never describe a state that is not
durable, even if later events have already changed the order in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from oms.enums import ExecType, OrdStatus
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


class ReportSink(Protocol):
    """Where reports go once durable: the FIX acceptor, and anything else listening."""

    def execution_report(self, report: ExecutionReport) -> None: ...

    def cancel_reject(self, reject: CancelReject) -> None: ...

    def mass_cancel_report(self, report: MassCancelReport) -> None: ...
