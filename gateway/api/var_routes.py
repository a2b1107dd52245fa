"""`GET /risk/var`: VaR and ES of the firm or one account, three ways, with components.

Positions and marks are read on the loop (a consistent snapshot); the price
history comes from PostgreSQL at each request (so history imported meanwhile is
used at once); the arithmetic runs in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Request

from gateway.api.auth import User, require
from gateway.api.context import ApiContext, context
from gateway.api.strict import StrictRoute
from gateway.price_history import aligned_returns
from risk.analytics.book import METHODS, BookVar, book_var
from risk.analytics.measures import beta, correlation_breakdown, ledoit_wolf

router = APIRouter(route_class=StrictRoute)
Ctx = Annotated[ApiContext, Depends(context)]
Reader = Annotated[User, Depends(require("read"))]

MAX_HORIZON_DAYS = 250
MIN_BETA_DAYS = 20
CENT = Decimal("0.01")
PARAMETERS = ("account", "method", "confidence", "horizon_days", "correlation_stress")


def _signed(x: float) -> str:
    return str(Decimal(repr(float(x))).quantize(CENT))


def _money(x: float) -> str:
    """A loss as a positive amount; a tail that gains nothing is a VaR of zero."""
    return _signed(max(x, 0.0))


def _book(ctx: ApiContext, account: str | None) -> dict[str, Decimal]:
    """Signed market value per symbol (mark, else average price) of the account or firm."""
    service = ctx.service
    positions = (service.account_positions(account) if account is not None
                 else service.positions.all())
    book: dict[str, Decimal] = {}
    for pos in positions:
        if pos.qty:
            px = service.mark(pos.symbol) or pos.avg_px
            book[pos.symbol] = book.get(pos.symbol, Decimal(0)) + pos.qty * px
    return {s: v for s, v in sorted(book.items()) if v}


@router.get("/risk/var")
async def risk_var(request: Request, ctx: Ctx, user: Reader, account: str | None = None,
                   method: str | None = None, confidence: float = 0.99,
                   horizon_days: int = 1, correlation_stress: float = 0.5) -> dict[str, Any]:
    # a misspelt parameter (acount=) would silently answer for the firm: refuse it
    unknown = sorted(set(request.query_params) - set(PARAMETERS))
    if unknown:
        raise HTTPException(422, f"unknown query parameter(s) {', '.join(unknown)}; known: "
                                 f"{', '.join(PARAMETERS)}")
    if method is not None and method not in METHODS:
        raise HTTPException(422, f"unknown method {method!r}: one of {', '.join(METHODS)}")
    if not 0.5 <= confidence <= 0.9999:
        raise HTTPException(422, f"confidence {confidence} is out of range: 0.5 to 0.9999 "
                                 "(0.99 is 99 %)")
    if not 1 <= horizon_days <= MAX_HORIZON_DAYS:
        raise HTTPException(422, f"horizon_days {horizon_days} is out of range: 1 to "
                                 f"{MAX_HORIZON_DAYS}")
    if not 0.0 <= correlation_stress <= 1.0:
        raise HTTPException(422, f"correlation_stress {correlation_stress} is out of range: 0 "
                                 "(correlations as measured) to 1 (all of them 1)")
    if ctx.price_history is None:
        raise HTTPException(503, "no price history store in this server")
    cfg = ctx.var
    bm = cfg.benchmark
    methods = (method,) if method else METHODS
    book = _book(ctx, account or None)
    symbols = list(book)
    gross = sum((abs(v) for v in book.values()), Decimal(0))
    closes = await ctx.price_history([*symbols, bm], cfg.history_days + 1)
    have = [s for s in symbols if len(closes.get(s, ())) >= 2]
    missing = [s for s in symbols if s not in have]
    answer: dict[str, Any] = {
        "account": account or None, "confidence": confidence, "horizon_days": horizon_days,
        "gross_exposure": str(gross.quantize(CENT)), "beta": None, "benchmark": bm,
        "benchmark_equivalent_exposure": None,
        "methods": {m: {"var": "0.00", "es": "0.00"} for m in methods},
        "components": [], "correlation_breakdown": None, "missing_history": missing,
        "history_days": 0, "notes": [],
    }
    if not have:
        if missing:
            answer["notes"].append("no symbol of the book has price history: import it with "
                                   "`fixgate prices import`")
        return answer
    values = np.array([float(book[s]) for s in have])
    with_bench = len(closes.get(bm, ())) >= 2

    def compute() -> tuple[int, BookVar | None, tuple[float, float | None] | None,
                           tuple[float, float] | None]:
        _, rets = aligned_returns(closes, have)
        if rets.shape[0] < 2:
            return rets.shape[0], None, None, None
        result = book_var(rets, values, confidence, horizon_days, methods,
                          paths=cfg.monte_carlo_paths, dist=cfg.monte_carlo_dist, df=cfg.t_df)
        # Correlation breakdown: the (zero-mean) parametric VaR with every correlation
        # pushed toward 1 (what diversification is worth when it fails, as in a crash).
        breakdown = correlation_breakdown(ledoit_wolf(rets)[0], values, correlation_stress,
                                          confidence, horizon_days)
        # beta on the dates the benchmark shares with the book, so a benchmark with a
        # short history never shortens the VaR's
        exposure = None
        if with_bench:
            cols = have if bm in have else [*have, bm]
            _, both = aligned_returns(closes, cols)
            if both.shape[0] >= MIN_BETA_DAYS:
                exposure = beta(both[:, :len(have)], both[:, cols.index(bm)], values)
        return rets.shape[0], result, exposure, breakdown

    days, result, exposure, breakdown = await asyncio.to_thread(compute)
    answer["history_days"] = days
    if result is None:
        answer["notes"].append(f"only {days} day(s) of returns common to the book's symbols")
        return answer
    answer["methods"] = {m: {"var": _money(r.var), "es": _money(r.es)}
                         for m, r in result.methods.items()}
    answer["notes"] += result.notes
    if breakdown is not None:
        base, stressed = (_money(x) for x in breakdown)
        answer["correlation_breakdown"] = {
            "correlation_stress": correlation_stress, "parametric_var": base,
            "stressed_var": stressed, "change": str(Decimal(stressed) - Decimal(base))}
    answer["components"] = [
        {"symbol": s, "component_var": _signed(c),
         "marginal_var": f"{float(m):.6f}"}
        for s, c, m in zip(have, result.component, result.marginal, strict=True)]
    if exposure is not None:
        answer["benchmark_equivalent_exposure"] = _signed(exposure[0])
        answer["beta"] = None if exposure[1] is None else round(exposure[1], 4)
    else:
        answer["notes"].append(f"beta: fewer than {MIN_BETA_DAYS} days of {bm} history shared "
                               "with the book")
    return answer
