"""Venue adapters: each kind of venue implements the protocol in `oms/venue.py`.

`build_venue` is the one place that turns a `[[venues]]` table into an adapter;
a new kind (a broker) adds a module here and a branch below, and its options to
the config's known keys. Kinds: `sim` (the built-in simulated exchange) and
`fix` (an upstream FIX venue, `fix_upstream.py`); `fix_sim_acceptor.py` is the
simulated exchange behind a FIX acceptor, run by `fixgate venue-sim`.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from gateway.config import VenueConfig
from gateway.venues.fix_upstream import FixUpstreamVenue
from gateway.venues.sim import SimExchange
from oms.instruments import Universe
from oms.venue import Venue

KINDS = ("sim", "fix")


def build_venue(cfg: VenueConfig, universe: Universe, data_dir: Path = Path("var")) -> Venue:
    """`data_dir`: where a venue keeps files (an upstream FIX venue's session store)."""
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
    if cfg.kind == "fix":
        return FixUpstreamVenue(cfg.name, data_dir=data_dir, **cfg.options)
    raise ValueError(f"venue {cfg.name}: unknown kind {cfg.kind!r} (supported: "
                     f"{', '.join(KINDS)})")
