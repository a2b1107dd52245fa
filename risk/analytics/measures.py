"""Value at Risk and Expected Shortfall three ways, their decomposition, beta, shrinkage.

Arrays in, numbers out: no files, no database, no clock. Conventions, everywhere:

- `returns` is a (T, N) array of daily simple returns, oldest first, one column per
  position; `values` is the (N,) signed market value of each position (currency).
  A scenario's P&L is `returns @ values` (positions held at today's value).
- VaR and ES are returned as positive losses in currency; a book that cannot lose
  (all P&L positive in the tail) has a VaR of zero or less, reported as is.
- Horizon: parametric and Monte Carlo scale the one-day distribution by the square
  root of time (mean by `h`, deviation by `sqrt(h)`); historical simulation uses
  overlapping `h`-day sums of the daily P&L (no scaling assumption, fewer
  independent scenarios).
- Historical order statistic: of `n` scenario losses, VaR is the k-th worst with
  `k = max(1, floor(n * (1 - confidence)))` and ES is the mean of the k worst (so ES >= VaR).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
_N = NormalDist()


@dataclass(frozen=True)
class VarResult:
    var: float  # a positive loss, currency
    es: float   # expected shortfall (CVaR): mean loss beyond VaR, currency


def _check(confidence: float, horizon_days: int) -> None:
    if not 0.5 <= confidence < 1.0:
        raise ValueError(f"confidence must be in [0.5, 1), got {confidence}")
    if horizon_days < 1:
        raise ValueError(f"horizon_days must be at least 1, got {horizon_days}")


def tail_count(n: int, confidence: float) -> int:
    """How many of n scenarios lie in the tail: the rank of the VaR order statistic."""
    return max(1, math.floor(n * (1.0 - confidence) + 1e-9))


def var_es_from_pnl(pnl: Array, confidence: float) -> VarResult:
    """VaR/ES of an empirical P&L sample (historical or simulated scenarios)."""
    losses = -np.asarray(pnl, dtype=np.float64)
    if losses.size == 0:
        raise ValueError("no scenarios")
    k = tail_count(losses.size, confidence)
    worst = np.partition(losses, losses.size - k)[losses.size - k:]  # the k largest losses
    return VarResult(var=float(worst.min()), es=float(worst.mean()))


def horizon_pnl(daily_pnl: Array, horizon_days: int) -> Array:
    """Overlapping h-day P&L sums of a daily P&L series."""
    if horizon_days == 1:
        return np.asarray(daily_pnl, dtype=np.float64)
    c = np.concatenate(([0.0], np.cumsum(daily_pnl, dtype=np.float64)))
    return c[horizon_days:] - c[:-horizon_days]


def historical_var(returns: Array, values: Array, confidence: float = 0.99,
                   horizon_days: int = 1) -> VarResult:
    """Historical simulation: today's book through every past day's returns."""
    _check(confidence, horizon_days)
    pnl = np.asarray(returns, dtype=np.float64) @ np.asarray(values, dtype=np.float64)
    scen = horizon_pnl(pnl, horizon_days)
    if scen.size == 0:
        raise ValueError(f"{len(pnl)} days of history are too few for a {horizon_days}-day "
                         "horizon")
    return var_es_from_pnl(scen, confidence)


def _moments(x: Array) -> tuple[float, float]:
    """Sample skewness and excess kurtosis (population moments)."""
    d = x - x.mean()
    m2 = float(np.mean(d * d))
    if m2 <= 0:
        return 0.0, 0.0
    return float(np.mean(d**3)) / m2**1.5, float(np.mean(d**4)) / m2**2 - 3.0


def cornish_fisher_z(z: float, skew: float, exkurt: float) -> float:
    """The Cornish-Fisher adjusted standard-normal quantile (z is a lower-tail quantile)."""
    return (z + (z * z - 1) * skew / 6 + (z**3 - 3 * z) * exkurt / 24
            - (2 * z**3 - 5 * z) * skew * skew / 36)


def parametric_var(mean: Array, cov: Array, values: Array, confidence: float = 0.99,
                   horizon_days: int = 1, *, skew: float = 0.0,
                   exkurt: float = 0.0) -> VarResult:
    """Variance-covariance VaR/ES of a linear book: P&L ~ N(h mu_p, h sigma_p^2).

    With `skew`/`exkurt` (of the portfolio's daily P&L) non-zero the quantile is
    Cornish-Fisher adjusted, and ES is the average of the adjusted quantiles over
    the tail (midpoint rule, 2,000 levels).
    """
    _check(confidence, horizon_days)
    w = np.asarray(values, dtype=np.float64)
    mu = float(np.asarray(mean, dtype=np.float64) @ w) * horizon_days
    sigma = math.sqrt(max(float(w @ np.asarray(cov, dtype=np.float64) @ w), 0.0))
    sigma *= math.sqrt(horizon_days)
    alpha = 1.0 - confidence
    if skew == 0.0 and exkurt == 0.0:
        z = _N.inv_cdf(alpha)  # negative
        return VarResult(var=-(mu + z * sigma), es=-mu + sigma * _N.pdf(z) / alpha)
    z = cornish_fisher_z(_N.inv_cdf(alpha), skew, exkurt)
    levels = (np.arange(2000) + 0.5) / 2000 * alpha
    zs = np.array([cornish_fisher_z(_N.inv_cdf(float(u)), skew, exkurt) for u in levels])
    return VarResult(var=-(mu + z * sigma), es=-(mu + float(zs.mean()) * sigma))


def parametric_from_history(returns: Array, values: Array, confidence: float = 0.99,
                            horizon_days: int = 1, *, cornish_fisher: bool = False,
                            shrink: bool = True) -> VarResult:
    """Parametric VaR with moments estimated from `returns` (Ledoit-Wolf covariance)."""
    r = np.asarray(returns, dtype=np.float64)
    cov = ledoit_wolf(r)[0] if shrink else np.cov(r, rowvar=False, bias=True)
    skew = exkurt = 0.0
    if cornish_fisher:
        skew, exkurt = _moments(r @ np.asarray(values, dtype=np.float64))
    return parametric_var(r.mean(axis=0), np.atleast_2d(cov), values, confidence, horizon_days,
                          skew=skew, exkurt=exkurt)


def cholesky_psd(cov: Array) -> Array:
    """A factor L with L L' = cov, for a covariance that may be only semi-definite."""
    c = np.atleast_2d(np.asarray(cov, dtype=np.float64))
    try:
        return np.asarray(np.linalg.cholesky(c), dtype=np.float64)
    except np.linalg.LinAlgError:
        vals, vecs = np.linalg.eigh(c)
        return np.asarray(vecs * np.sqrt(np.clip(vals, 0.0, None)), dtype=np.float64)


def monte_carlo_var(mean: Array, cov: Array, values: Array, confidence: float = 0.99,
                    horizon_days: int = 1, *, paths: int = 100_000, seed: int = 0,
                    dist: str = "normal", df: float = 5.0, chunk: int = 20_000) -> VarResult:
    """Monte Carlo VaR/ES from correlated one-day return paths r = mu + s L z.

    `dist="normal"`: s = 1; `dist="t"`: multivariate Student-t with `df` degrees of
    freedom, s = sqrt((df - 2) / chi2_df) so the covariance is still `cov`.
    The portfolio P&L of a path is w.r = w.mu + s (L'w).z, so the (N x N) product
    per path is never formed; draws go in chunks of `chunk` paths (bounded memory).
    Seeded: the same seed gives the same answer.
    """
    _check(confidence, horizon_days)
    if dist not in ("normal", "t"):
        raise ValueError(f"dist must be 'normal' or 't', got {dist!r}")
    if dist == "t" and df <= 2:
        raise ValueError("a Student-t needs df > 2 for a finite variance")
    w = np.asarray(values, dtype=np.float64)
    b = cholesky_psd(cov).T @ w
    mu = float(np.asarray(mean, dtype=np.float64) @ w)
    rng = np.random.default_rng(seed)
    pnl = np.empty(paths)
    for start in range(0, paths, chunk):
        m = min(chunk, paths - start)
        x = rng.standard_normal((m, b.size)) @ b
        if dist == "t":
            x *= np.sqrt((df - 2.0) / rng.chisquare(df, m))
        pnl[start:start + m] = x
    pnl = mu * horizon_days + pnl * math.sqrt(horizon_days)
    return var_es_from_pnl(pnl, confidence)


@dataclass(frozen=True)
class Decomposition:
    marginal: Array   # dVaR/dvalue_i: VaR added per unit of currency in position i
    component: Array  # value_i * marginal_i; sums to the (parametric) VaR


def component_var(cov: Array, values: Array, confidence: float = 0.99,
                  horizon_days: int = 1, mean: Array | None = None) -> Decomposition:
    """Euler decomposition of the parametric VaR, -h mu_p + z sqrt(h) sigma_p:
    marginal_i = -h mu_i + z sqrt(h) (Sigma w)_i / sigma_p (zero mean when `mean` is None)."""
    _check(confidence, horizon_days)
    w = np.asarray(values, dtype=np.float64)
    sw = np.atleast_2d(np.asarray(cov, dtype=np.float64)) @ w
    sigma = math.sqrt(max(float(w @ sw), 0.0))
    drift = np.zeros_like(w) if mean is None else -horizon_days * np.asarray(mean, np.float64)
    if sigma == 0.0:
        return Decomposition(drift, w * drift)
    marginal = drift - _N.inv_cdf(1.0 - confidence) * math.sqrt(horizon_days) * sw / sigma
    return Decomposition(marginal=marginal, component=w * marginal)


def ledoit_wolf(returns: Array) -> tuple[Array, float]:
    """Ledoit-Wolf (2004) shrinkage of the sample covariance toward a scaled identity.

    Returns (covariance, shrinkage in [0, 1]). Same estimator as scikit-learn's
    `ledoit_wolf` (centred data, sample covariance with 1/n): target mu I with
    mu = tr(S)/p, shrinkage = min(b2, d2) / d2 where d2 = ||S - mu I||^2 and
    b2 = (1/n^2) sum_k ||x_k x_k' - S||^2 (Frobenius norms).
    """
    x = np.asarray(returns, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    n, p = x.shape
    x = x - x.mean(axis=0)
    s = x.T @ x / n
    mu = float(np.trace(s)) / p
    d2 = float(np.sum((s - mu * np.eye(p)) ** 2))
    if d2 == 0.0 or n < 2:
        return s, 0.0
    x2 = x * x
    # sum_k ||x_k x_k'||^2 = sum_k (x_k.x_k)^2 = ||X2' X2|| summed; the cross term is -n||S||^2
    b2 = (float(np.sum(x2.T @ x2)) / n - float(np.sum(s * s))) / n
    shrinkage = min(b2, d2) / d2
    return (1.0 - shrinkage) * s + shrinkage * mu * np.eye(p), shrinkage


def beta(returns: Array, benchmark: Array, values: Array) -> tuple[float, float | None]:
    """(benchmark-equivalent exposure, beta) of a book against a benchmark's returns.

    The exposure is cov(P&L, r_b) / var(r_b): the currency amount of the benchmark
    whose P&L moves like the book's. Beta is that over the book's net value
    (None when the net value is zero: a beta of a flat book means nothing).
    """
    r = np.asarray(returns, dtype=np.float64)
    rb = np.asarray(benchmark, dtype=np.float64)
    w = np.asarray(values, dtype=np.float64)
    pnl = r @ w
    var_b = float(np.var(rb))
    if var_b == 0.0:
        raise ValueError("the benchmark's returns do not vary")
    exposure = float(np.mean((pnl - pnl.mean()) * (rb - rb.mean()))) / var_b
    net = float(w.sum())
    return exposure, (exposure / net if net else None)


def correlation_breakdown(cov: Array, values: Array, factor: float, confidence: float = 0.99,
                          horizon_days: int = 1) -> tuple[float, float]:
    """(base VaR, VaR with every correlation pushed toward 1): rho' = rho + factor (1 - rho).

    Zero-mean parametric VaR, volatilities unchanged; factor 1 makes every pair
    perfectly correlated, 0 changes nothing.
    """
    if not 0.0 <= factor <= 1.0:
        raise ValueError(f"factor must be in [0, 1], got {factor}")
    c = np.atleast_2d(np.asarray(cov, dtype=np.float64))
    vol = np.sqrt(np.clip(np.diag(c), 0.0, None))
    safe = np.where(vol > 0, vol, 1.0)
    corr = c / np.outer(safe, safe)
    stressed = corr + factor * (1.0 - corr)
    np.fill_diagonal(stressed, 1.0)
    mean = np.zeros(c.shape[0])
    base = parametric_var(mean, c, values, confidence, horizon_days).var
    high = parametric_var(mean, stressed * np.outer(vol, vol), values, confidence,
                          horizon_days).var
    return base, high
