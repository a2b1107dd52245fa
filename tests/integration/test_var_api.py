"""GET /risk/var through the real server: history imported with `fixgate prices import`
while the server runs, positions built by real fills over FIX, validation and roles."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import run
from tests.integration.harness import ServerProcess
from tests.integration.test_fix_order_path import logon

pytestmark = pytest.mark.integration
DAILY = Path(__file__).resolve().parents[3] / "shared" / "data" / "daily"  # ../shared
ACCOUNT = "VARACC"


def import_prices(server: ServerProcess, *symbols: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli", "prices", "import", "--config",
         str(server.config_path), "--data-dir", str(server.data_dir),
         "--csv", *(str(DAILY / f"{s}.csv") for s in symbols)],
        capture_output=True, text=True, timeout=120)


async def buy_filled(server: ServerProcess, symbol: str, qty: int, cl: str) -> None:
    c = await logon(server, "CLIENT3")
    c.new_order(cl, symbol, "1", qty, ord_type="1", account=ACCOUNT)
    while True:  # until the market order is filled (39=2) or refused
        msg = await c.next_message(timeout=10)
        if msg.get(11) == cl and msg.get(35) == "8":
            assert msg.get(39) not in ("8", "4"), msg.get(58)
            if msg.get(39) == "2":
                break
    await c.logout()


def var(server: ServerProcess, query: str, **kw: str) -> httpx.Response:
    return server.get(f"/risk/var{query}", **kw)  # type: ignore[arg-type]


@pytest.mark.skipif(not DAILY.is_dir(), reason="needs shared/data/daily")
def test_var_of_real_fills_on_history_imported_while_the_server_runs(server):
    done = import_prices(server, "AAPL", "MSFT", "SPY")
    assert done.returncode == 0, done.stderr
    assert "AAPL: 4028 daily closes imported" in done.stdout
    # the import's embedded-PostgreSQL handle was the second: the server's database lives on
    assert server.get("/risk").status_code == 200

    empty = var(server, f"?account={ACCOUNT}").json()
    assert empty["gross_exposure"] == "0.00" and empty["methods"]["historical"]["var"] == "0.00"

    run(buy_filled(server, "AAPL", 100, "VAR-1"))
    run(buy_filled(server, "MSFT", 50, "VAR-2"))
    body = var(server, f"?account={ACCOUNT}").json()
    assert body["account"] == ACCOUNT and body["confidence"] == 0.99
    assert body["horizon_days"] == 1 and body["missing_history"] == []
    risk = server.get(f"/accounts/{ACCOUNT}/risk").json()
    assert body["gross_exposure"] == str(Decimal(risk["gross_exposure"]).quantize(Decimal("0.01")))
    gross = Decimal(body["gross_exposure"])
    assert set(body["methods"]) == {"historical", "parametric", "monte_carlo"}
    for m in body["methods"].values():
        v, es = Decimal(m["var"]), Decimal(m["es"])
        # two long large caps: a 99 % day loses between 1 % and 10 % of the book
        assert gross * Decimal("0.01") < v < gross * Decimal("0.10")
        assert es >= v
    comps = {c["symbol"]: c for c in body["components"]}
    assert set(comps) == {"AAPL", "MSFT"}
    total = sum(Decimal(c["component_var"]) for c in comps.values())
    assert abs(total - Decimal(body["methods"]["parametric"]["var"])) <= Decimal("0.05")
    assert all(Decimal(c["marginal_var"]) > 0 for c in comps.values())
    assert 0.5 < body["beta"] < 2.0  # AAPL and MSFT against SPY, 2020-2021
    # Correlations pushed half-way to 1: two long positions lose more together.
    breakdown = body["correlation_breakdown"]
    assert breakdown["correlation_stress"] == 0.5
    # (zero-mean parametric, so close to but not the parametric method's figure)
    parametric = Decimal(body["methods"]["parametric"]["var"])
    assert abs(Decimal(breakdown["parametric_var"]) - parametric) < parametric * Decimal("0.1")
    assert Decimal(breakdown["stressed_var"]) > Decimal(breakdown["parametric_var"])
    assert Decimal(breakdown["change"]) == (Decimal(breakdown["stressed_var"])
                                           - Decimal(breakdown["parametric_var"]))
    full = var(server, f"?account={ACCOUNT}&correlation_stress=1").json()["correlation_breakdown"]
    assert Decimal(full["stressed_var"]) > Decimal(breakdown["stressed_var"])

    ten = var(server, f"?account={ACCOUNT}&method=parametric&horizon_days=10"
                      "&confidence=0.95").json()
    assert list(ten["methods"]) == ["parametric"]
    assert Decimal(ten["methods"]["parametric"]["var"]) > \
        Decimal(body["methods"]["parametric"]["var"])  # sqrt(10) x 1.645 > 2.326

    # a symbol with no history is named, the rest still measured; the firm includes it all
    run(buy_filled(server, "JPM", 10, "VAR-3"))
    body = var(server, f"?account={ACCOUNT}", user="viewer", password="viewer-pw").json()
    assert body["missing_history"] == ["JPM"]
    assert Decimal(body["methods"]["historical"]["var"]) > 0
    firm = var(server, "").json()
    assert firm["account"] is None and Decimal(firm["gross_exposure"]) >= gross

    # history imported meanwhile is used at the next request
    assert import_prices(server, "JPM").returncode == 0
    assert var(server, f"?account={ACCOUNT}").json()["missing_history"] == []


@pytest.mark.parametrize(("query", "words"), [
    ("?method=garch", "unknown method 'garch'"),
    ("?confidence=1.5", "confidence 1.5 is out of range"),
    ("?confidence=0", "out of range"),
    ("?horizon_days=0", "horizon_days 0 is out of range"),
    ("?horizon_days=ten", "horizon_days"),
    ("?confidence=nan", "confidence nan is out of range"),
    ("?acount=ACC1", "unknown query parameter(s) acount"),
    ("?correlation_stress=1.5", "correlation_stress 1.5 is out of range"),
])
def test_var_refuses_bad_parameters_with_a_message(server, query, words):
    r = var(server, query)
    assert r.status_code == 422 and words in str(r.json()["detail"]), r.text


def test_var_needs_a_login(server):
    assert httpx.get(f"{server.api}/risk/var").status_code == 401


def test_prices_import_refuses_a_bad_file_and_writes_nothing(server, tmp_path):
    bad = tmp_path / "ZZZ.csv"
    bad.write_text("date,close\n2020-01-02,10\n2020-01-03,-1\n")
    r = subprocess.run([sys.executable, "-m", "gateway.cli", "prices", "import", "--config",
                        str(server.config_path), "--data-dir", str(server.data_dir),
                        "--csv", str(bad)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "ZZZ.csv, line 3" in r.stderr and "positive" in r.stderr


@pytest.mark.skipif(not DAILY.is_dir(), reason="needs shared/data/daily")
def test_prices_imported_with_no_server_running_are_there_when_it_starts(tmp_path):
    srv = ServerProcess(tmp_path / "data")
    done = import_prices(srv, "SPY")  # starts and stops the embedded PostgreSQL itself
    assert done.returncode == 0, done.stderr
    srv.start()
    try:
        run(buy_filled(srv, "SPY", 10, "VAR-SPY"))
        body = var(srv, f"?account={ACCOUNT}&method=historical").json()
        assert body["missing_history"] == [] and body["history_days"] == 500
        assert Decimal(body["methods"]["historical"]["var"]) > 0
        assert body["beta"] == pytest.approx(1.0)  # SPY against itself
    finally:
        srv.stop()


def test_the_sims_last_print_of_each_trading_day_becomes_history(fresh_server):
    srv = fresh_server
    for k in range(3):  # three trading days, each with a print (our own fill) and a close
        run(buy_filled(srv, "KO", 10, f"VAR-KO{k}"))
        r = srv.post("/trading-day/close")
        assert r.status_code == 200, r.text
    # the closes are written by a task after each roll: wait for the third (bounded)
    for _ in range(200):
        body = var(srv, f"?account={ACCOUNT}&method=parametric").json()
        if body["history_days"] == 2:
            break
    assert body["missing_history"] == [] and body["history_days"] == 2
    assert Decimal(body["methods"]["parametric"]["var"]) >= 0
    # no SPY history on this server: no beta, and the answer says why
    assert body["beta"] is None and any("beta: fewer than 20 days of SPY" in n
                                        for n in body["notes"])


def test_closes_journaled_at_the_roll_are_written_again_after_kill_9(fresh_server):
    """The closes ride in the journaled day_closed event: rows lost from the table
    (a kill -9 between the commit and the write) come back at the next start."""
    import asyncpg

    from gateway.database import EmbeddedPostgres

    srv = fresh_server
    for k in range(3):
        run(buy_filled(srv, "KO", 10, f"VAR-K9{k}"))
        assert srv.post("/trading-day/close").status_code == 200
    srv.kill9()

    async def forget() -> int:
        pg = EmbeddedPostgres(srv.data_dir)  # the server's PostgreSQL outlived it
        conn = await asyncpg.connect(pg.start())
        try:
            return int((await conn.execute("DELETE FROM price_history")).split()[-1])
        finally:
            await conn.close()
            pg.stop()
    assert run(forget()) == 3  # KO, one close per trading day

    srv.start()
    body = var(srv, f"?account={ACCOUNT}&method=parametric").json()
    assert body["missing_history"] == [] and body["history_days"] == 2
