"""Two simulated venues behind one gateway: ExDestination(100) over real FIX, LastMkt(30)
on the fills, fees on the REST fills, GET /venues over real HTTP."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from gateway.fix_client import FixClient, open_session
from gateway.passwords import hash_password
from tests.integration.conftest import run
from tests.integration.harness import CLIENT1_PASSWORD, TEST_CONFIG, ServerProcess

pytestmark = pytest.mark.integration

ONE_VENUE = '''[[venues]]
name = "SIM"
kind = "sim"
seed = 11
tick_interval = 3600.0   # seeded book, no background flow: fills are predictable
'''
TWO_VENUES = '''[[venues]]
name = "SIM-A"
kind = "sim"
seed = 11
tick_interval = 3600.0
taker_fee_bps = 0.3

[[venues]]
name = "SIM-B"
kind = "sim"
seed = 12
tick_interval = 3600.0
liquidity_scale = 0.5
taker_fee_bps = 0.5
latency_ms = 3
messages_per_second = 50
'''
_ids = itertools.count(1)


def _two_venue_server(tmp_path_factory: pytest.TempPathFactory) -> ServerProcess:
    assert ONE_VENUE in TEST_CONFIG
    text = TEST_CONFIG.replace(ONE_VENUE, TWO_VENUES).replace(
        "{hash}", hash_password(CLIENT1_PASSWORD, iterations=1000))
    return ServerProcess(tmp_path_factory.mktemp("fixgate") / "data", text)


@pytest.fixture(scope="module")
def two_venues(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = _two_venue_server(tmp_path_factory)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def fresh_two_venues(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = _two_venue_server(tmp_path_factory)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


async def logon(server: ServerProcess, comp_id: str = "CLIENT1",
                begin_string: str = "FIX.4.4") -> FixClient:
    return await open_session("127.0.0.1", server.fix_port, comp_id, "FIXGATE",
                              begin_string=begin_string,
                              password=CLIENT1_PASSWORD if comp_id == "CLIENT1" else None)


async def reports(client: FixClient, cl_ord_id: str, until: str) -> list[dict[int, str]]:
    """This order's ExecutionReports up to the first with OrdStatus(39) in `until`."""
    got = []
    while True:
        msg = await client.next_message(timeout=10)
        if msg.get(35) == "8" and msg.get(11) == cl_ord_id:
            got.append(msg)
            if msg.get(39) in until:
                return got


@pytest.mark.parametrize("venue,begin_string,comp_id", [
    ("SIM-A", "FIX.4.4", "CLIENT1"), ("SIM-B", "FIX.4.4", "CLIENT1"),
    ("SIM-B", "FIX.4.2", "CLIENT2")])
def test_exdestination_pins_the_order_and_each_fill_names_its_venue(
        two_venues, venue, begin_string, comp_id):
    async def scenario():
        c = await logon(two_venues, comp_id, begin_string)
        cl = f"V{next(_ids)}"
        # Marketable against either seeded book (AAPL reference 173.45, 10 % collar).
        c.new_order(cl, "AAPL", "1", 300, ord_type="2", price="176.00", ex_destination=venue)
        got = await reports(c, cl, "2")
        trades = [m for m in got if m.get(32)]
        assert trades and {m[30] for m in trades} == {venue}  # LastMkt(30)
        order_id = got[-1][37]
        await c.logout()
        return order_id

    order_id = run(scenario())
    detail = two_venues.get(f"/orders/{order_id}").json()
    assert detail["venue"] == venue
    fee_bps = Decimal("0.3") if venue == "SIM-A" else Decimal("0.5")
    for fill in detail["fills"]:
        assert fill["venue"] == venue
        notional = Decimal(fill["last_qty"]) * Decimal(fill["last_px"])
        assert Decimal(fill["fee"]) == notional * fee_bps / 10_000


def test_an_unknown_exdestination_is_rejected_naming_the_venues(two_venues):
    async def scenario():
        c = await logon(two_venues)
        cl = f"V{next(_ids)}"
        c.new_order(cl, "AAPL", "1", 100, ord_type="2", price="170.00", ex_destination="NYSE")
        (rejected,) = await reports(c, cl, "8")
        assert rejected[150] == "8"
        assert rejected[58] == ("unknown ExDestination(100) 'NYSE': configured venues are "
                                "SIM-A, SIM-B")
        await c.logout()

    run(scenario())


def test_an_order_without_exdestination_is_routed_across_venues(two_venues):
    async def scenario():
        c = await logon(two_venues)
        cl = f"V{next(_ids)}"
        c.new_order(cl, "AAPL", "1", 600, ord_type="2", price="176.00")
        got = await reports(c, cl, "2")
        await c.logout()
        return got

    got = run(scenario())
    order_id = got[-1][37]
    assert {m[37] for m in got} == {order_id}  # the client's own order only
    traded_at = {m[30] for m in got if m.get(32)}
    detail = two_venues.get(f"/orders/{order_id}").json()
    routing = detail["routing"]
    assert {c["venue"] for c in routing["considered"]} == {"SIM-A", "SIM-B"}
    assert sum(Decimal(d["qty"]) for d in routing["decision"]) == 600
    assert traded_at <= {d["venue"] for d in routing["decision"]}
    assert routing["reason"]
    # The best level net of its venue's taker fee was taken first.
    fees = {"SIM-A": Decimal("0.3"), "SIM-B": Decimal("0.5")}
    net = sorted(Decimal(c["price"]) * (1 + fees[c["venue"]] / 10_000)
                 for c in routing["considered"] if Decimal(c["price"]) <= Decimal("176"))
    first = routing["decision"][0]
    cheapest = min(Decimal(c["price"]) * (1 + fees[c["venue"]] / 10_000)
                   for c in routing["considered"] if c["venue"] == first["venue"])
    assert cheapest == net[0]


def test_get_venues_lists_each_venue_with_status_since(two_venues):
    r = two_venues.get("/venues", user="viewer", password="viewer-pw")
    assert r.status_code == 200
    venues = r.json()
    assert [(v["name"], v["kind"], v["status"]) for v in venues] == [
        ("SIM-A", "sim", "up"), ("SIM-B", "sim", "up")]
    for v in venues:
        since = datetime.fromisoformat(v["since"])
        assert since.utcoffset() == timedelta(0)
        assert datetime.now(UTC) - timedelta(minutes=10) < since <= datetime.now(UTC)
    assert httpx.get(f"{two_venues.api}/venues").status_code == 401


def test_after_kill9_a_pinned_order_is_back_on_its_venue_and_fills_keep_venue_and_fee(
        fresh_two_venues):
    server = fresh_two_venues

    async def before_crash():
        c = await logon(server)
        c.new_order("PIN-REST", "AAPL", "1", 200, ord_type="2", price="165.00",
                    ex_destination="SIM-B")  # below SIM-B's bids: rests
        await reports(c, "PIN-REST", "0")
        c.new_order("PIN-FILL", "AAPL", "1", 100, ord_type="2", price="176.00",
                    ex_destination="SIM-B")
        return (await reports(c, "PIN-FILL", "2"))[-1][37]

    filled_id = run(before_crash())
    fills_before = server.get(f"/orders/{filled_id}").json()["fills"]
    assert fills_before and all(f["venue"] == "SIM-B" and Decimal(f["fee"]) > 0
                                for f in fills_before)
    server.kill9()
    server.start()
    # Fee and venue came back from the journal in PostgreSQL, not from memory.
    assert server.get(f"/orders/{filled_id}").json()["fills"] == fills_before

    async def after_restart():
        c = await logon(server)
        # SIM-B itself confirms the cancel: replay put the order back in SIM-B's book (had
        # it gone to SIM-A, SIM-B would answer "unknown order at venue SIM-B").
        c.cancel("PIN-CXL", "PIN-REST", "AAPL", "1")
        while True:
            msg = await c.next_message(timeout=10)
            if msg.get(11) == "PIN-CXL":
                break
        assert (msg[35], msg[150], msg[39]) == ("8", "4", "4")
        await c.logout()

    run(after_restart())
