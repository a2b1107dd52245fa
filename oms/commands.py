"""Commands: what a FIX client, an operator or an agent asks the OMS to do.

Fields arrive as the caller sent them (side, order type and time in force as
FIX codes) so that one validator turns every bad value into a readable reject,
whichever door the order came through.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class AlgoRequest:
    """The algorithm tags as the client sent them (text, so that a bad one is named)."""

    target_strategy: str | None = None  # TargetStrategy(847)
    effective_time: str | None = None  # EffectiveTime(168)
    expire_time: str | None = None  # ExpireTime(126)
    participation_rate: str | None = None  # ParticipationRate(849)
    max_participation: str | None = None  # MaxParticipation(9849)


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitOrder:
    cl_ord_id: str
    account: str
    symbol: str
    side: str
    ord_type: str
    qty: Decimal
    time_in_force: str = "0"
    price: Decimal | None = None
    stop_px: Decimal | None = None
    session: str | None = None
    venue: str | None = None
    algo: AlgoRequest | None = None  # worked by an algorithm (TargetStrategy(847) and its tags)
    expire_time: datetime | None = None  # ExpireTime(126), GTD
    expire_date: date | None = None  # ExpireDate(432), GTD: expires at that date's close
    exec_inst: str = ""  # ExecInst(18): 'a' trailing stop peg
    peg_offset: Decimal | None = None  # PegOffsetValue(211)
    peg_offset_type: str = ""  # PegOffsetType(836): 0 price (default), 1 basis points


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelOrder:
    cl_ord_id: str
    orig_cl_ord_id: str | None = None
    order_id: str | None = None
    session: str | None = None
    requested_by: str = ""
    reason: str = "canceled on request"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplaceOrder:
    cl_ord_id: str
    qty: Decimal
    orig_cl_ord_id: str | None = None
    order_id: str | None = None
    price: Decimal | None = None
    stop_px: Decimal | None = None
    ord_type: str | None = None
    side: str | None = None
    symbol: str | None = None
    session: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusRequest:
    cl_ord_id: str | None = None
    order_id: str | None = None
    session: str | None = None
    symbol: str = ""  # echoed when the order is unknown
    side: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class MassCancel:
    """OrderMassCancelRequest(q): the session's own working orders, all or one symbol."""

    cl_ord_id: str
    session: str | None
    request_type: str = "7"  # MassCancelRequestType(530): 1 by symbol, 7 all orders
    symbol: str | None = None
