"""Stress tests over the real server: positions built by real fills over FIX, then
POST /risk/stress (shipped crises, a CSV scenario from the config, custom shocks,
liquidity), GET /risk/scenarios and GET /risk/alerts, and the 422s for bad requests."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from gateway.passwords import hash_password
from gateway.stress import shipped
from tests.integration.conftest import run
from tests.integration.harness import CLIENT1_PASSWORD, TEST_CONFIG, ServerProcess
from tests.integration.test_fix_order_path import logon

pytestmark = pytest.mark.integration
VIEWER = {"user": "viewer", "password": "viewer-pw"}
SCENARIO_CSV = """# Energy falls, tech rallies (a made-up two-day test scenario)
date,market,sector:Energy,AAPL
2022-03-01,-0.01,-0.10,0.02
2022-03-02,-0.02,-0.10,0.03
"""


@pytest.fixture(scope="module")
def stressed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, dict]]:
    root = tmp_path_factory.mktemp("stress")
    (root / "oil-drop.csv").write_text(SCENARIO_CSV)
    config = TEST_CONFIG.replace("{hash}", hash_password(CLIENT1_PASSWORD, iterations=1000))
    config += (f'\n[risk]\ncorrelation_threshold = 0.9\ncorrelation_window = 20\n'
               f'scenario_files = ["{root / "oil-drop.csv"}"]\n')
    srv = ServerProcess(root / "data", config)
    srv.start()
    try:
        marks = run(build_book(srv))
        yield srv, marks
    finally:
        srv.stop()


async def build_book(server: ServerProcess) -> dict[str, Decimal]:
    """STRA buys AAPL, STRB buys XOM, each filled in full by the sim's seeded book; the
    symbols' marks are the last prints, the last fills."""
    c = await logon(server, "CLIENT3")
    marks = {}
    for account, symbol, price in (("STRA", "AAPL", "180.00"), ("STRB", "XOM", "57.00")):
        c.new_order(f"{account}-1", symbol, "1", 100, ord_type="2", price=price,
                    account=account)
        while True:
            msg = await c.next_message(timeout=10)
            if msg.get(11) != f"{account}-1":
                continue
            assert msg[150] not in ("8", "4"), msg.get(58)
            if msg.get(150) == "F":
                marks[symbol] = Decimal(msg[31])
            if msg.get(39) == "2":
                break
    await c.logout()
    return marks


def cumulative(path: tuple[float, ...]) -> float:
    return math.prod(1 + r for r in path) - 1


def test_scenarios_are_listed(stressed):
    server, _ = stressed
    r = server.get("/risk/scenarios", **VIEWER)
    assert r.status_code == 200, r.text
    listed = {s["name"]: s for s in r.json()}
    assert set(listed) == {"gfc-2008", "covid-2020", "oil-drop"}
    assert listed["gfc-2008"]["start"] == "2008-09-02" and listed["gfc-2008"]["end"] == "2008-11-28"
    assert listed["oil-drop"] == {"name": "oil-drop", "start": "2022-03-01", "end": "2022-03-02",
                                  "description": "Energy falls, tech rallies (a made-up "
                                                 "two-day test scenario)"}


def test_gfc_replay_on_the_filled_book(stressed):
    server, marks = stressed
    r = server.post("/risk/stress", {"scenario": "gfc-2008"}, **VIEWER)
    assert r.status_code == 200, r.text
    body = r.json()
    gfc = next(s for s in shipped().scenarios if s.name == "gfc-2008")
    expected = {}
    for account, symbol in (("STRA", "AAPL"), ("STRB", "XOM")):
        value = 100 * marks[symbol]
        expected[account] = (value * Decimal(repr(cumulative(gfc.symbols[symbol])))).quantize(
            Decimal("0.01"))
    assert [(p["account"], p["symbol"], p["pnl"]) for p in body["positions"]] == [
        ("STRA", "AAPL", str(expected["STRA"])), ("STRB", "XOM", str(expected["STRB"]))]
    assert body["accounts"] == {a: str(v) for a, v in expected.items()}
    assert Decimal(body["pnl"]) == sum(expected.values()) < 0
    assert Decimal(body["worst_pnl"]) <= Decimal(body["pnl"])
    one = server.post("/risk/stress", {"scenario": "covid-2020", "account": "STRB"}).json()
    assert list(one["accounts"]) == ["STRB"] and [p["symbol"] for p in one["positions"]] == [
        "XOM"]


def test_csv_scenario_and_custom_shocks(stressed):
    server, marks = stressed
    body = server.post("/risk/stress", {"scenario": "oil-drop"}).json()
    aapl, xom = 100 * marks["AAPL"], 100 * marks["XOM"]
    q = Decimal("0.01")
    by_symbol = {p["symbol"]: p for p in body["positions"]}
    assert by_symbol["AAPL"]["pnl"] == str((aapl * Decimal(repr(1.02 * 1.03 - 1))).quantize(q))
    assert by_symbol["XOM"]["shock_source"] == "sector:Energy"
    assert by_symbol["XOM"]["pnl"] == str((xom * Decimal(repr(0.9 * 0.9 - 1))).quantize(q))

    shocked = server.post("/risk/stress", {"shocks": {"AAPL": -0.2, "sector:Energy": -0.3,
                                                      "market": -0.1}}).json()
    assert shocked["accounts"] == {"STRA": str((aapl * Decimal("-0.2")).quantize(q)),
                                   "STRB": str((xom * Decimal("-0.3")).quantize(q))}
    market = server.post("/risk/stress", {"shocks": {"market": -0.1}}).json()
    assert Decimal(market["pnl"]) == ((aapl + xom) * Decimal("-0.1")).quantize(q)


def test_liquidity_stress(stressed):
    server, marks = stressed
    body = server.post("/risk/stress", {"shocks": {"market": -0.1},
                                        "liquidity": {"max_adv_share": 0.1}}).json()
    liq = body["liquidity"]
    ref = shipped().liquidity["AAPL"]
    row = next(p for p in liq["positions"] if p["symbol"] == "AAPL")
    assert row["days_to_liquidate"] == round(100 / (0.1 * ref.adv), 4)
    cost = ref.daily_vol * math.sqrt(100 / ref.adv) * 100 * float(marks["AAPL"])
    assert Decimal(row["cost"]) == pytest.approx(Decimal(repr(cost)), abs=Decimal("0.01"))
    assert liq["impact_coefficient"] == 1.0 and Decimal(liq["cost"]) > 0


@pytest.mark.parametrize("body,words", [
    ({"scenario": "dotcom-2000"}, "unknown scenario 'dotcom-2000'; known: covid-2020"),
    ({}, "exactly one of them"),
    ({"scenario": "gfc-2008", "shocks": {"market": -0.1}}, "exactly one of them"),
    ({"shocks": {"market": "big"}}, "shocks.market must be a number"),
    ({"shocks": {"sector:Crypto": -0.5}}, "unknown sector 'Crypto'"),
    ({"shocks": {"AAPL": -3}}, "between -1.0 and 10.0"),
    ({"shocks": {"APPL": -0.2}}, "unknown symbol 'APPL'"),
    ({"scenario": "gfc-2008", "liquidity": {"max_adv_share": 2}}, "max_adv_share"),
    ({"scenario": "gfc-2008", "color": "red"}, "color"),
])
def test_bad_stress_requests_are_422_with_a_reason(stressed, body, words):
    server, _ = stressed
    r = server.post("/risk/stress", body)
    assert r.status_code == 422 and words in str(r.json()["detail"]), r.text


def test_stress_needs_a_login_and_alerts_show_the_configuration(stressed):
    server, _ = stressed
    assert httpx.post(f"{server.api}/risk/stress", json={"scenario": "gfc-2008"}).status_code \
        == 401
    r = server.get("/risk/alerts", **VIEWER)
    assert r.status_code == 200
    assert r.json() == {"correlation_threshold": 0.9, "average_correlation_threshold": None,
                        "correlation_window": 20, "above": [], "alerts": []}


def send_one(c, cl: str, symbol: str, side: str, price: str, account: str) -> None:
    c.new_order(cl, symbol, side, 1, ord_type="2", price=price, account=account)


async def filled(c, cls: set[str]) -> None:
    waiting = set(cls)
    while waiting:
        msg = await c.next_message(timeout=10)
        assert msg.get(150) not in ("8", "4"), msg.get(58)
        if msg.get(11) in waiting and msg.get(39) == "2":
            waiting.discard(msg[11])


def test_correlation_alert_over_live_prints_survives_kill9(tmp_path):
    """AAPL and XOM are held; a trader buys then sells one share of both at once, over and
    over, so both prints bounce between ask and bid together: their sampled returns move as
    one, the pair crosses 0.5, the alert is journaled, and it is still there after kill -9."""
    config = TEST_CONFIG.replace("{hash}", hash_password(CLIENT1_PASSWORD, iterations=1000))
    config += ("\n[risk]\ncorrelation_threshold = 0.5\ncorrelation_window = 4\n"
               "correlation_interval_s = 0.05\n")
    server = ServerProcess(tmp_path / "data", config)
    server.start()
    try:
        run(build_book(server))

        async def bounce() -> list[dict]:
            c = await logon(server, "CLIENT3")
            n = 0
            try:
                while True:
                    for side, aapl, xom in (("1", "180.00", "57.00"), ("2", "165.00", "48.00")):
                        n += 1
                        send_one(c, f"BNC-A{n}", "AAPL", side, aapl, "BNC")
                        send_one(c, f"BNC-X{n}", "XOM", side, xom, "BNC")
                        await filled(c, {f"BNC-A{n}", f"BNC-X{n}"})
                    r = await asyncio.to_thread(server.get, "/risk/alerts")
                    if r.json()["alerts"]:
                        return r.json()["alerts"]
            finally:
                await c.logout()

        alerts = run(bounce(), timeout=60)
        assert alerts[0]["key"] == "AAPL/XOM" and alerts[0]["crossed"] == "above"
        assert float(alerts[0]["correlation"]) >= 0.5 and alerts[0]["window"] == 4
        before = server.get("/risk/alerts").json()
        server.kill9()
        server.start()
        after = server.get("/risk/alerts", **VIEWER).json()
        assert after["alerts"][:len(before["alerts"])] == before["alerts"]
        # (More crossings may have come between the two reads: sampling goes on.)
        above: set[str] = set()
        for alert in after["alerts"]:
            (above.add if alert["crossed"] == "above" else above.discard)(alert["key"])
        assert after["above"] == sorted(above)
    finally:
        server.stop()
