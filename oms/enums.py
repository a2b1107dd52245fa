"""FIX vocabulary as enums whose values are the FIX wire values.

Keeping the wire value as the enum value means mapping to and from FIX is a
lookup, and a trader reading a journal row sees the same codes as in a FIX log.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Side(StrEnum):
    BUY = "1"
    SELL = "2"
    SELL_SHORT = "5"

    @property
    def is_buy(self) -> bool:
        return self is Side.BUY

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class OrdType(StrEnum):
    MARKET = "1"
    LIMIT = "2"
    STOP = "3"
    STOP_LIMIT = "4"

    @property
    def needs_price(self) -> bool:
        return self in (OrdType.LIMIT, OrdType.STOP_LIMIT)

    @property
    def needs_stop_px(self) -> bool:
        return self in (OrdType.STOP, OrdType.STOP_LIMIT)


class TimeInForce(StrEnum):
    DAY = "0"
    GTC = "1"
    IOC = "3"
    FOK = "4"
    GTD = "6"  # with ExpireTime(126) or ExpireDate(432)


class OrdStatus(StrEnum):
    """OrdStatus(39)."""

    PENDING_NEW = "A"
    NEW = "0"
    PARTIALLY_FILLED = "1"
    FILLED = "2"
    CANCELED = "4"
    PENDING_CANCEL = "6"
    REJECTED = "8"
    PENDING_REPLACE = "E"
    EXPIRED = "C"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL  # on every order event: a set lookup, not a tuple build


_TERMINAL = frozenset({OrdStatus.FILLED, OrdStatus.CANCELED, OrdStatus.REJECTED,
                       OrdStatus.EXPIRED})


class ExecType(StrEnum):
    """ExecType(150), FIX 4.4 values (FIX 4.2 differences are handled in the FIX mapping)."""

    NEW = "0"
    CANCELED = "4"
    REPLACED = "5"
    PENDING_CANCEL = "6"
    REJECTED = "8"
    PENDING_REPLACE = "E"
    EXPIRED = "C"
    TRADE = "F"
    ORDER_STATUS = "I"


class OrdRejReason(IntEnum):
    """OrdRejReason(103)."""

    BROKER_OPTION = 0
    UNKNOWN_SYMBOL = 1
    EXCHANGE_CLOSED = 2
    ORDER_EXCEEDS_LIMIT = 3
    TOO_LATE_TO_ENTER = 4
    UNKNOWN_ORDER = 5
    DUPLICATE_ORDER = 6
    STALE_ORDER = 8
    INVALID_PRICE_INCREMENT = 18
    INCORRECT_QUANTITY = 13
    UNSUPPORTED_ORDER_CHARACTERISTIC = 11
    OTHER = 99


class CxlRejReason(IntEnum):
    """CxlRejReason(102)."""

    TOO_LATE_TO_CANCEL = 0
    UNKNOWN_ORDER = 1
    BROKER_OPTION = 2
    ALREADY_PENDING = 3
    DUPLICATE_CLORDID = 6
    OTHER = 99


class CxlRejResponseTo(StrEnum):
    """CxlRejResponseTo(434): which request an OrderCancelReject answers."""

    CANCEL = "1"
    REPLACE = "2"
