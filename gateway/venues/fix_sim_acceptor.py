"""`fixgate venue-sim`: the simulated exchange as a standalone FIX 4.4 venue.

The same matching engine as the built-in venue (`gateway/venues/sim`, default
universe, background liquidity on) behind a QuickFIX acceptor, so that the whole
chain client -> fixgate -> upstream venue runs for real on one machine, and so
that fixgate's upstream adapter can be tested against a venue that dies.

Accepted: NewOrderSingle (D), OrderCancelRequest (F), OrderCancelReplaceRequest
(G), OrderStatusRequest (H), OrderMassStatusRequest (AF). Answers are
ExecutionReports (acks, Trade reports with ExecID and LastMkt(30) = this venue's
CompID, cancels, replaces, rejects, status `150=I`), OrderCancelRejects, and a
BusinessMessageReject for anything else.

Orders live in memory for the run only: after a restart the venue knows no
orders (a status request for one is answered `39=8`, `103=5` unknown order),
which is what a gateway's reconciliation must cope with. Sequence numbers and
sent messages are kept in a FileStore under `--data-dir`, so a client that
missed reports gets them by resend.

quickfix calls back on its own threads; every callback hands the message to the
asyncio loop that owns the exchange, and catches everything.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import signal
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import quickfix as fix
import structlog

from gateway.fix.mapping import Body, fields_of, fmt, transact_time
from gateway.venues.fix_common import decimal, run_tag, send, write_settings
from gateway.venues.sim import SimExchange
from oms.enums import OrdStatus, OrdType, Side, TimeInForce
from oms.instruments import Universe
from oms.universe import default_universe
from oms.venue import (
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

log = structlog.get_logger("venue-sim")

BEGIN_STRING = "FIX.4.4"
_TERMINAL = {"2": "filled", "4": "canceled", "8": "rejected", "C": "expired"}
# CxlRejReason(102)
_TOO_LATE, _UNKNOWN, _PENDING = "0", "1", "3"


@dataclass
class _Order:
    """One client order as the venue sees it."""

    order_id: str  # the venue's OrderID(37), also the exchange's key
    session: Any  # quickfix.SessionID
    key: str
    cl_ord_id: str  # the ClOrdID now in effect
    orig_cl_ord_id: str
    account: str
    symbol: str
    side: str
    ord_type: str
    time_in_force: str
    qty: Decimal  # OrderQty(38)
    price: Decimal | None
    stop_px: Decimal | None
    status: str = "A"
    cum_qty: Decimal = Decimal(0)
    notional: Decimal = Decimal(0)
    text: str = ""
    pending: tuple[str, str, dict[int, str]] | None = None  # (F or G, ClOrdID, fields)
    cl_ord_ids: list[str] = field(default_factory=list)

    @property
    def leaves(self) -> Decimal:
        return Decimal(0) if self.status in _TERMINAL else self.qty - self.cum_qty

    @property
    def avg_px(self) -> Decimal:
        return (self.notional / self.cum_qty).quantize(Decimal("0.00000001")) \
            if self.cum_qty else Decimal(0)


class FixSimVenue(fix.Application):
    def __init__(self, *, port: int, comp_id: str, clients: list[str], seed: int,
                 data_dir: Path, tick_interval: float = 0.05, liquidity: bool = True) -> None:
        super().__init__()
        self.port = port
        self.comp_id = comp_id
        self.clients = clients
        self.data_dir = data_dir
        self.exchange = SimExchange(Universe(default_universe()), name=comp_id, seed=seed,
                                    liquidity=liquidity, tick_interval=tick_interval)
        self.exchange.set_listener(self)
        self.orders: dict[str, _Order] = {}
        self.by_cl: dict[tuple[str, str], str] = {}  # (session, any ClOrdID it had) -> OrderID
        self._run = run_tag()  # identifiers never repeat those of an earlier run
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._acceptor: Any = None

    # -- lifecycle (event loop) -------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.exchange.start()
        default = {
            "ConnectionType": "acceptor",
            "SocketAcceptPort": str(self.port),
            "SocketReuseAddress": "Y",
            "SocketNodelay": "Y",
            "SenderCompID": self.comp_id,
            "StartTime": "00:00:00",
            "EndTime": "00:00:00",
            "UseDataDictionary": "Y",
            "ValidateUserDefinedFields": "N",
            "ResetOnLogon": "N",
            "PersistMessages": "Y",
            "FileStorePath": str(self.data_dir / "store"),
            "FileLogPath": str(self.data_dir / "log"),
        }
        sessions = [{"BeginString": BEGIN_STRING, "TargetCompID": c} for c in self.clients]
        settings = write_settings(self.data_dir / "venue-sim.cfg", default, sessions)
        self._acceptor = fix.ThreadedSocketAcceptor(
            self, fix.FileStoreFactory(settings), settings, fix.FileLogFactory(settings))
        self._acceptor.start()

    async def stop(self) -> None:
        if self._acceptor is not None:
            await asyncio.to_thread(self._acceptor.stop, True)
            self._acceptor = None
        await self.exchange.stop()

    # -- quickfix callbacks (quickfix threads: hand over, never raise) ------------------

    def onCreate(self, sessionID: Any) -> None:
        pass

    def onLogon(self, sessionID: Any) -> None:
        with contextlib.suppress(Exception):
            log.info("venue-sim logon", session=sessionID.toString())

    def onLogout(self, sessionID: Any) -> None:
        with contextlib.suppress(Exception):
            log.info("venue-sim logout", session=sessionID.toString())

    def toAdmin(self, message: Any, sessionID: Any) -> None:
        pass

    def fromAdmin(self, message: Any, sessionID: Any) -> None:
        pass

    def toApp(self, message: Any, sessionID: Any) -> None:
        pass

    def fromApp(self, message: Any, sessionID: Any) -> None:
        try:
            fields = fields_of(message.toString())
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._on_message, sessionID, fields)
        except Exception:
            log.exception("venue-sim fromApp failed")

    # -- requests (event loop) ------------------------------------------------------------

    def _on_message(self, sid: Any, f: dict[int, str]) -> None:
        msg_type = f.get(35, "")
        try:
            handler = {"D": self._new_order, "F": self._cancel, "G": self._replace,
                       "H": self._status, "AF": self._mass_status}.get(msg_type)
            if handler is None:
                self._send(sid, "j", [(45, f.get(34, "0")), (372, msg_type), (380, "3"),
                                      (58, f"unsupported MsgType(35)={msg_type}")])
                return
            handler(sid, f)
        except Exception as exc:
            log.exception("venue-sim could not handle a message", msg_type=msg_type)
            body: Body = [(45, f.get(34, "0"))]
            if f.get(11):
                body.append((379, f[11]))
            self._send(sid, "j", [*body, (372, msg_type), (380, "0"),
                                  (58, f"message could not be processed: {exc}")])

    def _new_order(self, sid: Any, f: dict[int, str]) -> None:
        key = sid.toString()
        cl = f.get(11, "")
        order_id = f"{self._run}-{next(self._ids)}"
        order = _Order(order_id, sid, key, cl, "", f.get(1, ""), f.get(55, ""), f.get(54, ""),
                       f.get(40, ""), f.get(59) or "0", decimal(f, 38) or Decimal(0),
                       decimal(f, 44), decimal(f, 99), cl_ord_ids=[cl])
        problem = None
        if (key, cl) in self.by_cl:
            problem = f"duplicate ClOrdID(11) {cl}"
        try:
            venue_order = VenueOrder(order_id, order.account, order.symbol, Side(order.side),
                                     OrdType(order.ord_type), TimeInForce(order.time_in_force),
                                     order.qty, order.price, order.stop_px)
        except ValueError as exc:
            problem = problem or f"unsupported value: {exc}"
        if problem is not None:
            order.status, order.text = "8", problem
            self._report(order, "8", text=problem, extra=[(103, "0")])
            return
        self.orders[order_id] = order
        self.by_cl[(key, cl)] = order_id
        self.exchange.submit(venue_order)

    def _find(self, sid: Any, f: dict[int, str], tag: int) -> _Order | None:
        order_id = self.by_cl.get((sid.toString(), f.get(tag, "")))
        if order_id is None and f.get(37):
            order = self.orders.get(f[37])
            return order if order is not None and order.key == sid.toString() else None
        return self.orders.get(order_id) if order_id else None

    def _cancel(self, sid: Any, f: dict[int, str]) -> None:
        order = self._request_target(sid, f, "1")
        if order is not None:
            order.pending = ("F", f[11], f)
            self.exchange.cancel(order.order_id)

    def _replace(self, sid: Any, f: dict[int, str]) -> None:
        order = self._request_target(sid, f, "2")
        if order is None:
            return
        qty = decimal(f, 38) or Decimal(0)
        if qty <= order.cum_qty:
            self._cancel_reject(sid, f, order, "2", "0",
                                f"OrderQty(38) {qty} must exceed the filled {order.cum_qty}")
            return
        order.pending = ("G", f[11], f)
        self.exchange.replace(order.order_id, qty - order.cum_qty, decimal(f, 44),
                              decimal(f, 99))

    def _request_target(self, sid: Any, f: dict[int, str], response_to: str) -> _Order | None:
        """The order a cancel or replace is for, or None once refused with the reason."""
        order = self._find(sid, f, 41)
        cl = f.get(11, "")
        if order is None:
            reason = (_UNKNOWN, f"unknown order {f.get(41) or f.get(37)!r}")
        elif order.status in _TERMINAL:
            reason = (_TOO_LATE, f"too late: order {order.order_id} is already "
                                f"{_TERMINAL[order.status]}")
        elif order.pending is not None:
            reason = (_PENDING, f"order {order.order_id} already has a request pending")
        elif (sid.toString(), cl) in self.by_cl:
            reason = ("6", f"duplicate ClOrdID(11) {cl}")
        else:
            self.by_cl[(order.key, cl)] = order.order_id
            order.cl_ord_ids.append(cl)
            return order
        self._cancel_reject(sid, f, order, response_to, *reason)
        return None

    def _status(self, sid: Any, f: dict[int, str]) -> None:
        order = self._find(sid, f, 11)
        extra: Body = [(790, f[790])] if f.get(790) else []
        if order is None:
            ref = f.get(11) or f.get(37) or ""
            self._send(sid, "8", [
                (37, f.get(37) or "NONE"), (11, f.get(11, "")), (17, self._exec_id()),
                (150, "I"), (39, "8"), (55, f.get(55, "NA")), (54, f.get(54, "1")),
                (151, "0"), (14, "0"), (6, "0"), (103, "5"), *extra,
                (58, f"unknown order {ref!r} at venue {self.comp_id}"),
                (60, transact_time())])
            return
        self._report(order, "I", extra=extra)

    def _mass_status(self, sid: Any, f: dict[int, str]) -> None:
        """One status report per order of this session (all, or one Symbol's), the last
        marked LastRptRequested(912)=Y; none known: one report saying so."""
        req_type = f.get(585, "7")
        key = sid.toString()
        if req_type not in ("1", "7"):
            self._send(sid, "j", [(45, f.get(34, "0")), (372, "AF"), (380, "0"), (58,
                       f"unsupported MassStatusReqType(585)={req_type}: use 7 (all orders) "
                       "or 1 (one Symbol)")])
            return
        orders = [o for o in self.orders.values() if o.key == key
                  and (req_type == "7" or o.symbol == f.get(55))]
        req: Body = [(584, f.get(584, ""))]
        if not orders:
            self._send(sid, "8", [(37, "NONE"), (11, "NONE"), (17, self._exec_id()),
                                  (150, "I"), (39, "8"), (55, f.get(55, "NA")), (54, "1"),
                                  (151, "0"), (14, "0"), (6, "0"), *req, (911, "0"),
                                  (912, "Y"), (58, "no orders"), (60, transact_time())])
            return
        for i, order in enumerate(orders, 1):
            self._report(order, "I", extra=[*req, (911, str(len(orders))),
                                             (912, "Y" if i == len(orders) else "N")])

    # -- what the exchange did (event loop) -----------------------------------------------

    def on_venue_event(self, event: VenueEvent) -> None:
        order = self.orders.get(event.order_id)
        if order is None:
            return
        try:
            self._on_event(order, event)
        except Exception:
            log.exception("venue-sim could not report an event", event=repr(event))

    def _on_event(self, order: _Order, event: VenueEvent) -> None:
        match event:
            case VenueAccepted():
                order.status = "0"
                self._report(order, "0")
            case VenueOrderRejected(reason=reason):
                order.status, order.text = "8", reason
                self._report(order, "8", text=reason, extra=[(103, "0")])
            case VenueFill(qty=qty, price=price, trade_id=trade_id):
                order.cum_qty += qty
                order.notional += qty * price
                order.status = "2" if order.cum_qty >= order.qty else "1"
                self._report(order, "F", exec_id=f"{self._run}-T{trade_id}",
                             extra=[(32, fmt(qty)), (31, fmt(price)), (30, self.comp_id)])
            case VenueTriggered():
                pass  # the order simply works on; its reports say what happens
            case VenueCanceled(reason=reason):
                pending, order.pending = order.pending, None
                order.status, order.text = "4", reason
                if pending is not None and pending[0] == "F":
                    order.orig_cl_ord_id, order.cl_ord_id = order.cl_ord_id, pending[1]
                self._report(order, "4", text=reason)
            case VenueReplaced():
                pending, order.pending = order.pending, None
                if pending is None:
                    return
                f = pending[2]
                order.orig_cl_ord_id, order.cl_ord_id = order.cl_ord_id, pending[1]
                order.qty = decimal(f, 38) or order.qty
                order.price = decimal(f, 44) or order.price
                order.stop_px = decimal(f, 99) or order.stop_px
                self._report(order, "5")
            case VenueRequestRejected(reason=reason):
                pending, order.pending = order.pending, None
                if pending is not None:
                    self._cancel_reject(order.session, pending[2], order,
                                        "1" if pending[0] == "F" else "2", _TOO_LATE, reason)

    # -- messages out (event loop) ----------------------------------------------------------

    def _exec_id(self) -> str:
        return f"{self._run}-E{next(self._ids)}"

    def _report(self, order: _Order, exec_type: str, *, exec_id: str | None = None,
                text: str = "", extra: Body | None = None) -> None:
        body: Body = [(37, order.order_id), (11, order.cl_ord_id)]
        if order.orig_cl_ord_id and exec_type in ("4", "5"):
            body.append((41, order.orig_cl_ord_id))
        body += [(17, exec_id or self._exec_id()), (150, exec_type), (39, order.status)]
        if order.account:
            body.append((1, order.account))
        body += [(55, order.symbol), (54, order.side), (40, order.ord_type),
                 (59, order.time_in_force), (38, fmt(order.qty))]
        if order.price is not None:
            body.append((44, fmt(order.price)))
        if order.stop_px is not None:
            body.append((99, fmt(order.stop_px)))
        body += [*(extra or ()), (14, fmt(order.cum_qty)), (151, fmt(order.leaves)),
                 (6, fmt(order.avg_px))]
        if text or (exec_type == "I" and order.text):
            body.append((58, text or order.text))
        body.append((60, transact_time()))
        self._send(order.session, "8", body)

    def _cancel_reject(self, sid: Any, f: dict[int, str], order: _Order | None,
                       response_to: str, reason: str, text: str) -> None:
        self._send(sid, "9", [
            (37, order.order_id if order else f.get(37) or "NONE"), (11, f.get(11, "")),
            (41, f.get(41) or (order.cl_ord_id if order else "NONE")),
            (39, order.status if order else OrdStatus.REJECTED.value), (434, response_to),
            (102, reason), (58, text)])

    def _send(self, sid: Any, msg_type: str, body: Body) -> None:
        try:
            if not send(sid, BEGIN_STRING, msg_type, body):
                log.warning("venue-sim message not sent (session gone)", msg_type=msg_type)
        except Exception:
            log.exception("venue-sim message could not be sent", msg_type=msg_type)


async def run_venue_sim(args: argparse.Namespace) -> None:
    data_dir = Path(args.data_dir or f"var/venue-sim-{args.comp_id}").resolve()
    venue = FixSimVenue(port=args.port, comp_id=args.comp_id, clients=args.client or ["FIXGATE"],
                        seed=args.seed, data_dir=data_dir, tick_interval=args.tick_interval)
    await venue.start()
    print(f"venue-sim ready: {args.comp_id} listening on port {args.port} (FIX.4.4), clients "
          f"{', '.join(venue.clients)}, data dir {data_dir}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await venue.stop()


def add_venue_sim_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "venue-sim", help="run the simulated exchange as a standalone FIX 4.4 venue")
    p.add_argument("--port", type=int, required=True, help="FIX port to listen on")
    p.add_argument("--comp-id", required=True, help="the venue's CompID (also LastMkt(30))")
    p.add_argument("--client", action="append",
                   help="a client CompID allowed to log on (repeatable; default FIXGATE)")
    p.add_argument("--seed", type=int, default=7, help="background liquidity seed")
    p.add_argument("--data-dir", help="FIX store and logs (default var/venue-sim-<COMPID>)")
    p.add_argument("--tick-interval", type=float, default=0.05,
                   help="seconds between background liquidity steps")
    p.add_argument("--log-format", choices=["console", "json"], default="console")
    p.set_defaults(func=_venue_sim_main)


def _venue_sim_main(args: argparse.Namespace) -> int:
    from gateway import logs

    logs.configure(args.log_format)
    try:
        asyncio.run(run_venue_sim(args))
    except KeyboardInterrupt:
        pass
    except (fix.RuntimeError, fix.ConfigError, OSError) as exc:  # a port taken, a bad dir
        print(f"fixgate venue-sim: cannot start on port {args.port}: {exc}", file=sys.stderr)
        return 2
    return 0
