"""What the API handlers work with, and how they reach it from a request."""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request

from compliance.desk import RiskDesk
from gateway.config import ApiConfig, VarConfig
from gateway.stress import StressDesk
from oms.service import OrderService
from risk.monitor import RiskMonitor


@dataclass
class ApiContext:
    service: OrderService
    config: ApiConfig
    jwt_secret: str
    desk: RiskDesk
    monitor: RiskMonitor
    sessions: Callable[[], list[dict[str, Any]]]
    runtime: Callable[[], dict[str, Any]] = dict  # the process: GC pauses, orders in memory
    venue_kinds: dict[str, str] = field(default_factory=dict)  # venue name -> config kind
    stress: StressDesk | None = None  # stress tests and correlation alerts
    # (symbols, closes) -> {symbol: [(date, close)]}: the price history store (GET /risk/var)
    price_history: Callable[[Sequence[str], int], Awaitable[dict[str, Any]]] | None = None
    var: VarConfig = field(default_factory=VarConfig)


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx
