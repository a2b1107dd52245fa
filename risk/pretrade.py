"""Pre-trade risk gate: max quantity, max notional, price collar, kill switch."""

from __future__ import annotations

from decimal import Decimal

from oms.enums import OrdRejReason, OrdType
from oms.gates import Denial, OrderContext
from risk.kill_switch import KillSwitch
from risk.limits import OrderLimits


def _fmt(value: Decimal) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"


class RiskGate:
    def __init__(self, limits: OrderLimits, kill_switch: KillSwitch) -> None:
        self.limits = limits
        self.kill_switch = kill_switch

    def check(self, ctx: OrderContext) -> Denial | None:
        order = ctx.order
        if self.kill_switch.is_engaged(order.account):
            scope = "firm-wide" if self.kill_switch.firm else f"for account {order.account}"
            return Denial(
                "kill_switch",
                f"kill switch engaged {scope}: new orders refused",
                OrdRejReason.BROKER_OPTION,
            )
        limits = self.limits
        if order.qty > limits.max_order_qty:
            return Denial(
                "max_order_qty",
                f"max order qty {_fmt(limits.max_order_qty)} exceeded: {_fmt(order.qty)}",
                OrdRejReason.ORDER_EXCEEDS_LIMIT,
            )
        ref = ctx.reference_price
        px = order.price if order.price is not None else order.stop_px
        if px is None:
            if ref is None:
                return Denial(
                    "reference_price",
                    f"market order refused: no reference price for {order.symbol}",
                    OrdRejReason.OTHER,
                )
            px = ref
        notional = px * order.qty
        if notional > limits.max_order_notional:
            return Denial(
                "max_order_notional",
                f"max order notional {_fmt(limits.max_order_notional)} exceeded: {_fmt(notional)}",
                OrdRejReason.ORDER_EXCEEDS_LIMIT,
            )
        if ref is not None:
            for label, value in (("limit price", order.price), ("stop price", order.stop_px)):
                if value is None or (label == "limit price" and order.ord_type is OrdType.MARKET):
                    continue
                deviation = abs(value - ref) / ref * 100
                if deviation > limits.price_collar_pct:
                    return Denial(
                        "price_collar",
                        f"price collar: {label} {value} is "
                        f"{deviation:.1f}% from reference {ref} "
                        f"(max {_fmt(limits.price_collar_pct)}%)",
                        OrdRejReason.OTHER,
                    )
        return None
