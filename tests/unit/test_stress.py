"""Stress tests and correlation alerts: scenario replay and shocks on books worked out by
hand, the liquidity formula, scenario CSVs, and the correlation alert crossing its
threshold on the injected clock and surviving a restart of the OMS."""

from __future__ import annotations

import asyncio
import math
from datetime import datetime
from decimal import Decimal as D
from typing import Any

import numpy as np
import pytest

from compliance import lists
from compliance.desk import RiskDesk
from compliance.lists import Locates
from gateway.config import ConfigError, RiskAnalyticsConfig, parse_config
from gateway.stress import StressDesk, shipped
from gateway.venues.sim.exchange import SimExchange
from oms.clock import SimulatedClock
from oms.commands import SubmitOrder
from oms.enums import OrdStatus
from oms.journal import ControlEvent, InMemoryJournal
from oms.universe import default_universe
from risk import correlation as corr_mod
from risk.correlation import CorrelationWatch, SampledPrices, average_correlation, correlation
from risk.limits import Limits, LimitsBook
from risk.stress import (
    Holding,
    Liquidity,
    Scenario,
    StressError,
    apply_shocks,
    liquidity,
    liquidity_cost,
    parse_shocks,
    replay,
    scenario_from_csv,
)

SECTORS = {"AAA": "Information Technology", "XOM": "Energy", "CVX": "Energy"}
TWO_DAYS = Scenario(name="t", start="2008-09-02", end="2008-09-03", description="",
                    dates=("2008-09-02", "2008-09-03"), market=(0.10, -0.20),
                    sectors={"Energy": (0.05, 0.0)}, symbols={"AAA": (-0.10, -0.10)})


def test_scenario_replay_on_a_two_position_book_by_hand():
    book = [Holding("ACC1", "AAA", D(100), D(50)),  # long 5,000
            Holding("ACC2", "XOM", D(-200), D(10))]  # short 2,000, Energy
    result = replay(TWO_DAYS, book, SECTORS)
    # AAA: its own path, 0.9 * 0.9 - 1 = -19% of 5,000 = -950.
    # XOM: not in the scenario, its sector's path: +5% on a -2,000 short = -100.
    assert [(p.symbol, p.pnl, p.source) for p in result.positions] == [
        ("AAA", D("-950.00"), "symbol"), ("XOM", D("-100.00"), "sector:Energy")]
    assert result.accounts == {"ACC1": D("-950.00"), "ACC2": D("-100.00")}
    assert result.pnl == D("-1050.00")
    # Day 1: -500 - 100 = -600; day 2: -1,050, the trough.
    assert (result.worst_pnl, result.worst_date) == (D("-1050.00"), "2008-09-03")
    body = result.to_dict()
    assert body["pnl"] == "-1050.00" and body["positions"][0]["pnl"] == "-950.00"


def test_a_symbol_without_its_own_or_sector_path_takes_the_market():
    result = replay(TWO_DAYS, [Holding("A", "ZZZ", D(10), D(100))], {})
    # 1.1 * 0.8 - 1 = -12% of 1,000; the worst point is the end (day 1 was a gain).
    assert result.positions[0].source == "market" and result.pnl == D("-120.00")
    assert result.worst_date == "2008-09-03"


def test_the_shipped_crises_are_real_and_large():
    data = shipped()
    names = {s.name: s for s in data.scenarios}
    assert {"gfc-2008", "covid-2020"} <= set(names)
    gfc, covid = names["gfc-2008"], names["covid-2020"]
    assert gfc.start.startswith("2008-09") and gfc.end.startswith("2008-11")
    assert covid.start.startswith("2020-02") and covid.end.startswith("2020-03")
    market = {n: math.prod(1 + r for r in s.market) - 1 for n, s in names.items()}
    assert -0.35 < market["gfc-2008"] < -0.25 and -0.30 < market["covid-2020"] < -0.15
    # Banks fell further than the market in 2008; every path is one return per date.
    assert math.prod(1 + r for r in gfc.symbols["C"]) - 1 < market["gfc-2008"]
    assert all(len(p) == len(gfc.dates) for p in (*gfc.symbols.values(),
                                                    *gfc.sectors.values()))
    assert data.sectors["XOM"] == "Energy" and data.liquidity["AAPL"].adv > 1e6


def test_custom_shocks_symbol_then_sector_then_market():
    shocks = parse_shocks({"AAA": -0.2, "sector:Energy": -0.3, "market": -0.1})
    book = [Holding("A", "AAA", D(10), D(100)), Holding("A", "XOM", D(10), D(100)),
            Holding("B", "ZZZ", D(-10), D(100))]
    result = apply_shocks(shocks, book, SECTORS)
    assert [(p.symbol, p.pnl, p.source) for p in result.positions] == [
        ("AAA", D("-200.00"), "symbol"), ("XOM", D("-300.00"), "sector:Energy"),
        ("ZZZ", D("100.00"), "market")]
    assert result.accounts == {"A": D("-500.00"), "B": D("100.00")}
    # Without a market shock, an unnamed symbol is left alone.
    only = apply_shocks(parse_shocks({"CVX": 0.5}), book, SECTORS)
    assert only.pnl == D(0) and only.positions[2].source == "none"


@pytest.mark.parametrize("raw,words", [
    ({}, "at least one"),
    ({"AAPL": "-0.2"}, "must be a number"),
    ({"AAPL": True}, "must be a number"),
    ({"AAPL": -1.5}, "between -1.0 and 10.0"),
    ({"sector:Nowhere": -0.1}, "unknown sector 'Nowhere'"),
    ({"foo:bar": -0.1}, "is not a symbol"),
    ({"AAPL": -0.1, "APPL": -0.1}, "unknown symbol 'APPL'"),
])
def test_malformed_shocks_are_refused_with_a_reason(raw, words):
    with pytest.raises(StressError, match=words):
        parse_shocks(raw, known_sectors={"Energy"}, known_symbols={"AAPL"})


def test_liquidity_cost_and_days_by_hand():
    # 10,000 shares at 50 against an ADV of 100,000 and a 2% daily vol, Y = 1:
    # impact 0.02 * sqrt(0.1) = 0.63246%, on 500,000 of stock = 3,162.28.
    assert liquidity_cost(10_000, 50, 100_000, 0.02) == pytest.approx(3162.2777, abs=1e-3)
    rows = liquidity([Holding("A", "AAA", D(-10_000), D(50)),
                      Holding("A", "ZZZ", D(5), D(1))],
                     {"AAA": Liquidity(100_000, 0.02)}, max_adv_share=0.05)
    assert rows[0].cost == D("3162.28")  # a short costs the same to buy back
    assert rows[0].days_to_liquidate == pytest.approx(2.0)  # 5,000 shares a day
    assert rows[1].cost is None and rows[1].days_to_liquidate is None  # no ADV known
    assert liquidity_cost(10_000, 50, 100_000, 0.02, coefficient=0.5) == pytest.approx(
        3162.2777 / 2, abs=1e-3)
    with pytest.raises(StressError, match="max_adv_share"):
        liquidity([], {}, max_adv_share=0)


def test_scenario_csv_round_trip_and_refusals(tmp_path):
    text = ("# A made-up rate shock\n"
            "date,market,sector:Energy,AAPL\n"
            "2022-06-01,-0.01,-0.05,0.02\n"
            "2022-06-02,-0.02,0.00,-0.03\n")
    s = scenario_from_csv("rates-2022", text)
    assert (s.name, s.start, s.end, s.description) == (
        "rates-2022", "2022-06-01", "2022-06-02", "A made-up rate shock")
    assert s.market == (-0.01, -0.02) and s.sectors == {"Energy": (-0.05, 0.0)}
    assert s.symbols == {"AAPL": (0.02, -0.03)}
    for bad, words in [("date,AAPL\n2022-01-01,0.1\n", "market column"),
                       ("date,market\n2022-01-01,abc\n", "'abc' is not a number"),
                       ("date,market\n2022-01-01,-2\n", "between -1"),
                       ("date,market\n2022-01-02,0\n2022-01-01,0\n", "oldest first"),
                       ("date,market\n", "no rows")]:
        with pytest.raises(StressError, match=words):
            scenario_from_csv("bad", bad)
    (tmp_path / "rates-2022.csv").write_text(text)
    cfg = parse_config('[risk]\nscenario_files = ["rates-2022.csv"]\n', base_dir=tmp_path)
    assert [x.name for x in cfg.risk.scenarios] == ["rates-2022"]
    (tmp_path / "broken.csv").write_text("date,AAPL\n2022-01-01,0.1\n")
    with pytest.raises(ConfigError, match=r"\[risk\] scenario_files: .*broken.csv"):
        parse_config('[risk]\nscenario_files = ["broken.csv"]\n', base_dir=tmp_path)
    (tmp_path / "gfc-2008.csv").write_text(text)
    clash = parse_config('[risk]\nscenario_files = ["gfc-2008.csv"]\n', base_dir=tmp_path)
    with pytest.raises(ConfigError, match="gfc-2008 is the name of a scenario the server ships"):
        Book(InMemoryJournal(), SimulatedClock(), clash.risk)
    with pytest.raises(ConfigError, match=r"\[risk\]: unknown key\(s\) correlation"):
        parse_config("[risk]\ncorrelation = 0.5\n")
    with pytest.raises(ConfigError, match="correlation_threshold must be a correlation"):
        parse_config("[risk]\ncorrelation_threshold = 1.5\n")


def test_correlation_matches_numpy_and_handles_a_flat_symbol():
    rng = np.random.default_rng(3)
    prices = 100 * np.cumprod(1 + rng.normal(0, 0.01, size=(50, 3)), axis=0)
    returns = prices[1:] / prices[:-1] - 1
    assert np.allclose(correlation(prices), np.corrcoef(returns.T))
    flat = np.column_stack([prices[:, 0], np.full(50, 10.0)])
    got = correlation(flat)
    assert np.isnan(got[0, 1]) and math.isnan(average_correlation(got))


def test_watch_alerts_on_each_crossing_only():
    watch = CorrelationWatch(threshold=0.8, average_threshold=None, window=5)
    at = datetime(2021, 1, 4)
    high = np.array([[1.0, 0.9], [0.9, 1.0]])
    low = np.array([[1.0, 0.1], [0.1, 1.0]])
    first = watch.check(["MSFT", "AAPL"], high, at)
    assert [(c["key"], c["crossed"], c["correlation"]) for c in first] == [
        ("AAPL/MSFT", "above", "0.9")]
    for payload in first:
        watch.apply(payload)
    assert watch.check(["MSFT", "AAPL"], high, at) == []  # still above: no new alert
    down = watch.check(["MSFT", "AAPL"], low, at)
    assert [c["crossed"] for c in down] == ["below"]


MM = "MM"


class Book:
    """An in-process OMS on a simulated clock, with the stress desk wired as the server
    wires it; fills come from the real sim exchange."""

    def __init__(self, journal: InMemoryJournal, clock: SimulatedClock,
                 config: RiskAnalyticsConfig | None = None) -> None:
        universe = default_universe()
        self.clock = clock
        self.desk = RiskDesk(limits=LimitsBook(Limits()))
        self.service, _ = self.desk.order_service(
            universe, journal, {"SIM": SimExchange(universe, liquidity=False)}, clock=clock)
        self.stress = StressDesk.build(self.service, config or RiskAnalyticsConfig(
            correlation_threshold=0.8, average_correlation_threshold=0.95,
            correlation_window=4, correlation_interval_s=60))
        self.n = 0

    async def start(self) -> Book:
        await self.service.start()
        self.stress.start_sampling()
        for symbol in ("AAPL", "MSFT"):  # the market maker sells short to fill our buys
            self.service.record_control(lists.LOCATE_KIND,
                                        Locates.event(MM, symbol, D(1_000_000), "test"))
        return self

    async def order(self, account: str, symbol: str, side: str, qty: int, px: str) -> Any:
        self.n += 1
        oid = self.service.submit(SubmitOrder(
            cl_ord_id=f"C{self.clock.monotonic()}-{self.n}", account=account, symbol=symbol,
            side=side, ord_type="2", qty=D(qty), price=D(px), session=f"S-{account}"))
        for _ in range(3):
            await self.service.barrier()
        return self.service.orders.get(oid)

    async def trade(self, account: str, symbol: str, qty: int, px: str) -> None:
        await self.order(MM, symbol, "5", qty, px)
        assert (await self.order(account, symbol, "1", qty, px)).status is OrdStatus.FILLED


def test_correlation_alert_crosses_on_the_clock_and_survives_a_restart():
    async def scenario() -> None:
        journal, clock = InMemoryJournal(), SimulatedClock()
        book = await Book(journal, clock).start()
        await book.trade("ACC1", "AAPL", 100, "170.00")
        await book.trade("ACC1", "MSFT", 100, "320.00")
        # AAPL and MSFT move together, minute by minute, on the injected clock.
        for aapl, msft in [("171", "322"), ("169", "318"), ("172", "324"), ("170", "319"),
                           ("173", "326")]:
            await book.trade("ACC3", "AAPL", 1, aapl)
            await book.trade("ACC3", "MSFT", 1, msft)
            clock.advance(60)
            await book.stress.settled()
            await book.service.barrier()
        alerts = [e.payload for _, e in journal.entries
                  if isinstance(e, ControlEvent) and e.kind == corr_mod.KIND]
        assert [(a["key"], a["crossed"]) for a in alerts] == [
            ("AAPL/MSFT", "above"), ("average", "above")]
        assert float(alerts[0]["correlation"]) > 0.95 and alerts[0]["threshold"] == "0.8"
        assert alerts[0]["ts"] == clock.now().isoformat()
        book.stress.stop()
        await book.service.stop()

        again = await Book(journal, SimulatedClock()).start()
        assert again.stress.watch.above == {"AAPL/MSFT", "average"}
        assert [a["key"] for a in again.stress.alerts()] == ["AAPL/MSFT", "average"]
        again.stress.stop()
        await again.service.stop()
    asyncio.run(scenario())


def test_sampled_prices_keep_the_last_window_on_the_clock():
    clock = SimulatedClock()
    prices = SampledPrices(clock, 10, keep=3)
    prices.start()
    from oms.marketdata import TradeTick
    for i in range(5):
        prices.on_market_data(TradeTick("AAPL", D(100 + i), D(1), clock.now()))
        clock.advance(10)
    symbols, got = prices.prices(["AAPL", "MSFT"], 10)
    assert symbols == ["AAPL"] and got[:, 0].tolist() == [102.0, 103.0, 104.0]


def test_bench_stress_command_prints_its_figures(capsys):
    import json

    from gateway.cli import main
    assert main(["bench", "--stress", "20", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["positions"] == 20 and figures["symbols"] == 500
    assert all(figures[k] > 0 for k in ("replay_ms", "shocks_ms", "liquidity_ms",
                                        "correlation_check_ms"))
