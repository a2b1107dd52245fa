"""SimExchange: the built-in venue (kind "sim"), order books per symbol behind `Venue`.

Everything runs on the caller's event loop: listener callbacks and market data
happen inside submit/cancel/replace or inside the background liquidity task,
never on another thread. Events and market data go through one FIFO outbox
that the outermost call drains, so a listener that sends an order from inside
a callback sees every earlier event first and never runs inside a match.

Stops are held by the exchange and triggered by its own trades, as on a venue
with native stops. Before the first trade of a symbol with background
liquidity, the last price is the reference price (the previous close).

Several exchanges can run side by side, each its own venue (own books, own
seeded flow, own fees). Optional wire effects, off by default: `latency_ms`
delays each message one way (an order reaches the book that much after it is
sent, each report reaches fixgate that much after it happened), and
`messages_per_second` caps what the venue takes in per sliding second; a
burst beyond it is queued and spread, never dropped (see `timing.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

import structlog

from gateway.venues.sim.book import BookDepth, Fill, MatchResult, OrderBook, TradeIds
from gateway.venues.sim.checks import order_problem, terms_problem, works_as
from gateway.venues.sim.feed import MarketDataFeed
from gateway.venues.sim.liquidity import LIQUIDITY, LiquidityFlow
from gateway.venues.sim.stops import StopBook, is_touched
from gateway.venues.timing import LoopTimers, Pipe, Timers
from oms.enums import OrdType, TimeInForce
from oms.execution.router import VenueBook
from oms.instruments import Universe
from oms.marketdata import MarketDataHandler, Quote, TradeTick
from oms.order import tidy
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
    VenueTriggered,
)

log = structlog.get_logger("sim")

_CLIENT = "C:"  # book ids of OMS orders carry this prefix, so no OMS id can clash with ours
_DONE_MEMORY = 100_000  # finished order ids remembered to answer late cancels precisely
_FILLED = "order already filled"
_CANCELED = "order already canceled"


@dataclass(slots=True)
class _Working:
    """An OMS order the exchange still holds: resting in a book or a stop waiting to trigger."""

    order: VenueOrder  # current terms (after replaces; a triggered stop as what it became)
    leaves: Decimal
    armed: bool  # an untriggered stop


class SimExchange:
    def __init__(
        self,
        universe: Universe,
        *,
        name: str = "SIM",
        seed: int = 7,
        liquidity: bool = True,
        tick_interval: float = 0.05,
        liquidity_scale: float = 1.0,
        maker_fee_bps: Decimal = Decimal(0),
        taker_fee_bps: Decimal = Decimal(0),
        latency_ms: float = 0.0,
        messages_per_second: int | None = None,
        timers: Timers | None = None,
    ) -> None:
        self.name = name
        self.kind = "sim"
        self.status = VenueStatus.UP  # an in-process exchange is up for as long as we run
        self.status_since = datetime.now(UTC)
        self.tick_interval = tick_interval
        # Fees in basis points of the traded notional: the aggressor pays the taker fee,
        # the resting order the maker fee (negative: a rebate).
        self.maker_fee_bps = maker_fee_bps
        self.taker_fee_bps = taker_fee_bps
        self.latency_ms = latency_ms
        self.messages_per_second = messages_per_second
        timers = timers or LoopTimers()
        self._inbound: Pipe[Callable[[], None]] | None = None
        self._reports: Pipe[VenueEvent] | None = None
        if latency_ms > 0 or messages_per_second is not None:
            self._inbound = Pipe(timers, _call, delay=latency_ms / 1000,
                                 rate=messages_per_second)
        if latency_ms > 0:
            self._reports = Pipe(timers, self._tell, delay=latency_ms / 1000)
        self._universe = universe
        trade_ids = TradeIds()
        self.books: dict[str, OrderBook] = {
            i.symbol: OrderBook(i.symbol, trade_ids) for i in universe
        }
        self._stops: dict[str, StopBook] = {s: StopBook() for s in self.books}
        self._working: dict[str, _Working] = {}
        self._done: OrderedDict[str, str] = OrderedDict()  # order id -> why it is over
        self._listener: VenueListener | None = None
        self._feed = MarketDataFeed()
        self._outbox: deque[VenueEvent | Quote | TradeTick] = deque()
        self._triggers: deque[tuple[str, Decimal]] = deque()
        self._pumping = False
        self._task: asyncio.Task[None] | None = None
        self._flow: LiquidityFlow | None = None
        if liquidity:
            self._flow = LiquidityFlow(self, universe, seed=seed, scale=liquidity_scale)
            self._flow.seed_books()
            for instrument in universe:
                self.books[instrument.symbol].last_price = instrument.reference_price

    # -- Venue protocol ------------------------------------------------------------------

    def set_listener(self, listener: VenueListener) -> None:
        self._listener = listener

    def subscribe(self, handler: MarketDataHandler) -> None:
        self._feed.subscribe(handler)

    def last_price(self, symbol: str) -> Decimal | None:
        book = self.books.get(symbol)
        return book.last_price if book is not None else None

    async def start(self) -> None:
        if self._flow is not None and self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run_flow(), name=f"{self.name}-liquidity"
            )

    async def stop(self) -> None:
        for pipe in (self._inbound, self._reports):
            if pipe is not None:
                pipe.close()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def submit(self, order: VenueOrder) -> None:
        if self._inbound is not None:
            self._inbound.put(functools.partial(self._submit, order))
        else:
            self._submit(order)

    def cancel(self, order_id: str) -> None:
        if self._inbound is not None:
            self._inbound.put(functools.partial(self._cancel, order_id))
        else:
            self._cancel(order_id)

    def replace(
        self, order_id: str, leaves_qty: Decimal, price: Decimal | None, stop_px: Decimal | None
    ) -> None:
        """Apply new terms; a price of None keeps the current one (likewise stop_px)."""
        if self._inbound is not None:
            self._inbound.put(functools.partial(self._replace, order_id, leaves_qty, price,
                                                stop_px))
        else:
            self._replace(order_id, leaves_qty, price, stop_px)

    def depth(self, symbol: str, levels: int = 5) -> BookDepth:
        """The visible book of one symbol: up to `levels` (price, size) a side, best first
        (what a smart order router weighs)."""
        return self.books[symbol].depth(levels)

    def router_book(self, symbol: str, levels: int = 5,
                    fill_probability: Decimal = Decimal(1)) -> VenueBook:
        """This venue as the smart order router sees it: visible book, fees, status."""
        depth = self.depth(symbol, levels)
        return VenueBook(self.name, depth.bids, depth.asks, self.taker_fee_bps,
                         self.maker_fee_bps, fill_probability,
                         up=self.status is not VenueStatus.DOWN)

    @property
    def queued(self) -> int:
        """Messages sent to the venue that it has not taken in yet (latency, rate)."""
        return len(self._inbound) if self._inbound is not None else 0

    # -- inbound messages, as they reach the venue --------------------------------------

    def _submit(self, order: VenueOrder) -> None:
        problem = order_problem(order, self._universe.get(order.symbol))
        if problem is None and order.order_id in self._working:
            problem = f"order id {order.order_id} is already working at venue {self.name}"
        if problem is not None:
            self._outbox.append(VenueOrderRejected(order.order_id, problem))
        else:
            self._done.pop(order.order_id, None)
            working = _Working(order, order.qty, armed=order.ord_type.needs_stop_px)
            self._working[order.order_id] = working
            self._outbox.append(VenueAccepted(order.order_id))
            if working.armed:
                self._arm(working)
            else:
                self._work(working)
        self._pump()

    def _cancel(self, order_id: str) -> None:
        working = self._working.get(order_id)
        if working is None:
            self._outbox.append(VenueRequestRejected(order_id, self._gone(order_id)))
        else:
            symbol = working.order.symbol
            if working.armed:
                self._stops[symbol].remove(order_id)
            else:
                self.books[symbol].cancel(_CLIENT + order_id)
            self._finish(order_id, _CANCELED)
            self._outbox.append(VenueCanceled(order_id, "canceled on request"))
            self._after_book_change(symbol, ())
        self._pump()

    def _replace(
        self, order_id: str, leaves_qty: Decimal, price: Decimal | None, stop_px: Decimal | None
    ) -> None:
        working = self._working.get(order_id)
        problem = None if working is not None else self._gone(order_id)
        if working is not None:
            instrument = self._universe.get(working.order.symbol)
            assert instrument is not None
            problem = terms_problem(instrument, leaves_qty, price, stop_px)
        if problem is not None or working is None:
            self._outbox.append(VenueRequestRejected(order_id, problem or ""))
            self._pump()
            return
        old = working.order
        working.order = replace(
            old,
            qty=leaves_qty,
            price=old.price if price is None else price,
            stop_px=old.stop_px if stop_px is None else stop_px,
        )
        working.leaves = leaves_qty
        self._outbox.append(VenueReplaced(order_id))
        if working.armed:
            self._stops[old.symbol].remove(order_id)
            self._arm(working)  # the new stop price may already be touched
        else:
            result = self.books[old.symbol].replace(
                _CLIENT + order_id, leaves_qty, working.order.price
            )
            self._after_book_change(old.symbol, result.fills)
        self._pump()

    # -- background liquidity ---------------------------------------------------------

    def step_liquidity(self, n: int = 1) -> None:
        """Advance the background flow n steps at once, without sleeping (tests, replays)."""
        if self._flow is None:
            raise RuntimeError(f"venue {self.name} runs without background liquidity")
        for _ in range(n):
            self._flow.step()

    def book(self, symbol: str) -> OrderBook:
        """The book of one symbol, to read; change it only through the exchange."""
        return self.books[symbol]

    def place_liquidity(
        self,
        symbol: str,
        order_id: str,
        is_buy: bool,
        qty: Decimal,
        price: Decimal,
        time_in_force: TimeInForce = TimeInForce.DAY,
    ) -> MatchResult:
        """A background order: same matching, events only for the client orders it meets."""
        result = self.books[symbol].add_limit(
            order_id, LIQUIDITY, is_buy, qty, price, time_in_force
        )
        self._after_book_change(symbol, result.fills)
        self._pump()
        return result

    def cancel_liquidity(self, symbol: str, order_id: str) -> bool:
        if order_id.startswith(_CLIENT) or self.books[symbol].cancel(order_id) is None:
            return False
        self._after_book_change(symbol, ())
        self._pump()
        return True

    async def _run_flow(self) -> None:
        assert self._flow is not None
        while True:
            await asyncio.sleep(self.tick_interval)
            try:
                self._flow.step()
            except Exception:  # keep the market alive; the log shows what broke
                log.exception("liquidity step failed", venue=self.name)

    # -- order handling ----------------------------------------------------------------

    def _arm(self, working: _Working) -> None:
        order = working.order
        assert order.stop_px is not None
        last = self.books[order.symbol].last_price
        if last is not None and is_touched(order.side.is_buy, order.stop_px, last):
            self._triggers.append((order.order_id, last))
        else:
            self._stops[order.symbol].add(order.order_id, order.side.is_buy, order.stop_px)

    def _trigger(self, order_id: str, trigger_px: Decimal) -> None:
        working = self._working.get(order_id)
        if working is None or not working.armed:  # canceled while the trigger was queued
            return
        working.armed = False
        working.order = replace(working.order, ord_type=works_as(working.order.ord_type))
        self._outbox.append(VenueTriggered(order_id, trigger_px))
        self._work(working)

    def _work(self, working: _Working) -> None:
        """Send a live (non-stop) order into its book and report what happened."""
        order = working.order
        book = self.books[order.symbol]
        key, is_buy = _CLIENT + order.order_id, order.side.is_buy
        fok = order.time_in_force is TimeInForce.FOK
        if order.ord_type is OrdType.MARKET:
            result = book.add_market(key, order.order_id, is_buy, working.leaves, all_or_none=fok)
        else:
            assert order.price is not None
            result = book.add_limit(
                key, order.order_id, is_buy, working.leaves, order.price, order.time_in_force
            )
        self._after_book_change(order.symbol, result.fills)
        if result.canceled > 0:
            self._finish(order.order_id, _CANCELED)
            self._outbox.append(VenueCanceled(order.order_id, _remainder_reason(order, result)))

    def _after_book_change(self, symbol: str, fills: tuple[Fill, ...]) -> None:
        """Report fills of client orders, publish market data and note touched stops."""
        stops = self._stops[symbol]
        for fill in fills:
            if fill.aggressor_id.startswith(_CLIENT):
                self._client_fill(fill.aggressor_owner, fill, self.taker_fee_bps)
            if fill.passive_id.startswith(_CLIENT):
                self._client_fill(fill.passive_owner, fill, self.maker_fee_bps)
            tick = self._feed.trade(symbol, fill.price, fill.qty)
            if tick is not None:
                self._outbox.append(tick)
            if stops:
                self._triggers.extend((oid, fill.price) for oid in stops.touched(fill.price))
        quote = self._feed.quote(symbol, self.books[symbol].top())
        if quote is not None:
            self._outbox.append(quote)

    def _client_fill(self, order_id: str, fill: Fill, fee_bps: Decimal) -> None:
        working = self._working[order_id]
        working.leaves -= fill.qty
        fee = tidy(fill.price * fill.qty * fee_bps.scaleb(-4)) if fee_bps else Decimal(0)
        self._outbox.append(VenueFill(order_id, fill.qty, fill.price, fill.trade_id, fee))
        if working.leaves == 0:
            self._finish(order_id, _FILLED)

    def _finish(self, order_id: str, why: str) -> None:
        del self._working[order_id]
        self._done[order_id] = why
        if len(self._done) > _DONE_MEMORY:
            self._done.popitem(last=False)

    def _gone(self, order_id: str) -> str:
        return self._done.get(order_id) or f"unknown order at venue {self.name}"

    # -- delivery ----------------------------------------------------------------------

    def _pump(self) -> None:
        """Deliver queued events and fire queued stops until both queues are empty.

        Only the outermost call drains; a nested call (a listener acting on an event)
        just queues, so events always come out in the order they happened."""
        if self._pumping:
            return
        self._pumping = True
        try:
            while True:
                if self._outbox:
                    item = self._outbox.popleft()
                    if isinstance(item, Quote | TradeTick):
                        self._feed.publish(item)
                    elif self._reports is not None:
                        self._reports.put(item)
                    else:
                        self._tell(item)
                elif self._triggers:
                    self._trigger(*self._triggers.popleft())
                else:
                    break
        finally:
            self._pumping = False

    def _tell(self, event: VenueEvent) -> None:
        if self._listener is not None:
            self._listener.on_venue_event(event)


def _call(action: Callable[[], None]) -> None:
    action()


def _remainder_reason(order: VenueOrder, result: MatchResult) -> str:
    if order.time_in_force is TimeInForce.FOK and not result.fills:
        return "FOK could not be filled in full"
    if order.ord_type is OrdType.MARKET:
        return "market order remainder canceled: no liquidity"
    return "IOC remainder canceled"
