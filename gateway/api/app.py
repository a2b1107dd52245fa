"""The REST API application. Handlers stay thin: read through `service.durable`,
act through OrderService commands, answer every error with a readable detail.

The API runs on the OMS event loop (uvicorn in-process), so handlers call the
service directly.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict

from gateway.api.auth import TokenService, User, require
from gateway.config import ApiConfig
from oms.commands import CancelOrder
from oms.enums import OrdStatus
from oms.order import Order
from oms.service import OrderService
from risk import kill_switch as ks_mod
from risk.kill_switch import KillSwitch

log = structlog.get_logger("api")
CANCEL_WAIT_S = 2.0


@dataclass
class ApiContext:
    service: OrderService
    config: ApiConfig
    jwt_secret: str
    kill_switch: KillSwitch
    sessions: Callable[[], list[dict[str, Any]]]


class KillSwitchScope(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: str | None = None


def _order_detail(order: Order) -> dict[str, Any]:
    out = order.to_dict()
    out["fills"] = [
        {
            "exec_id": f.exec_id,
            "last_qty": str(f.last_qty),
            "last_px": str(f.last_px),
            "ts": f.ts.isoformat(),
            "venue_trade_id": f.venue_trade_id,
        }
        for f in order.fills
    ]
    return out


def create_app(ctx: ApiContext) -> FastAPI:
    app = FastAPI(
        title="fixgate",
        version="0.1.0",
        description="Operator API of the fixgate execution gateway.",
    )
    app.state.tokens = TokenService(ctx.config, ctx.jwt_secret)
    service = ctx.service
    reader = require("read")

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("api handler failed", path=request.url.path)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/auth/token")
    async def token(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict[str, Any]:
        tokens: TokenService = app.state.tokens
        # PBKDF2 verification is deliberately slow: keep it off the event loop.
        user = await asyncio.to_thread(tokens.authenticate, form.username, form.password)
        if user is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "wrong username or password",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return {
            "access_token": tokens.issue(user),
            "token_type": "bearer",
            "expires_in": ctx.config.token_ttl_s,
        }

    @app.get("/instruments")
    async def instruments(user: Annotated[User, Depends(reader)]) -> list[dict[str, Any]]:
        return [
            {
                "symbol": i.symbol,
                "sector": i.sector,
                "reference_price": str(i.reference_price),
                "last_price": _str(service.reference_price(i.symbol)),
                "tick_size": str(i.tick_size),
                "lot_size": str(i.lot_size),
            }
            for i in service.universe
        ]

    @app.get("/orders")
    async def orders(
        user: Annotated[User, Depends(reader)],
        status_: Annotated[list[str] | None, Query(alias="status")] = None,
        account: str | None = None,
        symbol: str | None = None,
    ) -> list[dict[str, Any]]:
        if status_:
            known = {s.value for s in OrdStatus} | {s.name for s in OrdStatus}
            bad = [s for s in status_ if s not in known]
            if bad:
                raise HTTPException(
                    422,
                    f"unknown status {', '.join(bad)}: use a FIX OrdStatus "
                    "code (0, 1, 2, 4, 8, …) or name (NEW, FILLED, …)",
                )
        return await service.durable(
            lambda: [
                o.to_dict()
                for o in service.list_orders(status=status_, account=account, symbol=symbol)
            ]
        )

    @app.get("/orders/{order_id}")
    async def order(order_id: str, user: Annotated[User, Depends(reader)]) -> dict[str, Any]:
        found = service.orders.get(order_id)
        if found is None:
            raise HTTPException(404, f"unknown order {order_id}")
        return await service.durable(lambda: _order_detail(found))

    @app.post("/orders/{order_id}/cancel")
    async def cancel(
        order_id: str, user: Annotated[User, Depends(require("trade_ops"))]
    ) -> JSONResponse:
        found = service.orders.get(order_id)
        if found is None:
            raise HTTPException(404, f"unknown order {order_id}")
        if found.status.is_terminal:
            raise HTTPException(409, f"order {order_id} is already {found.status.name.lower()}")
        if found.is_pending_request:
            raise HTTPException(
                409, f"order {order_id} already has a {found.status.name.lower()} request"
            )
        service.cancel(
            CancelOrder(
                cl_ord_id="",
                order_id=order_id,
                session=None,
                requested_by=f"api:{user.name}",
                reason=f"canceled by operator {user.name}",
            )
        )
        deadline = asyncio.get_running_loop().time() + CANCEL_WAIT_S
        while True:
            snapshot = await service.durable(lambda: (found.status, found.to_dict()))
            if snapshot[0] is not OrdStatus.PENDING_CANCEL:
                break
            if asyncio.get_running_loop().time() > deadline:
                return JSONResponse(snapshot[1], status_code=202)
            await asyncio.sleep(0.005)
        if snapshot[0] is not OrdStatus.CANCELED:
            return JSONResponse(
                {
                    "detail": f"cancel not done: {found.text or 'venue refused'}",
                    "order": snapshot[1],
                },
                status_code=409,
            )
        return JSONResponse(snapshot[1])

    @app.get("/positions")
    async def positions(
        user: Annotated[User, Depends(reader)], account: str | None = None
    ) -> list[dict[str, Any]]:
        return await service.durable(
            lambda: [
                {
                    "account": p.account,
                    "symbol": p.symbol,
                    "qty": str(p.qty),
                    "avg_px": str(p.avg_px),
                    "realized_pnl": str(p.realized_pnl),
                }
                for p in service.positions.all()
                if account is None or p.account == account
            ]
        )

    @app.get("/sessions")
    async def sessions(user: Annotated[User, Depends(reader)]) -> list[dict[str, Any]]:
        return ctx.sessions()

    @app.get("/kill-switch")
    async def kill_switch_state(user: Annotated[User, Depends(reader)]) -> dict[str, Any]:
        return ctx.kill_switch.state()

    @app.post("/kill-switch")
    async def engage(
        scope: KillSwitchScope, user: Annotated[User, Depends(require("kill_switch"))]
    ) -> dict[str, Any]:
        service.record_control(ks_mod.KIND, KillSwitch.event(scope.account, True, user.name))
        where = f"account {scope.account}" if scope.account else "the firm"
        canceled = service.cancel_all(
            scope.account, reason=f"kill switch engaged for {where} by {user.name}", by=user.name
        )
        await service.barrier()
        return {
            "engaged": True,
            "account": scope.account,
            "canceled": len(canceled),
            "state": ctx.kill_switch.state(),
        }

    @app.delete("/kill-switch")
    async def release(
        user: Annotated[User, Depends(require("kill_switch"))], scope: KillSwitchScope | None = None
    ) -> dict[str, Any]:
        scope = scope or KillSwitchScope()
        service.record_control(ks_mod.KIND, KillSwitch.event(scope.account, False, user.name))
        await service.barrier()
        return {"engaged": False, "account": scope.account, "state": ctx.kill_switch.state()}

    return app


def _str(value: object) -> str | None:
    return None if value is None else str(value)
