"""Stress tests and correlation alerts: POST /risk/stress, GET /risk/scenarios,
GET /risk/alerts. They change nothing, so any authenticated user may call them; the
computation runs in a worker thread on a snapshot of the book taken on the loop."""

import asyncio
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from gateway.api.auth import User, require
from gateway.api.context import ApiContext, context
from gateway.api.strict import StrictRoute
from gateway.stress import StressDesk, shipped
from risk import stress
from risk.stress import StressError

router = APIRouter(route_class=StrictRoute)
Ctx = Annotated[ApiContext, Depends(context)]
Reader = Annotated[User, Depends(require("read"))]


class LiquidityRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_adv_share: float = Field(0.1, gt=0, le=1)
    impact_coefficient: float | None = Field(None, ge=0, le=100)


class StressRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scenario: str | None = None
    shocks: dict[str, Any] | None = None
    account: str | None = None
    liquidity: LiquidityRequest | None = None


def _desk(ctx: ApiContext) -> StressDesk:
    if ctx.stress is None:
        raise HTTPException(503, "stress testing is not wired in this server")
    return ctx.stress


@router.get("/risk/scenarios")
async def scenarios(ctx: Ctx, user: Reader) -> list[dict[str, str]]:
    return [s.listing() for s in _desk(ctx).scenarios.values()]


@router.get("/risk/alerts")
async def alerts(ctx: Ctx, user: Reader) -> dict[str, Any]:
    desk = _desk(ctx)
    return await ctx.service.durable(lambda: {
        "correlation_threshold": desk.watch.threshold,
        "average_correlation_threshold": desk.watch.average_threshold,
        "correlation_window": desk.watch.window,
        "above": sorted(desk.watch.above),
        "alerts": desk.alerts()})


@router.post("/risk/stress")
async def run_stress(body: StressRequest, ctx: Ctx, user: Reader) -> dict[str, Any]:
    desk = _desk(ctx)
    if (body.scenario is None) == (body.shocks is None):
        raise HTTPException(422, "give a scenario (one of GET /risk/scenarios) or shocks "
                                 "({\"AAPL\": -0.2, \"sector:Energy\": -0.3, \"market\": -0.1}), "
                                 "exactly one of them")
    shocks = None
    if body.scenario is not None:
        scenario = desk.scenarios.get(body.scenario)
        if scenario is None:
            raise HTTPException(422, f"unknown scenario {body.scenario!r}; known: "
                                     f"{', '.join(sorted(desk.scenarios))}")
    else:
        try:
            shocks = stress.parse_shocks(body.shocks or {},
                                         known_sectors=set(desk.sector_of.values()),
                                         known_symbols=desk.known_symbols())
        except StressError as exc:
            raise HTTPException(422, str(exc)) from None
    holdings = desk.holdings(body.account)  # a snapshot, on the loop
    sector_of = desk.sector_of
    coefficient = desk.config.impact_coefficient
    if body.liquidity is not None and body.liquidity.impact_coefficient is not None:
        coefficient = body.liquidity.impact_coefficient

    def compute() -> dict[str, Any]:
        if shocks is None:
            result = stress.replay(desk.scenarios[body.scenario or ""], holdings, sector_of)
        else:
            result = stress.apply_shocks(shocks, holdings, sector_of)
        out = result.to_dict()
        out["account"] = body.account
        out["scenario"] = body.scenario
        if body.liquidity is not None:
            rows = stress.liquidity(holdings, shipped().liquidity,
                                    body.liquidity.max_adv_share, coefficient)
            out["liquidity"] = {
                "max_adv_share": body.liquidity.max_adv_share,
                "impact_coefficient": coefficient, "adv_asof": shipped().liquidity_asof,
                "cost": str(sum((r.cost for r in rows if r.cost is not None),
                                start=Decimal(0))),
                "positions": [r.to_dict() for r in rows]}
        return out

    try:
        return await asyncio.to_thread(compute)
    except StressError as exc:
        raise HTTPException(422, str(exc)) from None
