"""Realised volatility per symbol from the venue's trade prints, and the position
limit it implies.

Returns are sampled on a clock (at most one per `interval_s`) so a burst of
prints does not read as volatility; an EWMA of squared log returns is
annualised over a 252-day, 6.5-hour trading year.
"""

from __future__ import annotations

import math
from decimal import Decimal

SECONDS_PER_YEAR = 252 * 6.5 * 3600


class VolatilityTracker:
    def __init__(self, interval_s: float = 1.0, decay: float = 0.97) -> None:
        self.interval_s = interval_s
        self.decay = decay
        self._last: dict[str, tuple[float, float]] = {}
        self._var: dict[str, float] = {}

    def on_trade(self, symbol: str, price: Decimal, now: float) -> None:
        px = float(price)
        last = self._last.get(symbol)
        if last is None:
            self._last[symbol] = (now, px)
            return
        t0, p0 = last
        if now - t0 < self.interval_s or p0 <= 0:
            return
        r = math.log(px / p0) / math.sqrt((now - t0) / self.interval_s)
        prev = self._var.get(symbol)
        self._var[symbol] = r * r if prev is None else self.decay * prev + (1 - self.decay) * r * r
        self._last[symbol] = (now, px)

    def annualised(self, symbol: str) -> float | None:
        var = self._var.get(symbol)
        if var is None:
            return None
        return math.sqrt(var * SECONDS_PER_YEAR / self.interval_s)


def vol_adjusted_limit(limit: Decimal, reference_vol: Decimal | None,
                       realised_vol: float | None) -> Decimal:
    """Shrink a position limit when the symbol is more volatile than the reference.

    Only ever tightens: a calm market does not lift a limit an operator set.
    """
    if reference_vol is None or realised_vol is None or realised_vol <= 0:
        return limit
    scale = min(Decimal(1), reference_vol / Decimal(str(realised_vol)))
    return (limit * scale).to_integral_value(rounding="ROUND_FLOOR")
