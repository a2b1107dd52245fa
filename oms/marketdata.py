"""Market data the venues publish inside the process (quotes and trades)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Quote:
    symbol: str
    bid: Decimal | None
    bid_size: Decimal
    ask: Decimal | None
    ask_size: Decimal
    ts: datetime


@dataclass(frozen=True, slots=True)
class TradeTick:
    symbol: str
    price: Decimal
    qty: Decimal
    ts: datetime


MarketDataHandler = Callable[[Quote | TradeTick], None]
