"""`GET /risk/var`: VaR and ES of the firm or one account, three ways, with components.

Positions and marks are read on the loop (a consistent snapshot); the price
history comes from PostgreSQL at each request (so history imported meanwhile is
used at once); the arithmetic runs in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, HTTPException

from gateway.api.auth import User, require
from gateway.api.context import ApiContext, context
from gateway.api.strict import StrictRoute
from gateway.price_history import aligned_returns
from risk.analytics.book import METHODS, book_var

router = APIRouter(route_class=StrictRoute)
Ctx = Annotated[ApiContext, Depends(context)]
Reader = Annotated[User, Depends(require("read"))]

MAX_HORIZON_DAYS = 250
CENT = Decimal("0.01")
PriceLoader = Callable[[Sequence[str], int], Awaitable[dict[str, Any]]]


def _money(x: float) -> str:
    return str(Decimal(repr(max(x, 0.0))).quantize(CENT))


def _book(ctx: ApiContext, account: str | None) -> dict[str, Decimal]:
    """Signed market value per symbol (mark, else average price) of the account or firm."""
    service = ctx.service
    positions = (service.account_positions(account) if account is not None
                 else service.store.positions.all())
    book: dict[str, Decimal] = {}
    for pos in positions:
        if pos.qty:
            px = service.mark(pos.symbol) or pos.avg_px
            book[pos.symbol] = book.get(pos.symbol, Decimal(0)) + pos.qty * px
    return {s: v for s, v in sorted(book.items()) if v}


@router.get("/risk/var")
async def risk_var(ctx: Ctx, user: Reader, account: str | None = None,
                   method: str | None = None, confidence: float = 0.99,
                   horizon_days: int = 1) -> dict[str, Any]:
    if method is not None and method not in METHODS:
        raise HTTPException(422, f"unknown method {method!r}: one of {', '.join(METHODS)}")
    if not 0.5 <= confidence <= 0.9999:
        raise HTTPException(422, f"confidence {confidence} is out of range: 0.5 to 0.9999 "
                                 "(0.99 is 99 %)")
    if not 1 <= horizon_days <= MAX_HORIZON_DAYS:
        raise HTTPException(422, f"horizon_days {horizon_days} is out of range: 1 to "
                                 f"{MAX_HORIZON_DAYS}")
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
        "components": [], "missing_history": missing, "history_days": 0, "notes": [],
    }
    if not have:
        if missing:
            answer["notes"].append("no symbol of the book has price history: import it with "
                                   "`fixgate prices import`")
        return answer
    with_bench = len(closes.get(bm, ())) >= 2 and bm not in have
    columns = [*have, bm] if with_bench else have
    values = np.array([float(book[s]) for s in have])

    def compute() -> tuple[int, Any]:
        _, rets = aligned_returns(closes, columns)
        if rets.shape[0] < 2:
            return rets.shape[0], None
        bench = rets[:, -1] if with_bench else (
            rets[:, have.index(bm)] if bm in have else None)
        return rets.shape[0], book_var(rets[:, :len(have)], values, confidence, horizon_days,
                                       methods, bench, paths=cfg.monte_carlo_paths,
                                       dist=cfg.monte_carlo_dist, df=cfg.t_df)

    days, result = await asyncio.to_thread(compute)
    answer["history_days"] = days
    if result is None:
        answer["notes"].append(f"only {days} day(s) of returns common to the book's symbols")
        return answer
    answer["methods"] = {m: {"var": _money(r.var), "es": _money(r.es)}
                         for m, r in result.methods.items()}
    answer["notes"] += result.notes
    answer["components"] = [
        {"symbol": s, "component_var": str(Decimal(repr(float(c))).quantize(CENT)),
         "marginal_var": f"{float(m):.6f}"}
        for s, c, m in zip(have, result.component, result.marginal, strict=True)]
    if result.beta is not None:
        answer["beta"] = round(result.beta, 4)
    if result.benchmark_exposure is not None:
        answer["benchmark_equivalent_exposure"] = _money(abs(result.benchmark_exposure)) \
            if result.benchmark_exposure >= 0 else "-" + _money(-result.benchmark_exposure)
    return answer
