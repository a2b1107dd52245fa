"""Venue kind "fix": an upstream FIX venue, fixgate logging on as a QuickFIX initiator.

Out: a `VenueOrder` becomes a NewOrderSingle whose ClOrdID(11) is the OMS
OrderID, so it is the same after a restart; each cancel or replace gets
`<OrderID>.<run tag><n>`, never reused across runs, and any ClOrdID maps back to
its order by the part before the first dot. In: ExecutionReports become
VenueAccepted / VenueFill (trade id = the venue's ExecID(17), so a fill reported
twice, e.g. by resend, is booked once: the OMS dedupes by trade id) /
VenueCanceled / VenueReplaced / VenueOrderRejected; an OrderCancelReject becomes
VenueRequestRejected.

Status (`status`, `status_since`): `down` from start until the session is logged
on and reconciled, and as soon as it drops; then `up`. While down a new order
is refused with VenueOrderRejected("venue X is down") and a replace with
VenueRequestRejected; a cancel is kept and sent once the venue is back (a kill
switch must reach every order).

Recovery on (re)logon: QuickFIX resends and gap-fills from its FileStore
(`<data_dir>/fix/upstream/<venue>/`); our own NewOrderSingles are not resent
(toApp answers their resend with DoNotSend, i.e. a gap fill: a stale order must
not reach the market late), cancels, replaces and status requests are. Then an
OrderStatusRequest goes out for every order believed working there (those this
process sent, and those the OMS handed over with `resume` after a restart).
Missed ExecutionReports arrive by resend before those answers (QuickFIX delivers
in sequence), so missed fills are booked once; an order the venue no longer
knows is reported canceled with the reason; a cancel or replace left unanswered
is sent again. When every order is answered (or after RECONCILE_TIMEOUT_S) the
venue is `up`.

Market data: the venue publishes none to us here; `last_price` is the last fill
price seen from it, and each fill is published to subscribers as a TradeTick.

quickfix calls back on its own threads: every callback hands over to the event
loop with `call_soon_threadsafe` and catches everything (DoNotSend excepted,
which quickfix expects).
"""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import quickfix as fix
import structlog

from gateway.fix.mapping import Body, fields_of, fmt, transact_time
from gateway.venues.fix_common import decimal, run_tag, send, write_settings
from gateway.venues.timing import LoopTimers, Pipe, Timers
from oms.marketdata import MarketDataHandler, TradeTick
from oms.venue import (
    VenueAccepted,
    VenueCanceled,
    VenueEvent,
    VenueFill,
    VenueListener,
    VenueOrder,
    VenueOrderRejected,
    VenueReplaced,
    VenueRequestRejected,
    VenueStatus,
)

log = structlog.get_logger("venue.fix")

RECONNECT_INTERVAL_S = 5
HEARTBEAT_S = 10  # a venue that goes silent is down within about two of these
RECONCILE_TIMEOUT_S = 10.0
_SENT_MEMORY = 10_000  # MsgSeqNum -> ClOrdID of our last messages, to place a session Reject
_WORKING = frozenset({"0", "1", "6", "A", "E"})  # OrdStatus values of a live order


def order_id_of(cl_ord_id: str) -> str:
    """The OMS order a ClOrdID of ours belongs to."""
    return cl_ord_id.split(".", 1)[0]


@dataclass
class Request:
    """A cancel (F) or replace (G) asked for and not yet answered."""

    kind: str
    cl_ord_id: str
    leaves: Decimal | None = None
    price: Decimal | None = None
    stop_px: Decimal | None = None
    sent: bool = False


@dataclass
class Tracked:
    """An order we believe works at the venue."""

    order: VenueOrder  # current terms
    cl_ord_id: str  # the ClOrdID in effect at the venue
    venue_order_id: str = ""
    venue_cum: Decimal = Decimal(0)  # CumQty(14) as the venue last said
    pending: Request | None = None


# -- the mapping, pure: testable without a session -------------------------------------------


def new_order_fields(order: VenueOrder) -> Body:
    body: Body = [(11, order.order_id)]
    if order.account:
        body.append((1, order.account))
    body += [(21, "1"), (55, order.symbol), (54, order.side.value), (60, transact_time()),
             (38, fmt(order.qty)), (40, order.ord_type.value)]
    if order.price is not None and order.ord_type.needs_price:
        body.append((44, fmt(order.price)))
    if order.stop_px is not None and order.ord_type.needs_stop_px:
        body.append((99, fmt(order.stop_px)))
    body.append((59, order.time_in_force.value))
    return body


def _ids(t: Tracked, request: Request) -> Body:
    body: Body = [(41, t.cl_ord_id)]
    if t.venue_order_id:
        body.append((37, t.venue_order_id))
    return [*body, (11, request.cl_ord_id)]


def cancel_fields(t: Tracked, request: Request) -> Body:
    o = t.order
    return [*_ids(t, request), (55, o.symbol), (54, o.side.value), (60, transact_time()),
            (38, fmt(t.venue_cum + o.qty))]


def replace_fields(t: Tracked, request: Request) -> Body:
    """OrderQty(38) is the venue's total: what it has filled plus the leaves asked for."""
    o = t.order
    leaves = request.leaves if request.leaves is not None else o.qty
    body = [*_ids(t, request), (21, "1"), (55, o.symbol), (54, o.side.value),
            (60, transact_time()), (38, fmt(t.venue_cum + leaves)), (40, o.ord_type.value)]
    price = request.price if request.price is not None else o.price
    stop_px = request.stop_px if request.stop_px is not None else o.stop_px
    if price is not None and o.ord_type.needs_price:
        body.append((44, fmt(price)))
    if stop_px is not None and o.ord_type.needs_stop_px:
        body.append((99, fmt(stop_px)))
    return [*body, (59, o.time_in_force.value)]


def status_fields(t: Tracked, req_id: str) -> Body:
    body: Body = [(11, t.cl_ord_id)]
    if t.venue_order_id:
        body.append((37, t.venue_order_id))
    return [*body, (55, t.order.symbol), (54, t.order.side.value), (790, req_id)]


def is_status(f: dict[int, str], begin_string: str) -> bool:
    return f.get(150) == "I" or (begin_string == "FIX.4.2" and f.get(20) == "3")


def report_event(f: dict[int, str], venue: str, begin_string: str = "FIX.4.4"
                 ) -> VenueEvent | None:
    """The venue event an ExecutionReport (not a status answer) tells of, or None."""
    oid = order_id_of(f.get(11, ""))
    exec_type = f.get(150, "")
    text = f.get(58, "")
    if exec_type == "F" or (begin_string == "FIX.4.2" and exec_type in ("1", "2")):
        qty, px = decimal(f, 32), decimal(f, 31)
        if qty is None or px is None or not f.get(17):
            return None
        return VenueFill(oid, qty, px, f[17])
    if exec_type == "0":
        return VenueAccepted(oid)
    if exec_type == "4":
        return VenueCanceled(oid, text or f"canceled at venue {venue}")
    if exec_type == "C":
        return VenueCanceled(oid, f"expired at venue {venue}" + (f": {text}" if text else ""))
    if exec_type == "5":
        return VenueReplaced(oid)
    if exec_type == "8":
        return VenueOrderRejected(oid, f"venue {venue} rejected the order: {text or 'no reason'}")
    return None


def status_event(f: dict[int, str], venue: str) -> VenueEvent | None:
    """What a status answer found at reconciliation, when the order is no longer working
    there: None while it works (or filled: its fills come as Trade reports)."""
    oid = order_id_of(f.get(11, ""))
    status, text = f.get(39, ""), f.get(58, "")
    if status == "8" and (f.get(103) == "5" or f.get(37) in (None, "", "NONE")):
        why = text or "unknown order"
        return VenueCanceled(oid, f"venue {venue} no longer knows the order ({why}): "
                                  "canceled at reconciliation")
    if status == "8":
        return VenueOrderRejected(oid, f"venue {venue} rejected the order: {text or 'no reason'}")
    if status in ("4", "C"):
        how = "canceled" if status == "4" else "expired"
        return VenueCanceled(oid, f"{how} at venue {venue} (found at reconciliation)"
                                  + (f": {text}" if text else ""))
    return None


# -- the adapter -------------------------------------------------------------------------------


class FixUpstreamVenue(fix.Application):
    def __init__(self, name: str, *, host: str, port: int, sender_comp_id: str,
                 target_comp_id: str, data_dir: Path, begin_string: str = "FIX.4.4",
                 password: str | None = None, settings: dict[str, str] | None = None,
                 messages_per_second: int | None = None, timers: Timers | None = None) -> None:
        super().__init__()
        self.name = name
        self.host, self.port = host, port
        self.sender_comp_id, self.target_comp_id = sender_comp_id, target_comp_id
        self.begin_string = begin_string
        self.password = password
        self.settings = dict(settings or {})
        self.dir = data_dir / "fix" / "upstream" / re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        self.status = VenueStatus.DOWN
        self.status_since = datetime.now(UTC)
        self.status_reason = "not logged on yet"
        self.orders: dict[str, Tracked] = {}  # OMS OrderID -> what works there
        self.to_confirm: set[str] = set()  # status asked, not yet answered
        self.logged_on = False
        self._listener: VenueListener | None = None
        self._handlers: list[MarketDataHandler] = []
        self._last: dict[str, Decimal] = {}
        self._run = run_tag()
        self._n = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._initiator: Any = None
        self._session_id = fix.SessionID(begin_string, sender_comp_id, target_comp_id)
        self._reconcile_timer: asyncio.TimerHandle | None = None
        self._logout_text = ""  # what the venue said in its last Logout
        self._sent: OrderedDict[int, str] = OrderedDict()  # quickfix threads, under the lock
        self._sent_lock = threading.Lock()
        # The venue's message rate: what goes beyond it waits its turn, in order, and is
        # never dropped (children of an algorithm or the router can come in bursts).
        self._outbound: Pipe[tuple[str, Body]] | None = (
            Pipe(timers or LoopTimers(), self._paced, rate=messages_per_second)
            if messages_per_second is not None else None)

    # -- Venue protocol (event loop) -----------------------------------------------------

    def set_listener(self, listener: VenueListener) -> None:
        self._listener = listener

    def subscribe(self, handler: MarketDataHandler) -> None:
        self._handlers.append(handler)

    def last_price(self, symbol: str) -> Decimal | None:
        return self._last.get(symbol)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        default = {
            "ConnectionType": "initiator",
            "SocketConnectHost": self.host,
            "SocketConnectPort": str(self.port),
            "HeartBtInt": str(HEARTBEAT_S),
            "ReconnectInterval": str(RECONNECT_INTERVAL_S),
            "StartTime": "00:00:00",
            "EndTime": "00:00:00",
            "UseDataDictionary": "Y",
            "ValidateUserDefinedFields": "N",
            "AllowUnknownMsgFields": "Y",  # a venue's extra fields are no reason to reject
            "ResetOnLogon": "N",
            "ResetOnLogout": "N",
            "ResetOnDisconnect": "N",
            "PersistMessages": "Y",
            "SocketNodelay": "Y",
            "FileStorePath": str(self.dir / "store"),
            "FileLogPath": str(self.dir / "log"),
        }
        default.update(self.settings)
        session = {"BeginString": self.begin_string, "SenderCompID": self.sender_comp_id,
                   "TargetCompID": self.target_comp_id}
        try:
            settings = write_settings(self.dir / "initiator.cfg", default, [session])
            self._initiator = fix.SocketInitiator(
                self, fix.FileStoreFactory(settings), settings, fix.FileLogFactory(settings))
            self._initiator.start()
        except (fix.ConfigError, fix.RuntimeError) as exc:
            raise RuntimeError(f"venue {self.name}: QuickFIX refused its settings "
                               f"({self.dir / 'initiator.cfg'}): {exc}") from exc
        log.info("upstream venue connecting", venue=self.name, host=self.host, port=self.port,
                 session=self._session_id.toString())

    async def stop(self) -> None:
        initiator, self._initiator = self._initiator, None
        if initiator is not None:
            await asyncio.to_thread(initiator.stop)

    def submit(self, order: VenueOrder) -> None:
        oid = order.order_id
        if self.status is not VenueStatus.UP:
            self._later(VenueOrderRejected(oid, f"venue {self.name} is down"))
            return
        self.orders[oid] = Tracked(order, oid)
        if not self._send("D", new_order_fields(order)):
            self.orders.pop(oid, None)
            self._later(VenueOrderRejected(oid, f"venue {self.name} is down: order not sent"))

    def cancel(self, order_id: str) -> None:
        t = self.orders.get(order_id)
        if t is None:
            self._later(VenueRequestRejected(
                order_id, f"order {order_id} is not working at venue {self.name}"))
            return
        t.pending = Request("F", self._request_id(order_id))
        self._send_pending(t)

    def replace(self, order_id: str, leaves_qty: Decimal, price: Decimal | None,
                stop_px: Decimal | None) -> None:
        t = self.orders.get(order_id)
        why = None
        if t is None:
            why = f"order {order_id} is not working at venue {self.name}"
        elif self.status is not VenueStatus.UP and order_id not in self.to_confirm:
            why = f"venue {self.name} is down"  # (a resumed order's replace waits instead)
        if why is not None or t is None:
            self._later(VenueRequestRejected(order_id, why or ""))
            return
        t.pending = Request("G", self._request_id(order_id), leaves_qty, price, stop_px)
        self._send_pending(t)

    def resume(self, order: VenueOrder) -> None:
        """After a restart: the OMS believes `order` works here. Ask, do not resubmit."""
        t = self.orders.get(order.order_id)
        if t is None:
            t = self.orders[order.order_id] = Tracked(order, order.order_id)
        self.to_confirm.add(order.order_id)
        if self.logged_on:
            self._send_status(t)

    # -- internals (event loop) ---------------------------------------------------------------

    def _request_id(self, order_id: str) -> str:
        return f"{order_id}.{self._run}{next(self._n)}"

    def _send_pending(self, t: Tracked) -> None:
        """Send a cancel or replace now, or once the venue is back and the order confirmed."""
        request = t.pending
        if request is None or not self.logged_on or t.order.order_id in self.to_confirm:
            return
        if request.sent:  # lost with the connection: ask again under a new ClOrdID
            request.cl_ord_id = self._request_id(t.order.order_id)
        request.sent = True
        if request.kind == "F":
            self._send("F", cancel_fields(t, request))
        else:
            self._send("G", replace_fields(t, request))

    def _send_status(self, t: Tracked) -> None:
        self._send("H", status_fields(t, f"{t.order.order_id}.S{self._run}{next(self._n)}"))

    def _send(self, msg_type: str, body: Body) -> bool:
        if self._outbound is not None:
            self._outbound.put((msg_type, body))
            return True
        return self._transmit(msg_type, body)

    def _paced(self, message: tuple[str, Body]) -> None:
        msg_type, body = message
        if not self._transmit(msg_type, body) and msg_type == "D":
            order_id = dict(body).get(11, "")
            self.orders.pop(order_id, None)
            self._later(VenueOrderRejected(order_id, f"venue {self.name} is down: order "
                                                     "not sent"))

    def _transmit(self, msg_type: str, body: Body) -> bool:
        try:
            return send(self._session_id, self.begin_string, msg_type, body)
        except Exception:
            log.exception("upstream message could not be sent", venue=self.name,
                          msg_type=msg_type)
            return False

    def _later(self, event: VenueEvent) -> None:
        """Tell the OMS on a later turn: never from inside its own call to us."""
        assert self._loop is not None
        self._loop.call_soon(self._emit, event)

    def _emit(self, event: VenueEvent) -> None:
        if self._listener is None:
            return
        try:
            self._listener.on_venue_event(event)
        except Exception:
            log.exception("OMS refused a venue event", venue=self.name, event=repr(event))

    def _set_status(self, status: VenueStatus, reason: str) -> None:
        if status is self.status:
            return
        self.status, self.status_since, self.status_reason = status, datetime.now(UTC), reason
        log.info("venue status", venue=self.name, status=status.value, reason=reason)

    # -- session events (event loop, handed over by the callbacks) -------------------------------

    def _on_logon(self) -> None:
        self.logged_on = True
        self.to_confirm |= set(self.orders)
        log.info("upstream venue logged on", venue=self.name, reconciling=len(self.to_confirm))
        for oid in list(self.to_confirm):
            self._send_status(self.orders[oid])
        if self._reconcile_timer is not None:
            self._reconcile_timer.cancel()
        assert self._loop is not None
        self._reconcile_timer = self._loop.call_later(RECONCILE_TIMEOUT_S, self._reconcile_timeout)
        self._maybe_up()

    def _on_logout(self, reason: str) -> None:
        self.logged_on = False
        if self._reconcile_timer is not None:
            self._reconcile_timer.cancel()
            self._reconcile_timer = None
        self._set_status(VenueStatus.DOWN, reason or "session dropped")

    def _reconcile_timeout(self) -> None:
        if self.to_confirm and self.logged_on:
            log.warning("upstream venue left status requests unanswered", venue=self.name,
                        orders=sorted(self.to_confirm))
            unconfirmed, self.to_confirm = self.to_confirm, set()
            for oid in unconfirmed:  # what was asked of them goes now, answered or not
                t = self.orders.get(oid)
                if t is not None:
                    self._send_pending(t)
            self._maybe_up()

    def _maybe_up(self) -> None:
        if self.logged_on and not self.to_confirm:
            if self._reconcile_timer is not None:
                self._reconcile_timer.cancel()
                self._reconcile_timer = None
            self._set_status(VenueStatus.UP, "logged on and reconciled")

    def _on_app(self, f: dict[int, str]) -> None:
        try:
            msg_type = f.get(35, "")
            if msg_type == "8":
                if is_status(f, self.begin_string):
                    self._on_status(f)
                else:
                    self._on_report(f)
            elif msg_type == "9":
                self._on_cancel_reject(f)
            elif msg_type == "j":
                self._on_business_reject(f)
            else:
                log.info("upstream message ignored", venue=self.name, msg_type=msg_type)
        except Exception:
            log.exception("upstream message could not be handled", venue=self.name,
                          message=repr(f)[:500])

    def _on_report(self, f: dict[int, str]) -> None:
        event = report_event(f, self.name, self.begin_string)
        oid = order_id_of(f.get(11, ""))
        t = self.orders.get(oid)
        if t is not None:
            t.venue_order_id = f.get(37) or t.venue_order_id
            t.venue_cum = decimal(f, 14) or t.venue_cum
            leaves = decimal(f, 151)  # the venue's word on what still works there
            if leaves is not None:
                t.order = replace(t.order, qty=leaves)
        tick = None
        match event:
            case VenueFill(qty=qty, price=price):
                symbol = t.order.symbol if t is not None else f.get(55, "")
                self._last[symbol] = price
                tick = TradeTick(symbol, price, qty, datetime.now(UTC))
                if f.get(39) == "2":
                    self.orders.pop(oid, None)
            case VenueReplaced() if t is not None:
                t.cl_ord_id = f.get(11) or t.cl_ord_id
                request, t.pending = t.pending, None
                if request is not None:
                    t.order = replace(t.order, price=request.price or t.order.price,
                                      stop_px=request.stop_px or t.order.stop_px)
            case VenueCanceled() | VenueOrderRejected():
                self.orders.pop(oid, None)
            case None:
                return
        self._emit(event)
        if tick is not None and f.get(43) != "Y":  # a resent fill is no new trade print
            self._publish(tick)

    def _publish(self, tick: TradeTick) -> None:
        for handler in self._handlers:
            try:
                handler(tick)
            except Exception:
                log.exception("market data handler failed", venue=self.name)

    def _on_status(self, f: dict[int, str]) -> None:
        oid = order_id_of(f.get(11, ""))
        self.to_confirm.discard(oid)
        t = self.orders.get(oid)
        if t is not None:
            event = status_event(f, self.name)
            if event is not None:
                self.orders.pop(oid, None)
                log.info("reconciled: order gone at venue", venue=self.name, order_id=oid,
                         venue_status=f.get(39), text=f.get(58))
                self._emit(event)
            elif f.get(39) == "2":
                self.orders.pop(oid, None)  # filled: the Trade reports (resent) say so
                if t.order.qty > 0:  # ...unless the venue lost them with its store
                    log.error("venue reports the order filled, but not all its fills reached "
                              "us: not booked", venue=self.name, order_id=oid,
                              missing_qty=str(t.order.qty), venue_cum=f.get(14))
            else:
                t.cl_ord_id = f.get(11) or t.cl_ord_id
                t.venue_order_id = f.get(37) or t.venue_order_id
                t.venue_cum = decimal(f, 14) or t.venue_cum
                if f.get(39) in _WORKING:
                    self._send_pending(t)
        self._maybe_up()

    def _on_cancel_reject(self, f: dict[int, str]) -> None:
        oid = order_id_of(f.get(11, ""))
        t = self.orders.get(oid)
        if t is None or t.pending is None or t.pending.cl_ord_id != f.get(11):
            log.info("upstream cancel reject for no pending request", venue=self.name,
                     order_id=oid, text=f.get(58))
            return
        t.pending = None
        self._emit(VenueRequestRejected(oid, f"venue {self.name}: {f.get(58) or 'refused'}"))
        if f.get(102) == "1":  # the venue does not know it: find out for sure
            self.to_confirm.add(oid)
            self._send_status(t)

    def _on_business_reject(self, f: dict[int, str]) -> None:
        ref = f.get(379, "")
        oid = order_id_of(ref)
        t = self.orders.get(oid)
        text = f"venue {self.name}: {f.get(58) or 'business message reject'}"
        if t is None:
            log.warning("upstream business reject", venue=self.name, ref=ref, text=text)
        elif ref == oid and not t.venue_order_id:
            self.orders.pop(oid, None)
            self._emit(VenueOrderRejected(oid, text))
        elif t.pending is not None and t.pending.cl_ord_id == ref:
            t.pending = None
            self._emit(VenueRequestRejected(oid, text))

    # -- quickfix callbacks (quickfix threads: hand over, never raise) ---------------------------

    def _hand_over(self, fn: Any, *args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(fn, *args)

    def onCreate(self, sessionID: Any) -> None:
        pass

    def onLogon(self, sessionID: Any) -> None:
        try:
            self._hand_over(self._on_logon)
        except Exception:
            log.exception("onLogon failed", venue=self.name)

    def onLogout(self, sessionID: Any) -> None:
        try:
            text, self._logout_text = self._logout_text, ""
            self._hand_over(self._on_logout, f"logged out: {text}" if text else "session dropped")
        except Exception:
            log.exception("onLogout failed", venue=self.name)

    def toAdmin(self, message: Any, sessionID: Any) -> None:
        try:
            if self.password and message.getHeader().getField(35) == "A":
                message.setField(554, self.password)
        except Exception:
            log.exception("toAdmin failed", venue=self.name)

    def fromAdmin(self, message: Any, sessionID: Any) -> None:
        try:
            f = fields_of(message.toString())
            if f.get(35) == "5":
                self._logout_text = f.get(58, "")
            if f.get(35) in ("3", "5") and f.get(58):
                log.warning("upstream venue said", venue=self.name, msg_type=f.get(35),
                            text=f.get(58), ref_seq=f.get(45))
            if f.get(35) == "3" and f.get(45, "").isdigit():
                # The venue's session layer refused one of our messages: refuse its order
                # or request as a business reject would, so it does not hang.
                with self._sent_lock:
                    cl = self._sent.get(int(f[45]))
                if cl is not None:
                    text = f"session Reject(3): {f.get(58) or 'no reason'}"
                    if f.get(371):
                        text += f" (tag {f[371]})"
                    self._hand_over(self._on_business_reject, {379: cl, 58: text})
        except Exception:
            log.exception("fromAdmin failed", venue=self.name)

    def toApp(self, message: Any, sessionID: Any) -> None:
        resend = False
        try:
            header = message.getHeader()
            # Only a new order goes stale: a cancel, replace or status request resent late
            # still says what we want (and a status request gap-filled would go unanswered).
            resend = (header.isSetField(43) and header.getField(43) == "Y"
                      and header.getField(35) == "D")
            if not resend and message.isSetField(11):
                with self._sent_lock:
                    self._sent[int(header.getField(34))] = message.getField(11)
                    if len(self._sent) > _SENT_MEMORY:
                        self._sent.popitem(last=False)
        except Exception:
            log.exception("toApp failed", venue=self.name)
        if resend:  # a stale order must not reach the market late: gap fill instead
            raise fix.DoNotSend()

    def fromApp(self, message: Any, sessionID: Any) -> None:
        try:
            self._hand_over(self._on_app, fields_of(message.toString()))
        except Exception:
            log.exception("fromApp failed", venue=self.name)
