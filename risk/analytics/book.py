"""One book's VaR report: every requested method, decomposition and beta, from arrays.

What `GET /risk/var` computes (in a worker thread); pure, so it is tested alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from risk.analytics.measures import (
    Array,
    VarResult,
    beta,
    component_var,
    historical_var,
    ledoit_wolf,
    monte_carlo_var,
    parametric_var,
)

METHODS = ("historical", "parametric", "monte_carlo")
MC_SEED = 20_260_101  # fixed: the same book and history give the same answer


@dataclass
class BookVar:
    methods: dict[str, VarResult]
    marginal: Array
    component: Array
    beta: float | None = None
    benchmark_exposure: float | None = None
    notes: list[str] = field(default_factory=list)


def book_var(returns: Array, values: Array, confidence: float, horizon_days: int,
             methods: tuple[str, ...] = METHODS, benchmark: Array | None = None, *,
             paths: int = 50_000, dist: str = "normal", df: float = 5.0) -> BookVar:
    """VaR/ES of positions `values` (N,) over daily `returns` (T, N), T >= 2.

    Parametric and Monte Carlo use the sample mean and the Ledoit-Wolf covariance
    of the same history; components are the Euler split of the parametric VaR.
    """
    r = np.asarray(returns, dtype=np.float64)
    w = np.asarray(values, dtype=np.float64)
    cov, _ = ledoit_wolf(r)
    mean = r.mean(axis=0)
    out: dict[str, VarResult] = {}
    notes = []
    for m in methods:
        if m == "historical":
            if r.shape[0] - horizon_days + 1 < 20:
                notes.append(f"historical: {r.shape[0]} days of history are too few for "
                             f"{horizon_days}-day scenarios")
                continue
            out[m] = historical_var(r, w, confidence, horizon_days)
        elif m == "parametric":
            out[m] = parametric_var(mean, cov, w, confidence, horizon_days)
        elif m == "monte_carlo":
            out[m] = monte_carlo_var(mean, cov, w, confidence, horizon_days, paths=paths,
                                     seed=MC_SEED, dist=dist, df=df)
        else:
            raise ValueError(f"unknown method {m!r}")
    d = component_var(cov, w, confidence, horizon_days, mean)
    result = BookVar(out, d.marginal, d.component, notes=notes)
    if benchmark is not None:
        result.benchmark_exposure, result.beta = beta(r, benchmark, w)
    return result
