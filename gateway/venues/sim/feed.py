"""The exchange's market-data feed: quotes on top-of-book changes, a tick per trade.

It only builds messages; the exchange queues and delivers them, so a handler
that reacts to a quote by sending an order never runs inside a match. With no
subscribers nothing is built at all.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import structlog

from gateway.venues.sim.book import TopOfBook
from oms.marketdata import MarketDataHandler, Quote, TradeTick

log = structlog.get_logger("sim")


class MarketDataFeed:
    def __init__(self) -> None:
        self._handlers: list[MarketDataHandler] = []
        self._published: dict[str, TopOfBook] = {}

    def subscribe(self, handler: MarketDataHandler) -> None:
        self._handlers.append(handler)

    @property
    def active(self) -> bool:
        return bool(self._handlers)

    def trade(self, symbol: str, price: Decimal, qty: Decimal) -> TradeTick | None:
        if not self._handlers:
            return None
        return TradeTick(symbol, price, qty, datetime.now(UTC))

    def quote(self, symbol: str, top: TopOfBook) -> Quote | None:
        """A quote if the top of book differs from the last one published for the symbol."""
        if not self._handlers or self._published.get(symbol) == top:
            return None
        self._published[symbol] = top
        bid, bid_size, ask, ask_size = top
        return Quote(symbol, bid, bid_size, ask, ask_size, datetime.now(UTC))

    def publish(self, message: Quote | TradeTick) -> None:
        for handler in self._handlers:
            try:
                handler(message)
            except Exception:  # one broken subscriber must not stop the exchange or the others
                log.exception("market-data handler failed", message=repr(message))
