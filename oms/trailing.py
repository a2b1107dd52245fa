"""Trailing stops, held by the OMS for venues that do not support them.

A trailing stop stays in the gateway until it triggers: on each trade print of
its symbol at its venue the stop follows the best price (a sell's stop moves up
as the price rises, a buy's down as it falls, never back), and when a trade
crosses the stop the order goes to the venue as a market order. Each move is
journaled (`OrderStopMoved`, with the best price it trails), so a restart
resumes the trail where it was rather than from the price of the restart.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from oms.marketdata import Quote, TradeTick
from oms.order import Order
from oms.validation import trail_stop


class TrailingStops:
    def __init__(self, tick_size: Callable[[str], Decimal | None],
                 move: Callable[[Order, Decimal, Decimal], None],
                 trigger: Callable[[Order, Decimal], None]) -> None:
        self._tick_size = tick_size
        self._move = move  # record a stop move (order, new stop, best price)
        self._trigger = trigger  # record the trigger and send the order out
        self._held: dict[tuple[str, str], dict[str, Order]] = {}  # (venue, symbol) -> orders

    def hold(self, order: Order) -> None:
        self._held.setdefault((order.venue, order.symbol), {})[order.order_id] = order

    def held(self) -> int:
        return sum(len(orders) for orders in self._held.values())

    def handler(self, venue: str) -> Callable[[Quote | TradeTick], None]:
        """The market-data handler for one venue's feed."""
        def on_market_data(data: Quote | TradeTick) -> None:
            if isinstance(data, TradeTick):
                self.on_trade(venue, data.symbol, data.price)
        return on_market_data

    def on_trade(self, venue: str, symbol: str, price: Decimal) -> None:
        orders = self._held.get((venue, symbol))
        if not orders:
            return
        for order in list(orders.values()):
            if not order.is_open or order.triggered:
                del orders[order.order_id]  # canceled, expired or already out
                continue
            stop = order.stop_px
            assert stop is not None and order.trail_offset is not None
            is_buy = order.side.is_buy
            if (price >= stop) if is_buy else (price <= stop):
                del orders[order.order_id]
                self._trigger(order, price)
                continue
            best = order.trail_best_px
            if best is not None and ((price >= best) if is_buy else (price <= best)):
                continue  # not a new best: the stop stays
            moved = trail_stop(is_buy, price, order.trail_offset, order.trail_in_bps,
                               self._tick_size(symbol))
            if moved is not None and ((moved < stop) if is_buy else (moved > stop)):
                self._move(order, moved, price)
