"""Venue adapters: each kind of venue implements the protocol in `oms/venue.py`.

`build_venue` is the one place that turns a `[[venues]]` table into an adapter;
a new kind (an upstream FIX venue, a broker) adds a package here and a branch
below, and its options to the config's known keys.
"""

from __future__ import annotations

from decimal import Decimal

from gateway.config import VenueConfig
from gateway.venues.sim import SimExchange
from oms.instruments import Universe
from oms.venue import Venue

KINDS = ("sim",)


def build_venue(cfg: VenueConfig, universe: Universe) -> Venue:
    if cfg.kind == "sim":
        opts = cfg.options
        return SimExchange(
            universe,
            name=cfg.name,
            seed=int(opts.get("seed", 7)),
            liquidity=bool(opts.get("liquidity", True)),
            tick_interval=float(opts.get("tick_interval", 0.05)),
            liquidity_scale=float(opts.get("liquidity_scale", 1.0)),
            maker_fee_bps=Decimal(str(opts.get("maker_fee_bps", 0))),
            taker_fee_bps=Decimal(str(opts.get("taker_fee_bps", 0))),
            latency_ms=float(opts.get("latency_ms", 0.0)),
            messages_per_second=opts.get("messages_per_second"),
        )
    raise ValueError(f"venue {cfg.name}: unknown kind {cfg.kind!r} (supported: "
                     f"{', '.join(KINDS)})")
