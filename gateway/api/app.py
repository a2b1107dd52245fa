"""The REST API application. Handlers stay thin: read through `service.durable`,
act through OrderService commands or journaled control events, and answer
every error with a readable detail.

The API runs on the OMS event loop (uvicorn in-process), so handlers call the
service directly.
"""

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordRequestForm

from gateway.api.auth import TokenService, User, require
from gateway.api.compliance_routes import router as compliance_router
from gateway.api.context import ApiContext, context
from gateway.api.risk_routes import router as risk_router
from gateway.api.risk_routes import wait_until_canceled
from gateway.api.stress_routes import router as stress_router
from gateway.api.strict import StrictRoute, clean_parameters, safe_for_json
from gateway.api.trading_day_routes import router as trading_day_router
from gateway.api.var_routes import router as var_router
from oms.commands import CancelOrder
from oms.enums import OrdStatus
from oms.order import Order
from oms.service import JournalUnavailable, OrderService

log = structlog.get_logger("api")
Ctx = Annotated[ApiContext, Depends(context)]
Reader = Annotated[User, Depends(require("read"))]


def _order_detail(order: Order, service: OrderService) -> dict[str, Any]:
    out = order.to_dict()
    out["fills"] = [{"exec_id": f.exec_id, "last_qty": str(f.last_qty),
                     "last_px": str(f.last_px), "ts": f.ts.isoformat(),
                     "venue_trade_id": f.venue_trade_id, "venue": f.venue or order.venue,
                     "fee": str(f.fee)} for f in order.fills]
    if order.algo is not None:
        out["algo"] = order.algo
        out["children"] = [{"order_id": c.order_id, "venue": c.venue, "qty": str(c.qty),
                            "price": _str(c.price), "status": c.status.value,
                            "status_name": c.status.name, "cum_qty": str(c.cum_qty),
                            "avg_px": str(c.avg_px), "text": c.text}
                           for c in service.store.children(order.order_id)]
        out.update(service.execution.quality(order))
        routings = service.execution.routing(order.order_id)
        if routings:  # the best-execution record; then any re-routing of what was not filled
            out["routing"], out["reroutes"] = routings[0], routings[1:]
    return out


def create_app(ctx: ApiContext) -> FastAPI:
    # Every route parses its JSON body strictly and refuses text the journal cannot
    # store in a path or query parameter (gateway/api/strict.py): a 422, never a 500.
    app = FastAPI(title="fixgate", version="0.1.0",
                  description="Operator API of the fixgate execution gateway.",
                  dependencies=[Depends(clean_parameters)])
    app.router.route_class = StrictRoute
    app.state.ctx = ctx
    app.state.tokens = TokenService(ctx.config, ctx.jwt_secret)
    app.include_router(risk_router)
    app.include_router(compliance_router)
    app.include_router(trading_day_router)
    app.include_router(stress_router)
    app.include_router(var_router)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # A sentence for the operator, the structured list for programs.
        # The input echoed back may hold anything the client sent: make it renderable.
        errors = safe_for_json(list(exc.errors()))
        return JSONResponse({"detail": _validation_words(errors),
                             "errors": safe_for_json(jsonable_encoder(errors))},
                            status_code=422)

    @app.exception_handler(JournalUnavailable)
    async def journal_down(request: Request, exc: JournalUnavailable) -> JSONResponse:
        log.error("api request refused: journal unavailable", path=request.url.path,
                  error=str(exc))
        return JSONResponse({"detail": "gateway journal unavailable: nothing can be confirmed "
                             "durable, try again later"}, status_code=503)

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
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong username or password",
                                headers={"WWW-Authenticate": "Bearer"})
        return {"access_token": tokens.issue(user), "token_type": "bearer",
                "expires_in": ctx.config.token_ttl_s}

    @app.get("/instruments")
    async def instruments(ctx: Ctx, user: Reader) -> list[dict[str, Any]]:
        service, halted = ctx.service, ctx.desk.status.halted
        return await service.durable(lambda: [
            {"symbol": i.symbol, "sector": i.sector, "reference_price": str(i.reference_price),
             "last_price": _str(service.reference_price(i.symbol)),
             "tick_size": str(i.tick_size), "lot_size": str(i.lot_size),
             "halted": i.symbol in halted} for i in service.universe])

    @app.get("/orders")
    async def orders(ctx: Ctx, user: Reader,
                     status_: Annotated[list[str] | None, Query(alias="status")] = None,
                     account: str | None = None,
                     symbol: str | None = None,
                     parent_id: str | None = None,
                     include_children: bool = False) -> list[dict[str, Any]]:
        if status_:
            known = {s.value for s in OrdStatus} | {s.name for s in OrdStatus}
            bad = [s for s in status_ if s not in known]
            if bad:
                raise HTTPException(422, f"unknown status {', '.join(bad)}: use a FIX OrdStatus "
                                    "code (0, 1, 2, 4, 8, …) or name (NEW, FILLED, …)")
        service = ctx.service
        return await service.durable(lambda: [
            o.to_dict() for o in service.list_orders(
                status=status_, account=account, symbol=symbol, parent_id=parent_id,
                include_children=include_children)])

    @app.get("/orders/{order_id}")
    async def order(order_id: str, ctx: Ctx, user: Reader) -> dict[str, Any]:
        found = ctx.service.orders.get(order_id)
        if found is None:
            raise HTTPException(404, f"unknown order {order_id}")
        return await ctx.service.durable(lambda: _order_detail(found, ctx.service))

    @app.post("/orders/{order_id}/cancel")
    async def cancel(order_id: str, ctx: Ctx,
                     user: Annotated[User, Depends(require("trade_ops"))]) -> JSONResponse:
        service = ctx.service
        found = service.orders.get(order_id)
        if found is None:
            raise HTTPException(404, f"unknown order {order_id}")
        if found.status.is_terminal:
            raise HTTPException(409, f"order {order_id} is already {found.status.name.lower()}")
        if found.is_pending_request:
            kind = "cancel" if found.status is OrdStatus.PENDING_CANCEL else "replace"
            raise HTTPException(409, f"order {order_id} already has a {kind} pending")
        service.cancel(CancelOrder(cl_ord_id="", order_id=order_id, session=None,
                                   requested_by=f"api:{user.name}",
                                   reason=f"canceled by operator {user.name}"))
        done = await wait_until_canceled(service, [found])
        snapshot = await service.durable(lambda: (found.status, found.to_dict()))
        if not done:
            return JSONResponse(snapshot[1], status_code=202)
        if snapshot[0] is not OrdStatus.CANCELED:
            return JSONResponse({"detail": _not_canceled(order_id, snapshot[0]),
                                 "order": snapshot[1]}, status_code=409)
        return JSONResponse(snapshot[1])

    @app.get("/positions")
    async def positions(ctx: Ctx, user: Reader,
                        account: str | None = None) -> list[dict[str, Any]]:
        service = ctx.service
        return await service.durable(lambda: [
            {"account": p.account, "symbol": p.symbol, "qty": str(p.qty),
             "avg_px": str(p.avg_px), "realized_pnl": str(p.realized_pnl)}
            for p in service.positions.all() if account is None or p.account == account])

    @app.get("/runtime")
    async def runtime(ctx: Ctx, user: Reader) -> dict[str, Any]:
        """The process as an operator watches it: garbage-collection pauses, orders held."""
        service = ctx.service
        return {"orders": len(service.orders), "working_orders": len(service.working_orders()),
                "journal_seq": service.queue.committed_seq, "gc": ctx.runtime()}

    @app.get("/venues")
    async def venues(ctx: Ctx, user: Reader) -> list[dict[str, Any]]:
        """Each configured venue, in config order: the first is where unpinned orders go."""
        return [{"name": name,
                 "kind": ctx.venue_kinds.get(name) or getattr(venue, "kind", "unknown"),
                 "status": str(getattr(venue, "status", "up")),
                 "since": _utc(getattr(venue, "status_since", None))}
                for name, venue in ctx.service.venues.items()]

    @app.get("/sessions")
    async def sessions(ctx: Ctx, user: Reader) -> list[dict[str, Any]]:
        return ctx.sessions()

    return app


def _validation_words(errors: Sequence[Any]) -> str:
    parts = []
    for e in errors:
        where = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


def _not_canceled(order_id: str, now: OrdStatus) -> str:
    word = now.name.lower().replace("_", " ")
    if now.is_terminal:
        return f"order {order_id} was {word} before the cancel took effect"
    return f"the venue refused to cancel order {order_id}; it is still {word}"


def _utc(ts: datetime | None) -> str | None:
    return None if ts is None else ts.astimezone(UTC).isoformat()


def _str(value: object) -> str | None:
    return None if value is None else str(value)
