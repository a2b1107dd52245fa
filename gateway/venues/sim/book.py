"""A continuous limit order book for one symbol: price-time priority, no I/O.

Each side keeps its prices in an ascending list (binary search to add or drop
a level) and a dict price -> level; a level is an OrderedDict of resting
orders in arrival order with a running total. So matching touches only the
levels it trades through, the top of book is O(1) and a cancel never scans a
queue.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from oms.enums import TimeInForce

ZERO = Decimal(0)


@dataclass(slots=True)
class RestingOrder:
    order_id: str
    owner: str  # the OMS order id it belongs to, or "liquidity" for background flow
    is_buy: bool
    price: Decimal
    qty: Decimal  # leaves still resting


class Fill(NamedTuple):
    """One match: both orders, traded at the passive order's price. (A named tuple, not a
    frozen dataclass: one is built per trade, and a frozen dataclass's __init__ costs
    several times more.)"""

    trade_id: str
    aggressor_id: str
    aggressor_owner: str
    aggressor_is_buy: bool
    passive_id: str
    passive_owner: str
    price: Decimal
    qty: Decimal


class MatchResult(NamedTuple):
    order_id: str
    fills: tuple[Fill, ...]
    resting: Decimal  # quantity left resting in the book
    canceled: Decimal  # quantity that neither traded nor rests (IOC/FOK/market remainder)

    @property
    def filled(self) -> Decimal:
        return sum((f.qty for f in self.fills), ZERO)


@dataclass(frozen=True, slots=True)
class BookDepth:
    bids: tuple[tuple[Decimal, Decimal], ...]  # (price, size), best first
    asks: tuple[tuple[Decimal, Decimal], ...]


TopOfBook = tuple[Decimal | None, Decimal, Decimal | None, Decimal]  # bid, size, ask, size


class TradeIds:
    """Trade ids "T1", "T2", ...; one instance is shared by all books of a venue."""

    def __init__(self, prefix: str = "T") -> None:
        self._prefix = prefix
        self._n = 0

    def __call__(self) -> str:
        self._n += 1
        return f"{self._prefix}{self._n}"


class _Level:
    __slots__ = ("orders", "qty")

    def __init__(self) -> None:
        self.orders: OrderedDict[str, RestingOrder] = OrderedDict()
        self.qty = ZERO


class _Side:
    def __init__(self, is_buy: bool) -> None:
        self.is_buy = is_buy
        self.prices: list[Decimal] = []  # ascending; best bid is last, best ask first
        self.levels: dict[Decimal, _Level] = {}

    def best(self) -> Decimal | None:
        if not self.prices:
            return None
        return self.prices[-1] if self.is_buy else self.prices[0]

    def from_best(self) -> Iterator[Decimal]:
        return reversed(self.prices) if self.is_buy else iter(self.prices)

    def add(self, order: RestingOrder) -> None:
        level = self.levels.get(order.price)
        if level is None:
            level = self.levels[order.price] = _Level()
            insort(self.prices, order.price)
        level.orders[order.order_id] = order
        level.qty += order.qty

    def remove(self, order: RestingOrder) -> None:
        level = self.levels[order.price]
        del level.orders[order.order_id]
        level.qty -= order.qty
        if not level.orders:
            self.drop_level(order.price)

    def drop_level(self, price: Decimal) -> None:
        del self.levels[price]
        del self.prices[bisect_left(self.prices, price)]


def _acceptable(is_buy: bool, level_price: Decimal, limit: Decimal | None) -> bool:
    if limit is None:  # market order: any price
        return True
    return level_price <= limit if is_buy else level_price >= limit


class OrderBook:
    def __init__(self, symbol: str, trade_ids: Callable[[], str] | None = None) -> None:
        self.symbol = symbol
        self._bids = _Side(is_buy=True)
        self._asks = _Side(is_buy=False)
        self._orders: dict[str, RestingOrder] = {}
        self._trade_ids = trade_ids or TradeIds()
        # Last trade price. A venue may set it to the previous close before the first trade.
        self.last_price: Decimal | None = None

    # -- order entry ---------------------------------------------------------------

    def add_limit(
        self,
        order_id: str,
        owner: str,
        is_buy: bool,
        qty: Decimal,
        price: Decimal,
        time_in_force: TimeInForce = TimeInForce.DAY,
    ) -> MatchResult:
        """Trade what crosses, then rest the remainder (IOC and FOK never rest)."""
        if price <= 0:
            raise ValueError(f"price must be positive: {price}")
        keep = time_in_force not in (TimeInForce.IOC, TimeInForce.FOK)
        fok = time_in_force is TimeInForce.FOK
        return self._enter(order_id, owner, is_buy, qty, price, rest=keep, all_or_none=fok)

    def add_market(
        self, order_id: str, owner: str, is_buy: bool, qty: Decimal, all_or_none: bool = False
    ) -> MatchResult:
        """Walk the book; whatever does not trade is canceled, never rested."""
        return self._enter(order_id, owner, is_buy, qty, None, rest=False, all_or_none=all_or_none)

    def cancel(self, order_id: str) -> RestingOrder | None:
        order = self._orders.pop(order_id, None)
        if order is not None:
            self._side(order.is_buy).remove(order)
        return order

    def replace(self, order_id: str, qty: Decimal, price: Decimal | None = None) -> MatchResult:
        """Change a resting order. Only a size decrease at the same price keeps time priority;
        a new price that crosses trades at once. Raises KeyError for an order not resting."""
        order = self._orders[order_id]
        if qty <= 0:
            raise ValueError(f"quantity must be positive: {qty}")
        new_price = order.price if price is None else price
        if new_price == order.price and qty <= order.qty:
            self._side(order.is_buy).levels[order.price].qty -= order.qty - qty
            order.qty = qty
            return MatchResult(order_id, (), qty, ZERO)
        self.cancel(order_id)
        return self.add_limit(order_id, order.owner, order.is_buy, qty, new_price)

    # -- views ---------------------------------------------------------------------

    def get(self, order_id: str) -> RestingOrder | None:
        return self._orders.get(order_id)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._orders

    def __len__(self) -> int:
        return len(self._orders)

    @property
    def best_bid(self) -> Decimal | None:
        return self._bids.best()

    @property
    def best_ask(self) -> Decimal | None:
        return self._asks.best()

    @property
    def bid_size(self) -> Decimal:
        best = self._bids.best()
        return ZERO if best is None else self._bids.levels[best].qty

    @property
    def ask_size(self) -> Decimal:
        best = self._asks.best()
        return ZERO if best is None else self._asks.levels[best].qty

    def top(self) -> TopOfBook:
        return self.best_bid, self.bid_size, self.best_ask, self.ask_size

    def level_count(self, is_buy: bool) -> int:
        return len(self._side(is_buy).prices)

    def has_level(self, is_buy: bool, price: Decimal) -> bool:
        return price in self._side(is_buy).levels

    def depth(self, levels: int = 5) -> BookDepth:
        def side(s: _Side) -> tuple[tuple[Decimal, Decimal], ...]:
            out: list[tuple[Decimal, Decimal]] = []
            for price in s.from_best():
                if len(out) == levels:
                    break
                out.append((price, s.levels[price].qty))
            return tuple(out)

        return BookDepth(side(self._bids), side(self._asks))

    def queue(self, is_buy: bool, price: Decimal) -> list[str]:
        """Order ids resting at one price, first in line first."""
        level = self._side(is_buy).levels.get(price)
        return list(level.orders) if level else []

    def available(self, is_buy: bool, limit: Decimal | None, want: Decimal) -> Decimal:
        """What an aggressor could take at acceptable prices; stops counting once `want` is met."""
        contra = self._side(not is_buy)
        total = ZERO
        for price in contra.from_best():
            if total >= want or not _acceptable(is_buy, price, limit):
                break
            total += contra.levels[price].qty
        return total

    # -- matching --------------------------------------------------------------------

    def _side(self, is_buy: bool) -> _Side:
        return self._bids if is_buy else self._asks

    def _enter(
        self,
        order_id: str,
        owner: str,
        is_buy: bool,
        qty: Decimal,
        limit: Decimal | None,
        *,
        rest: bool,
        all_or_none: bool,
    ) -> MatchResult:
        if qty <= 0:
            raise ValueError(f"quantity must be positive: {qty}")
        if order_id in self._orders:
            raise ValueError(f"order id {order_id!r} is already resting")
        # FOK checks first so that a failed one leaves the book exactly as it was.
        if all_or_none and self.available(is_buy, limit, qty) < qty:
            return MatchResult(order_id, (), ZERO, qty)
        fills, remaining = self._match(order_id, owner, is_buy, qty, limit)
        if remaining > 0 and rest:
            assert limit is not None
            order = RestingOrder(order_id, owner, is_buy, limit, remaining)
            self._side(is_buy).add(order)
            self._orders[order_id] = order
            return MatchResult(order_id, fills, remaining, ZERO)
        return MatchResult(order_id, fills, ZERO, remaining)

    def _match(
        self, order_id: str, owner: str, is_buy: bool, qty: Decimal, limit: Decimal | None
    ) -> tuple[tuple[Fill, ...], Decimal]:
        # The hot loop of the exchange: locals bound once, the best price read directly.
        contra = self._asks if is_buy else self._bids
        prices, levels, resting = contra.prices, contra.levels, self._orders
        trade_id = self._trade_ids
        fills: list[Fill] = []
        while qty > 0 and prices:
            price = prices[0] if is_buy else prices[-1]
            if limit is not None and (price > limit if is_buy else price < limit):
                break
            level = levels[price]
            queue = level.orders
            while qty > 0 and queue:
                passive = next(iter(queue.values()))
                traded = qty if qty < passive.qty else passive.qty
                qty -= traded
                passive.qty -= traded
                level.qty -= traded
                if passive.qty == 0:
                    queue.popitem(last=False)
                    del resting[passive.order_id]
                fills.append(Fill(trade_id(), order_id, owner, is_buy, passive.order_id,
                                  passive.owner, price, traded))
            if not queue:
                contra.drop_level(price)
            self.last_price = price
        return tuple(fills), qty
