"""OrderService: the single writer every order goes through.

All mutable OMS state is owned by one asyncio loop. Commands are applied to
memory at once (so the next command sees them: a duplicate ClOrdID sent in
the same millisecond is still caught), their events queue for the journal,
and everything that tells the outside world — execution reports, venue
calls, API answers — waits in a list that runs only after the batch holding
those events has committed. One flusher task writes one batch per turn:
group commit, and nothing acknowledged before it is durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar

import structlog

from oms.commands import CancelOrder, MassCancel, ReplaceOrder, StatusRequest, SubmitOrder
from oms.enums import CxlRejReason, CxlRejResponseTo, ExecType, OrdRejReason, OrdStatus, OrdType
from oms.events import (
    OrderAccepted,
    OrderCanceled,
    OrderCancelRejected,
    OrderEvent,
    OrderFilled,
    OrderPendingCancel,
    OrderPendingReplace,
    OrderRejected,
    OrderReplaced,
    OrderSubmitted,
    OrderTriggered,
)
from oms.exposure import ExposureBook, WorkingExposure
from oms.gates import Approval, Denial, OrderContext, PreTradeGate
from oms.instruments import Universe
from oms.journal import ControlEvent, Journal, JournalEntry
from oms.order import InvalidTransition, Order
from oms.positions import Position, PositionBook
from oms.reports import CancelReject, ExecutionReport, MassCancelReport, ReportSink, refusal
from oms.validation import check_order_terms, parse_codes
from oms.venue import (
    Venue,
    VenueAccepted,
    VenueCanceled,
    VenueEvent,
    VenueFill,
    VenueOrder,
    VenueOrderRejected,
    VenueReplaced,
    VenueRequestRejected,
    VenueTriggered,
)

log = structlog.get_logger("oms")
T = TypeVar("T")
ControlHandler = Callable[[dict[str, Any]], None]
ORDER_ID_PREFIX = "FG"


class JournalUnavailable(RuntimeError):
    pass


class OrderService:
    def __init__(
        self,
        *,
        universe: Universe,
        journal: Journal,
        venues: Mapping[str, Venue],
        gates: Sequence[PreTradeGate] = (),
        default_venue: str = "SIM",
        controls: Mapping[str, ControlHandler] | None = None,
    ) -> None:
        self.universe = universe
        self.journal = journal
        self.venues = dict(venues)
        self.gates = list(gates)
        self.default_venue = default_venue
        self.controls = dict(controls or {})
        self.orders: dict[str, Order] = {}
        self.positions = PositionBook()
        self.exposure = ExposureBook()
        # Called with (order, event) for every event applied, replay included.
        self.listeners: list[Callable[[Order, OrderEvent], None]] = []
        self.started = False
        self._by_cl_ord_id: dict[tuple[str | None, str], str] = {}
        self._sinks: list[ReportSink] = []
        self._next_order_no = 1
        self._pending: list[JournalEntry] = []
        self._after_commit: list[Callable[[], None]] = []
        self._wake = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._failed: BaseException | None = None
        self._waiters: set[asyncio.Future[None]] = set()

    # -- lifecycle ---------------------------------------------------------

    def add_sink(self, sink: ReportSink) -> None:
        self._sinks.append(sink)

    async def start(self) -> None:
        """Rebuild state from the journal, then put open orders back to work."""
        for entry in await self.journal.load():
            self._replay(entry)
        for venue in self.venues.values():
            venue.set_listener(self)
            await venue.start()
        self._flusher = asyncio.create_task(self._flush_loop(), name="oms-journal-flusher")
        self._resume_open_orders()
        self.started = True

    async def stop(self) -> None:
        await self.barrier()
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        for venue in self.venues.values():
            await venue.stop()

    def _replay(self, entry: JournalEntry) -> None:
        if isinstance(entry, ControlEvent):
            handler = self.controls.get(entry.kind)
            if handler is not None:
                handler(entry.payload)
            return
        if isinstance(entry, OrderSubmitted):
            order = Order.from_submitted(entry)
            self._index(order, entry.cl_ord_id)
            self._bump_order_no(entry.order_id)
            return
        order = self.orders.get(entry.order_id)
        if order is None:
            log.error("journal event for unknown order", order_id=entry.order_id, kind=entry.kind)
            return
        try:
            order.apply(entry)
        except InvalidTransition as exc:
            log.error("journal replay refused an event", order_id=order.order_id, error=str(exc))
            return
        self._after_apply(order, entry)

    def _bump_order_no(self, order_id: str) -> None:
        digits = order_id.removeprefix(ORDER_ID_PREFIX)
        if digits.isdigit():
            self._next_order_no = max(self._next_order_no, int(digits) + 1)

    def _resume_open_orders(self) -> None:
        for order in list(self.orders.values()):
            if order.status is OrdStatus.PENDING_CANCEL:
                # The cancel was asked for and never answered: honour it.
                self._record(
                    order,
                    OrderCanceled(
                        order_id=order.order_id, reason="canceled at restart: cancel was pending"
                    ),
                )
                self._report(order, ExecType.CANCELED, text=order.text)
            elif order.status is OrdStatus.PENDING_REPLACE:
                pending = order.pending_replace
                cl_ord_id = pending.cl_ord_id if pending else ""
                self._reject_request(
                    order,
                    cl_ord_id,
                    CxlRejResponseTo.REPLACE,
                    CxlRejReason.OTHER,
                    "replace not confirmed before restart",
                )
            if order.is_open:
                self._after(lambda o=order: self._send_to_venue(o))
        self._wake.set()

    # -- the journal ---------------------------------------------------------

    def _record(self, order: Order, event: OrderEvent) -> None:
        order.apply(event)
        self._pending.append(event)
        self._after_apply(order, event)
        self._wake.set()

    def _record_control(self, entry: ControlEvent) -> None:
        self._pending.append(entry)
        self._wake.set()

    def _after_apply(self, order: Order, event: OrderEvent) -> None:
        if isinstance(event, OrderFilled):
            self.positions.apply_fill(
                order.account, order.symbol, event.last_qty * order.side.sign, event.last_px
            )
        priced = order.price is not None or order.stop_px is not None
        self.exposure.update(
            order, None if priced else self.reference_price(order.symbol, order.venue)
        )
        for listener in self.listeners:
            listener(order, event)

    def _after(self, action: Callable[[], None], refusal: bool = False) -> None:
        if refusal and self._failed is not None:
            # The journal is gone and will not commit again: a refusal is safe to say
            # without it, and a client must not be left without an answer.
            action()
            return
        self._after_commit.append(action)
        self._wake.set()

    async def _flush_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, actions = self._pending, self._after_commit
            self._pending, self._after_commit = [], []
            if batch:
                try:
                    await self.journal.append(batch)
                except Exception as exc:  # the journal is gone: stop acknowledging anything
                    self._failed = exc
                    log.critical(
                        "journal append failed; refusing all further work",
                        error=repr(exc),
                        events=len(batch),
                    )
                    # Nothing in this batch or after it is durable: fail every waiter
                    # (API answers) instead of leaving it hanging; drop the reports.
                    for waiter in self._waiters:
                        if not waiter.done():
                            waiter.set_exception(JournalUnavailable(str(exc)))
                    self._waiters.clear()
                    return
            for action in actions:
                try:
                    action()
                except Exception:
                    log.exception("post-commit action failed")

    async def barrier(self) -> None:
        """Wait until everything applied so far is durable (and its reports are sent)."""
        if self._failed is not None:
            raise JournalUnavailable(str(self._failed))
        if self._flusher is None:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(done)
        done.add_done_callback(self._waiters.discard)
        self._after(lambda: done.done() or done.set_result(None))
        await done

    async def durable(self, read: Callable[[], T]) -> T:
        """Read state now, answer once what was read is committed."""
        value = read()
        await self.barrier()
        return value

    # -- reports ---------------------------------------------------------------

    def _exec_id(self, order: Order) -> str:
        return f"{order.order_id}.{order.version}"

    def _report(self, order: Order, exec_type: ExecType, **fields: Any) -> None:
        report = ExecutionReport.of(order, exec_type, self._exec_id(order), **fields)
        self._after(lambda: self._deliver_report(report),
                    refusal=exec_type is ExecType.REJECTED)

    def _deliver_report(self, report: ExecutionReport) -> None:
        for sink in self._sinks:
            sink.execution_report(report)

    def _deliver_cancel_reject(self, reject: CancelReject) -> None:
        for sink in self._sinks:
            sink.cancel_reject(reject)

    # -- lookups ---------------------------------------------------------------

    def by_cl_ord_id(self, session: str | None, cl_ord_id: str) -> Order | None:
        order_id = self._by_cl_ord_id.get((session, cl_ord_id))
        return self.orders.get(order_id) if order_id else None

    def _index(self, order: Order, cl_ord_id: str) -> None:
        self.orders.setdefault(order.order_id, order)
        self._by_cl_ord_id.setdefault((order.session, cl_ord_id), order.order_id)

    def find(
        self, session: str | None, order_id: str | None, cl_ord_id: str | None
    ) -> Order | None:
        """An order by OrderID or by the session's ClOrdID; a FIX session sees only its own."""
        order = None
        if order_id:
            order = self.orders.get(order_id)
        if order is None and cl_ord_id:
            order = self.by_cl_ord_id(session, cl_ord_id)
        if order is not None and _is_fix(session) and order.session != session:
            return None
        return order

    def reference_price(self, symbol: str, venue: str | None = None) -> Decimal | None:
        v = self.venues.get(venue or self.default_venue)
        last = v.last_price(symbol) if v is not None else None
        if last is not None:
            return last
        instrument = self.universe.get(symbol)
        return instrument.reference_price if instrument else None

    def working_orders(self, account: str | None = None, session: str | None = None) -> list[Order]:
        return [
            o
            for o in self.orders.values()
            if o.is_open
            and (account is None or o.account == account)
            and (session is None or o.session == session)
        ]

    # -- AccountView: what the risk checks read ----------------------------------

    def position_qty(self, account: str, symbol: str) -> Decimal:
        pos = self.positions.get(account, symbol)
        return pos.qty if pos is not None else Decimal(0)

    def account_positions(self, account: str) -> list[Position]:
        return self.positions.of_account(account)

    def working(self, account: str, symbol: str) -> WorkingExposure:
        return self.exposure.get(account, symbol)

    def open_order_count(self, account: str) -> int:
        return self.exposure.open_orders.get(account, 0)

    def open_order_notional(self, account: str) -> Decimal:
        return self.exposure.open_notional.get(account, Decimal(0))

    def mark(self, symbol: str) -> Decimal | None:
        return self.reference_price(symbol)

    def sector(self, symbol: str) -> str:
        instrument = self.universe.get(symbol)
        return instrument.sector if instrument else ""

    # -- commands ----------------------------------------------------------------

    def _refuse_if_failed(self) -> str | None:
        if self._failed is not None:
            return "gateway journal unavailable: order not accepted, try again later"
        return None

    def submit(self, cmd: SubmitOrder) -> str:
        """Accept or reject a new order; returns the OrderID assigned to it."""
        order_id = f"{ORDER_ID_PREFIX}{self._next_order_no:08d}"
        self._next_order_no += 1
        codes = parse_codes(cmd)
        if isinstance(codes, Denial):
            self._refuse_malformed(cmd, order_id, codes)
            return order_id
        submitted = OrderSubmitted(
            order_id=order_id,
            cl_ord_id=cmd.cl_ord_id,
            account=cmd.account,
            symbol=cmd.symbol,
            side=codes.side,
            ord_type=codes.ord_type,
            time_in_force=codes.time_in_force,
            qty=cmd.qty,
            price=cmd.price,
            stop_px=cmd.stop_px,
            session=cmd.session,
            venue=cmd.venue or self.default_venue,
        )
        order = Order.from_submitted(submitted)
        denial, approval = self._vet(order)
        if denial is None and approval.side is not None:
            # Re-marked by compliance (a Sell that would go short): journal what works.
            submitted = dataclasses.replace(submitted, side=approval.side)
            order.side = approval.side
        self._index(order, order.cl_ord_id)
        self._pending.append(submitted)
        failed = self._refuse_if_failed()
        if failed is not None:
            denial = Denial("journal", failed)
        if denial is not None:
            log.info("order rejected", order_id=order_id, check=denial.check, reason=denial.reason)
            self._cancel_for(order_id, denial.cancel_first)
            self._record(
                order,
                OrderRejected(
                    order_id=order_id,
                    reason=denial.reason,
                    ord_rej_reason=int(denial.ord_rej_reason),
                    check=denial.check,
                ),
            )
            self._report(
                order,
                ExecType.REJECTED,
                ord_rej_reason=int(denial.ord_rej_reason),
                text=denial.reason,
            )
            return order_id
        if approval.flags:
            self._record_control(ControlEvent("order_flagged", {
                "order_id": order_id, "account": order.account, "symbol": order.symbol,
                "flags": list(approval.flags)}))
        self._cancel_for(order_id, approval.cancel_first)
        self._record(order, OrderAccepted(order_id=order_id))
        self._report(order, ExecType.NEW)
        self._after(lambda: self._send_to_venue(order))
        return order_id

    def _cancel_for(self, order_id: str, resting_ids: tuple[str, ...]) -> None:
        """Self-match prevention: take the resting side off before the new order works."""
        for resting_id in resting_ids:
            resting = self.orders.get(resting_id)
            if resting is not None:
                self.cancel_all_one(resting, f"self-match prevention: canceled for order "
                                    f"{order_id}", "compliance")

    def _vet(self, order: Order) -> tuple[Denial | None, Approval]:
        """Validation, then every gate in order; the first denial wins, approvals add up."""
        approved = Approval()
        instrument = self.universe.get(order.symbol)
        denial = check_order_terms(
            order.ord_type, order.time_in_force, order.qty, order.price, order.stop_px, instrument
        )
        if denial is not None:
            return denial, approved
        if instrument is None:
            return Denial(
                "unknown_symbol", f"unknown symbol {order.symbol!r}", OrdRejReason.UNKNOWN_SYMBOL
            ), approved
        if order.venue not in self.venues:
            return Denial(
                "venue", f"unknown venue {order.venue!r}", OrdRejReason.BROKER_OPTION
            ), approved
        ctx = OrderContext(
            order, instrument, self.reference_price(order.symbol, order.venue), self, self
        )
        for gate in self.gates:
            try:
                answer = gate.check(ctx)
            except Exception:
                log.exception("gate raised", order_id=order.order_id, gate=type(gate).__name__)
                answer = Denial(
                    type(gate).__name__,
                    "order refused: internal error in a pre-trade check",
                    OrdRejReason.OTHER,
                )
            if isinstance(answer, Denial):
                return answer, approved
            if answer is not None:
                approved = Approval(
                    approved.flags + answer.flags,
                    approved.cancel_first + answer.cancel_first,
                    answer.side or approved.side,
                )
                if answer.side is not None:
                    # Later gates check the order as it will work.
                    order = dataclasses.replace(order, side=answer.side, fills=[])
                    ctx = dataclasses.replace(ctx, order=order)
        return None, approved

    def _refuse_malformed(self, cmd: SubmitOrder, order_id: str, denial: Denial) -> None:
        """An order whose codes we cannot even type: journal what came, answer what was wrong."""
        payload = {
            k: (str(v) if isinstance(v, Decimal) else v) for k, v in dataclasses.asdict(cmd).items()
        }
        payload.update(order_id=order_id, reason=denial.reason, check=denial.check)
        self._record_control(ControlEvent("order_refused", payload))
        report = refusal(
            session=cmd.session, order_id=order_id, exec_id=f"{order_id}.1",
            exec_type=ExecType.REJECTED, cl_ord_id=cmd.cl_ord_id, account=cmd.account,
            symbol=cmd.symbol, side=cmd.side, ord_type=cmd.ord_type,
            time_in_force=cmd.time_in_force, qty=cmd.qty, price=cmd.price, stop_px=cmd.stop_px,
            ord_rej_reason=int(denial.ord_rej_reason), text=denial.reason,
        )
        self._after(lambda: self._deliver_report(report))

    def _send_to_venue(self, order: Order) -> None:
        if not order.is_open:
            return
        ord_type = order.ord_type
        if order.triggered:  # a triggered stop works as what it became
            ord_type = OrdType.LIMIT if ord_type is OrdType.STOP_LIMIT else OrdType.MARKET
        self.venues[order.venue].submit(
            VenueOrder(
                order_id=order.order_id,
                account=order.account,
                symbol=order.symbol,
                side=order.side,
                ord_type=ord_type,
                time_in_force=order.time_in_force,
                qty=order.leaves_qty,
                price=order.price,
                stop_px=None if order.triggered else order.stop_px,
            )
        )

    def _request_refusal(
        self, order: Order | None, cmd: CancelOrder | ReplaceOrder, response_to: CxlRejResponseTo
    ) -> tuple[CxlRejReason, str] | None:
        """Why a cancel or replace cannot go ahead, or None when it can."""
        if order is None:
            ref = cmd.order_id or cmd.orig_cl_ord_id
            return CxlRejReason.UNKNOWN_ORDER, f"unknown order {ref!r}"
        if order.status.is_terminal:
            return (
                CxlRejReason.TOO_LATE_TO_CANCEL,
                f"too late: order {order.order_id} is already {order.status.name.lower()}",
            )
        if order.is_pending_request:
            return (
                CxlRejReason.ALREADY_PENDING,
                f"order {order.order_id} already has a {order.status.name.lower()} request",
            )
        if cmd.cl_ord_id and self.by_cl_ord_id(cmd.session, cmd.cl_ord_id) is not None:
            return (
                CxlRejReason.DUPLICATE_CLORDID,
                f"duplicate ClOrdID(11) {cmd.cl_ord_id} on this session",
            )
        return None

    def cancel(self, cmd: CancelOrder) -> Order | None:
        order = self.find(cmd.session, cmd.order_id, cmd.orig_cl_ord_id)
        refusal = self._request_refusal(order, cmd, CxlRejResponseTo.CANCEL)
        if refusal is None and self._failed is not None:
            refusal = (CxlRejReason.OTHER, self._refuse_if_failed() or "")
        if refusal is not None:
            self._refuse_request(order, cmd, CxlRejResponseTo.CANCEL, *refusal)
            return order
        assert order is not None
        if cmd.cl_ord_id:
            self._by_cl_ord_id.setdefault((cmd.session, cmd.cl_ord_id), order.order_id)
        self._record(
            order,
            OrderPendingCancel(
                order_id=order.order_id,
                cl_ord_id=cmd.cl_ord_id,
                requested_by=cmd.requested_by,
                reason=cmd.reason,
            ),
        )
        venue = self.venues[order.venue]
        self._after(lambda: venue.cancel(order.order_id))
        return order

    def replace(self, cmd: ReplaceOrder) -> Order | None:
        order = self.find(cmd.session, cmd.order_id, cmd.orig_cl_ord_id)
        refusal = self._request_refusal(order, cmd, CxlRejResponseTo.REPLACE)
        if refusal is None:
            assert order is not None
            refusal = self._vet_replace(order, cmd)
        if refusal is not None:
            self._refuse_request(order, cmd, CxlRejResponseTo.REPLACE, *refusal)
            return order
        assert order is not None
        self._by_cl_ord_id.setdefault((cmd.session, cmd.cl_ord_id), order.order_id)
        price = cmd.price if order.ord_type.needs_price else None
        stop_px = cmd.stop_px if order.ord_type.needs_stop_px else None
        self._record(
            order,
            OrderPendingReplace(
                order_id=order.order_id,
                cl_ord_id=cmd.cl_ord_id,
                qty=cmd.qty,
                price=price,
                stop_px=stop_px,
            ),
        )
        venue = self.venues[order.venue]
        leaves = cmd.qty - order.cum_qty
        self._after(lambda: venue.replace(order.order_id, leaves, price, stop_px))
        return order

    def _vet_replace(self, order: Order, cmd: ReplaceOrder) -> tuple[CxlRejReason, str] | None:
        if self._failed is not None:
            return CxlRejReason.OTHER, self._refuse_if_failed() or ""
        for name, tag, asked, current in (
            ("Side", 54, cmd.side, order.side.value),
            ("Symbol", 55, cmd.symbol, order.symbol),
            ("OrdType", 40, cmd.ord_type, order.ord_type.value),
        ):
            if asked is not None and asked != current:
                return (
                    CxlRejReason.BROKER_OPTION,
                    f"{name}({tag}) cannot be changed by a replace ({current} -> {asked})",
                )
        if cmd.qty <= order.cum_qty:
            return (
                CxlRejReason.BROKER_OPTION,
                f"OrderQty(38) {cmd.qty} must exceed the quantity already filled ({order.cum_qty})",
            )
        candidate = dataclasses.replace(
            order, qty=cmd.qty, price=cmd.price, stop_px=cmd.stop_px, fills=[]
        )
        denial, _ = self._vet(candidate)
        if denial is not None and denial.check != "duplicate_cl_ord_id":
            return CxlRejReason.BROKER_OPTION, denial.reason
        return None

    def _refuse_request(
        self,
        order: Order | None,
        cmd: CancelOrder | ReplaceOrder,
        response_to: CxlRejResponseTo,
        reason: CxlRejReason,
        text: str,
    ) -> None:
        log.info("cancel/replace refused", order_id=order.order_id if order else None, reason=text)
        orig = cmd.orig_cl_ord_id or (order.cl_ord_id if order else "")
        reject = CancelReject(
            session=cmd.session,
            cl_ord_id=cmd.cl_ord_id,
            orig_cl_ord_id=orig or "NONE",
            order_id=order.order_id if order else "NONE",
            ord_status=order.status if order else OrdStatus.REJECTED,
            response_to=response_to.value,
            cxl_rej_reason=int(reason),
            text=text,
            account=order.account if order else "",
        )
        self._record_control(
            ControlEvent(
                "request_refused",
                {
                    "order_id": reject.order_id,
                    "cl_ord_id": cmd.cl_ord_id,
                    "session": cmd.session,
                    "response_to": response_to.value,
                    "reason": text,
                },
            )
        )
        self._after(lambda: self._deliver_cancel_reject(reject), refusal=True)

    def _reject_request(
        self,
        order: Order,
        cl_ord_id: str,
        response_to: CxlRejResponseTo,
        reason: CxlRejReason,
        text: str,
    ) -> None:
        """A pending cancel/replace that will not happen: revert the order and tell the client."""
        orig = order.cl_ord_id
        self._record(
            order,
            OrderCancelRejected(
                order_id=order.order_id,
                cl_ord_id=cl_ord_id,
                reason=text,
                cxl_rej_reason=int(reason),
                response_to=response_to.value,
            ),
        )
        if not cl_ord_id:
            return  # unsolicited (operator, kill switch): no client request to answer
        reject = CancelReject(
            session=order.session,
            cl_ord_id=cl_ord_id,
            orig_cl_ord_id=orig,
            order_id=order.order_id,
            ord_status=order.status,
            response_to=response_to.value,
            cxl_rej_reason=int(reason),
            text=text,
            account=order.account,
        )
        self._after(lambda: self._deliver_cancel_reject(reject))

    def status(self, cmd: StatusRequest) -> None:
        order = self.find(cmd.session, cmd.order_id, cmd.cl_ord_id)
        if order is not None:
            report = ExecutionReport.of(
                order, ExecType.ORDER_STATUS, f"{order.order_id}.{order.version}.I", text=order.text
            )
        else:
            report = refusal(
                session=cmd.session, order_id=cmd.order_id or "NONE",
                exec_id=f"I.{cmd.cl_ord_id or cmd.order_id}", exec_type=ExecType.ORDER_STATUS,
                cl_ord_id=cmd.cl_ord_id or "", account="", symbol=cmd.symbol, side=cmd.side or "1",
                ord_rej_reason=int(OrdRejReason.UNKNOWN_ORDER),
                text=f"unknown order {cmd.cl_ord_id or cmd.order_id!r}",
            )
        self._after(lambda: self._deliver_report(report))

    # -- firm controls -------------------------------------------------------------

    def mass_cancel(self, cmd: MassCancel) -> int:
        """Cancel the session's own working orders; answers with a mass cancel report."""
        accepted = cmd.request_type in ("1", "7") and (cmd.request_type == "7" or cmd.symbol)
        affected = 0
        text = ""
        if accepted:
            for order in self.working_orders(session=cmd.session):
                if cmd.request_type == "1" and order.symbol != cmd.symbol:
                    continue
                if not order.is_pending_request:
                    self.cancel_all_one(order, f"mass cancel {cmd.cl_ord_id}", cmd.session or "")
                    affected += 1
        else:
            text = (f"unsupported MassCancelRequestType(530)={cmd.request_type}: use 1 (by "
                    "symbol, with Symbol(55)) or 7 (all orders)")
        report = MassCancelReport(cmd.session, cmd.cl_ord_id, f"MC-{cmd.cl_ord_id}",
                                  cmd.request_type, bool(accepted), affected, text)
        self._record_control(ControlEvent("mass_cancel", {
            "session": cmd.session, "cl_ord_id": cmd.cl_ord_id, "affected": affected,
            "request_type": cmd.request_type, "accepted": bool(accepted)}))
        self._after(lambda: self._deliver_mass_cancel_report(report))
        return affected

    def _deliver_mass_cancel_report(self, report: MassCancelReport) -> None:
        for sink in self._sinks:
            sink.mass_cancel_report(report)

    async def apply_control(self, kind: str, payload: dict[str, Any]) -> None:
        """An operator's change: journal it, wait for the commit, then apply it, so no
        reader and no order ever sees a change the database does not hold."""
        self._record_control(ControlEvent(kind, payload))
        await self.barrier()
        handler = self.controls.get(kind)
        if handler is not None:
            handler(payload)

    def record_control(self, kind: str, payload: dict[str, Any]) -> None:
        """Apply and journal a firm-level change (kill switch, …)."""
        handler = self.controls.get(kind)
        if handler is not None:
            handler(payload)
        self._record_control(ControlEvent(kind, payload))

    def cancel_all(
        self, account: str | None, reason: str, by: str = "", session: str | None = None
    ) -> list[Order]:
        """Cancel every working order in scope at its venue (kill switch, operator)."""
        canceled = []
        for order in self.working_orders(account, session):
            if order.is_pending_request and order.status is OrdStatus.PENDING_CANCEL:
                continue
            if order.status is OrdStatus.PENDING_REPLACE:
                # Let the venue answer the replace first; cancel what is left after.
                self._after(lambda o=order: self.cancel_all_one(o, reason, by))
                continue
            self.cancel_all_one(order, reason, by)
            canceled.append(order)
        return canceled

    def cancel_all_one(self, order: Order, reason: str, by: str) -> None:
        if not order.is_open or order.is_pending_request:
            return
        self.cancel(
            CancelOrder(
                cl_ord_id="", order_id=order.order_id, session=None, requested_by=by, reason=reason
            )
        )

    # -- venue events --------------------------------------------------------------

    def on_venue_event(self, event: VenueEvent) -> None:
        order = self.orders.get(event.order_id)
        if order is None:
            log.error("venue event for unknown order", order_id=event.order_id, event=repr(event))
            return
        try:
            self._on_venue_event(order, event)
        except InvalidTransition as exc:
            log.error(
                "venue event refused by the order state machine",
                order_id=order.order_id,
                error=str(exc),
                event=repr(event),
            )

    def _on_venue_event(self, order: Order, event: VenueEvent) -> None:
        oid = order.order_id
        match event:
            case VenueAccepted():
                return
            case VenueFill(qty=qty, price=price, trade_id=trade_id):
                self._record(
                    order,
                    OrderFilled(
                        order_id=oid,
                        # The ExecID of the Trade report that this fill produces.
                        exec_id=f"{oid}.{order.version + 1}",
                        last_qty=qty,
                        last_px=price,
                        venue_trade_id=trade_id,
                    ),
                )
                self._report(order, ExecType.TRADE, last_qty=qty, last_px=price)
            case VenueTriggered(trigger_px=px):
                self._record(order, OrderTriggered(order_id=oid, trigger_px=px))
            case VenueCanceled(reason=reason):
                if order.status is OrdStatus.PENDING_CANCEL:
                    reason = order.pending_reason or reason
                self._record(order, OrderCanceled(order_id=oid, reason=reason))
                self._report(order, ExecType.CANCELED, text=reason)
            case VenueReplaced():
                pending = order.pending_replace
                if pending is None:
                    log.error("venue replaced an order with no pending replace", order_id=oid)
                    return
                self._record(
                    order,
                    OrderReplaced(
                        order_id=oid,
                        cl_ord_id=pending.cl_ord_id,
                        qty=pending.qty,
                        price=pending.price,
                        stop_px=pending.stop_px,
                    ),
                )
                self._report(order, ExecType.REPLACED)
            case VenueRequestRejected(reason=reason):
                if not order.is_pending_request:
                    log.warning(
                        "venue refused a request no longer pending", order_id=oid, reason=reason
                    )
                    return
                response_to = (
                    CxlRejResponseTo.CANCEL
                    if order.status is OrdStatus.PENDING_CANCEL
                    else CxlRejResponseTo.REPLACE
                )
                self._reject_request(
                    order,
                    order.pending_cl_ord_id or "",
                    response_to,
                    CxlRejReason.TOO_LATE_TO_CANCEL,
                    reason,
                )
            case VenueOrderRejected(reason=reason):
                self._record(
                    order,
                    OrderRejected(
                        order_id=oid,
                        reason=reason,
                        ord_rej_reason=int(OrdRejReason.BROKER_OPTION),
                        check="venue",
                    ),
                )
                self._report(
                    order,
                    ExecType.REJECTED,
                    text=reason,
                    ord_rej_reason=int(OrdRejReason.BROKER_OPTION),
                )

    # -- views ---------------------------------------------------------------------

    def list_orders(
        self,
        *,
        status: Iterable[str] | None = None,
        account: str | None = None,
        symbol: str | None = None,
    ) -> list[Order]:
        wanted = set(status) if status else None
        return [
            o
            for o in self.orders.values()
            if (wanted is None or o.status.value in wanted or o.status.name in wanted)
            and (account is None or o.account == account)
            and (symbol is None or o.symbol == symbol)
        ]


def _is_fix(session: str | None) -> bool:
    return session is not None and session.startswith("FIX")
