"""The firm's risk and compliance desk: kill switch, limits, account states,
restricted list, locates, halts, and the operator actions on them.

Each piece changes only through a journaled control event, and `controls()`
tells the OMS which piece replays which kind of event at start. It lives in
`compliance/` because it composes both gates, and only this core package may
see both `risk` and `compliance`; it does no I/O. The REST handlers call its
actions (`engage_kill_switch`, `set_account_state`, …) and only format answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from compliance import lists
from compliance.lists import InstrumentStatus, Locates, RestrictedList
from compliance.pretrade import ComplianceGate, ComplianceRules
from oms.clock import Clock, WallClock
from oms.execution.profile import VolumeProfile
from oms.gates import PreTradeGate
from oms.instruments import Universe
from oms.journal import Journal
from oms.order import Order
from oms.service import OrderService
from oms.trading_day import DAY_CLOSED, TradingCalendar
from oms.venue import Venue
from risk import accounts, kill_switch, limits
from risk.accounts import AccountState, AccountStates
from risk.kill_switch import KillSwitch
from risk.limits import Limits, LimitsBook
from risk.monitor import RiskMonitor
from risk.pretrade import RiskGate
from risk.throttle import Throttle
from risk.volatility import VolatilityTracker


@dataclass
class RiskDesk:
    limits: LimitsBook
    rules: ComplianceRules = field(default_factory=ComplianceRules)
    kill_switch: KillSwitch = field(default_factory=KillSwitch)
    states: AccountStates = field(default_factory=AccountStates)
    restricted: RestrictedList = field(default_factory=RestrictedList)
    locates: Locates = field(default_factory=Locates)
    status: InstrumentStatus = field(default_factory=InstrumentStatus)
    volatility: VolatilityTracker = field(default_factory=VolatilityTracker)
    throttle: Throttle = field(default_factory=Throttle)
    calendar: TradingCalendar = field(default_factory=TradingCalendar)  # the one trading day
    service: OrderService | None = None  # set by order_service()

    @classmethod
    def from_config(cls, firm_limits: Limits, rules: ComplianceRules,
                    calendar: TradingCalendar | None = None) -> RiskDesk:
        return cls(limits=LimitsBook(firm_limits), rules=rules,
                   calendar=calendar or TradingCalendar())

    def controls(self) -> dict[str, Callable[[dict[str, Any]], None]]:
        return {
            kill_switch.KIND: self.kill_switch.apply,
            limits.KIND: self.limits.apply,
            accounts.KIND: self.states.apply,
            accounts.DRAWDOWN_KIND: self.states.apply_drawdown,
            lists.RESTRICTED_KIND: self.restricted.apply,
            lists.LOCATE_KIND: self.locates.apply,
            lists.STATUS_KIND: self.status.apply,
            DAY_CLOSED: self.states.apply_day_closed,
        }

    def gates(self, clock: Clock) -> list[PreTradeGate]:
        return [
            ComplianceGate(self.rules, self.restricted, self.locates, self.status,
                           clock=clock.monotonic, now=clock.now, calendar=self.calendar),
            RiskGate(self.limits, self.kill_switch, self.states, throttle=self.throttle,
                     volatility=self.volatility, clock=clock.monotonic),
        ]

    def order_service(self, universe: Universe, journal: Journal, venues: dict[str, Venue], *,
                      default_venue: str | None = None, gates: bool = True,
                      clock: Clock | None = None,
                      volume_profile: Callable[[str], VolumeProfile | None] | None = None,
                      ) -> tuple[OrderService, RiskMonitor]:
        """The OMS wired to this desk: its gates, its control events, its monitor."""
        clock = clock or WallClock()
        service = OrderService(
            universe=universe, journal=journal, venues=venues,
            gates=self.gates(clock) if gates else [],
            default_venue=default_venue or next(iter(venues)),
            controls=self.controls(), clock=clock, volume_profile=volume_profile,
            calendar=self.calendar,
        )
        monitor = RiskMonitor(service, self.limits, self.states, self.volatility,
                              clock.monotonic)
        self.service = service
        service.listeners.append(monitor.on_order_event)
        service.trading_day.contributors.append(monitor.day_close_payload)
        for venue in venues.values():
            venue.subscribe(monitor.on_market_data)
        return service, monitor

    # -- operator actions: journal, commit, apply, then act --------------------------------

    def _oms(self) -> OrderService:
        if self.service is None:
            raise RuntimeError("the desk has no order service: build it with order_service()")
        return self.service

    async def engage_kill_switch(self, account: str | None, session: str | None,
                                 by: str) -> list[Order]:
        """Refuse new orders in scope (firm, account or session) and cancel every working
        order in it at its venue; returns the orders whose cancel was sent."""
        service = self._oms()
        await service.apply_control(kill_switch.KIND,
                                    KillSwitch.event(account, True, by, session))
        scope = (f"account {account}" if account else f"session {session}" if session
                 else "the firm")
        return service.cancel_all(account, session=session, by=by,
                                  reason=f"kill switch engaged for {scope} by {by}")

    async def release_kill_switch(self, account: str | None, session: str | None,
                                  by: str) -> None:
        await self._oms().apply_control(kill_switch.KIND,
                                        KillSwitch.event(account, False, by, session))

    async def set_account_state(self, account: str, state: AccountState, reason: str,
                                by: str) -> list[Order]:
        """Move an account to ACTIVE, REDUCING or HALTED; halting cancels its working
        orders (returned)."""
        service = self._oms()
        await service.apply_control(accounts.KIND,
                                    AccountStates.event(account, state, reason, by))
        if state is AccountState.HALTED:
            return service.cancel_all(account, reason=f"account halted by {by}", by=by)
        return []
