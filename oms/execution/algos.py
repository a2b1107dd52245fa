"""Execution algorithms: what a client asks for (TargetStrategy and its tags) and the
schedule each follows.

An algorithm's state is never stored apart from the journal: its parameters ride on
the parent's OrderSubmitted (`algo`), and how far it has come is the parent's CumQty
plus its working children. The schedule is a pure function of the parameters and a
seed derived from the OrderID, so after a restart the same schedule is rebuilt and
the algorithm carries on from what the journal says was done: it neither starts
over nor trades twice.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal, InvalidOperation

from oms.commands import AlgoRequest
from oms.enums import OrdRejReason, OrdType, TimeInForce
from oms.execution.profile import VolumeProfile, u_shaped
from oms.gates import Denial

TWAP, VWAP, POV = "TWAP", "VWAP", "POV"
SOR = "SOR"  # no TargetStrategy: split across venues by the smart order router
# TargetStrategy(847) values: 1 and 2 are FIX's own (VWAP, Participate); 1000 is in the
# range FIX leaves to counterparties, for TWAP.
STRATEGIES = {"1000": TWAP, "1": VWAP, "2": POV}
MAX_RATE = Decimal("0.5")
MIN_SLICE_S = 1.0  # no two slices closer than this (about)
MAX_SLICES = 200
TIME_JITTER = 0.25  # of a slice interval, either way
SIZE_JITTER = 0.5  # of a slice's size, either way, on the cumulative target
POV_CHECK_S = 5.0  # POV also looks at the tape on a timer, not only on prints
LOT = Decimal(1)


@dataclass(frozen=True, slots=True)
class AlgoSpec:
    strategy: str
    start: datetime
    end: datetime | None
    rate: Decimal | None = None  # POV: target share of market volume
    max_participation: Decimal | None = None  # TWAP/VWAP: cap on the share of volume
    arrival_px: Decimal | None = None  # the market when the order was accepted

    def to_algo(self) -> dict[str, str]:
        out = {"strategy": self.strategy, "start": self.start.isoformat()}
        if self.end is not None:
            out["end"] = self.end.isoformat()
        if self.rate is not None:
            out["participation_rate"] = str(self.rate)
        if self.max_participation is not None:
            out["max_participation"] = str(self.max_participation)
        if self.arrival_px is not None:
            out["arrival_px"] = str(self.arrival_px)
        return out

    @classmethod
    def from_algo(cls, algo: dict[str, str]) -> AlgoSpec:
        def dec(key: str) -> Decimal | None:
            return Decimal(algo[key]) if algo.get(key) else None

        end = algo.get("end")
        return cls(algo["strategy"], datetime.fromisoformat(algo["start"]),
                   datetime.fromisoformat(end) if end else None, dec("participation_rate"),
                   dec("max_participation"), dec("arrival_px"))


def _refuse(text: str) -> Denial:
    return Denial("algo", text, OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC)


def parse_timestamp(text: str) -> datetime | None:
    """A FIX UTCTimestamp (YYYYMMDD-HH:MM:SS[.sss]) or an ISO 8601 time (UTC if it has
    no offset); None when it is neither."""
    text = text.strip()
    for fmt in ("%Y%m%d-%H:%M:%S.%f", "%Y%m%d-%H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _rate(text: str | None, name: str) -> Decimal | Denial | None:
    if text is None or text == "":
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return _refuse(f"{name} {text!r} is not a number")
    if not value.is_finite() or not (0 < value <= MAX_RATE):
        return _refuse(f"{name}={text} out of range: must be > 0 and <= {MAX_RATE}")
    return value


def parse_algo(req: AlgoRequest, ord_type: OrdType, tif: TimeInForce, now: datetime,
               arrival_px: Decimal | None) -> AlgoSpec | Denial | None:
    """The algorithm an order asks for, None for none, or a Denial naming the tag."""
    stray = [name for name, value in (
        ("EffectiveTime(168)", req.effective_time), ("ParticipationRate(849)",
                                                      req.participation_rate),
        ("MaxParticipation(9849)", req.max_participation)) if value]
    if req.target_strategy is None or req.target_strategy == "":
        if stray:
            return _refuse(f"{stray[0]} needs TargetStrategy(847)")
        return None
    strategy = STRATEGIES.get(req.target_strategy)
    if strategy is None:
        return _refuse(f"unsupported TargetStrategy(847)={req.target_strategy}: use 1000 "
                       "(TWAP), 1 (VWAP) or 2 (POV)")
    if ord_type not in (OrdType.MARKET, OrdType.LIMIT):
        return _refuse(f"TargetStrategy(847) {strategy} works market or limit orders, not "
                       f"OrdType(40)={ord_type.value}")
    if tif not in (TimeInForce.DAY, TimeInForce.GTC):
        return _refuse(f"TargetStrategy(847) {strategy} needs TimeInForce(59) 0 (Day) or 1 "
                       f"(GTC), not {tif.value}")
    start = now
    if req.effective_time:
        parsed = parse_timestamp(req.effective_time)
        if parsed is None:
            return _refuse(f"EffectiveTime(168) {req.effective_time!r} is not a UTC "
                           "timestamp (YYYYMMDD-HH:MM:SS)")
        start = max(now, parsed)
    end: datetime | None = None
    if req.expire_time:
        end = parse_timestamp(req.expire_time)
        if end is None:
            return _refuse(f"ExpireTime(126) {req.expire_time!r} is not a UTC timestamp "
                           "(YYYYMMDD-HH:MM:SS)")
        if end <= start:
            return _refuse(f"ExpireTime(126) {req.expire_time} is not after the start "
                           f"({start:%Y%m%d-%H:%M:%S})")
    elif strategy != POV:
        return _refuse(f"ExpireTime(126) is required for {strategy}")
    rate = _rate(req.participation_rate, "ParticipationRate(849)")
    cap = _rate(req.max_participation, "MaxParticipation(9849)")
    if isinstance(rate, Denial):
        return rate
    if isinstance(cap, Denial):
        return cap
    if strategy == POV:
        if rate is None:
            return _refuse("ParticipationRate(849) is required for POV")
        if cap is not None:
            return _refuse("MaxParticipation(9849) caps TWAP and VWAP; POV follows "
                           "ParticipationRate(849)")
    elif rate is not None:
        return _refuse(f"ParticipationRate(849) is for POV, not {strategy}: use "
                       "MaxParticipation(9849) to cap its share of volume")
    return AlgoSpec(strategy, start, end, rate, cap, arrival_px)


class Schedule:
    """A TWAP or VWAP schedule: slice times across the window and the cumulative
    quantity due by each, with bounded randomisation drawn from a seed (the OrderID), so
    the same order always gets the same schedule."""

    def __init__(self, spec: AlgoSpec, seed: str, profile: VolumeProfile | None = None
                 ) -> None:
        assert spec.end is not None
        self.spec = spec
        span = (spec.end - spec.start).total_seconds()
        n = max(1, min(MAX_SLICES, int(span // MIN_SLICE_S)))
        step = span / n
        rng = random.Random(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big"))
        # Slice k is due around (k + 0.5) steps in, and the last one half a step before the
        # end, so the remainder has time to trade; the jitter never reorders slices.
        self.times: list[datetime] = []
        self.fractions: list[float] = []
        for k in range(n):
            at = (k + 0.5 + rng.uniform(-TIME_JITTER, TIME_JITTER)) * step
            self.times.append(spec.start + timedelta(seconds=at))
            due = (k + 1) / n
            if spec.strategy == VWAP:
                due = self._vwap(profile or u_shaped(), (k + 1) / n)
            size = 1 / n if k < n - 1 else 0.0
            self.fractions.append(min(1.0, max(0.0, due + rng.uniform(-SIZE_JITTER,
                                                                       SIZE_JITTER) * size)))
        self.fractions[-1] = 1.0
        # Never ask for less than was due at an earlier slice.
        for k in range(1, n):
            self.fractions[k] = max(self.fractions[k], self.fractions[k - 1])

    def _vwap(self, profile: VolumeProfile, x: float) -> float:
        """The share of the window's expected volume done by fraction x of the window
        (linear where the window lies outside the profile's session)."""
        assert self.spec.end is not None
        a = profile.minutes_after_open(self.spec.start)
        b = a + (self.spec.end - self.spec.start).total_seconds() / 60
        lo, hi = profile.cumulative(a), profile.cumulative(b)
        if hi - lo <= 1e-9:
            return x
        return (profile.cumulative(a + (b - a) * x) - lo) / (hi - lo)

    def due(self, now: datetime, total: Decimal) -> Decimal:
        """The quantity that should have been released by `now` (whole lots)."""
        k = bisect.bisect_right(self.times, now)
        if k == 0:
            return Decimal(0)
        if k >= len(self.times):
            return total
        return (total * Decimal(repr(self.fractions[k - 1]))).quantize(LOT, ROUND_DOWN)

    def next_time(self, now: datetime) -> datetime | None:
        k = bisect.bisect_right(self.times, now)
        return self.times[k] if k < len(self.times) else None


def participation_due(rate: Decimal, market_volume: Decimal) -> Decimal:
    """What a share `rate` of the market's volume since the start allows (whole lots)."""
    return (rate * market_volume).quantize(LOT, ROUND_DOWN)


def slippage_bps(side_sign: int, price: Decimal, benchmark: Decimal) -> float | None:
    """Signed so that positive is worse for the client: a buy above the benchmark, a
    sell below it."""
    if benchmark <= 0:
        return None
    value = float((price - benchmark) / benchmark) * 1e4 * side_sign
    return round(value, 2) if math.isfinite(value) else None
