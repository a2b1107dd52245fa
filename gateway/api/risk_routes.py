"""Risk endpoints: account limits, account risk and state, the kill switch."""

import asyncio
import time
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict

from gateway.api.auth import User, require
from gateway.api.context import ApiContext, context
from gateway.api.strict import StrictRoute
from oms.enums import OrdStatus
from oms.order import Order
from oms.service import OrderService
from risk import limits
from risk.accounts import AccountState
from risk.limits import LimitError

router = APIRouter(route_class=StrictRoute)
Ctx = Annotated[ApiContext, Depends(context)]
Reader = Annotated[User, Depends(require("read"))]
RiskEditor = Annotated[User, Depends(require("risk_edit"))]
KillSwitcher = Annotated[User, Depends(require("kill_switch"))]
CANCEL_WAIT_S = 5.0


async def wait_until_canceled(service: OrderService, orders: list[Order]) -> bool:
    """Wait (bounded) until no order is still pending cancel; True when all answered."""
    deadline = time.monotonic() + CANCEL_WAIT_S
    while True:
        await service.barrier()
        if all(o.status is not OrdStatus.PENDING_CANCEL for o in orders):
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.001)


@router.get("/accounts/{account}/limits")
async def get_limits(account: str, ctx: Ctx, user: Reader) -> dict[str, Any]:
    return await ctx.service.durable(lambda: ctx.desk.limits.for_account(account).to_dict())


@router.put("/accounts/{account}/limits")
async def put_limits(account: str, body: dict[str, Any], ctx: Ctx,
                     user: RiskEditor) -> dict[str, Any]:
    try:
        event = ctx.desk.limits.change_event(account, body, user.name)
    except LimitError as exc:
        raise HTTPException(422, str(exc)) from None
    except ArithmeticError:
        raise HTTPException(422, "a limit value is out of range") from None
    await ctx.service.apply_control(limits.KIND, event)
    return ctx.desk.limits.for_account(account).to_dict()


@router.get("/accounts/{account}/risk")
async def account_risk(account: str, ctx: Ctx, user: Reader) -> dict[str, Any]:
    service, desk = ctx.service, ctx.desk
    lim = desk.limits.for_account(account)
    realised, unrealised = ctx.monitor.account_pnl(account)
    day_pnl = ctx.monitor.day_pnl(account)  # what the daily loss limit is measured on
    gross = net = Decimal(0)
    for pos in service.account_positions(account):
        value = pos.qty * (service.mark(pos.symbol) or pos.avg_px)
        gross += abs(value)
        net += value
    open_notional = service.open_order_notional(account)
    usage = {
        "credit_limit": open_notional + gross,
        "max_gross_exposure": gross,
        "max_net_exposure": abs(net),
        "max_open_orders": service.open_order_count(account),
        "daily_loss_limit": max(Decimal(0), -day_pnl),
    }
    if lim.equity:
        usage["max_leverage"] = (gross / lim.equity).quantize(Decimal("0.0001"))
    return await service.durable(lambda: {
        "account": account,
        "state": desk.states.get(account).value,
        "state_reason": desk.states.reasons.get(account, ""),
        "realized_pnl": str(realised),
        "unrealized_pnl": str(unrealised),
        "total_pnl": str(realised + unrealised),
        "day_pnl": str(day_pnl),
        "high_water_pnl": str(desk.states.high_water.get(account, Decimal(0))),
        "in_drawdown": account in desk.states.in_drawdown,
        "gross_exposure": str(gross),
        "net_exposure": str(net),
        "open_orders": service.open_order_count(account),
        "open_order_notional": str(open_notional),
        "kill_switch": desk.kill_switch.is_engaged(account),
        "limit_usage": {k: {"used": str(v), "limit": lim.to_dict()[k]} for k, v in usage.items()},
    })


@router.get("/risk")
async def firm_risk(ctx: Ctx, user: Reader) -> dict[str, Any]:
    """Real-time P&L and state of every account with a position, and the firm's total."""
    service, desk = ctx.service, ctx.desk
    held = sorted({p.account for p in service.positions.all()} | set(desk.states.states))
    rows, realised_total, unrealised_total = [], Decimal(0), Decimal(0)
    for account in held:
        realised, unrealised = ctx.monitor.account_pnl(account)
        realised_total += realised
        unrealised_total += unrealised
        rows.append({"account": account, "state": desk.states.get(account).value,
                     "realized_pnl": str(realised), "unrealized_pnl": str(unrealised),
                     "total_pnl": str(realised + unrealised)})
    return await service.durable(lambda: {
        "realized_pnl": str(realised_total), "unrealized_pnl": str(unrealised_total),
        "total_pnl": str(realised_total + unrealised_total), "accounts": rows,
        "kill_switch": desk.kill_switch.state()})


class StateChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: AccountState = AccountState.ACTIVE
    reason: str = ""


@router.post("/accounts/{account}/state")
async def set_state(account: str, change: StateChange, ctx: Ctx,
                    user: RiskEditor) -> dict[str, Any]:
    canceled = await ctx.desk.set_account_state(account, change.state,
                                                change.reason or f"set by {user.name}",
                                                user.name)
    await wait_until_canceled(ctx.service, canceled)
    return {"account": account, "state": ctx.desk.states.get(account).value,
            "canceled": len(canceled)}


class KillSwitchScope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: str | None = None
    session: str | None = None


@router.get("/kill-switch")
async def kill_switch_state(ctx: Ctx, user: Reader) -> dict[str, Any]:
    return await ctx.service.durable(ctx.desk.kill_switch.state)


@router.post("/kill-switch")
async def engage(scope: KillSwitchScope, ctx: Ctx, user: KillSwitcher) -> dict[str, Any]:
    if scope.account and scope.session:
        raise HTTPException(422, "give an account or a session, not both")
    started = time.perf_counter()
    canceled = await ctx.desk.engage_kill_switch(scope.account, scope.session, user.name)
    all_done = await wait_until_canceled(ctx.service, canceled)
    return {"engaged": True, "account": scope.account, "session": scope.session,
            "canceled": len(canceled), "all_canceled_at_venue": all_done,
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 3),
            "state": ctx.desk.kill_switch.state()}


@router.delete("/kill-switch")
async def release(ctx: Ctx, user: KillSwitcher,
                  scope: KillSwitchScope | None = None) -> dict[str, Any]:
    scope = scope or KillSwitchScope()
    await ctx.desk.release_kill_switch(scope.account, scope.session, user.name)
    return {"engaged": False, "account": scope.account, "session": scope.session,
            "state": ctx.desk.kill_switch.state()}
