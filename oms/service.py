"""OrderService: the single writer every order goes through.

Read `submit` top to bottom for the order path: validate, vet (compliance
then risk), record (apply to the OrderStore and queue for the journal), and
only after the commit, report and send to the venue. The three pieces it
stands on each do one job:

- `OrderStore` (oms/order_store.py): the orders and every index over them,
  built by one apply path for live events and replay alike;
- `CommitQueue` (oms/commit_queue.py): group commit, actions released after
  their commit, and answers even when the journal is gone;
- `GatePipeline` (oms/vetting.py): new orders and replaces, each vetted as
  what it is;
- `AlgoEngine` (oms/execution/engine.py): parents worked over time as child
  orders, each of which takes this same path (gates, journal) to its venue.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple, TypeVar

import structlog

from oms.clock import Clock, Timer, WallClock
from oms.commands import CancelOrder, MassCancel, ReplaceOrder, StatusRequest, SubmitOrder
from oms.commit_queue import CommitQueue, JournalUnavailable
from oms.enums import (
    CxlRejReason,
    CxlRejResponseTo,
    ExecType,
    OrdRejReason,
    OrdStatus,
    OrdType,
    TimeInForce,
)
from oms.events import (
    OrderAccepted,
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
from oms.execution.algos import SOR, AlgoSpec, parse_algo
from oms.execution.engine import QUALITY_KIND, ROUTING_KIND, AlgoEngine
from oms.execution.profile import VolumeProfile
from oms.execution.router import VenueBook
from oms.exposure import WorkingExposure
from oms.gates import Approval, Denial, PreTradeGate
from oms.instruments import Universe
from oms.journal import ControlEvent, Journal, JournalEntry, JournalReadError
from oms.marketdata import Quote, TradeTick
from oms.order import InvalidTransition, Order
from oms.order_store import ControlHandler, Listener, OrderStore
from oms.positions import Position, PositionBook
from oms.reports import (
    MASS_CANCEL,
    ORDER_REFUSED,
    REQUEST_REFUSED,
    CancelReject,
    ExecutionReport,
    MassCancelReport,
    Report,
    ReportSink,
    control_report,
    exec_id,
    refusal,
    reports_for,
)
from oms.text import printable
from oms.trading_day import DAY_CLOSED, TradingCalendar, TradingDay
from oms.trailing import TrailingStops
from oms.validation import Codes, check_extras, parse_codes
from oms.venue import (
    ResumableVenue,
    Venue,
    VenueAccepted,
    VenueCanceled,
    VenueEvent,
    VenueFill,
    VenueOrder,
    VenueOrderRejected,
    VenueReplaced,
    VenueRequestRejected,
    VenueStatus,
    VenueTriggered,
)
from oms.vetting import GatePipeline

log = structlog.get_logger("oms")
T = TypeVar("T")
Command = SubmitOrder | CancelOrder | ReplaceOrder | StatusRequest | MassCancel
JOURNAL_DOWN = "gateway journal unavailable: not accepted, try again later"

__all__ = ["JournalUnavailable", "OrderService"]


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
        clock: Clock | None = None,
        volume_profile: Callable[[str], VolumeProfile | None] | None = None,
        calendar: TradingCalendar | None = None,
    ) -> None:
        self.universe = universe
        self.journal = journal
        self.venues = dict(venues)
        self.default_venue = default_venue
        self.controls = dict(controls or {})
        self.clock = clock or WallClock()
        self.store = OrderStore(self.reference_price)
        self.queue = CommitQueue(journal)
        self.gates = GatePipeline(gates, universe, self.venues, self.store, self,
                                  self.store.exposure, self.reference_price)
        self.execution = AlgoEngine(self.clock, self, volume_profile)
        self.controls.setdefault(QUALITY_KIND, self.execution.apply_quality)
        self.controls.setdefault(ROUTING_KIND, self.execution.apply_routing)
        self.started = False
        self.replayed = 0  # journal entries applied at start
        # Reports of committed events not yet handed to a session at the last stop.
        self.unhanded: list[Report] = []
        self._sinks: list[ReportSink] = []
        # The trading day (Day-order expiry, the roll) and what the OMS itself holds:
        # GTD expiry timers and trailing stops (no venue needs to support either).
        self.trading_day = TradingDay(calendar or TradingCalendar(), self.clock)
        also = self.controls.get(DAY_CLOSED)
        self.controls[DAY_CLOSED] = (self.trading_day.apply if also is None
                                     else _both(self.trading_day.apply, also))
        self.trailing = TrailingStops(self._tick_size, self._trail_moved, self._trail_triggered)
        self._expiry_timers: dict[str, Timer] = {}
        self.store.listeners.append(self._forget_expiry)

    # -- what the store holds, by its usual names ------------------------------------------

    @property
    def orders(self) -> dict[str, Order]:
        return self.store.orders

    @property
    def positions(self) -> PositionBook:
        return self.store.positions

    @property
    def listeners(self) -> list[Listener]:
        return self.store.listeners

    # -- lifecycle ---------------------------------------------------------------------

    def add_sink(self, sink: ReportSink) -> None:
        self._sinks.append(sink)

    async def start(self) -> None:
        """Rebuild state from the journal, then put open orders back to work."""
        cursor = await self.journal.handed_through()
        last = 0
        async for chunk in self.journal.load():
            replay = self._replay
            for seq, entry in chunk:
                replay(seq, entry, seq > cursor)
            if chunk:
                last = chunk[-1][0]
                self.replayed += len(chunk)
        self.store.project_deferred()
        self.queue.next_seq = last + 1
        self.queue.committed_seq = self.queue.actions_done_seq = last
        self.queue.handed_through = self._handed_through
        self.queue.cursor_written = cursor
        for name, venue in self.venues.items():
            venue.set_listener(self)
            # The tape: what algorithms follow, and where the router expects fills.
            venue.subscribe(functools.partial(self._on_market_data, name))
            venue.subscribe(self.trailing.handler(name))
            await venue.start()
        self.queue.start()
        self._resume_open_orders()
        self.trading_day.start(self)
        self.started = True

    async def stop(self) -> None:
        self.trading_day.stop()
        for timer in self._expiry_timers.values():
            timer.cancel()
        self._expiry_timers.clear()
        await self.queue.stop()
        for venue in self.venues.values():
            await venue.stop()

    def _replay(self, seq: int, entry: JournalEntry, unhanded: bool) -> None:
        try:
            order = self.store.apply(entry, project=False)
        except InvalidTransition as exc:
            log.error("journal replay refused an event", seq=seq, error=str(exc))
            return
        report: Report | None = None
        if isinstance(entry, ControlEvent):
            handler = self.controls.get(entry.kind)
            if handler is not None:
                try:
                    handler(entry.payload)
                except Exception as exc:
                    raise JournalReadError(
                        f"journal row {seq} ({entry.kind}, {entry.ts.isoformat()}) cannot be "
                        f"applied: {exc!r}; payload {entry.payload}") from exc
            if unhanded:
                report = control_report(entry)
        elif unhanded and order is not None:
            report = reports_for(order, entry)
        if report is not None:
            self.unhanded.append(dataclasses.replace(report, seq=seq, poss_resend=True))

    def resend_unhanded(self) -> int:
        """Hand the outbox's reports to the sinks (which skip what their session already
        holds); call once the sessions exist. Returns how many were handed."""
        reports, self.unhanded = self.unhanded, []
        for report in reports:
            self._deliver(report)
        return len(reports)

    def _resume_open_orders(self) -> None:
        pending_new = self.store.list_orders(status=[OrdStatus.PENDING_NEW.value],
                                             include_children=True)
        working = self.store.working_orders()
        children = [c for p in working if p.algo is not None
                    for c in self.store.children(p.order_id) if c.is_open]
        for order in working + children + pending_new:
            venue = self.venues.get(order.venue)
            if (isinstance(venue, ResumableVenue) and order.algo is None
                    and order.status is not OrdStatus.PENDING_NEW):
                # Its orders outlived us: ask the venue, and finish what was pending there.
                # Now, not after a commit (nothing new is recorded): before the venue's
                # logon, handed to this loop, can run, so it reconciles them all at once.
                self._resume_at(venue, order)
                continue
            if order.algo is not None and order.status is OrdStatus.PENDING_CANCEL:
                # A parent's cancel: its children come off first, then it ends.
                self.queue.after_commit(functools.partial(self._resume_parent_cancel, order))
                continue
            if order.status is OrdStatus.PENDING_CANCEL:
                # The cancel was asked for and never answered: honour it.
                self._record(OrderCanceled(order_id=order.order_id, ts=self.now(),
                                           reason="canceled at restart: cancel was pending"))
            elif order.status is OrdStatus.PENDING_REPLACE:
                pending = order.pending_replace
                self._record(OrderCancelRejected(
                    order_id=order.order_id, ts=self.now(),
                    cl_ord_id=pending.cl_ord_id if pending else "",
                    reason="replace not confirmed before restart",
                    cxl_rej_reason=int(CxlRejReason.OTHER),
                    response_to=CxlRejResponseTo.REPLACE.value))
            elif order.status is OrdStatus.PENDING_NEW:
                # Submitted, then the process died before the gates' answer was journaled.
                self._record(OrderRejected(order_id=order.order_id, ts=self.now(),
                                           reason="order not confirmed before restart",
                                           ord_rej_reason=int(OrdRejReason.OTHER),
                                           check="restart"))
            if order.is_open:
                self.queue.after_commit(functools.partial(self._work, order))
                self._arm_expiry(order)

    def _resume_parent_cancel(self, parent: Order) -> None:
        self.execution.start(parent)
        self.execution.cancel(parent, parent.pending_reason or "canceled at restart")

    def _resume_at(self, venue: ResumableVenue, order: Order) -> None:
        venue.resume(self._venue_order(order))
        pending = order.pending_replace
        if order.status is OrdStatus.PENDING_CANCEL:
            self.venues[order.venue].cancel(order.order_id)
        elif order.status is OrdStatus.PENDING_REPLACE and pending is not None:
            self.venues[order.venue].replace(order.order_id, pending.qty - order.cum_qty,
                                             pending.price, pending.stop_px)

    # -- the journal and the reports ---------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now()

    def _record(self, event: OrderEvent, order: Order | None = None) -> Order:
        """Apply an event, queue it for the journal, and its report for after the commit.
        `order`: for an OrderSubmitted, the order already built from it (vetted)."""
        order = self.store.apply(event, order=order)
        assert order is not None
        seq = self.queue.append(event)
        report = reports_for(order, event, seq)
        if report is not None:
            unsaid = (functools.partial(self._say_unsaid, order, event)
                      if isinstance(event, OrderAccepted) else None)
            self._report_after_commit(report, unsaid)
        elif isinstance(event, OrderPendingCancel | OrderPendingReplace) and event.cl_ord_id:
            self.queue.after_commit(_nothing, otherwise=functools.partial(
                self._say_unsaid, order, event))
        return order

    def _say_unsaid(self, order: Order, event: OrderEvent) -> None:
        """What the client hears if the journal fails before `event` commits: a request
        it made (a new order, a cancel, a replace) refused, since none reached a venue."""
        fallback: Report
        if isinstance(event, OrderAccepted):
            fallback = refusal(
                session=order.session, order_id=order.order_id, exec_id=f"{order.order_id}.J",
                exec_type=ExecType.REJECTED, cl_ord_id=order.cl_ord_id, account=order.account,
                symbol=order.symbol, side=order.side.value, ord_type=order.ord_type.value,
                time_in_force=order.time_in_force.value, qty=order.qty, price=order.price,
                stop_px=order.stop_px, ord_rej_reason=int(OrdRejReason.OTHER),
                text=JOURNAL_DOWN)
        elif isinstance(event, OrderPendingCancel | OrderPendingReplace) and event.cl_ord_id:
            fallback = CancelReject(
                session=order.session, cl_ord_id=event.cl_ord_id,
                orig_cl_ord_id=order.cl_ord_id, order_id=order.order_id,
                ord_status=order.previous_status or order.status,
                response_to=(CxlRejResponseTo.CANCEL if isinstance(event, OrderPendingCancel)
                             else CxlRejResponseTo.REPLACE).value,
                cxl_rej_reason=int(CxlRejReason.OTHER), text=JOURNAL_DOWN, account=order.account)
        else:
            return
        self._deliver(fallback)

    def _record_control(self, entry: ControlEvent) -> None:
        self.store.apply(entry)
        seq = self.queue.append(entry)
        report = control_report(entry)
        if report is not None:
            self._report_after_commit(dataclasses.replace(report, seq=seq))

    def _report_after_commit(self, report: Report,
                             otherwise: Callable[[], None] | None = None) -> None:
        # A refusal is an answer, sayable without the journal; a fill or an ack is not.
        answer = isinstance(report, CancelReject | MassCancelReport) or (
            report.exec_type is ExecType.REJECTED)
        self.queue.after_commit(functools.partial(self._deliver, report), answer=answer,
                                otherwise=otherwise)

    def _handed_through(self) -> int:
        """The outbox cursor: reports up to here are in their sessions' hands."""
        done = self.queue.actions_done_seq
        for sink in self._sinks:
            handed = getattr(sink, "handed_through", None)
            if handed is not None:
                done = min(done, handed(done))
        return done

    def _deliver(self, report: Report) -> None:
        for sink in self._sinks:
            if isinstance(report, ExecutionReport):
                sink.execution_report(report)
            elif isinstance(report, CancelReject):
                sink.cancel_reject(report)
            else:
                sink.mass_cancel_report(report)

    async def barrier(self) -> None:
        """Wait until everything applied so far is durable (and its reports are sent)."""
        await self.queue.barrier()

    async def durable(self, read: Callable[[], T]) -> T:
        """Read state now, answer once what was read is committed."""
        return await self.queue.durable(read)

    # -- lookups and what the gates read (AccountView) ----------------------------------------

    def by_cl_ord_id(self, session: str | None, cl_ord_id: str) -> Order | None:
        return self.store.by_cl_ord_id(session, cl_ord_id)

    def find(self, session: str | None, order_id: str | None,
             cl_ord_id: str | None) -> Order | None:
        """An order by OrderID or by the session's ClOrdID; a FIX session sees only its own."""
        order = self.store.get(order_id) if order_id else None
        if order is None and cl_ord_id:
            order = self.store.by_cl_ord_id(session, cl_ord_id)
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

    def working_orders(self, account: str | None = None, session: str | None = None,
                       symbol: str | None = None) -> list[Order]:
        return self.store.working_orders(account, session, symbol)

    def list_orders(self, *, status: Iterable[str] | None = None, account: str | None = None,
                    symbol: str | None = None, parent_id: str | None = None,
                    include_children: bool = False) -> list[Order]:
        return self.store.list_orders(status=status, account=account, symbol=symbol,
                                      parent_id=parent_id, include_children=include_children)

    def position_qty(self, account: str, symbol: str) -> Decimal:
        pos = self.store.positions.get(account, symbol)
        return pos.qty if pos is not None else Decimal(0)

    def account_positions(self, account: str) -> list[Position]:
        return self.store.account_positions(account)

    def accounts_with_positions(self) -> list[str]:
        return sorted({p.account for p in self.store.positions.all()})

    def working(self, account: str, symbol: str) -> WorkingExposure:
        return self.store.exposure.get(account, symbol)

    def open_order_count(self, account: str) -> int:
        return self.store.exposure.open_orders.get(account, 0)

    def open_order_notional(self, account: str) -> Decimal:
        return self.store.exposure.open_notional.get(account, Decimal(0))

    def mark(self, symbol: str) -> Decimal | None:
        return self.reference_price(symbol)

    def sector(self, symbol: str) -> str:
        instrument = self.universe.get(symbol)
        return instrument.sector if instrument else ""

    # -- commands ------------------------------------------------------------------------

    def handle(self, cmd: Command) -> None:
        """Any command from any door; whatever goes wrong, the sender gets an answer."""
        try:
            match cmd:
                case SubmitOrder():
                    self.submit(cmd)
                case CancelOrder():
                    self.cancel(cmd)
                case ReplaceOrder():
                    self.replace(cmd)
                case StatusRequest():
                    self.status(cmd)
                case MassCancel():
                    self.mass_cancel(cmd)
        except Exception as exc:
            log.exception("command failed", command=repr(cmd))
            self._answer_failure(cmd, f"request could not be processed: {type(exc).__name__}")

    def submit(self, cmd: SubmitOrder) -> str:
        """Accept or reject a new order; returns the OrderID assigned to it."""
        order_id = self.store.next_id()
        codes = parse_codes(cmd)
        if isinstance(codes, Denial):
            self._refuse_malformed(cmd, order_id, codes)
            return order_id
        now = self.now()
        venue = cmd.venue or self.default_venue
        terms = self._terms(cmd, codes, venue, now)
        submitted = OrderSubmitted(
            order_id=order_id, ts=now, cl_ord_id=cmd.cl_ord_id, account=cmd.account,
            symbol=cmd.symbol, side=codes.side, ord_type=codes.ord_type,
            time_in_force=codes.time_in_force, qty=cmd.qty, price=cmd.price,
            stop_px=terms.stop_px, session=cmd.session, venue=venue,
            expire_time=terms.expire_time, trail_offset=terms.trail_offset,
            trail_in_bps=terms.trail_in_bps, algo=terms.algo)
        vetted = Order.from_submitted(submitted)
        denial, approval = terms.denial, Approval()  # bad terms: refused before any gate
        if denial is None:
            denial, approval = self.gates.vet_new(vetted)
        if denial is None and approval.side is not None:
            # Re-marked by compliance (a Sell that would go short): journal what works.
            submitted = dataclasses.replace(submitted, side=approval.side)
            vetted.side = approval.side
        order = self._record(submitted, vetted)
        if self.queue.failed is not None:
            denial = Denial("journal", JOURNAL_DOWN)
        if denial is not None:
            log.info("order rejected", order_id=order_id, check=denial.check, reason=denial.reason)
            self._cancel_for(order_id, denial.cancel_first)
            self._record(OrderRejected(order_id=order_id, ts=now, reason=denial.reason,
                                       ord_rej_reason=int(denial.ord_rej_reason),
                                       check=denial.check))
            return order_id
        if approval.flags:
            self._record_control(ControlEvent("order_flagged", {
                "order_id": order_id, "account": order.account, "symbol": order.symbol,
                "flags": list(approval.flags)}, now))
        self._cancel_for(order_id, approval.cancel_first)
        self._record(OrderAccepted(order_id=order_id, ts=now))
        self.queue.after_commit(lambda: self._work(order))
        self._arm_expiry(order)
        return order_id

    def _terms(self, cmd: SubmitOrder, codes: Codes, venue: str, now: datetime) -> _Terms:
        """What the order asks beyond its codes: a GTD expiry or a trailing stop, an
        algorithm, or (unpinned, with several venues) the router; or why it cannot."""
        terms = _Terms(None, cmd.stop_px)
        if codes.time_in_force is TimeInForce.GTD or cmd.exec_inst or cmd.peg_offset is not None:
            extras = check_extras(cmd, codes, now, self.trading_day.calendar.close_of,
                                  lambda: self.reference_price(cmd.symbol, venue),
                                  lambda: self.universe.get(cmd.symbol))
            if isinstance(extras, Denial):
                return terms._replace(denial=extras)
            terms = _Terms(None, extras.stop_px, extras.expire_time, extras.trail_offset,
                           extras.trail_in_bps)
        if cmd.algo is not None:  # refuses GTD and stops, trailing ones too
            spec = parse_algo(cmd.algo, codes.ord_type, codes.time_in_force, now,
                              self.reference_price(cmd.symbol, venue))
            if isinstance(spec, Denial):
                return terms._replace(denial=spec)
            if spec is not None:
                return terms._replace(algo=spec.to_algo())
        if (len(self.venues) > 1 and cmd.venue is None and terms.trail_offset is None
                and codes.ord_type in (OrdType.MARKET, OrdType.LIMIT)
                and codes.time_in_force is not TimeInForce.FOK):
            return terms._replace(algo=AlgoSpec(
                SOR, now, None, arrival_px=self.reference_price(cmd.symbol, venue)).to_algo())
        return terms

    def _work(self, order: Order) -> None:
        """Put an accepted order to work: an algorithm's parent to the engine, any other
        to its venue."""
        if order.algo is not None:
            self.execution.start(order)
        else:
            self._send_to_venue(order)

    def _cancel_for(self, order_id: str, resting_ids: tuple[str, ...]) -> None:
        """Self-match prevention: take the resting side off before the new order works."""
        for resting_id in resting_ids:
            resting = self.store.get(resting_id)
            if resting is not None:
                self.cancel_all_one(resting, f"self-match prevention: canceled for order "
                                    f"{order_id}", "compliance")

    def _refuse_malformed(self, cmd: SubmitOrder, order_id: str, denial: Denial) -> None:
        """An order whose codes we cannot even type: journal what came, answer what was wrong."""
        payload: dict[str, Any] = {
            k: (str(v) if isinstance(v, Decimal) else printable(v) if isinstance(v, str) else v)
            for k, v in dataclasses.asdict(cmd).items()}
        payload.update(order_id=order_id, reason=denial.reason, check=denial.check,
                       ord_rej_reason=int(denial.ord_rej_reason))
        self._record_control(ControlEvent(ORDER_REFUSED, payload, self.now()))

    def _send_to_venue(self, order: Order) -> None:
        if not order.is_open:
            return
        if self._held(order):
            self.trailing.hold(order)  # the OMS works it until it triggers
            return
        self.venues[order.venue].submit(self._venue_order(order))

    @staticmethod
    def _venue_order(order: Order) -> VenueOrder:
        ord_type = order.ord_type
        if order.triggered:  # a triggered stop works as what it became
            ord_type = OrdType.LIMIT if ord_type is OrdType.STOP_LIMIT else OrdType.MARKET
        return VenueOrder(
            order_id=order.order_id, account=order.account, symbol=order.symbol,
            side=order.side, ord_type=ord_type, time_in_force=order.time_in_force,
            qty=order.leaves_qty, price=order.price,
            stop_px=None if order.triggered else order.stop_px)

    def _request_refusal(
        self, order: Order | None, cmd: CancelOrder | ReplaceOrder
    ) -> tuple[CxlRejReason, str] | None:
        """Why a cancel or replace cannot go ahead, or None when it can."""
        if order is None:
            ref = cmd.order_id or cmd.orig_cl_ord_id
            return CxlRejReason.UNKNOWN_ORDER, f"unknown order {ref!r}"
        if order.status.is_terminal:
            return (CxlRejReason.TOO_LATE_TO_CANCEL,
                    f"too late: order {order.order_id} is already {order.status.name.lower()}")
        if order.is_pending_request:
            return (CxlRejReason.ALREADY_PENDING,
                    f"order {order.order_id} already has a {order.status.name.lower()} request")
        if cmd.cl_ord_id and self.store.by_cl_ord_id(cmd.session, cmd.cl_ord_id) is not None:
            return (CxlRejReason.DUPLICATE_CLORDID,
                    f"duplicate ClOrdID(11) {cmd.cl_ord_id} on this session")
        if self.queue.failed is not None:
            return CxlRejReason.OTHER, JOURNAL_DOWN
        return None

    def cancel(self, cmd: CancelOrder) -> Order | None:
        order = self.find(cmd.session, cmd.order_id, cmd.orig_cl_ord_id)
        refused = self._request_refusal(order, cmd)
        if refused is not None:
            self._refuse_request(order, cmd, CxlRejResponseTo.CANCEL, *refused)
            return order
        assert order is not None
        self._record(OrderPendingCancel(order_id=order.order_id, ts=self.now(),
                                        cl_ord_id=cmd.cl_ord_id, requested_by=cmd.requested_by,
                                        reason=cmd.reason))
        if order.algo is not None:  # its children come off, then it ends
            self.queue.after_commit(lambda: self.execution.cancel(order, cmd.reason))
            return order
        if self._held(order):  # never sent: the OMS takes it off itself
            self._record(OrderCanceled(order_id=order.order_id, ts=self.now(),
                                       reason=order.pending_reason))
            return order
        venue = self.venues[order.venue]
        self.queue.after_commit(lambda: venue.cancel(order.order_id))
        return order

    def replace(self, cmd: ReplaceOrder) -> Order | None:
        order = self.find(cmd.session, cmd.order_id, cmd.orig_cl_ord_id)
        refused = self._request_refusal(order, cmd)
        cancel_first: tuple[str, ...] = ()
        if refused is None:
            assert order is not None
            refused, cancel_first = self._vet_replace(order, cmd)
        if refused is not None:
            self._refuse_request(order, cmd, CxlRejResponseTo.REPLACE, *refused)
            return order
        assert order is not None
        self._cancel_for(order.order_id, cancel_first)
        price = cmd.price if order.ord_type.needs_price else None
        stop_px = self._replace_stop_px(order, cmd)
        self._record(OrderPendingReplace(order_id=order.order_id, ts=self.now(),
                                         cl_ord_id=cmd.cl_ord_id, qty=cmd.qty, price=price,
                                         stop_px=stop_px))
        if order.algo is not None:
            # No venue holds the parent: the new terms apply at once, and the engine
            # re-plans what is left of the schedule.
            self._record(OrderReplaced(order_id=order.order_id, ts=self.now(),
                                       cl_ord_id=cmd.cl_ord_id, qty=cmd.qty, price=price,
                                       stop_px=stop_px))
            self.queue.after_commit(lambda: self.execution.replaced(order))
            return order
        if self._held(order):  # never sent: the OMS applies it itself
            self._record(OrderReplaced(order_id=order.order_id, ts=self.now(),
                                       cl_ord_id=cmd.cl_ord_id, qty=cmd.qty, price=price,
                                       stop_px=stop_px))
            return order
        venue = self.venues[order.venue]
        leaves = cmd.qty - order.cum_qty
        self.queue.after_commit(lambda: venue.replace(order.order_id, leaves, price, stop_px))
        return order

    def _vet_replace(self, order: Order, cmd: ReplaceOrder
                     ) -> tuple[tuple[CxlRejReason, str] | None, tuple[str, ...]]:
        for name, tag, asked, current in (
            ("Side", 54, cmd.side, order.side.value),
            ("Symbol", 55, cmd.symbol, order.symbol),
            ("OrdType", 40, cmd.ord_type, order.ord_type.value),
        ):
            if asked is not None and asked != current:
                return (CxlRejReason.BROKER_OPTION,
                        f"{name}({tag}) cannot be changed by a replace ({current} -> "
                        f"{printable(asked)})"), ()
        if cmd.qty <= order.cum_qty:
            return (CxlRejReason.BROKER_OPTION,
                    f"OrderQty(38) {cmd.qty} must exceed the quantity already filled "
                    f"({order.cum_qty})"), ()
        price = cmd.price if order.ord_type.needs_price else None
        stop_px = self._replace_stop_px(order, cmd)
        denial, approval = self.gates.vet_replace(order, cmd.qty, price, stop_px)
        if denial is not None:
            return (CxlRejReason.BROKER_OPTION, denial.reason), ()
        return None, approval.cancel_first

    def _replace_stop_px(self, order: Order, cmd: ReplaceOrder) -> Decimal | None:
        if not order.ord_type.needs_stop_px:
            return None
        if cmd.stop_px is None and self._held(order):
            return order.stop_px  # a held trailing stop keeps trailing from where it is
        return cmd.stop_px

    def _refuse_request(self, order: Order | None, cmd: CancelOrder | ReplaceOrder,
                        response_to: CxlRejResponseTo, reason: CxlRejReason, text: str) -> None:
        log.info("cancel/replace refused", order_id=order.order_id if order else None,
                 reason=text)
        self._record_control(ControlEvent(REQUEST_REFUSED, {
            "order_id": order.order_id if order else "NONE",
            "cl_ord_id": printable(cmd.cl_ord_id),
            "orig_cl_ord_id": printable(cmd.orig_cl_ord_id or (order.cl_ord_id if order else "")),
            "session": cmd.session,
            "response_to": response_to.value,
            "cxl_rej_reason": int(reason),
            "ord_status": order.status.value if order else OrdStatus.REJECTED.value,
            "account": order.account if order else "",
            "reason": printable(text),
        }, self.now()))

    def status(self, cmd: StatusRequest) -> None:
        """OrderStatusRequest: the order as it stands (a read: nothing is journaled)."""
        order = self.find(cmd.session, cmd.order_id, cmd.cl_ord_id)
        if order is not None:
            text = order.text
            if self.queue.failed is not None:
                text = "gateway journal unavailable: this status may include changes that are " \
                       "not durable"
            report = ExecutionReport.of(order, ExecType.ORDER_STATUS,
                                        f"{exec_id(order)}.I", text=text)
        else:
            ref = printable(cmd.cl_ord_id or cmd.order_id or "")
            report = refusal(
                session=cmd.session, order_id=printable(cmd.order_id or "NONE"),
                exec_id=f"I.{ref}", exec_type=ExecType.ORDER_STATUS,
                cl_ord_id=printable(cmd.cl_ord_id or ""), account="",
                symbol=printable(cmd.symbol), side=printable(cmd.side or "1"),
                ord_rej_reason=int(OrdRejReason.UNKNOWN_ORDER), text=f"unknown order {ref!r}")
        self.queue.after_commit(lambda: self._deliver(report), answer=True)

    def mass_cancel(self, cmd: MassCancel) -> int:
        """Cancel the session's own working orders; answers with a mass cancel report."""
        accepted = cmd.request_type in ("1", "7") and (cmd.request_type == "7" or cmd.symbol)
        affected = 0
        text = ""
        if self.queue.failed is not None:
            accepted, text = False, JOURNAL_DOWN
        elif accepted:
            for order in self.store.working_orders(session=cmd.session, symbol=(
                    cmd.symbol if cmd.request_type == "1" else None)):
                if not order.is_pending_request:
                    self.cancel_all_one(order, f"mass cancel {printable(cmd.cl_ord_id)}",
                                        cmd.session or "")
                    affected += 1
        else:
            text = (f"unsupported MassCancelRequestType(530)={printable(cmd.request_type)}: use "
                    "1 (by symbol, with Symbol(55)) or 7 (all orders)")
        self._record_control(ControlEvent(MASS_CANCEL, {
            "session": cmd.session, "cl_ord_id": printable(cmd.cl_ord_id),
            "mass_cancel_id": self.store.next_id("MC"), "affected": affected,
            "request_type": printable(cmd.request_type), "accepted": bool(accepted),
            "text": text}, self.now()))
        return affected

    def _answer_failure(self, cmd: Command, text: str) -> None:
        """The answer to a command whose handling raised: the sender must hear something."""
        session = cmd.session
        stamp = f"{self.now():%Y%m%d%H%M%S%f}"  # ExecIDs of answers that are no fact
        report: Report
        match cmd:
            case SubmitOrder():
                report = refusal(session=session, order_id="NONE", exec_id=f"E.{stamp}",
                                 exec_type=ExecType.REJECTED, cl_ord_id=printable(cmd.cl_ord_id),
                                 account=printable(cmd.account), symbol=printable(cmd.symbol),
                                 side=printable(cmd.side), ord_rej_reason=int(OrdRejReason.OTHER),
                                 text=text)
            case CancelOrder() | ReplaceOrder():
                report = CancelReject(
                    session=session, cl_ord_id=printable(cmd.cl_ord_id),
                    orig_cl_ord_id=printable(cmd.orig_cl_ord_id or "NONE"),
                    order_id=printable(cmd.order_id or "NONE"), ord_status=OrdStatus.REJECTED,
                    response_to=(CxlRejResponseTo.CANCEL if isinstance(cmd, CancelOrder)
                                 else CxlRejResponseTo.REPLACE).value,
                    cxl_rej_reason=int(CxlRejReason.OTHER), text=text)
            case StatusRequest():
                report = refusal(session=session, order_id=printable(cmd.order_id or "NONE"),
                                 exec_id=f"I.{stamp}", exec_type=ExecType.ORDER_STATUS,
                                 cl_ord_id=printable(cmd.cl_ord_id or ""), account="",
                                 symbol=printable(cmd.symbol), side=printable(cmd.side or "1"),
                                 ord_rej_reason=int(OrdRejReason.OTHER), text=text)
            case MassCancel():
                report = MassCancelReport(session, printable(cmd.cl_ord_id), "NONE",
                                          printable(cmd.request_type), False, 0, text)
        self.queue.after_commit(lambda: self._deliver(report), answer=True)

    # -- firm controls ---------------------------------------------------------------------

    async def apply_control(self, kind: str, payload: dict[str, Any]) -> None:
        """An operator's change: journal it, wait for the commit, then apply it, so no
        reader and no order ever sees a change the database does not hold."""
        self._record_control(ControlEvent(kind, payload, self.now()))
        await self.barrier()
        handler = self.controls.get(kind)
        if handler is not None:
            handler(payload)

    def record_control(self, kind: str, payload: dict[str, Any]) -> None:
        """Apply and journal a change the OMS itself makes (risk monitor): it takes effect
        for the very next order, and is durable before anything that depends on it is said."""
        handler = self.controls.get(kind)
        if handler is not None:
            handler(payload)
        self._record_control(ControlEvent(kind, payload, self.now()))

    def cancel_all(self, account: str | None, reason: str, by: str = "",
                   session: str | None = None) -> list[Order]:
        """Cancel every working order in scope at its venue (kill switch, operator)."""
        canceled = []
        for order in self.store.working_orders(account, session):
            if order.status is OrdStatus.PENDING_CANCEL:
                continue
            if order.status is OrdStatus.PENDING_REPLACE:
                # Let the venue answer the replace first; cancel what is left after.
                self.queue.after_commit(functools.partial(self.cancel_all_one, order, reason, by))
                continue
            self.cancel_all_one(order, reason, by)
            canceled.append(order)
        return canceled

    def cancel_all_one(self, order: Order, reason: str, by: str) -> None:
        if not order.is_open or order.is_pending_request:
            return
        self.cancel(CancelOrder(cl_ord_id="", order_id=order.order_id, session=None,
                                requested_by=by, reason=reason))

    # -- what the OMS holds: expiry and trailing stops --------------------------------------

    def expire_orders(self, orders: Iterable[Order], reason: str) -> list[Order]:
        """Expire open orders (ExecType Expired) and take them off their venues."""
        expired = []
        for order in orders:
            if not order.is_open:
                continue
            held = self._held(order)
            self._record(OrderExpired(order_id=order.order_id, ts=self.now(), reason=reason))
            if order.algo is not None:  # no venue holds a parent: its children come off
                self.queue.after_commit(functools.partial(self.execution.parent_done, order,
                                                          reason))
            elif not held:
                venue = self.venues[order.venue]
                self.queue.after_commit(functools.partial(venue.cancel, order.order_id))
            expired.append(order)
            timer = self._expiry_timers.pop(order.order_id, None)
            if timer is not None:
                timer.cancel()
        return expired

    def _arm_expiry(self, order: Order) -> None:
        if order.expire_time is None or order.order_id in self._expiry_timers:
            return
        self._expiry_timers[order.order_id] = self.clock.call_at(
            order.expire_time, functools.partial(self._expire_due, order.order_id))

    def _forget_expiry(self, order: Order, event: OrderEvent) -> None:
        """A GTD order that is done before its expiry lets its timer go."""
        if order.expire_time is not None and order.status.is_terminal:
            timer = self._expiry_timers.pop(order.order_id, None)
            if timer is not None:
                timer.cancel()

    def _expire_due(self, order_id: str) -> None:
        self._expiry_timers.pop(order_id, None)
        order = self.store.get(order_id)
        if order is None or not order.is_open or order.expire_time is None:
            return
        try:
            self.expire_orders([order], f"GTD order expired at ExpireTime(126) "
                                        f"{order.expire_time:%Y-%m-%d %H:%M:%S} UTC")
        except Exception:  # a timer callback: nothing above it would log this
            log.exception("GTD expiry failed", order_id=order_id)

    @staticmethod
    def _held(order: Order) -> bool:
        return order.is_trailing and not order.triggered

    def _tick_size(self, symbol: str) -> Decimal | None:
        instrument = self.universe.get(symbol)
        return instrument.tick_size if instrument else None

    def _trail_moved(self, order: Order, stop_px: Decimal, best_px: Decimal) -> None:
        self._record(OrderStopMoved(order_id=order.order_id, ts=self.now(), stop_px=stop_px,
                                    best_px=best_px))

    def _trail_triggered(self, order: Order, price: Decimal) -> None:
        log.info("trailing stop triggered", order_id=order.order_id, trigger_px=str(price),
                 stop_px=str(order.stop_px))
        self._record(OrderTriggered(order_id=order.order_id, ts=self.now(), trigger_px=price))
        self.queue.after_commit(functools.partial(self._send_to_venue, order))

    # -- venue events ------------------------------------------------------------------------

    def on_venue_event(self, event: VenueEvent) -> None:
        order = self.store.get(event.order_id)
        if order is None:
            log.error("venue event for unknown order", order_id=event.order_id,
                      venue_event=repr(event))
            return
        try:
            self._on_venue_event(order, event)
            if order.parent_id is not None:
                self._on_child_event(order, event)
        except InvalidTransition as exc:
            log.warning("venue event refused by the order state machine",
                        order_id=order.order_id, error=str(exc), venue_event=repr(event))

    def _on_venue_event(self, order: Order, event: VenueEvent) -> None:
        oid = order.order_id
        ts = self.now()
        if order.status is OrdStatus.EXPIRED and not isinstance(event, VenueFill):
            # The venue answering the cancel that took an expired order off: expected,
            # and said already (a day close makes one per Day order: no log line each).
            if not isinstance(event, VenueCanceled | VenueRequestRejected):
                log.info("venue event after expiry", order_id=oid, venue_event=repr(event))
            return
        match event:
            case VenueAccepted():
                return
            case VenueFill(qty=qty, price=price, trade_id=trade_id, fee=fee):
                self._record(OrderFilled(
                    order_id=oid, ts=ts,
                    # The ExecID of the Trade report that this fill produces.
                    exec_id=f"{oid}.{order.version + 1}",
                    last_qty=qty, last_px=price, venue_trade_id=trade_id, venue=order.venue,
                    fee=fee))
            case VenueTriggered(trigger_px=px):
                self._record(OrderTriggered(order_id=oid, ts=ts, trigger_px=px))
            case VenueCanceled(reason=reason):
                if order.status is OrdStatus.PENDING_CANCEL:
                    reason = order.pending_reason or reason
                self._record(OrderCanceled(order_id=oid, ts=ts, reason=reason))
            case VenueReplaced():
                pending = order.pending_replace
                if pending is None:
                    log.error("venue replaced an order with no pending replace", order_id=oid)
                    return
                self._record(OrderReplaced(order_id=oid, ts=ts, cl_ord_id=pending.cl_ord_id,
                                           qty=pending.qty, price=pending.price,
                                           stop_px=pending.stop_px))
            case VenueRequestRejected(reason=reason):
                if not order.is_pending_request:
                    log.warning("venue refused a request no longer pending", order_id=oid,
                                reason=reason)
                    return
                response_to = (CxlRejResponseTo.CANCEL
                               if order.status is OrdStatus.PENDING_CANCEL
                               else CxlRejResponseTo.REPLACE)
                self._record(OrderCancelRejected(
                    order_id=oid, ts=ts, cl_ord_id=order.pending_cl_ord_id or "", reason=reason,
                    cxl_rej_reason=int(CxlRejReason.TOO_LATE_TO_CANCEL),
                    response_to=response_to.value))
            case VenueOrderRejected(reason=reason):
                self._record(OrderRejected(order_id=oid, ts=ts, reason=reason,
                                           ord_rej_reason=int(OrdRejReason.BROKER_OPTION),
                                           check="venue"))


    def _on_market_data(self, venue: str, data: Quote | TradeTick) -> None:
        if isinstance(data, TradeTick):
            self.execution.on_trade(venue, data)

    # -- child orders (the engine's ChildDesk) ---------------------------------------------

    def children(self, parent_id: str) -> list[Order]:
        return self.store.children(parent_id)

    def send_child(self, parent: Order, qty: Decimal, *, venue: str | None = None,
                   price: Decimal | None = None, resting: bool = False) -> Denial | None:
        """A slice of `parent`: an IOC at the parent's limit (market when the parent is),
        a limit IOC at `price`, or (`resting`) the parent's limit and time in force; to
        the parent's venue unless `venue`. Vetted by the gates (its own throttle, limits
        and collars) and journaled like any order."""
        child_id = self.store.next_id()
        number = len(self.store.children(parent.order_id)) + 1
        ord_type, tif = parent.ord_type, TimeInForce.IOC
        if price is not None:
            ord_type = OrdType.LIMIT
        else:
            price = parent.price
            if resting:  # a GTD parent's own timer ends it: its child rests until then
                tif = (TimeInForce.GTC if parent.time_in_force is TimeInForce.GTD
                       else parent.time_in_force)
        submitted = OrderSubmitted(
            order_id=child_id, ts=self.now(), cl_ord_id=f"{parent.order_id}-{number}",
            account=parent.account, symbol=parent.symbol, side=parent.side,
            ord_type=ord_type, time_in_force=tif, qty=qty, price=price,
            session=f"algo:{parent.order_id}", venue=venue or parent.venue,
            parent_id=parent.order_id)
        vetted = Order.from_submitted(submitted)
        denial, _ = self.gates.vet_child(vetted, parent)
        child = self._record(submitted, vetted)
        if denial is None and self.queue.failed is not None:
            denial = Denial("journal", JOURNAL_DOWN)
        if denial is not None:
            log.info("child order refused", order_id=child_id, parent_id=parent.order_id,
                     check=denial.check, reason=denial.reason)
            self._record(OrderRejected(order_id=child_id, ts=self.now(), reason=denial.reason,
                                       ord_rej_reason=int(denial.ord_rej_reason),
                                       check=denial.check))
            return denial
        self._record(OrderAccepted(order_id=child_id, ts=self.now()))
        self.queue.after_commit(lambda: self._send_to_venue(child))
        return None

    def books(self, symbol: str) -> list[VenueBook]:
        names = list(self.venues)
        out = []
        for name, venue in self.venues.items():
            chance = self.execution.fill_probability(name, symbol, names)
            reader = getattr(venue, "router_book", None)
            if reader is not None:
                out.append(reader(symbol, fill_probability=chance))
            else:  # a venue that shows no book can still take a resting remainder
                out.append(VenueBook(name, fill_probability=chance,
                                     up=venue.status is not VenueStatus.DOWN))
        return out

    def cancel_child(self, child: Order, reason: str) -> None:
        self.cancel_all_one(child, reason, "algo")

    def finish_parent(self, parent: Order, reason: str) -> None:
        if parent.status.is_terminal:
            return
        if parent.status is OrdStatus.PENDING_CANCEL:
            reason = parent.pending_reason or reason
        self._record(OrderCanceled(order_id=parent.order_id, ts=self.now(), reason=reason))

    def _on_child_event(self, child: Order, event: VenueEvent) -> None:
        parent = self.store.get(child.parent_id or "")
        if parent is None:
            return
        if isinstance(event, VenueFill):
            # The client's order fills by what its child filled, at the child's venue.
            self._record(OrderFilled(
                order_id=parent.order_id, ts=self.now(),
                exec_id=f"{parent.order_id}.{parent.version + 1}", last_qty=event.qty,
                last_px=event.price, venue_trade_id=f"{child.order_id}:{event.trade_id}",
                venue=child.venue, fee=event.fee))
        try:
            self.execution.on_child_event(parent, child)
        except Exception:  # the child's event is booked; never fail the venue's call
            log.exception("algorithm could not take a child's event",
                          order_id=parent.order_id, child_id=child.order_id)


class _Terms(NamedTuple):
    denial: Denial | None
    stop_px: Decimal | None
    expire_time: datetime | None = None
    trail_offset: Decimal | None = None
    trail_in_bps: bool = False
    algo: dict[str, str] | None = None


def _nothing() -> None:
    pass


def _both(first: ControlHandler, second: ControlHandler) -> ControlHandler:
    def handler(payload: dict[str, Any]) -> None:
        first(payload)
        second(payload)
    return handler


def _is_fix(session: str | None) -> bool:
    return session is not None and session.startswith("FIX")
