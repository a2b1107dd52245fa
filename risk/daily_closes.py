"""The day's last trade print and traded volume per symbol, handed over at the close.

Fed by the venue's trade prints; at the trading-day close it adds the closes to the
journaled `day_closed` event (`payload["closes"]`), then starts a new day. The
gateway writes them to the price history from the event, live and at replay.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from oms.marketdata import Quote, TradeTick


class DailyCloses:
    def __init__(self) -> None:
        self._last: dict[str, Decimal] = {}
        self._volume: dict[str, Decimal] = {}

    def on_market_data(self, data: Quote | TradeTick) -> None:
        if isinstance(data, TradeTick):
            self._last[data.symbol] = data.price
            self._volume[data.symbol] = self._volume.get(data.symbol, Decimal(0)) + data.qty

    def day_close_payload(self, payload: dict[str, Any]) -> None:
        """A trading day contributor: the day's closes go into the event, then reset."""
        payload["closes"] = {s: {"close": str(px), "volume": str(self._volume.get(s, 0))}
                             for s, px in sorted(self._last.items())}
        self._last.clear()
        self._volume.clear()
