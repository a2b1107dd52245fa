"""Pre-trade compliance gate: is this order allowed at all?

First version: unknown symbol and duplicate ClOrdID on the session. Later
checks (restricted lists, locates, wash trades, trading hours) join here.
"""

from __future__ import annotations

from oms.enums import OrdRejReason
from oms.gates import Denial, OrderContext


class ComplianceGate:
    def check(self, ctx: OrderContext) -> Denial | None:
        order = ctx.order
        earlier = ctx.orders.by_cl_ord_id(order.session, order.cl_ord_id)
        if earlier is not None and earlier.order_id != order.order_id:
            return Denial(
                "duplicate_cl_ord_id",
                f"duplicate ClOrdID(11) {order.cl_ord_id} on this session "
                f"(already used by order {earlier.order_id})",
                OrdRejReason.DUPLICATE_ORDER,
            )
        return None
