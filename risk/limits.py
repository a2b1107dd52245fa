"""Risk limits: firm defaults from the config, per-account overrides from operators.

Every limit is optional (None: no limit). Operators' changes are journaled
control events, so the limits in force are rebuilt from the database at
start, and the journal is the audit of who changed what, when, from which
value to which. The in-memory copy is updated on each change, so a change
takes effect for the next order.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import structlog

log = structlog.get_logger("risk.limits")
KIND = "limits"
# Limit keys renamed since they were first journaled: old name -> new name.
RENAMED: dict[str, str] = {}
LOSS_ACTIONS = ("reduce", "halt")
_NOT_NULL = ("loss_action", "concentration_min_gross", "drawdown_factor")
MAX_LIMIT = Decimal(10) ** 15  # beyond any real book; keeps the arithmetic exact and printable
MAX_PLACES = 9
_WHOLE = ("max_open_orders", "messages_per_second", "price_collar_ticks", "stop_collar_ticks")
_SHARES = ("max_sector_concentration", "drawdown_factor")


@dataclass(frozen=True, slots=True)
class Limits:
    max_order_qty: Decimal | None = Decimal(100_000)
    max_order_notional: Decimal | None = Decimal(5_000_000)
    # A limit price must lie within ±pct of the reference, or within ±ticks of it,
    # whichever band is wider (the tick band keeps cheap stocks tradable).
    price_collar_pct: Decimal | None = Decimal(10)
    price_collar_ticks: int | None = 10
    stop_collar_pct: Decimal | None = Decimal(20)
    stop_collar_ticks: int | None = 20
    max_position_qty: Decimal | None = None  # per symbol, long or short, if all orders fill
    credit_limit: Decimal | None = None  # open-order notional + position notional
    max_gross_exposure: Decimal | None = None
    max_net_exposure: Decimal | None = None
    equity: Decimal | None = None  # account equity: the base of leverage
    max_leverage: Decimal | None = None
    max_sector_concentration: Decimal | None = None  # share (0-1) of gross exposure
    concentration_min_gross: Decimal = Decimal(1_000_000)  # below this, concentration is moot
    max_open_orders: int | None = None
    daily_loss_limit: Decimal | None = None  # a positive amount of currency
    loss_action: str = "halt"  # on a daily loss breach: "reduce" or "halt"
    drawdown_limit: Decimal | None = None  # from the day's P&L high-water mark
    drawdown_factor: Decimal = Decimal("0.5")  # position limits shrink to this share past it
    messages_per_second: int | None = None  # per FIX session
    reference_volatility: Decimal | None = None  # annualised; position limits scale by ref/realised

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _show(getattr(self, f.name)) for f in dataclasses.fields(self)}


LIMIT_KEYS = tuple(f.name for f in dataclasses.fields(Limits))


def _show(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


class LimitError(ValueError):
    pass


def _shown(raw: Any) -> str:
    """A value as the message shows it: short, and safe for an int of a million digits."""
    try:
        text = repr(raw)
    except ValueError:  # an int past Python's digit limit for text
        return "a number of thousands of digits"
    return text if len(text) <= 24 else f"{text[:12]}…({len(text)} characters)"


def parse_limit(key: str, raw: Any) -> Any:
    """A limit value as the API or the config gives it; LimitError says what is wrong."""
    if key not in LIMIT_KEYS:
        raise LimitError(f"unknown limit {key!r}; known: {', '.join(LIMIT_KEYS)}")
    if raw is None:
        if key in _NOT_NULL:
            raise LimitError(f"{key} cannot be null")
        return None
    if key == "loss_action":
        if raw not in LOSS_ACTIONS:
            raise LimitError(f"loss_action must be one of {', '.join(LOSS_ACTIONS)}, "
                             f"got {_shown(raw)}")
        return raw
    if isinstance(raw, bool):
        raise LimitError(f"{key} must be a number, got {_shown(raw)}")
    if not isinstance(raw, str | int | float | Decimal):
        raise LimitError(f"{key} must be a number, got {type(raw).__name__}")
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise LimitError(f"{key} must be a number, got {_shown(raw)}") from None
    if not value.is_finite() or value < 0:
        raise LimitError(f"{key} must be a non-negative number, got {_shown(raw)}")
    if value > MAX_LIMIT:
        raise LimitError(f"{key} must be at most {MAX_LIMIT:,}, got {_shown(raw)}")
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_PLACES:
        # 1e-999999 as equity would overflow the leverage division on every order.
        raise LimitError(f"{key} has more than {MAX_PLACES} decimal places: {_shown(raw)}")
    if key in _SHARES and value > 1:
        raise LimitError(f"{key} is a share between 0 and 1, got {_shown(raw)}")
    if key in _WHOLE:
        if value != value.to_integral_value():
            raise LimitError(f"{key} must be a whole number, got {_shown(raw)}")
        return int(value)
    return value


def parse_limits(raw: dict[str, Any]) -> dict[str, Any]:
    return {key: parse_limit(key, value) for key, value in raw.items()}


class LimitsBook:
    """The limits in force for each account: firm defaults overlaid with its overrides."""

    def __init__(self, defaults: Limits | None = None) -> None:
        self.defaults = defaults or Limits()
        self.overrides: dict[str, dict[str, Any]] = {}
        self._cache: dict[str, Limits] = {}

    def for_account(self, account: str) -> Limits:
        limits = self._cache.get(account)
        if limits is None:
            limits = dataclasses.replace(self.defaults, **self.overrides.get(account, {}))
            self._cache[account] = limits
        return limits

    def change_event(self, account: str, raw: dict[str, Any], by: str) -> dict[str, Any]:
        """The control event for an operator's change: validated, with old and new values."""
        if not raw:
            raise LimitError("no limits given")
        new = parse_limits(raw)
        current = self.for_account(account)
        return {"account": account, "by": by,
                "changes": {k: [_show(getattr(current, k)), _show(v)] for k, v in new.items()}}

    def apply(self, payload: dict[str, Any]) -> None:
        """Apply a journaled change. Events outlive code: a key renamed since is read by
        its new name, and one no longer known is skipped (with a warning), so an old
        journal never stops the server from starting."""
        account = payload["account"]
        changes = {}
        for key, (_old, new) in payload["changes"].items():
            key = RENAMED.get(key, key)
            try:
                changes[key] = parse_limit(key, new)
            except LimitError as exc:
                log.warning("journaled limit change skipped", account=account, key=key,
                            error=str(exc))
        self.overrides.setdefault(account, {}).update(changes)
        self._cache.pop(account, None)
