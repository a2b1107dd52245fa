"""Pre-trade compliance gate: is this order allowed at all?

Checks, in order: duplicate ClOrdID on the session, halted instrument,
trading hours, restricted and watch lists, short-sale locates (and Sells that
would go short), possible duplicate orders, and self-match (wash trade)
prevention. Every lookup is a dict or set access, so a 10,000-entry
restricted list costs the same as an empty one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from compliance.lists import InstrumentStatus, Locates, RestrictedList
from oms.enums import OrdRejReason, OrdType, Side
from oms.gates import NEW, AccountView, Approval, Denial, OrderContext
from oms.order import Order
from oms.trading_day import TradingCalendar

SELF_MATCH_MODES = ("off", "cancel-newest", "cancel-oldest", "cancel-both")


@dataclass(frozen=True)
class ComplianceRules:
    sell_short_action: str = "refuse"  # a Sell that would go short: "refuse" or "remark"
    duplicate_window_s: float = 0.0  # same account/symbol/side/qty/price within it; 0: off
    duplicate_action: str = "reject"  # or "flag"
    self_match: str = "off"  # one of SELF_MATCH_MODES
    owner_groups: dict[str, str] = field(default_factory=dict)  # account -> beneficial owner


class ComplianceGate:
    def __init__(
        self,
        rules: ComplianceRules | None = None,
        restricted: RestrictedList | None = None,
        locates: Locates | None = None,
        status: InstrumentStatus | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        calendar: TradingCalendar | None = None,
    ) -> None:
        # `is None`, not `or`: an empty list is falsy but must still be the shared one.
        self.rules = rules if rules is not None else ComplianceRules()
        self.restricted = restricted if restricted is not None else RestrictedList()
        self.locates = locates if locates is not None else Locates()
        self.status = status if status is not None else InstrumentStatus()
        self.clock = clock
        self.now = now
        # Trading hours are the trading day's ([trading]): one calendar for the gateway.
        self.calendar = calendar if calendar is not None else TradingCalendar()
        self._recent: dict[tuple[str, str, str, Decimal, Decimal | None], float] = {}

    def check(self, ctx: OrderContext) -> Denial | Approval | None:
        order = ctx.order
        new = ctx.intent == NEW
        earlier = ctx.orders.by_cl_ord_id(order.session, order.cl_ord_id) if new else None
        if earlier is not None and earlier.order_id != order.order_id:
            return Denial("duplicate_cl_ord_id", f"duplicate ClOrdID(11) {order.cl_ord_id} on "
                          f"this session (already used by order {earlier.order_id})",
                          OrdRejReason.DUPLICATE_ORDER)
        if order.symbol in self.status.halted:
            reason = self.status.halted[order.symbol]
            return Denial("halted", f"{order.symbol} is halted" + (f": {reason}" if reason else ""),
                          OrdRejReason.EXCHANGE_CLOSED)
        denial = self._trading_hours(order)
        if denial is not None:
            return denial
        flags: list[str] = []
        entry = self.restricted.lookup(order.account, order.symbol)
        if entry is not None:
            whose = f" for account {entry.account}" if entry.account else ""
            if entry.kind == "restricted":
                return Denial("restricted_list", f"{order.symbol} is on the restricted "
                              f"list{whose}", OrdRejReason.BROKER_OPTION)
            flags.append(f"watch list: {order.symbol}{whose}")
        side: Side | None = None
        if ctx.account is not None and order.side is not Side.BUY:
            answer = self._short_sale(order, ctx.working_qty, ctx.account)
            if isinstance(answer, Denial):
                return answer
            if answer is not None and not new:
                return Denial("sell_goes_short", f"replace would take account {order.account} "
                              f"short in {order.symbol}: a replace cannot re-mark the side",
                              OrdRejReason.BROKER_OPTION)
            side = answer
        duplicate = self._duplicate(order) if new else None
        if isinstance(duplicate, Denial):
            return duplicate
        if duplicate:
            flags.append(duplicate)
        cancel_first: tuple[str, ...] = ()
        if ctx.account is not None and self.rules.self_match != "off":
            resting = self._would_self_match(order, ctx.account)
            if resting:
                ids = tuple(o.order_id for o in resting)
                mode = self.rules.self_match
                if mode in ("cancel-newest", "cancel-both"):
                    return Denial("self_match", f"self-match prevention: would trade against "
                                  f"resting order {', '.join(ids)} of the same owner",
                                  OrdRejReason.BROKER_OPTION,
                                  cancel_first=ids if mode == "cancel-both" else ())
                cancel_first = ids
                flags.append(f"self-match prevention: canceled resting {', '.join(ids)}")
        if flags or side or cancel_first:
            return Approval(tuple(flags), cancel_first, side)
        return None

    def _trading_hours(self, order: Order) -> Denial | None:
        calendar = self.calendar
        if not calendar.has_hours or calendar.is_open(self.now()):
            return None
        return Denial("trading_hours", f"outside trading hours for {order.symbol}: "
                      f"{calendar.describe()}", OrdRejReason.EXCHANGE_CLOSED)

    def _short_sale(self, order: Order, qty: Decimal,
                    view: AccountView) -> Denial | Side | None:
        position = view.position_qty(order.account, order.symbol)
        working = view.working(order.account, order.symbol)
        located = self.locates.get(order.account, order.symbol)
        # What the locate still covers: less shares already short and short sales working.
        available = located - max(-position, Decimal(0)) - working.short_qty
        if order.side is Side.SELL_SHORT:
            if qty > available:
                return Denial("locate", f"short sale of {qty} {order.symbol} needs a "
                              f"locate: {max(available, Decimal(0))} located shares available "
                              f"for account {order.account}", OrdRejReason.BROKER_OPTION)
            return None
        long_available = position - (working.sell_qty - working.short_qty)
        if qty <= long_available:
            return None
        if self.rules.sell_short_action != "remark":
            return Denial("sell_goes_short", f"sell of {qty} {order.symbol} would take "
                          f"account {order.account} short (long {max(long_available, 0)} "
                          "available): send it as SellShort(54=5) with a locate",
                          OrdRejReason.BROKER_OPTION)
        short_part = qty - max(long_available, Decimal(0))
        if short_part > available:
            return Denial("locate", f"sell of {qty} {order.symbol} re-marked SellShort "
                          f"needs a locate for {short_part}: {max(available, Decimal(0))} "
                          f"available for account {order.account}", OrdRejReason.BROKER_OPTION)
        return Side.SELL_SHORT

    def _duplicate(self, order: Order) -> Denial | str | None:
        window = self.rules.duplicate_window_s
        if window <= 0:
            return None
        key = (order.account, order.symbol, order.side.value, order.qty, order.price)
        now = self.clock()
        last = self._recent.get(key)
        self._recent[key] = now
        if len(self._recent) > 100_000:  # forget what is long past the window
            self._recent = {k: t for k, t in self._recent.items() if now - t < window}
        if last is None or now - last >= window:
            return None
        text = (f"possible duplicate: same account, symbol, side, quantity and price "
                f"{now - last:.1f}s ago (window {window:g}s)")
        if self.rules.duplicate_action == "flag":
            return text
        return Denial("duplicate_order", text, OrdRejReason.DUPLICATE_ORDER)

    def _would_self_match(self, order: Order, view: AccountView) -> list[Order]:
        group = self.rules.owner_groups.get(order.account, order.account)
        accounts = [a for a, g in self.rules.owner_groups.items() if g == group] or [order.account]
        if order.account not in accounts:
            accounts.append(order.account)
        crossing = []
        for account in accounts:
            working = view.working(account, order.symbol)
            if (working.sell_qty if order.side.is_buy else working.buy_qty) == 0:
                continue  # nothing on the other side: skip the scan
            for other in view.working_orders(account, symbol=order.symbol):
                if (other.side.is_buy == order.side.is_buy
                        or other.price is None or (other.ord_type is OrdType.STOP_LIMIT
                        and not other.triggered)):
                    continue
                limit = order.price if order.ord_type is not OrdType.MARKET else None
                if limit is None or (other.price <= limit if order.side.is_buy
                                     else other.price >= limit):
                    crossing.append(other)
        return sorted(crossing, key=lambda o: o.created)
