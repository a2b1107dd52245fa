"""Rolling correlation of held symbols, and a journaled alert when it crosses a threshold.

`correlation` is a pure function of a price array. `SampledPrices` is the price history
the server has today: the last trade price of each symbol, sampled every `interval_s` of
the injected clock and kept in memory (lost on restart, as sampled prints would be).
It sits behind the `PriceHistory` protocol so the PostgreSQL store of daily closes can
replace it. `CorrelationWatch` decides when a pair or the average crosses the threshold;
each crossing is a control event (`correlation_alert`) journaled through OrderService, so
the alert list and which pairs are above survive a restart.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import numpy as np

from oms.clock import Clock, Timer
from oms.marketdata import Quote, TradeTick

KIND = "correlation_alert"
AVERAGE = "average"


def correlation(prices: np.ndarray) -> np.ndarray:
    """Pearson correlation of the simple returns of each column of `prices` (T x N, oldest
    first). A column that never moves has no defined correlation: NaN in its row/column."""
    prices = np.asarray(prices, dtype=float)
    if prices.ndim != 2 or prices.shape[0] < 3:
        raise ValueError("need at least 3 prices (2 returns) per symbol")
    returns = prices[1:] / prices[:-1] - 1.0
    centred = returns - returns.mean(axis=0)
    scale = np.sqrt((centred ** 2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (centred.T @ centred) / np.outer(scale, scale)
    corr[:, scale == 0] = np.nan
    corr[scale == 0, :] = np.nan
    return np.clip(corr, -1.0, 1.0)


def average_correlation(corr: np.ndarray) -> float:
    """The mean of the off-diagonal pairwise correlations (NaN pairs left out)."""
    n = corr.shape[0]
    upper = corr[np.triu_indices(n, k=1)]
    upper = upper[~np.isnan(upper)]
    return float(upper.mean()) if upper.size else float("nan")


class PriceHistory(Protocol):
    """Aligned prices of `symbols` (T x N, oldest first), at most `length` rows; fewer rows
    when the history is shorter. Symbols with no history are left out of the answer."""

    def prices(self, symbols: Sequence[str], length: int) -> tuple[list[str], np.ndarray]: ...


class SampledPrices:
    """Last trade prices sampled on the clock, in memory (the stand-in for a price store)."""

    def __init__(self, clock: Clock, interval_s: float, keep: int) -> None:
        self.clock = clock
        self.interval = timedelta(seconds=interval_s)
        self.keep = keep
        self._last: dict[str, float] = {}
        self._samples: deque[dict[str, float]] = deque(maxlen=keep)
        self.on_sample: list[Callable[[], None]] = []
        self._timer: Timer | None = None

    def on_market_data(self, data: Quote | TradeTick) -> None:
        if isinstance(data, TradeTick) and data.price > 0:
            self._last[data.symbol] = float(data.price)

    def start(self) -> None:
        self._arm(self.clock.now() + self.interval)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, when: datetime) -> None:
        self._timer = self.clock.call_at(when, lambda: self._tick(when))

    def _tick(self, when: datetime) -> None:
        self.sample()
        self._arm(when + self.interval)
        for callback in self.on_sample:
            callback()

    def sample(self) -> None:
        if self._last:
            self._samples.append(dict(self._last))

    def prices(self, symbols: Sequence[str], length: int) -> tuple[list[str], np.ndarray]:
        rows = list(self._samples)[-length:]
        have = [s for s in symbols if rows and all(s in r for r in rows)]
        return have, np.array([[r[s] for s in have] for r in rows], dtype=float).reshape(
            len(rows), len(have))


@dataclass
class CorrelationWatch:
    """Which pairs (and the average) are above the threshold, rebuilt from the journal."""

    threshold: float | None  # pairwise; None: off
    average_threshold: float | None  # the average of held pairs; None: off
    window: int  # returns per computation
    above: set[str] = field(default_factory=set)  # "A/B" keys and "average"
    alerts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return self.threshold is not None or self.average_threshold is not None

    def apply(self, payload: dict[str, Any]) -> None:
        """The control handler: the same on replay and live."""
        key = payload["key"]
        if payload["crossed"] == "above":
            self.above.add(key)
        else:
            self.above.discard(key)
        self.alerts.append(payload)

    def check(self, symbols: Sequence[str], corr: np.ndarray, at: datetime
              ) -> list[dict[str, Any]]:
        """The crossings since the last check, as control-event payloads (not yet applied).
        A pair no longer held, or with no defined correlation, is left in its state."""
        crossings: list[dict[str, Any]] = []

        def crossing(key: str, value: float, threshold: float, pair: list[str]) -> None:
            if np.isnan(value):
                return
            now_above = value >= threshold
            if now_above != (key in self.above):
                crossings.append({
                    "key": key, "symbols": pair,
                    "crossed": "above" if now_above else "below",
                    "correlation": str(Decimal(repr(round(value, 6)))),
                    "threshold": str(Decimal(repr(threshold))), "window": self.window,
                    "ts": at.isoformat()})

        if self.threshold is not None:
            # Vectorised: with hundreds of symbols only the pairs that changed side are
            # visited in Python, not every pair on every sample.
            n = len(symbols)
            index = {s: i for i, s in enumerate(symbols)}
            was = np.zeros((n, n), dtype=bool)
            for key in self.above:
                a, _, b = key.partition("/")
                if a in index and b in index:
                    was[index[a], index[b]] = was[index[b], index[a]] = True
            with np.errstate(invalid="ignore"):
                now = corr >= self.threshold
            changed = (now != was) & ~np.isnan(corr)
            for i, j in zip(*np.nonzero(np.triu(changed, k=1)), strict=True):
                a, b = sorted((symbols[i], symbols[j]))
                crossing(f"{a}/{b}", float(corr[i, j]), self.threshold, [a, b])
        if self.average_threshold is not None and len(symbols) >= 2:
            crossing(AVERAGE, average_correlation(corr), self.average_threshold,
                     sorted(symbols))
        return crossings

    def crossings(self, symbols: Sequence[str], prices: np.ndarray, at: datetime
                  ) -> list[dict[str, Any]]:
        """The crossings for these prices (T x N, the last `window` returns used)."""
        return self.check(symbols, correlation(prices[-(self.window + 1):]), at)
