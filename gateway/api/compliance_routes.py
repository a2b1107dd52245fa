"""Compliance endpoints: restricted and watch lists, locates, instrument halts."""

import asyncio
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from compliance import lists
from compliance.lists import InstrumentStatus, Locates, RestrictedList
from gateway.api.auth import User, require
from gateway.api.context import ApiContext, context
from gateway.api.strict import StrictRoute

router = APIRouter(route_class=StrictRoute)
Ctx = Annotated[ApiContext, Depends(context)]
Reader = Annotated[User, Depends(require("read"))]
Editor = Annotated[User, Depends(require("compliance_edit"))]


class ListEntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    symbol: str = Field(min_length=1, max_length=32)
    account: str | None = None
    kind: Literal["restricted", "watch"] = "restricted"


class LocateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: str = Field(min_length=1)
    symbol: str = Field(min_length=1)
    qty: Decimal = Field(ge=0)


class HaltIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    halted: StrictBool  # "yes" or 1 is a typo, not a halt
    reason: str = ""


@router.get("/restricted-list")
async def restricted_list(ctx: Ctx, user: Reader) -> list[dict[str, Any]]:
    return await ctx.service.durable(
        lambda: [e.to_dict() for e in ctx.desk.restricted.entries()])


@router.post("/restricted-list", status_code=201)
async def add_restricted(body: ListEntryIn | list[ListEntryIn], ctx: Ctx,
                         user: Editor) -> dict[str, Any]:
    """One entry, or a list of them in one call (a whole list loaded at once)."""
    entries = body if isinstance(body, list) else [body]
    # The last word on each (account, symbol) wins, as in a file; what is left commutes, so
    # the whole list is journaled together and committed at once, not one commit an entry.
    last = {(e.account or None, e.symbol): e for e in entries}
    await asyncio.gather(*(
        ctx.service.apply_control(lists.RESTRICTED_KIND,
                                  RestrictedList.event(e.symbol, e.account, e.kind, user.name))
        for e in last.values()))
    return {"added": len(entries), "size": len(ctx.desk.restricted)}


@router.delete("/restricted-list/{symbol}")
async def remove_restricted(symbol: str, ctx: Ctx, user: Editor,
                            account: str | None = None) -> dict[str, Any]:
    if not ctx.desk.restricted.has(account, symbol):
        whose = f" for account {account}" if account else " firm-wide"
        raise HTTPException(404, f"{symbol} is not on the list{whose}")
    await ctx.service.apply_control(lists.RESTRICTED_KIND,
                                    RestrictedList.event(symbol, account, None, user.name))
    return {"removed": symbol, "account": account, "size": len(ctx.desk.restricted)}


@router.get("/locates")
async def get_locates(ctx: Ctx, user: Reader) -> list[dict[str, str]]:
    return await ctx.service.durable(ctx.desk.locates.entries)


@router.post("/locates", status_code=201)
async def add_locate(body: LocateIn, ctx: Ctx, user: Editor) -> dict[str, str]:
    if body.symbol not in ctx.service.universe:
        raise HTTPException(422, f"unknown symbol {body.symbol!r}")
    await ctx.service.apply_control(lists.LOCATE_KIND,
                                    Locates.event(body.account, body.symbol, body.qty, user.name))
    return {"account": body.account, "symbol": body.symbol, "qty": str(body.qty)}


@router.put("/instruments/{symbol}/status")
async def set_status(symbol: str, body: HaltIn, ctx: Ctx, user: Editor) -> dict[str, Any]:
    if symbol not in ctx.service.universe:
        raise HTTPException(404, f"unknown symbol {symbol!r}")
    await ctx.service.apply_control(
        lists.STATUS_KIND, InstrumentStatus.event(symbol, body.halted, body.reason, user.name))
    return {"symbol": symbol, "halted": symbol in ctx.desk.status.halted,
            "reason": ctx.desk.status.halted.get(symbol, "")}
