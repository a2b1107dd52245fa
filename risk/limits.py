"""Firm-wide per-order limits (per-account limits come with the risk issue)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class OrderLimits:
    max_order_qty: Decimal = Decimal(100_000)
    max_order_notional: Decimal = Decimal(5_000_000)
    price_collar_pct: Decimal = Decimal(10)  # limit/stop price within ±N% of the reference
