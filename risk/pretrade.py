"""Pre-trade risk gate: the SEC 15c3-5 / MiFID II RTS 6 controls on every order.

Order of checks: kill switch, account state, message throttle, per-order
limits (quantity, notional, price collars, reference price), then per-account
limits (open orders, position, credit, gross/net exposure, leverage, sector
concentration). Each denial names the check and the limit, e.g. "max order
notional 5,000,000 exceeded: 7,250,000".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

from oms.enums import OrdRejReason, OrdType
from oms.gates import REPLACE, AccountView, Denial, OrderContext
from oms.order import Order
from risk.accounts import AccountState, AccountStates
from risk.kill_switch import KillSwitch
from risk.limits import Limits, LimitsBook
from risk.throttle import Throttle
from risk.volatility import VolatilityTracker, vol_adjusted_limit

EXCEEDS = OrdRejReason.ORDER_EXCEEDS_LIMIT
ZERO = Decimal(0)


def fmt(value: Decimal | int) -> str:
    """1234567.5 -> '1,234,567.5': limits as a person reads them."""
    if isinstance(value, int) or value == value.to_integral_value():
        return f"{int(value):,}"
    return f"{value:,.4f}".rstrip("0").rstrip(".")


def _over(name: str, limit: Decimal | int, value: Decimal | int, note: str = "") -> Denial:
    return Denial(name, f"{name.replace('_', ' ')} {fmt(limit)} exceeded: {fmt(value)}{note}",
                  EXCEEDS)


class RiskGate:
    def __init__(
        self,
        limits: LimitsBook | Limits,
        kill_switch: KillSwitch,
        states: AccountStates | None = None,
        *,
        throttle: Throttle | None = None,
        volatility: VolatilityTracker | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits if isinstance(limits, LimitsBook) else LimitsBook(limits)
        self.kill_switch = kill_switch
        self.states = states or AccountStates()
        self.throttle = throttle or Throttle()
        self.replace_throttle = Throttle()  # replaces count against their own window
        self.volatility = volatility
        self.clock = clock

    def check(self, ctx: OrderContext) -> Denial | None:
        order = ctx.order
        replace = ctx.intent == REPLACE
        scope = self.kill_switch.engaged_for(order.account, order.session)
        if scope is not None:
            what = "replaces" if replace else "new orders"
            return Denial("kill_switch", f"kill switch engaged {scope}: {what} refused",
                          OrdRejReason.BROKER_OPTION)
        limits = self.limits.for_account(order.account)
        state = self.states.get(order.account)
        if state is AccountState.HALTED:
            reason = self.states.reasons.get(order.account) or "halted by risk"
            return Denial("account_halted", f"account {order.account} is HALTED ({reason})",
                          OrdRejReason.BROKER_OPTION)
        throttle = self.replace_throttle if replace else self.throttle
        if (limits.messages_per_second is not None and order.session is not None
                and not throttle.admit(order.session, limits.messages_per_second,
                                       self.clock())):
            what = "replaces" if replace else "messages"
            return Denial("messages_per_second", f"message throttle: more than "
                          f"{limits.messages_per_second} {what} per second on this session",
                          EXCEEDS)
        ref = ctx.reference_price
        px = order.price if order.price is not None else order.stop_px
        if px is None:
            if ref is None:
                return Denial("reference_price", f"market order refused: no reference price "
                              f"for {order.symbol}", OrdRejReason.OTHER)
            px = ref
        denial = self._per_order(order, limits, ref, px, ctx)
        if denial is None and ctx.account is not None:
            if state is AccountState.REDUCING and not _reduces(order, ctx.working_qty,
                                                               ctx.account):
                return Denial("account_reducing", f"account {order.account} is REDUCING: only "
                              "orders that reduce a position are accepted",
                              OrdRejReason.BROKER_OPTION)
            denial = self._per_account(order, limits, px, ctx, ctx.account)
        return denial

    def _per_order(self, order: Order, limits: Limits, ref: Decimal | None, px: Decimal,
                   ctx: OrderContext) -> Denial | None:
        if limits.max_order_qty is not None and order.qty > limits.max_order_qty:
            return _over("max_order_qty", limits.max_order_qty, order.qty)
        notional = px * order.qty
        if limits.max_order_notional is not None and notional > limits.max_order_notional:
            return _over("max_order_notional", limits.max_order_notional, notional)
        if ref is None:
            return None
        tick = ctx.instrument.tick_size if ctx.instrument else Decimal("0.01")
        for label, value, pct, ticks in (
            ("limit price", order.price, limits.price_collar_pct, limits.price_collar_ticks),
            ("stop price", order.stop_px, limits.stop_collar_pct, limits.stop_collar_ticks),
        ):
            if value is None or pct is None or order.ord_type is OrdType.MARKET:
                continue
            band = max(ref * pct / 100, tick * (ticks or 0))
            if abs(value - ref) > band:
                deviation = abs(value - ref) / ref * 100
                return Denial("price_collar", f"price collar: {label} {value} is "
                              f"{deviation:.1f}% from reference {ref} (max {fmt(pct)}% or "
                              f"{ticks or 0} ticks)", OrdRejReason.OTHER)
        return None

    def _per_account(self, order: Order, limits: Limits, px: Decimal, ctx: OrderContext,
                     view: AccountView) -> Denial | None:
        account, symbol = order.account, order.symbol
        qty = ctx.working_qty  # a replace: its new leaves (the old are out of the view)
        if limits.max_open_orders is not None:
            open_orders = view.open_order_count(account) + 1
            if open_orders > limits.max_open_orders:
                return _over("max_open_orders", limits.max_open_orders, open_orders)
        signed = qty if order.side.is_buy else -qty
        position = view.position_qty(account, symbol)
        if limits.max_position_qty is not None:
            cap = self._position_cap(limits, account, symbol)
            working = view.working(account, symbol)
            if order.side.is_buy:
                worst, side = position + working.buy_qty + qty, "long"
            else:
                worst, side = -(position - working.sell_qty - qty), "short"
            if worst > cap:
                note = "" if cap == limits.max_position_qty else f" (limit scaled from " \
                    f"{fmt(limits.max_position_qty)})"
                return _over("max_position_qty", cap, worst,
                             f" {side} if all working orders fill{note}")
        needs_exposure = any(v is not None for v in (
            limits.credit_limit, limits.max_gross_exposure, limits.max_net_exposure,
            limits.max_leverage, limits.max_sector_concentration))
        if not needs_exposure:
            return None
        sector = view.sector(symbol)
        gross_now = net_now = sector_now = ZERO
        for pos in view.account_positions(account):
            value = pos.qty * (view.mark(pos.symbol) or pos.avg_px)
            gross_now += abs(value)
            net_now += value
            if view.sector(pos.symbol) == sector:
                sector_now += abs(value)
        # Held shares at the mark, the new order at its own price: what it would cost.
        before = position * (view.mark(symbol) or px)
        after = before + signed * px
        gross = gross_now - abs(before) + abs(after)
        net = net_now - before + after
        sector_gross = sector_now - abs(before) + abs(after)
        if limits.credit_limit is not None:
            used = view.open_order_notional(account) + gross_now + qty * px
            if used > limits.credit_limit:
                return _over("credit_limit", limits.credit_limit, used)
        if limits.max_gross_exposure is not None and gross > limits.max_gross_exposure:
            return _over("max_gross_exposure", limits.max_gross_exposure, gross)
        if limits.max_net_exposure is not None and abs(net) > limits.max_net_exposure:
            return _over("max_net_exposure", limits.max_net_exposure, abs(net))
        if limits.max_leverage is not None and limits.equity:
            leverage = gross / limits.equity
            if leverage > limits.max_leverage:
                return _over("max_leverage", limits.max_leverage, leverage.quantize(
                    Decimal("0.01")), f" (gross {fmt(gross)} on equity {fmt(limits.equity)})")
        if (limits.max_sector_concentration is not None
                and gross >= limits.concentration_min_gross and gross > 0):
            share = sector_gross / gross
            if share > limits.max_sector_concentration:
                return Denial("max_sector_concentration", f"max sector concentration "
                              f"{limits.max_sector_concentration:.0%} exceeded: {sector} would "
                              f"be {share:.1%} of gross exposure {fmt(gross)}", EXCEEDS)
        return None

    def _position_cap(self, limits: Limits, account: str, symbol: str) -> Decimal:
        cap = limits.max_position_qty
        assert cap is not None
        if self.volatility is not None:
            cap = vol_adjusted_limit(cap, limits.reference_volatility,
                                     self.volatility.annualised(symbol))
        if account in self.states.in_drawdown:
            cap = (cap * limits.drawdown_factor).to_integral_value(rounding="ROUND_FLOOR")
        return cap


def _reduces(order: Order, qty: Decimal, view: AccountView) -> bool:
    """Would this order, with the account's other working orders, only shrink the position?"""
    position = view.position_qty(order.account, order.symbol)
    working = view.working(order.account, order.symbol)
    if order.side.is_buy:
        return position < 0 and working.buy_qty + qty <= -position
    return position > 0 and working.sell_qty + qty <= position
