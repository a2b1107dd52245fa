"""The day's last trade print and traded volume per symbol, handed over at the close.

Fed by the venue's trade prints; at the trading-day close it adds the closes to the
journaled `day_closed` event (`payload["closes"]`) and hands them to `on_close`
(the gateway writes them to the price history store), then starts a new day.
No I/O here: what happens to the closes is the callback's business.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from oms.marketdata import Quote, TradeTick

# (trading date, {symbol: (close, volume)})
CloseSink = Callable[[dt.date, dict[str, tuple[Decimal, Decimal]]], None]


class DailyCloses:
    def __init__(self, on_close: CloseSink | None = None) -> None:
        self.on_close = on_close
        self._last: dict[str, Decimal] = {}
        self._volume: dict[str, Decimal] = {}

    def on_market_data(self, data: Quote | TradeTick) -> None:
        if isinstance(data, TradeTick):
            self._last[data.symbol] = data.price
            self._volume[data.symbol] = self._volume.get(data.symbol, Decimal(0)) + data.qty

    def day_close_payload(self, payload: dict[str, Any]) -> None:
        """A trading day contributor: the day's closes go into the event, then reset."""
        closes = {s: (px, self._volume.get(s, Decimal(0))) for s, px in sorted(self._last.items())}
        payload["closes"] = {s: {"close": str(px), "volume": str(v)}
                             for s, (px, v) in closes.items()}
        self._last.clear()
        self._volume.clear()
        if closes and self.on_close is not None:
            self.on_close(dt.date.fromisoformat(payload["date"]), closes)
