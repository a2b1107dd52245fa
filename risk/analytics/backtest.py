"""VaR backtesting: exceptions of a rolling forecast, Kupiec, Christoffersen, Basel zone.

Arrays in, numbers out. `rolling_backtest` forecasts each day's VaR of an
equal-weighted, daily rebalanced portfolio from the previous `window` days only
and counts the days whose loss exceeded it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from risk.analytics.measures import (
    Array,
    cholesky_psd,
    ledoit_wolf,
    parametric_var,
    var_es_from_pnl,
)

METHODS = ("historical", "parametric", "monte_carlo")


def chi2_1_sf(x: float) -> float:
    """P(X > x) for a chi-squared variable with one degree of freedom."""
    return math.erfc(math.sqrt(max(x, 0.0) / 2.0))


def _xlogy(x: float, y: float) -> float:
    return 0.0 if x == 0 else x * math.log(y)


def kupiec_pof(observations: int, exceptions: int, confidence: float) -> tuple[float, float]:
    """Kupiec's proportion-of-failures test: (LR statistic, p-value), chi2(1) under H0."""
    n, x, p = observations, exceptions, 1.0 - confidence
    if n <= 0 or not 0 <= x <= n:
        raise ValueError("need 0 <= exceptions <= observations and observations > 0")
    phat = x / n
    lr = -2.0 * (_xlogy(n - x, 1 - p) + _xlogy(x, p)
                 - _xlogy(n - x, 1 - phat) - _xlogy(x, phat))
    return lr, chi2_1_sf(lr)


def christoffersen_independence(hits: Array) -> tuple[float, float]:
    """Christoffersen's (1998) independence test on a 0/1 exception series: (LR, p-value).

    H0: an exception today is as likely after an exception yesterday as after none
    (first-order Markov alternative), chi2(1).
    """
    h = np.asarray(hits, dtype=bool)
    prev, cur = h[:-1], h[1:]
    n00 = int(np.sum(~prev & ~cur))
    n01 = int(np.sum(~prev & cur))
    n10 = int(np.sum(prev & ~cur))
    n11 = int(np.sum(prev & cur))
    total = n00 + n01 + n10 + n11
    if total == 0:
        return 0.0, 1.0
    pi = (n01 + n11) / total
    pi0 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi1 = n11 / (n10 + n11) if n10 + n11 else 0.0
    restricted = _xlogy(n00 + n10, 1 - pi) + _xlogy(n01 + n11, pi)
    free = (_xlogy(n00, 1 - pi0) + _xlogy(n01, pi0)
            + _xlogy(n10, 1 - pi1) + _xlogy(n11, pi1))
    lr = max(-2.0 * (restricted - free), 0.0)
    return lr, chi2_1_sf(lr)


def binomial_cdf(x: int, n: int, p: float) -> float:
    """P(X <= x), X ~ Binomial(n, p), summed in log space (n in the thousands is fine)."""
    if x < 0:
        return 0.0
    if x >= n:
        return 1.0
    lp, lq = math.log(p), math.log1p(-p)
    terms = [math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * lp
             + (n - k) * lq for k in range(x + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def basel_zone(observations: int, exceptions: int, confidence: float = 0.99) -> str:
    """Basel traffic light: green while P(X <= exceptions) < 95 %, yellow below 99.99 %,
    red from there (X binomial at the model's own exception rate). At 250 days and
    99 % this is the Basel table: green 0-4, yellow 5-9, red 10 or more."""
    cum = binomial_cdf(exceptions, observations, 1.0 - confidence)
    return "green" if cum < 0.95 else "yellow" if cum < 0.9999 else "red"


@dataclass
class MethodBacktest:
    observations: int
    exceptions: int
    kupiec_p: float
    christoffersen_p: float
    zone: str
    hits: Array

    def to_dict(self) -> dict[str, int | float | str]:
        return {"observations": self.observations, "exceptions": self.exceptions,
                "kupiec_p": round(self.kupiec_p, 4),
                "christoffersen_p": round(self.christoffersen_p, 4), "zone": self.zone}


def rolling_backtest(returns: Array, first: int, confidence: float = 0.99, window: int = 250,
                     *, paths: int = 10_000, seed: int = 0) -> dict[str, MethodBacktest]:
    """Backtest each method on days `first`..T-1 of `returns` (T, N), from `window` days back.

    The book is equal-weighted (1/N of one unit of currency per symbol). Parametric
    and Monte Carlo use the Ledoit-Wolf covariance and sample mean of the window;
    Monte Carlo draws one seeded normal sample and reuses it every day (common random
    numbers: day-to-day changes come from the data, not the draw).
    """
    r = np.asarray(returns, dtype=np.float64)
    t_all, n = r.shape
    if first < window:
        raise ValueError(f"need {window} days of history before the first day, have {first}")
    w = np.full(n, 1.0 / n)
    z = np.random.default_rng(seed).standard_normal((paths, n))
    realised = r @ w
    hits = {m: np.zeros(t_all - first, dtype=bool) for m in METHODS}
    for i, t in enumerate(range(first, t_all)):
        hist = r[t - window:t]
        loss = -realised[t]
        hits["historical"][i] = loss > var_es_from_pnl(hist @ w, confidence).var
        cov, _ = ledoit_wolf(hist)
        mean = hist.mean(axis=0)
        hits["parametric"][i] = loss > parametric_var(mean, cov, w, confidence).var
        sim = float(mean @ w) + z @ (cholesky_psd(cov).T @ w)
        hits["monte_carlo"][i] = loss > var_es_from_pnl(sim, confidence).var
    out = {}
    for m, h in hits.items():
        obs, exc = int(h.size), int(h.sum())
        out[m] = MethodBacktest(obs, exc, kupiec_pof(obs, exc, confidence)[1],
                                christoffersen_independence(h)[1],
                                basel_zone(obs, exc, confidence), h)
    return out
