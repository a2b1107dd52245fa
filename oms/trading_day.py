"""The trading day: one calendar for the whole gateway, and the roll at the close.

`TradingCalendar` answers "is the market open?", "when is the next close?" and
"which trading date is this?" from `[trading]` (timezone, open, close,
weekdays). The compliance gate's trading-hours check asks it too, so there is
one notion of the day.

`TradingDay` runs the close on the injected clock's timers: Day orders are
expired (and taken off their venue), then a `day_closed` control event is
journaled with the trading date, so end-of-day work hangs off one event.
Replay rebuilds the same state: the expiries are ordinary order events, and
the event tells which date is closed, so a restart never rolls that date again.
Other parts (the risk monitor) add their own facts to the event and reset
themselves from it, live and at replay alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import structlog

from oms.clock import Clock, Timer
from oms.enums import TimeInForce

if TYPE_CHECKING:
    from oms.order import Order
    from oms.service import OrderService

log = structlog.get_logger("oms.trading_day")

DAY_CLOSED = "day_closed"
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ALL_WEEK = frozenset(range(7))
MONDAY_TO_FRIDAY = frozenset(range(5))
MIDNIGHT = dt.time(0, 0)


@dataclass(frozen=True)
class TradingCalendar:
    """When the market is open and when the day rolls.

    No `open`/`close`: always open, the day rolls at `close` (00:00 in `timezone`,
    UTC by default) on every weekday listed. A close at 00:00 ends the day before
    it (the trading date is the date that just ended); otherwise the trading date
    is the local date of the close. An `open` later than `close` is an overnight
    session (it opened the evening before)."""

    timezone: str = "UTC"
    open: dt.time | None = None
    close: dt.time = MIDNIGHT
    weekdays: frozenset[int] = ALL_WEEK
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.weekdays:
            raise ValueError("a trading calendar needs at least one weekday")
        object.__setattr__(self, "zone", ZoneInfo(self.timezone))

    @property
    def has_hours(self) -> bool:
        """Whether orders outside the session are refused (an `open` is configured)."""
        return self.open is not None

    def describe(self) -> str:
        days = ", ".join(WEEKDAY_NAMES[d] for d in sorted(self.weekdays))
        if self.open is None:
            return f"always open, day rolls at {self.close:%H:%M} {self.timezone} ({days})"
        return f"{self.open:%H:%M}-{self.close:%H:%M} {self.timezone} ({days})"

    def close_of(self, date: dt.date) -> dt.datetime:
        """The instant (UTC) at which trading date `date` closes."""
        day = date + dt.timedelta(days=1) if self.close == MIDNIGHT else date
        return dt.datetime.combine(day, self.close, self.zone).astimezone(dt.UTC)

    def open_of(self, date: dt.date) -> dt.datetime | None:
        if self.open is None:
            return None
        overnight = self.close != MIDNIGHT and self.open >= self.close
        day = date - dt.timedelta(days=1) if overnight else date
        return dt.datetime.combine(day, self.open, self.zone).astimezone(dt.UTC)

    def closes(self, after: dt.datetime) -> Iterable[tuple[dt.date, dt.datetime]]:
        """(trading date, close instant) of every trading day closing after `after`."""
        date = after.astimezone(self.zone).date() - dt.timedelta(days=2)
        while True:
            if date.weekday() in self.weekdays:
                close = self.close_of(date)
                if close > after:
                    yield date, close
            date += dt.timedelta(days=1)

    def next_close(self, after: dt.datetime,
                   past: dt.date | None = None) -> tuple[dt.date, dt.datetime]:
        """The first trading day closing after `after` whose date is later than `past`."""
        for date, close in self.closes(after):
            if past is None or date > past:
                return date, close
        raise AssertionError("unreachable: closes() never ends")  # pragma: no cover

    def previous_close(self, now: dt.datetime) -> tuple[dt.date, dt.datetime] | None:
        """The last close at or before `now` (within a fortnight)."""
        found = None
        for date, close in self.closes(now - dt.timedelta(days=14)):
            if close > now:
                return found
            found = (date, close)
        return None  # pragma: no cover

    def is_open(self, now: dt.datetime) -> bool:
        date, close = self.next_close(now)
        opened = self.open_of(date)
        if opened is None:
            return True
        return opened <= now < close

    def expire_date_close(self, date: dt.date) -> dt.datetime:
        """When a GTD order with ExpireDate(432) = `date` expires: that date's close."""
        return self.close_of(date)


def weekday_numbers(names: Iterable[str]) -> frozenset[int]:
    """Mon..Sun names to weekday numbers; ValueError naming a bad one."""
    out = set()
    for name in names:
        key = name.strip().title()
        number = _WEEKDAYS.get(key)
        if number is None:
            raise ValueError(f"unknown weekday {name!r}: use {', '.join(WEEKDAY_NAMES)}")
        out.add(number)
    return frozenset(out)


_WEEKDAYS = {**{n: i for i, n in enumerate(WEEKDAY_NAMES)},
             **{n: i for i, n in enumerate(("Monday", "Tuesday", "Wednesday", "Thursday",
                                            "Friday", "Saturday", "Sunday"))}}

# Adds its facts to a day_closed event (e.g. each account's P&L at the roll).
CloseContributor = Callable[[dict[str, Any]], None]


class TradingDay:
    """Rolls the day at each close of the calendar, on the service's clock."""

    def __init__(self, calendar: TradingCalendar, clock: Clock) -> None:
        self.calendar = calendar
        self.clock = clock
        self.service: OrderService | None = None
        self.last_closed: dt.date | None = None  # from the journal's day_closed events
        self.contributors: list[CloseContributor] = []
        self._timer: Timer | None = None

    # -- replay and live: the one place a day_closed event is applied ---------------------

    def apply(self, payload: dict[str, Any]) -> None:
        date = dt.date.fromisoformat(payload["date"])
        if self.last_closed is None or date > self.last_closed:
            self.last_closed = date

    # -- the schedule ---------------------------------------------------------------------

    @property
    def current_date(self) -> dt.date:
        """The trading date in progress: the next to close that is not closed yet."""
        return self.calendar.next_close(self.clock.now(), self.last_closed)[0]

    def start(self, service: OrderService) -> None:
        """Catch up a close missed while the gateway was down, then arm the next one.

        Missed: a close after the last journaled one; with none journaled yet, a close
        that a working Day order was entered before (a fresh journal rolls no history)."""
        self.service = service
        previous = self.calendar.previous_close(self.clock.now())
        if previous is not None:
            date, close = previous
            if self.last_closed is not None:
                missed = date > self.last_closed
            else:
                missed = any(is_day_order(o) and o.created < close
                             for o in service.working_orders())
            if missed:
                log.warning("a close passed while the gateway was down: rolling it now",
                            date=date.isoformat())
                self.close_day(date)
        self._arm()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self) -> None:
        date, close = self.calendar.next_close(self.clock.now(), self.last_closed)
        self._timer = self.clock.call_at(close, lambda: self._on_close(date))

    def _on_close(self, date: dt.date) -> None:
        self._timer = None
        try:
            if self.last_closed is None or date > self.last_closed:
                self.close_day(date)
        except Exception:  # a timer callback: log it, and never stop rolling days
            log.exception("trading day close failed", date=date.isoformat())
        finally:
            self._arm()

    def close_now(self) -> dt.date:
        """Roll the trading day in progress now (operations, tests); returns its date."""
        date = self.current_date
        self.close_day(date)
        self.stop()
        self._arm()
        return date

    def close_day(self, date: dt.date) -> None:
        """Expire the Day orders (and GTD orders due by this close), then journal day_closed
        for `date`, all in one batch."""
        service = self.service
        if service is None:
            raise RuntimeError("the trading day is not started")
        # GTD orders due by this day's close go with it (a forced close ends the day early).
        close = self.calendar.close_of(date)
        working = service.working_orders()
        expired = service.expire_orders(
            [o for o in working if is_day_order(o)],
            f"Day order expired at the close of trading day {date.isoformat()}")
        expired += service.expire_orders(
            [o for o in working if o.time_in_force is TimeInForce.GTD
             and o.expire_time is not None and o.expire_time <= close],
            f"GTD order expired at the close of trading day {date.isoformat()}")
        payload: dict[str, Any] = {"date": date.isoformat(), "expired": len(expired)}
        for contribute in self.contributors:
            contribute(payload)
        log.info("trading day closed", date=date.isoformat(), expired=len(expired))
        service.record_control(DAY_CLOSED, payload)


def is_day_order(order: Order) -> bool:
    return order.time_in_force is TimeInForce.DAY
