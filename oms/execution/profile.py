"""Intraday volume profiles: the share of a day's volume each part of the session trades.

VWAP works an order in proportion to the volume it expects, so it follows a
`VolumeProfile`: the regular session (09:30-16:00 in the exchange's time
zone by default) cut into equal bins, each with its fraction of the day's
volume (the fractions sum to 1). Profiles are built from real 1-minute bars
(`build`, fed by `fixgate profile build`); with none for a symbol, the
U-shaped default applies (heavy at the open, heavier at the close, quiet at
midday, as US equities trade).

Pure: bars in, fractions out; `dumps`/`loads` work on strings, and reading
CSV files or writing profile files is the gateway's (`gateway/profiles.py`).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

FORMAT = "fixgate.volume_profile/1"
NEW_YORK = "America/New_York"
_TOLERANCE = 1e-6


class ProfileError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class VolumeProfile:
    symbol: str  # "" for the default profile
    fractions: tuple[float, ...]  # one per bin, in session order, summing to 1
    open: time = time(9, 30)
    close: time = time(16, 0)
    timezone: str = NEW_YORK
    days: int = 0  # the days of data it was built from (0: not built from data)

    def __post_init__(self) -> None:
        if not self.fractions:
            raise ProfileError(f"profile {self.symbol or 'default'}: no bins")
        if any(not math.isfinite(f) or f < 0 for f in self.fractions):
            raise ProfileError(f"profile {self.symbol or 'default'}: fractions must be "
                               "non-negative numbers")
        if abs(sum(self.fractions) - 1) > _TOLERANCE:
            raise ProfileError(f"profile {self.symbol or 'default'}: fractions sum to "
                               f"{sum(self.fractions):.6f}, not 1")
        if self.session_minutes <= 0:
            raise ProfileError(f"profile {self.symbol or 'default'}: close {self.close} is not "
                               f"after open {self.open}")

    @property
    def session_minutes(self) -> int:
        return (self.close.hour * 60 + self.close.minute) - (self.open.hour * 60 + self.open.minute)

    @property
    def bin_minutes(self) -> float:
        return self.session_minutes / len(self.fractions)

    def cumulative(self, minutes: float) -> float:
        """Share of the day's volume traded in the first `minutes` of the session
        (0 before the open, 1 after the close; linear inside a bin)."""
        if minutes <= 0:
            return 0.0
        if minutes >= self.session_minutes:
            return 1.0
        whole, part = divmod(minutes / self.bin_minutes, 1.0)
        n = int(whole)
        return sum(self.fractions[:n]) + part * self.fractions[n]

    def share(self, start_min: float, end_min: float) -> float:
        """Share of the day's volume between two points of the session (minutes after open)."""
        return max(0.0, self.cumulative(end_min) - self.cumulative(start_min))

    def minutes_after_open(self, ts: datetime) -> float:
        """Where an aware timestamp falls in its own day's session, in minutes after open."""
        local = ts.astimezone(ZoneInfo(self.timezone))
        opened = datetime.combine(local.date(), self.open, local.tzinfo)
        return (local - opened).total_seconds() / 60

    # -- JSON --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "open": self.open.strftime("%H:%M"),
                "close": self.close.strftime("%H:%M"), "timezone": self.timezone,
                "days": self.days, "fractions": [round(f, 10) for f in self.fractions]}

    @classmethod
    def from_dict(cls, raw: Any, where: str = "profile") -> VolumeProfile:
        if not isinstance(raw, dict):
            raise ProfileError(f"{where}: must be an object")
        fractions = raw.get("fractions")
        if not isinstance(fractions, list) or not all(
                isinstance(f, int | float) and not isinstance(f, bool) for f in fractions):
            raise ProfileError(f"{where}: fractions must be a list of numbers")
        try:
            total = sum(fractions)
            return cls(symbol=str(raw.get("symbol", "")),
                       # Rounded on the way out: renormalise so they sum to 1 again.
                       fractions=tuple(f / total for f in fractions) if total > 0
                       else tuple(fractions),
                       open=time.fromisoformat(raw.get("open", "09:30")),
                       close=time.fromisoformat(raw.get("close", "16:00")),
                       timezone=_zone(raw.get("timezone", NEW_YORK), where),
                       days=int(raw.get("days", 0)))
        except ProfileError as exc:
            raise ProfileError(f"{where}: {exc}") from None
        except (TypeError, ValueError) as exc:
            raise ProfileError(f"{where}: {exc}") from None


def u_shaped(bins: int = 78, symbol: str = "") -> VolumeProfile:
    """The default: a parabola high at both ends (the close the higher, as in US equities,
    where the closing auction makes the last minutes the busiest), low at midday."""
    weights = []
    for i in range(bins):
        x = (i + 0.5) / bins  # 0 at the open, 1 at the close
        weights.append(1.0 + 3.0 * (2 * x - 1) ** 2 + (1.5 if i == bins - 1 else 0.0))
    total = sum(weights)
    return VolumeProfile(symbol, tuple(w / total for w in weights))


def dumps(profiles: Mapping[str, VolumeProfile]) -> str:
    return json.dumps({"format": FORMAT,
                       "profiles": {s: p.to_dict() for s, p in sorted(profiles.items())}},
                      indent=1)


def loads(text: str, where: str = "profile file") -> dict[str, VolumeProfile]:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProfileError(f"{where}: not JSON: {exc}") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise ProfileError(f"{where}: not a volume profile file (format {FORMAT!r} expected)")
    profiles = raw.get("profiles")
    if not isinstance(profiles, dict):
        raise ProfileError(f"{where}: profiles must be an object of symbol -> profile")
    out = {}
    for symbol, body in profiles.items():
        profile = VolumeProfile.from_dict(body, f"{where}, {symbol}")
        out[symbol] = VolumeProfile(symbol, profile.fractions, profile.open, profile.close,
                                    profile.timezone, profile.days)
    return out


def profile_for(profiles: Mapping[str, VolumeProfile], symbol: str) -> VolumeProfile:
    """The symbol's profile, else the U-shaped default."""
    return profiles.get(symbol) or u_shaped(symbol=symbol)


def build(symbol: str, bars: Iterable[tuple[datetime, float]], *, bin_minutes: int = 5,
          bar_end: bool = False, open_: time = time(9, 30), close: time = time(16, 0),
          timezone: str = NEW_YORK, min_coverage: float = 0.8) -> VolumeProfile:
    """A profile from 1-minute bars (aware timestamps; `bar_end`: a bar is stamped with
    the minute it ends, as 09:31..16:00, rather than starts). Bars outside the regular
    session are ignored; a day with bars in fewer than `min_coverage` of its minutes (a
    half day, a file that starts at noon) is skipped, and every other day counts once,
    whatever its volume, so one heavy day does not shape the profile alone."""
    zone = ZoneInfo(_zone(timezone, "profile"))
    start = open_.hour * 60 + open_.minute
    minutes = (close.hour * 60 + close.minute) - start
    if bin_minutes <= 0 or minutes % bin_minutes:
        raise ProfileError(f"bin_minutes must divide the {minutes}-minute session, "
                           f"got {bin_minutes}")
    shift = timedelta(minutes=1) if bar_end else timedelta(0)
    days: dict[date, dict[int, float]] = defaultdict(dict)
    for ts, volume in bars:
        if ts.tzinfo is None:
            raise ProfileError(f"{symbol}: bar time {ts} has no time zone")
        local = (ts - shift).astimezone(zone)
        minute = local.hour * 60 + local.minute - start
        if 0 <= minute < minutes and volume >= 0 and math.isfinite(volume):
            days[local.date()][minute] = days[local.date()].get(minute, 0.0) + volume
    bins = minutes // bin_minutes
    sums = [0.0] * bins
    used = 0
    for by_minute in days.values():
        total = sum(by_minute.values())
        if len(by_minute) < min_coverage * minutes or total <= 0:
            continue
        used += 1
        for minute, volume in by_minute.items():
            sums[minute // bin_minutes] += volume / total
    if used == 0:
        raise ProfileError(f"{symbol}: no full regular-session day in the data "
                           f"({len(days)} partial day(s))")
    return VolumeProfile(symbol, tuple(s / used for s in sums), open_, close, timezone, used)


def _zone(name: Any, where: str) -> str:
    try:
        ZoneInfo(str(name))
    except (KeyError, ValueError):
        raise ProfileError(f"{where}: unknown timezone {name!r}") from None
    return str(name)
