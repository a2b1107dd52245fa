"""The server side of stress tests and correlation alerts: loads the shipped scenario
data (gateway/data/stress.json, derived once by tools/derive_scenarios.py), takes a
snapshot of today's book from the OMS, and wires the correlation watch to the venues'
prints and the journal. The computations themselves are pure (risk/stress.py,
risk/correlation.py) and run in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import structlog

from gateway.config import ConfigError, RiskAnalyticsConfig
from oms.service import OrderService
from risk import correlation
from risk.correlation import CorrelationWatch, PriceHistory, SampledPrices
from risk.stress import Holding, Liquidity, Scenario

log = structlog.get_logger("stress")


@dataclass(frozen=True)
class ShippedData:
    scenarios: tuple[Scenario, ...]
    sectors: Mapping[str, str]
    liquidity: Mapping[str, Liquidity]
    liquidity_asof: str


@cache
def shipped() -> ShippedData:
    doc = json.loads(resources.files("gateway").joinpath("data/stress.json").read_text())
    return ShippedData(
        scenarios=tuple(Scenario.from_dict(s) for s in doc["scenarios"]),
        sectors=dict(doc["sectors"]),
        liquidity={s: Liquidity(float(v["adv"]), float(v["daily_vol"]))
                   for s, v in doc["liquidity"].items()},
        liquidity_asof=str(doc["liquidity_asof"]))


@dataclass
class StressDesk:
    service: OrderService
    config: RiskAnalyticsConfig
    watch: CorrelationWatch
    history: PriceHistory | None = None
    scenarios: dict[str, Scenario] = field(default_factory=dict)
    sector_of: dict[str, str] = field(default_factory=dict)
    _pending: asyncio.Future[list[dict[str, Any]]] | None = None

    @classmethod
    def build(cls, service: OrderService, config: RiskAnalyticsConfig) -> StressDesk:
        data = shipped()
        clash = {s.name for s in data.scenarios} & {s.name for s in config.scenarios}
        if clash:
            raise ConfigError(f"[risk] scenario_files: {', '.join(sorted(clash))} is the name "
                              "of a scenario the server ships; rename the file")
        sector_of = dict(data.sectors)
        # The instruments' own sectors (config) win over the shipped S&P 500 list.
        sector_of.update({i.symbol: i.sector for i in service.universe if i.sector})
        desk = cls(service, config,
                   CorrelationWatch(config.correlation_threshold,
                                    config.average_correlation_threshold,
                                    config.correlation_window),
                   scenarios={s.name: s for s in (*data.scenarios, *config.scenarios)},
                   sector_of=sector_of)
        # Before start(): the journal replay rebuilds the alerts and the pairs above.
        service.controls[correlation.KIND] = desk.watch.apply
        return desk

    def start_sampling(self) -> None:
        """Sample the venues' last trade prices on the OMS clock (in memory; the price
        store of daily closes replaces this `PriceHistory` when it lands)."""
        if not self.watch.enabled:
            return
        sampled = SampledPrices(self.service.clock, self.config.correlation_interval_s,
                                self.config.correlation_window + 1)
        for venue in self.service.venues.values():
            venue.subscribe(sampled.on_market_data)
        sampled.on_sample.append(self.check_correlation)
        self.history = sampled
        sampled.start()

    def stop(self) -> None:
        if isinstance(self.history, SampledPrices):
            self.history.stop()
        if self._pending is not None:
            self._pending.cancel()

    def check_correlation(self) -> None:
        """On each sample: the held symbols' prices are copied on the loop, the correlation
        and the crossings are computed in a worker thread (hundreds of symbols take tens of
        milliseconds), and the crossings are journaled back on the loop. One at a time: a
        sample that comes while one runs is skipped, so no crossing is reported twice."""
        if self.history is None or not self.service.started or self._pending is not None:
            return
        held = {p.symbol for p in self.service.positions.all() if p.qty != 0}
        symbols, prices = self.history.prices(sorted(held), self.watch.window + 1)
        if len(symbols) < 2 or prices.shape[0] < self.watch.window + 1:
            return
        self._pending = asyncio.ensure_future(asyncio.to_thread(
            self.watch.crossings, symbols, prices, self.service.now()))
        self._pending.add_done_callback(self._record_crossings)

    def _record_crossings(self, task: asyncio.Future[list[dict[str, Any]]]) -> None:
        self._pending = None
        if task.cancelled():
            return
        if task.exception() is not None:
            log.error("correlation check failed", error=repr(task.exception()))
            return
        for payload in task.result():
            self.service.record_control(correlation.KIND, payload)

    async def settled(self) -> None:
        """Wait for a correlation check in flight (tests, shutdown)."""
        pending = self._pending
        if pending is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await pending

    def holdings(self, account: str | None) -> list[Holding]:
        """Today's book (on the loop): every open position at its mark (last trade, else
        the reference price, else its average cost)."""
        out = []
        for p in sorted(self.service.positions.all(), key=lambda p: (p.account, p.symbol)):
            if p.qty == 0 or (account is not None and p.account != account):
                continue
            price = self.service.mark(p.symbol) or p.avg_px
            out.append(Holding(p.account, p.symbol, p.qty, price))
        return out

    def known_symbols(self) -> set[str]:
        """What a custom shock may name: the instruments, and anything held."""
        return ({i.symbol for i in self.service.universe}
                | {p.symbol for p in self.service.positions.all()})

    def alerts(self) -> list[dict[str, Any]]:
        return list(self.watch.alerts)
