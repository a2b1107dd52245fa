"""Algorithms over real FIX: a TWAP parent worked as children on the sim, reported to
the client as its own order (fills with LastMkt(30)), shown with its children over
REST, refused with an ExecutionReport naming the tag, and resumed after kill -9."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from gateway.fix_client import FixClient, utc_timestamp
from tests.integration.conftest import run
from tests.integration.test_fix_order_path import logon, report_for

pytestmark = pytest.mark.integration


def send_algo(c: FixClient, cl: str, qty: int, *extra: tuple[int, str]) -> None:
    """A market NewOrderSingle with algorithm tags."""
    c.send([(35, "D"), (11, cl), (21, "1"), (55, "AAPL"), (54, "1"), (60, utc_timestamp()),
            (38, qty), (40, "1"), (59, "0"), *extra])


def fix_time(seconds_from_now: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds_from_now)).strftime(
        "%Y%m%d-%H:%M:%S.%f")[:-3]


async def trades_until_done(c: FixClient, cl: str, timeout: float = 30.0
                            ) -> tuple[list[dict[int, str]], dict[int, str]]:
    """Trade reports of the order until its last report (Filled or Canceled)."""
    trades = []
    while True:
        msg = await c.next_message(timeout=timeout, msg_type="8")
        if msg.get(11) != cl:
            continue
        if msg.get(150) == "F":
            trades.append(msg)
        if msg.get(39) in ("2", "4"):
            return trades, msg


def test_twap_over_fix_reports_the_parent_and_shows_its_children(server):
    seen: dict[str, object] = {}

    async def scenario():
        c = await logon(server)
        send_algo(c, "TW1", 300, (847, "1000"), (126, fix_time(4)))
        ack = await report_for(c, "TW1", "0")
        trades, last = await trades_until_done(c, "TW1")
        seen.update(order_id=ack[37], trades=trades, last=last)
        await c.logout()

    run(scenario())
    trades, last = seen["trades"], seen["last"]
    assert last[39] == "2" and last[14] == "300"
    assert trades and all(t[30] == "SIM" and t[37] == seen["order_id"] for t in trades)
    assert sum(int(t[32]) for t in trades) == 300
    assert len(trades) >= 2  # worked as several slices, not one order

    oid = seen["order_id"]
    detail = server.get(f"/orders/{oid}").json()
    assert detail["algo"]["strategy"] == "TWAP" and detail["algo"]["end"]
    children = detail["children"]
    assert len(children) >= 2 and sum(int(ch["cum_qty"]) for ch in children) == 300
    assert {ch["venue"] for ch in children} == {"SIM"}
    assert set(children[0]) >= {"order_id", "venue", "qty", "price", "status", "cum_qty",
                                "avg_px"}
    assert all(f["venue"] == "SIM" for f in detail["fills"])
    assert detail["arrival_price"] and detail["interval_vwap"]
    assert isinstance(detail["slippage_bps"], float)
    assert isinstance(detail["shortfall_bps"], float)
    listed = server.get("/orders", params={"parent_id": oid}).json()
    assert sorted(o["order_id"] for o in listed) == sorted(ch["order_id"] for ch in children)
    assert all(o["parent_id"] == oid for o in listed)
    top = {o["order_id"] for o in server.get("/orders").json()}
    assert oid in top and not top & {ch["order_id"] for ch in children}
    everything = {o["order_id"] for o in server.get(
        "/orders", params={"include_children": "true"}).json()}
    assert {ch["order_id"] for ch in children} <= everything


@pytest.mark.parametrize(("tags", "words"), [
    (((847, "ABC"),), "unsupported TargetStrategy(847)=ABC"),
    (((847, "1000"),), "ExpireTime(126) is required for TWAP"),
    (((847, "2"), (849, "0.9")), "ParticipationRate(849)=0.9 out of range"),
    (((847, "1"), (126, "20200101-00:00:00")), "ExpireTime(126) 20200101-00:00:00 is not after"),
])
def test_bad_algorithm_tags_get_an_execution_report_naming_the_tag(server, tags, words):
    async def scenario():
        c = await logon(server, "CLIENT2", "FIX.4.2")
        cl = f"BAD{time.monotonic_ns()}"
        send_algo(c, cl, 100, *tags)
        refused = await report_for(c, cl, "8")
        assert refused[39] == "8" and words in refused[58]
        await c.logout()

    run(scenario())


def test_a_twap_resumes_after_kill9_without_trading_twice(fresh_server):
    server = fresh_server
    seen: dict[str, object] = {}

    async def before():
        c = await logon(server)
        send_algo(c, "RS1", 400, (847, "1000"), (126, fix_time(12)))
        seen["order_id"] = (await report_for(c, "RS1", "0"))[37]
        first = await report_for(c, "RS1", "F", timeout=15)
        seen["first"] = first

    run(before())
    server.kill9()
    server.start()

    async def after():
        c = await logon(server)
        trades, last = await trades_until_done(c, "RS1", timeout=40)
        seen.update(trades=trades, last=last)
        await c.logout()

    run(after(), timeout=90)
    last = seen["last"]
    assert last[37] == seen["order_id"] and last[39] == "2" and last[14] == "400"
    detail = server.get(f"/orders/{seen['order_id']}").json()
    # Every share once: the fills the journal holds add up to the order, and the children
    # to the same (none was sent again from the start of the schedule).
    assert sum(int(f["last_qty"]) for f in detail["fills"]) == 400
    assert len({f["exec_id"] for f in detail["fills"]}) == len(detail["fills"])
    assert sum(int(ch["cum_qty"]) for ch in detail["children"]) == 400
