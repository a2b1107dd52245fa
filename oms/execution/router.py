"""The smart order router's decision: where an order's quantity goes, and why.

Given each venue's visible book (price levels with sizes, best first), its
fees and an estimate of how likely a resting order there is to fill, `route`
splits an order:

1. take visible liquidity in order of price **net of the taker fee** (a buy
   pays price x (1 + fee), a sell receives price x (1 - fee)), across venues,
   never beyond the order's limit (the limit is on the venue's price: fees are
   not part of it);
2. rest a limit order's remainder where it is most likely to fill (highest
   fill probability; then the better maker fee or rebate; then config order);
   a market order's remainder has nowhere to rest and is left unrouted.

Ties between levels of equal net price go to the venue more likely to fill,
then the larger size, then the venue listed first, so the same books always
give the same split. Venues that are down are not considered.

`Routing.record()` is the best-execution record kept with the order:
`{"considered": [{"venue", "price", "size", "fee_bps"}], "decision":
[{"venue", "qty", "price"}], "reason"}` with decimals as strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

ZERO = Decimal(0)
ONE = Decimal(1)
_BP = Decimal("0.0001")

Levels = Sequence[tuple[Decimal, Decimal]]  # (price, size), best first


@dataclass(frozen=True, slots=True)
class VenueBook:
    """What the router knows of one venue for one symbol."""

    venue: str
    bids: Levels = ()
    asks: Levels = ()
    taker_fee_bps: Decimal = ZERO
    maker_fee_bps: Decimal = ZERO  # negative: a rebate
    fill_probability: Decimal = ONE  # that a resting order here fills, 0..1
    up: bool = True

    def __post_init__(self) -> None:
        if not ZERO <= self.fill_probability <= ONE:
            raise ValueError(f"venue {self.venue}: fill_probability must be between 0 and 1, "
                             f"got {self.fill_probability}")


@dataclass(frozen=True, slots=True)
class Considered:
    venue: str
    price: Decimal
    size: Decimal
    fee_bps: Decimal


@dataclass(frozen=True, slots=True)
class Slice:
    """One child order: `qty` to `venue` at limit `price` (None: at market)."""

    venue: str
    qty: Decimal
    price: Decimal | None
    resting: bool = False  # the remainder left to rest, rather than liquidity taken


@dataclass(frozen=True, slots=True)
class Routing:
    considered: tuple[Considered, ...]
    decision: tuple[Slice, ...]
    reason: str
    unrouted: Decimal = ZERO  # a market order's quantity no visible liquidity covered
    skipped: tuple[str, ...] = field(default=())  # venues not considered (down)

    @property
    def taken(self) -> Decimal:
        return sum((s.qty for s in self.decision if not s.resting), ZERO)

    def record(self) -> dict[str, Any]:
        """The best-execution record, as `GET /orders/{order_id}` shows it under `routing`."""
        return {
            "considered": [{"venue": c.venue, "price": str(c.price), "size": str(c.size),
                            "fee_bps": str(c.fee_bps)} for c in self.considered],
            "decision": [{"venue": s.venue, "qty": str(s.qty),
                          "price": None if s.price is None else str(s.price)}
                         for s in self.decision],
            "reason": self.reason,
        }


def net_price(is_buy: bool, price: Decimal, fee_bps: Decimal) -> Decimal:
    """What one share costs a buyer (or brings a seller) after the venue's fee."""
    fee = price * fee_bps * _BP
    return price + fee if is_buy else price - fee


def route(is_buy: bool, qty: Decimal, limit: Decimal | None,
          books: Sequence[VenueBook]) -> Routing:
    """Split an order (`limit` None: a market order) across the venues' visible books."""
    if qty <= 0:
        raise ValueError(f"quantity must be positive: {qty}")
    live = [b for b in books if b.up]
    skipped = tuple(b.venue for b in books if not b.up)
    considered: list[Considered] = []
    # (sort key, venue index, price, size) for every contra level within the limit.
    candidates: list[tuple[tuple[Decimal, Decimal, Decimal, int], int, Decimal, Decimal]] = []
    for i, book in enumerate(live):
        for price, size in (book.asks if is_buy else book.bids):
            if size <= 0:
                continue
            considered.append(Considered(book.venue, price, size, book.taker_fee_bps))
            if limit is not None and (price > limit if is_buy else price < limit):
                continue
            net = net_price(is_buy, price, book.taker_fee_bps)
            # Best first: cheapest net for a buy, dearest for a sell; then likelier, bigger.
            key = (net if is_buy else -net, -book.fill_probability, -size, i)
            candidates.append((key, i, price, size))
    candidates.sort()

    left = qty
    taken: dict[int, tuple[Decimal, Decimal]] = {}  # venue index -> (qty, worst price)
    order: list[int] = []  # venues in the order their first level was taken
    for _, i, price, size in candidates:
        if left == 0:
            break
        if live[i].fill_probability == 0:
            continue
        take = min(left, size)
        left -= take
        if i not in taken:
            order.append(i)
            taken[i] = (ZERO, price)
        got, _worst = taken[i]
        taken[i] = (got + take, price)  # levels of one venue come best first
    decision = [Slice(live[i].venue, taken[i][0], taken[i][1]) for i in order]

    why = []
    if decision:
        why.append(", ".join(f"take {s.qty} at {s.venue} up to {s.price}" for s in decision)
                   + " (visible liquidity, best price net of taker fees first)")
    unrouted = ZERO
    if left > 0:
        if limit is not None and live:
            rest = max(range(len(live)), key=lambda i: (
                live[i].fill_probability, -live[i].maker_fee_bps, -i))
            book = live[rest]
            decision.append(Slice(book.venue, left, limit, resting=True))
            why.append(f"rest {left} at {book.venue} at {limit} (most likely to fill: "
                       f"probability {book.fill_probability}, maker fee {book.maker_fee_bps} bp)")
        else:
            unrouted = left
            why.append(f"{left} unrouted: " + ("no venue is up" if not live
                                               else "no visible liquidity for a market order"))
    if skipped:
        why.append(f"not considered (down): {', '.join(skipped)}")
    return Routing(tuple(considered), tuple(decision), "; ".join(why), unrouted, skipped)
