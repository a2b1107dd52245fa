"""A continuous limit order book for one symbol: price-time priority, no I/O.

Price levels are kept in a sorted list per side (bisect) with a FIFO queue per
level, so an order touches only the levels it trades through.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal


@dataclass(slots=True)
class Resting:
    order_id: str
    owner: str  # "oms" for gateway orders, "liquidity" for background flow
    is_buy: bool
    price: Decimal
    qty: Decimal


@dataclass(frozen=True, slots=True)
class Match:
    passive: Resting
    qty: Decimal
    price: Decimal  # always the passive order's price


class _Side:
    def __init__(self, is_buy: bool) -> None:
        self.is_buy = is_buy
        self.prices: list[Decimal] = []  # ascending
        self.levels: dict[Decimal, deque[Resting]] = {}

    def best(self) -> Decimal | None:
        if not self.prices:
            return None
        return self.prices[-1] if self.is_buy else self.prices[0]

    def add(self, order: Resting) -> None:
        level = self.levels.get(order.price)
        if level is None:
            level = self.levels[order.price] = deque()
            bisect.insort(self.prices, order.price)
        level.append(order)

    def remove(self, order: Resting) -> None:
        level = self.levels[order.price]
        level.remove(order)
        if not level:
            self._drop_level(order.price)

    def _drop_level(self, price: Decimal) -> None:
        del self.levels[price]
        self.prices.pop(bisect.bisect_left(self.prices, price))

    def from_best(self) -> Iterator[Decimal]:
        return reversed(self.prices) if self.is_buy else iter(self.prices)

    def size_at(self, price: Decimal) -> Decimal:
        return sum((o.qty for o in self.levels.get(price, ())), Decimal(0))


def _acceptable(is_buy: bool, level_price: Decimal, limit: Decimal | None) -> bool:
    if limit is None:
        return True
    return level_price <= limit if is_buy else level_price >= limit


class OrderBook:
    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.bids = _Side(is_buy=True)
        self.asks = _Side(is_buy=False)
        self.orders: dict[str, Resting] = {}
        self.last_price: Decimal | None = None

    def _opposite(self, is_buy: bool) -> _Side:
        return self.asks if is_buy else self.bids

    def _same(self, is_buy: bool) -> _Side:
        return self.bids if is_buy else self.asks

    def available(self, is_buy: bool, limit: Decimal | None, want: Decimal) -> Decimal:
        """Quantity an aggressor could take at acceptable prices (stops counting at `want`)."""
        side = self._opposite(is_buy)
        total = Decimal(0)
        for price in side.from_best():
            if not _acceptable(is_buy, price, limit) or total >= want:
                break
            total += side.size_at(price)
        return total

    def match(self, is_buy: bool, qty: Decimal, limit: Decimal | None) -> list[Match]:
        """Trade an aggressor against the opposite side; returns the matches in order."""
        side = self._opposite(is_buy)
        matches: list[Match] = []
        while qty > 0 and side.prices:
            price = side.best()
            assert price is not None
            if not _acceptable(is_buy, price, limit):
                break
            level = side.levels[price]
            while qty > 0 and level:
                passive = level[0]
                take = min(qty, passive.qty)
                passive.qty -= take
                qty -= take
                matches.append(Match(passive, take, price))
                if passive.qty == 0:
                    level.popleft()
                    del self.orders[passive.order_id]
            if not level:
                side._drop_level(price)
        if matches:
            self.last_price = matches[-1].price
        return matches

    def rest(self, order: Resting) -> None:
        self._same(order.is_buy).add(order)
        self.orders[order.order_id] = order

    def cancel(self, order_id: str) -> Resting | None:
        order = self.orders.pop(order_id, None)
        if order is not None:
            self._same(order.is_buy).remove(order)
        return order

    def reduce(self, order_id: str, qty: Decimal) -> bool:
        """Lower a resting order's quantity in place, keeping its time priority."""
        order = self.orders.get(order_id)
        if order is None or qty <= 0 or qty > order.qty:
            return False
        order.qty = qty
        return True

    def best_bid(self) -> Decimal | None:
        return self.bids.best()

    def best_ask(self) -> Decimal | None:
        return self.asks.best()

    def top(self) -> tuple[Decimal | None, Decimal, Decimal | None, Decimal]:
        bid, ask = self.bids.best(), self.asks.best()
        bid_size = self.bids.size_at(bid) if bid is not None else Decimal(0)
        ask_size = self.asks.size_at(ask) if ask is not None else Decimal(0)
        return bid, bid_size, ask, ask_size

    def depth(self, levels: int = 5) -> dict[str, list[tuple[Decimal, Decimal]]]:
        def side(s: _Side) -> list[tuple[Decimal, Decimal]]:
            out = []
            for price in s.from_best():
                if len(out) == levels:
                    break
                out.append((price, s.size_at(price)))
            return out

        return {"bids": side(self.bids), "asks": side(self.asks)}
