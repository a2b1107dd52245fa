"""What a pre-trade gate sees and how it says no.

Gates live in `compliance/` and `risk/`; the OMS runs them in order before
anything is journaled as accepted. A gate returns a `Denial` with its reason;
it never raises.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from oms.enums import OrdRejReason
from oms.instruments import Instrument
from oms.order import Order


@dataclass(frozen=True, slots=True)
class Denial:
    check: str  # machine name of the check, e.g. "max_order_notional"
    reason: str  # what the client reads in Text(58)
    ord_rej_reason: OrdRejReason = OrdRejReason.OTHER


class OrderLookup(Protocol):
    def by_cl_ord_id(self, session: str | None, cl_ord_id: str) -> Order | None: ...


@dataclass(frozen=True, slots=True)
class OrderContext:
    order: Order
    instrument: Instrument
    reference_price: Decimal | None  # last trade at the venue, else the instrument's reference
    orders: OrderLookup


class PreTradeGate(Protocol):
    def check(self, ctx: OrderContext) -> Denial | None: ...
