"""SimExchange: the built-in venue. Order books per symbol behind the Venue protocol.

Everything runs on the caller's event loop: listener callbacks happen inside
submit/cancel/replace or inside the background liquidity task, never on
another thread. Stops are held by the exchange and triggered by its own last
trade price, as on a real exchange with native stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from dataclasses import dataclass, replace
from decimal import Decimal

from gateway.sim.book import Match, OrderBook, Resting
from gateway.sim.liquidity import LiquidityFlow
from oms.enums import OrdType, Side, TimeInForce
from oms.events import utcnow
from oms.instruments import Universe
from oms.marketdata import MarketDataHandler, Quote, TradeTick
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
    VenueTriggered,
)

OMS = "oms"
LIQUIDITY = "liquidity"


@dataclass(slots=True)
class _Live:
    """An OMS order the exchange still holds: resting in a book or a pending stop."""

    order: VenueOrder
    stop_pending: bool


class SimExchange:
    def __init__(
        self,
        universe: Universe,
        *,
        name: str = "SIM",
        seed: int = 7,
        liquidity: bool = True,
        tick_interval: float = 0.05,
    ) -> None:
        self.name = name
        self.universe = universe
        self.books = {i.symbol: OrderBook(i.symbol) for i in universe}
        self._listener: VenueListener | None = None
        self._handlers: list[MarketDataHandler] = []
        self._live: dict[str, _Live] = {}
        self._stops: dict[str, list[str]] = {s: [] for s in self.books}
        self._trade_ids = itertools.count(1)
        self._tops: dict[str, tuple[Decimal | None, Decimal, Decimal | None, Decimal]] = {}
        self.tick_interval = tick_interval
        self.flow = LiquidityFlow(self, universe, seed) if liquidity else None
        self._task: asyncio.Task[None] | None = None

    # -- Venue protocol --------------------------------------------------------

    def set_listener(self, listener: VenueListener) -> None:
        self._listener = listener

    def subscribe(self, handler: MarketDataHandler) -> None:
        self._handlers.append(handler)

    def last_price(self, symbol: str) -> Decimal | None:
        book = self.books.get(symbol)
        return book.last_price if book else None

    async def start(self) -> None:
        if self.flow is not None and self._task is None:
            self.flow.seed_books()
            self._task = asyncio.create_task(self._run_flow(), name=f"{self.name}-liquidity")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def submit(self, order: VenueOrder) -> None:
        book = self.books.get(order.symbol)
        if book is None:
            self._emit(VenueOrderRejected(order.order_id, f"unknown symbol {order.symbol!r}"))
            return
        if order.qty <= 0:
            self._emit(
                VenueOrderRejected(order.order_id, f"quantity must be positive: {order.qty}")
            )
            return
        if order.order_id in self._live:
            self._emit(VenueOrderRejected(order.order_id, "order id already live at venue"))
            return
        self._emit(VenueAccepted(order.order_id))
        if order.ord_type in (OrdType.STOP, OrdType.STOP_LIMIT) and order.stop_px is not None:
            self._live[order.order_id] = _Live(order, stop_pending=True)
            if _stop_touched(order, book.last_price):
                self._trigger(order.order_id, book.last_price)  # type: ignore[arg-type]
            else:
                self._stops[order.symbol].append(order.order_id)
            return
        self._live[order.order_id] = _Live(order, stop_pending=False)
        self._execute(order, OMS)

    def cancel(self, order_id: str) -> None:
        live = self._live.pop(order_id, None)
        if live is None:
            self._emit(
                VenueRequestRejected(
                    order_id, f"unknown order at venue {self.name} (already filled or canceled)"
                )
            )
            return
        if live.stop_pending:
            self._stops[live.order.symbol].remove(order_id)
        else:
            self.books[live.order.symbol].cancel(order_id)
        self._emit(VenueCanceled(order_id, "canceled on request"))
        self._publish_quote(live.order.symbol)

    def replace(
        self, order_id: str, leaves_qty: Decimal, price: Decimal | None, stop_px: Decimal | None
    ) -> None:
        live = self._live.get(order_id)
        if live is None:
            self._emit(
                VenueRequestRejected(
                    order_id, f"unknown order at venue {self.name} (already filled or canceled)"
                )
            )
            return
        if leaves_qty <= 0:
            self._emit(VenueRequestRejected(order_id, "replace would leave nothing to work"))
            return
        order = live.order
        new = replace(
            order,
            qty=leaves_qty,
            price=price if price is not None else order.price,
            stop_px=stop_px if stop_px is not None else order.stop_px,
        )
        live.order = new
        book = self.books[order.symbol]
        if live.stop_pending:
            self._emit(VenueReplaced(order_id))
            if _stop_touched(new, book.last_price):
                self._stops[order.symbol].remove(order_id)
                self._trigger(order_id, book.last_price)  # type: ignore[arg-type]
            return
        resting = book.orders.get(order_id)
        if resting is not None and new.price == resting.price and leaves_qty <= resting.qty:
            book.reduce(order_id, leaves_qty)  # a smaller order keeps its place in the queue
            self._emit(VenueReplaced(order_id))
            self._publish_quote(order.symbol)
            return
        book.cancel(order_id)
        self._emit(VenueReplaced(order_id))
        self._execute(new, OMS)

    # -- matching ----------------------------------------------------------------

    def execute_liquidity(
        self,
        order_id: str,
        symbol: str,
        is_buy: bool,
        qty: Decimal,
        price: Decimal | None,
        ioc: bool,
    ) -> None:
        """Background flow's way in: same matching, no listener events for its own side."""
        side = Side.BUY if is_buy else Side.SELL
        order = VenueOrder(
            order_id,
            LIQUIDITY,
            symbol,
            side,
            OrdType.LIMIT if price is not None else OrdType.MARKET,
            TimeInForce.IOC if ioc else TimeInForce.GTC,
            qty,
            price,
        )
        self._execute(order, LIQUIDITY)

    def _execute(self, order: VenueOrder, owner: str) -> None:
        book = self.books[order.symbol]
        is_buy = order.side is Side.BUY
        limit = None if order.ord_type in (OrdType.MARKET, OrdType.STOP) else order.price
        if (
            order.time_in_force is TimeInForce.FOK
            and book.available(is_buy, limit, order.qty) < order.qty
        ):
            self._done(order, owner, "FOK could not be filled in full: canceled")
            return
        matches = book.match(is_buy, order.qty, limit)
        filled = sum((m.qty for m in matches), Decimal(0))
        for m in matches:
            self._report_match(order, owner, m)
        remainder = order.qty - filled
        if remainder > 0:
            if limit is None:
                self._done(order, owner, "market order remainder canceled: no more liquidity")
            elif order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
                self._done(order, owner, "IOC remainder canceled")
            else:
                book.rest(Resting(order.order_id, owner, is_buy, limit, remainder))
        elif owner == OMS:
            self._live.pop(order.order_id, None)
        if matches:
            self._check_stops(order.symbol)
        self._publish_quote(order.symbol)

    def _done(self, order: VenueOrder, owner: str, reason: str) -> None:
        if owner == OMS:
            self._live.pop(order.order_id, None)
            self._emit(VenueCanceled(order.order_id, reason))

    def _report_match(self, aggressor: VenueOrder, owner: str, m: Match) -> None:
        trade_id = f"{self.name}-T{next(self._trade_ids)}"
        if owner == OMS:
            self._emit(VenueFill(aggressor.order_id, m.qty, m.price, trade_id))
        if m.passive.owner == OMS:
            if m.passive.qty == 0:
                self._live.pop(m.passive.order_id, None)
            self._emit(VenueFill(m.passive.order_id, m.qty, m.price, trade_id))
        if self._handlers:
            self._publish(TradeTick(aggressor.symbol, m.price, m.qty, utcnow()))

    # -- stops --------------------------------------------------------------------

    def _check_stops(self, symbol: str) -> None:
        last = self.books[symbol].last_price
        pending = self._stops[symbol]
        if last is None or not pending:
            return
        touched = [oid for oid in pending if _stop_touched(self._live[oid].order, last)]
        for oid in touched:
            pending.remove(oid)
        for oid in touched:
            if oid in self._live:
                self._trigger(oid, last)

    def _trigger(self, order_id: str, last: Decimal) -> None:
        live = self._live[order_id]
        live.stop_pending = False
        self._emit(VenueTriggered(order_id, last))
        o = live.order
        works_as = OrdType.LIMIT if o.ord_type is OrdType.STOP_LIMIT else OrdType.MARKET
        self._execute(replace(o, ord_type=works_as, stop_px=None), OMS)

    # -- events and market data ----------------------------------------------------

    def _emit(self, event: VenueEvent) -> None:
        if self._listener is not None:
            self._listener.on_venue_event(event)

    def _publish_quote(self, symbol: str) -> None:
        if not self._handlers:
            return
        top = self.books[symbol].top()
        if self._tops.get(symbol) == top:
            return
        self._tops[symbol] = top
        self._publish(Quote(symbol, top[0], top[1], top[2], top[3], utcnow()))

    def _publish(self, data: Quote | TradeTick) -> None:
        for handler in self._handlers:
            handler(data)

    async def _run_flow(self) -> None:
        assert self.flow is not None
        while True:
            await asyncio.sleep(self.tick_interval)
            self.flow.step()

    def step_liquidity(self, n: int = 1) -> None:
        """Advance the background flow by n steps, without sleeping (tests, replays)."""
        assert self.flow is not None, "liquidity is off"
        for _ in range(n):
            self.flow.step()


def _stop_touched(order: VenueOrder, last: Decimal | None) -> bool:
    if last is None or order.stop_px is None:
        return False
    return last >= order.stop_px if order.side is Side.BUY else last <= order.stop_px
