"""The algorithm engine: works parent orders as child orders, over time (TWAP, VWAP,
POV) or across venues (the smart order router).

Pure decision code on the injected clock: it wakes on the clock's timers and on the
tape (trade prints of the parent's symbol at its venue), works out what is due, and
asks its `ChildDesk` (the OrderService) to send, cancel or finish. Every child goes
through the desk, so through the gates and the journal; the engine keeps nothing
that the journal does not (see oms/execution/algos.py), except the market volume
and the interval VWAP seen since it started, which a restart begins again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import structlog

from oms.clock import Clock, Timer
from oms.enums import OrdStatus
from oms.execution.algos import (
    LOT,
    POV,
    POV_CHECK_S,
    SOR,
    AlgoSpec,
    Schedule,
    participation_due,
    slippage_bps,
)
from oms.execution.profile import VolumeProfile
from oms.execution.router import VenueBook, route
from oms.gates import Denial
from oms.marketdata import TradeTick
from oms.order import Order, tidy

log = structlog.get_logger("oms.execution")


class ChildDesk(Protocol):
    """What the engine asks of the OMS."""

    def children(self, parent_id: str) -> list[Order]: ...

    def send_child(self, parent: Order, qty: Decimal, *, venue: str | None = None,
                   price: Decimal | None = None, resting: bool = False) -> Denial | None:
        """Vet, journal and (after the commit) send a child: to the parent's venue unless
        `venue`; IOC at the parent's terms, or a limit IOC at `price`, or (`resting`) at
        the parent's limit and time in force. A Denial if a gate refused it (journaled as
        a rejected child)."""
        ...

    def books(self, symbol: str) -> list[VenueBook]:
        """Every venue as the router sees it (visible levels, fees, whether it is up)."""
        ...

    def cancel_child(self, child: Order, reason: str) -> None: ...

    def finish_parent(self, parent: Order, reason: str) -> None:
        """The parent is done working: journal it Canceled with `reason` (a client's
        pending cancel keeps its own reason and ClOrdID)."""
        ...

    def record_control(self, kind: str, payload: dict[str, Any]) -> None:
        """Journal a fact of the engine's (the execution quality a parent ended with)."""
        ...


QUALITY_KIND = "execution_quality"
ROUTING_KIND = "routing"
MAX_ROUTINGS = 3  # a routed order is re-routed at most this often before it gives up


@dataclass(slots=True)
class _Run:
    parent: Order
    spec: AlgoSpec
    schedule: Schedule | None
    venues: tuple[str, ...] = ()  # whose tape it follows and measures its interval VWAP on
    timer: Timer | None = None
    volume: Decimal = Decimal(0)  # the market's volume at the parent's venue since start
    vwap_notional: Decimal = Decimal(0)
    problem: str = ""  # why the last child did not trade, for the final Text(58)
    finishing: str | None = None  # the reason the parent will end with, once children are off
    routings: int = 0
    exhausted: bool = False  # a routed market or IOC remainder that has nowhere to rest


class AlgoEngine:
    def __init__(self, clock: Clock, desk: ChildDesk,
                 profile: Callable[[str], VolumeProfile | None] | None = None) -> None:
        self.clock = clock
        self.desk = desk
        self._profile = profile or (lambda symbol: None)
        self._runs: dict[str, _Run] = {}
        self._final: dict[str, dict[str, Any]] = {}  # parent id -> quality it ended with
        self._routing: dict[str, list[dict[str, Any]]] = {}  # parent id -> its routings
        self._venue_volume: dict[tuple[str, str], Decimal] = {}  # (venue, symbol) -> traded
        self._by_symbol: dict[tuple[str, str], set[str]] = {}  # (venue, symbol) -> parents

    # -- lifecycle of a parent ----------------------------------------------------------

    def start(self, parent: Order) -> None:
        """Begin (or, after a restart, resume) working an accepted parent."""
        if parent.algo is None or parent.order_id in self._runs or not parent.is_open:
            return
        spec = AlgoSpec.from_algo(parent.algo)
        schedule = (None if spec.strategy in (POV, SOR)
                    else Schedule(spec, parent.order_id, self._profile(parent.symbol)))
        run = _Run(parent, spec, schedule)
        self._runs[parent.order_id] = run
        if spec.strategy == SOR:
            self._route(run)  # it follows the tape of every venue it may route to
            return
        self._watch(run, (parent.venue,))
        self._arm(run, max(spec.start, self.clock.now()))

    def cancel(self, parent: Order, reason: str) -> None:
        """The parent is to stop (a client's cancel, a kill switch): children come off,
        then the parent ends."""
        run = self._runs.get(parent.order_id)
        if run is None:
            self.desk.finish_parent(parent, reason)
            return
        self._finish(run, reason)

    def parent_done(self, parent: Order, reason: str) -> None:
        """The parent ended without the engine (expired at the close): its children come
        off, and the algorithm stops."""
        for child in self._open_children(parent):
            if not child.is_pending_request:
                self.desk.cancel_child(child, reason)
        run = self._runs.get(parent.order_id)
        if run is not None:
            self._stop(run)

    def replaced(self, parent: Order) -> None:
        """New quantity or limit: children working at the old terms come off, and the
        schedule carries on with the new ones."""
        run = self._runs.get(parent.order_id)
        if run is None:
            return
        run.routings, run.exhausted = 0, False  # new terms: the router starts afresh
        for child in self._open_children(parent):
            if child.price != parent.price or parent.cum_qty + self._working(parent) > parent.qty:
                self.desk.cancel_child(child, f"parent {parent.order_id} replaced")
        self._wake(run)

    def on_child_event(self, parent: Order, child: Order) -> None:
        """A child changed (after its event was applied)."""
        run = self._runs.get(parent.order_id)
        if run is None:
            return
        if child.status in (OrdStatus.CANCELED, OrdStatus.EXPIRED) and child.leaves_qty == 0 \
                and child.cum_qty < child.qty:
            run.problem = (f"limit price {parent.price} not reached"
                           if parent.price is not None else
                           f"not enough liquidity at {parent.venue}")
        elif child.status is OrdStatus.REJECTED:
            run.problem = child.text
        if not parent.is_open:
            # After this turn: the venue prints the trade that completed it after the
            # fill itself, and that print belongs in its interval VWAP.
            self.clock.call_at(self.clock.now(), lambda: self._stop(run))
            return
        if self._open_children(parent):
            return
        if run.finishing is not None:
            self._stop(run)
            self.desk.finish_parent(parent, run.finishing)
        elif run.spec.strategy == SOR:
            self._route(run)  # what a venue did not fill goes where it now can

    def on_trade(self, venue: str, tick: TradeTick) -> None:
        key = (venue, tick.symbol)
        self._venue_volume[key] = self._venue_volume.get(key, Decimal(0)) + tick.qty
        ids = self._by_symbol.get(key)
        if not ids:
            return
        now = self.clock.now()  # the venue's stamp may be on another clock than ours
        for order_id in list(ids):
            run = self._runs[order_id]
            if now < run.spec.start:
                continue
            run.volume += tick.qty
            run.vwap_notional += tick.qty * tick.price
            if run.spec.strategy == POV or run.spec.max_participation is not None:
                self._wake(run, rearm=False)

    def fill_probability(self, venue: str, symbol: str, venues: list[str]) -> Decimal:
        """How likely an order resting at `venue` is to fill, estimated by the venue's
        share of the symbol's volume seen so far (equal shares before any trade)."""
        volumes = [self._venue_volume.get((v, symbol), Decimal(0)) for v in venues]
        total = sum(volumes, Decimal(0))
        if not total:
            return (Decimal(1) / len(venues)).quantize(Decimal("0.0001"))
        mine = self._venue_volume.get((venue, symbol), Decimal(0))
        return (mine / total).quantize(Decimal("0.0001"))

    def apply_routing(self, payload: dict[str, Any]) -> None:
        """The control handler of ROUTING_KIND (live and replay)."""
        self._routing.setdefault(payload["order_id"], []).append(
            {k: v for k, v in payload.items() if k != "order_id"})

    def routing(self, parent_id: str) -> list[dict[str, Any]]:
        """The best-execution records of a routed order: the first routing, then any
        re-routing of what a venue did not fill."""
        return self._routing.get(parent_id, [])

    def apply_quality(self, payload: dict[str, Any]) -> None:
        """The control handler of QUALITY_KIND (live and replay)."""
        self._final[payload["order_id"]] = {k: v for k, v in payload.items() if k != "order_id"}

    def quality(self, parent: Order) -> dict[str, Any]:
        """Execution quality: arrival price, the market's VWAP over the order's life at
        its venue, and the order's average price against each (bps, positive worse for
        the client); as journaled when the parent finished, else as it stands."""
        final = self._final.get(parent.order_id)
        if final is not None:
            return final
        run = self._runs.get(parent.order_id)
        arrival = None
        if parent.algo and parent.algo.get("arrival_px"):
            arrival = Decimal(parent.algo["arrival_px"])
        interval = (run.vwap_notional / run.volume).quantize(Decimal("0.0001")) \
            if run is not None and run.volume else None
        sign = 1 if parent.side.value == "1" else -1
        avg = parent.avg_px if parent.cum_qty else None
        return {
            "arrival_price": None if arrival is None else str(arrival),
            "interval_vwap": None if interval is None else str(interval),
            "market_volume": None if run is None else str(run.volume),
            "slippage_bps": (slippage_bps(sign, avg, interval)
                             if avg is not None and interval else None),
            "shortfall_bps": (slippage_bps(sign, avg, arrival)
                              if avg is not None and arrival else None),
        }

    # -- the schedule -----------------------------------------------------------------------

    def _route(self, run: _Run) -> None:
        """Split what is left to work across the venues by visible price net of fees;
        rest a limit order's remainder where it is likeliest to fill."""
        parent = run.parent
        left = parent.qty - parent.cum_qty - self._working(parent)
        if left <= 0 or run.finishing is not None or parent.is_pending_request:
            return
        if run.exhausted:
            self._finish(run, f"{tidy(left)} unfilled: {run.problem}")
            return
        if run.routings >= MAX_ROUTINGS:
            self._finish(run, f"routed {run.routings} times, {tidy(left)} unfilled: "
                              f"{run.problem or 'no venue filled it'}")
            return
        run.routings += 1
        books = self.desk.books(parent.symbol)
        if not run.venues:
            self._watch(run, tuple(b.venue for b in books))
        decided = route(parent.side.value == "1", left, parent.price, books)
        self.desk.record_control(ROUTING_KIND, {"order_id": parent.order_id,
                                                **decided.record()})
        ioc = parent.time_in_force.value in ("3", "4")
        sent = False
        for piece in decided.decision:
            if piece.resting and ioc:
                continue
            denial = self.desk.send_child(parent, piece.qty, venue=piece.venue,
                                          price=None if piece.resting else piece.price,
                                          resting=piece.resting)
            if denial is not None:
                run.problem = denial.reason
            else:
                sent = True
        if not sent:
            self._finish(run, f"{tidy(left)} unfilled: {run.problem or decided.reason}")
        elif decided.unrouted or (ioc and any(p.resting for p in decided.decision)):
            run.problem = decided.reason
            run.exhausted = True

    def _arm(self, run: _Run, when: datetime) -> None:
        if run.timer is not None:
            run.timer.cancel()
        run.timer = self.clock.call_at(when, lambda: self._on_timer(run))

    def _on_timer(self, run: _Run) -> None:
        # A timer's exception would reach no one and leave the order unworked: log it
        # and look again a little later.
        try:
            self._wake(run)
        except Exception:
            log.exception("algorithm wake-up failed", order_id=run.parent.order_id)
            if run.parent.is_open and run.finishing is None:
                self._arm(run, self.clock.now() + timedelta(seconds=POV_CHECK_S))

    def _wake(self, run: _Run, rearm: bool = True) -> None:
        parent = run.parent
        if not parent.is_open:
            self._stop(run)
            return
        if run.finishing is not None or parent.is_pending_request:
            return
        if run.spec.strategy == SOR:
            self._route(run)
            return
        now = self.clock.now()
        spec = run.spec
        if now < spec.start:
            self._arm(run, spec.start)
            return
        if spec.end is not None and now >= spec.end:
            self._finish(run, self._window_text(run))
            return
        if run.schedule is not None:
            due = run.schedule.due(now, parent.qty)
            if spec.max_participation is not None:
                due = min(due, participation_due(spec.max_participation, run.volume))
        else:
            assert spec.rate is not None
            due = participation_due(spec.rate, run.volume)
        want = min(due, parent.qty) - parent.cum_qty - self._working(parent)
        if want >= LOT:
            denial = self.desk.send_child(parent, want)
            if denial is not None:
                run.problem = denial.reason
        if rearm:
            self._arm(run, self._next_wake(run, now))

    def _next_wake(self, run: _Run, now: datetime) -> datetime:
        nxt = (run.schedule.next_time(now) if run.schedule is not None
               else now + timedelta(seconds=POV_CHECK_S))
        end = run.spec.end
        if end is not None and (nxt is None or nxt > end):
            nxt = end
        if nxt is None:  # after the last slice of a window with no end: check the tape
            nxt = now + timedelta(seconds=POV_CHECK_S)
        return nxt

    def _window_text(self, run: _Run) -> str:
        parent = run.parent
        leaves = parent.qty - parent.cum_qty
        why = run.problem or (f"limit price {parent.price} not reached"
                              if parent.price is not None else "not enough liquidity")
        return f"{run.spec.strategy} window ended with {tidy(leaves)} unfilled: {why}"

    def _finish(self, run: _Run, reason: str) -> None:
        run.finishing = reason
        if run.timer is not None:
            run.timer.cancel()
            run.timer = None
        children = self._open_children(run.parent)
        for child in children:
            if not child.is_pending_request:
                self.desk.cancel_child(child, reason)
        if not children:
            self._stop(run)
            self.desk.finish_parent(run.parent, reason)

    def _stop(self, run: _Run) -> None:
        if run.timer is not None:
            run.timer.cancel()
        parent = run.parent
        if self._runs.get(parent.order_id) is run:
            self.desk.record_control(QUALITY_KIND, {"order_id": parent.order_id,
                                                    **self.quality(parent)})
        self._runs.pop(parent.order_id, None)
        for venue in run.venues:
            ids = self._by_symbol.get((venue, parent.symbol))
            if ids is not None:
                ids.discard(parent.order_id)

    def _watch(self, run: _Run, venues: tuple[str, ...]) -> None:
        run.venues = venues
        for venue in venues:
            self._by_symbol.setdefault((venue, run.parent.symbol), set()).add(
                run.parent.order_id)

    def _open_children(self, parent: Order) -> list[Order]:
        return [c for c in self.desk.children(parent.order_id)
                if c.is_open or c.status is OrdStatus.PENDING_NEW]

    def _working(self, parent: Order) -> Decimal:
        return sum((c.qty - c.cum_qty for c in self._open_children(parent)), Decimal(0))
