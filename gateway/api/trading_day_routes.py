"""The trading day: what the calendar says, and the operator's forced close."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from gateway.api.auth import User, require
from gateway.api.context import ApiContext, context
from gateway.api.strict import StrictRoute

router = APIRouter(route_class=StrictRoute)
Ctx = Annotated[ApiContext, Depends(context)]
Reader = Annotated[User, Depends(require("read"))]
DayCloser = Annotated[User, Depends(require("trading_day"))]


@router.get("/trading-day")
async def trading_day(ctx: Ctx, user: Reader) -> dict[str, Any]:
    day = ctx.service.trading_day

    def read() -> dict[str, Any]:
        calendar = day.calendar
        date, close = calendar.next_close(day.clock.now(), day.last_closed)
        return {"date": date.isoformat(), "close": close.isoformat(),
                "last_closed": day.last_closed.isoformat() if day.last_closed else None,
                "open_now": calendar.is_open(day.clock.now()),
                "calendar": calendar.describe()}
    return await ctx.service.durable(read)


@router.post("/trading-day/close")
async def close_trading_day(ctx: Ctx, user: DayCloser) -> dict[str, str]:
    """Roll the trading day now: Day orders expire, day_closed is journaled; answered
    once that is durable."""
    date = ctx.service.trading_day.close_now()
    await ctx.service.barrier()
    return {"date": date.isoformat()}
