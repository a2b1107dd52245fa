"""The trading day through the real server over FIX: Day and GTD expiry by
`POST /trading-day/close`, GTD rejects naming the tag, a trailing stop trailing and
triggering on the sim, and GTD and trailing state surviving kill -9."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

import pytest

from gateway.fix_client import FixClient, open_session, utc_timestamp
from tests.integration.conftest import run
from tests.integration.harness import CLIENT1_PASSWORD, ServerProcess
from tests.integration.test_fix_order_path import BUY_RESTING, logon, report_for

pytestmark = pytest.mark.integration
_ids = itertools.count(1)


def clid(prefix: str) -> str:
    return f"{prefix}{next(_ids)}-{id(object())}"


def fix_time(when: dt.datetime) -> str:
    return when.strftime("%Y%m%d-%H:%M:%S")


def send_order(c: FixClient, cl: str, *, side: str = "1", qty: int = 100, ord_type: str = "2",
               price: str | None = BUY_RESTING, tif: str = "0",
               extra: tuple[tuple[int, Any], ...] = ()) -> None:
    """A NewOrderSingle with whatever extra tags the test needs (ExpireTime, ExecInst, …)."""
    fields: list[tuple[int, Any]] = [(35, "D"), (11, cl), (21, "1"), (55, "AAPL"), (54, side),
                                     (60, utc_timestamp()), (38, qty), (40, ord_type)]
    if price is not None:
        fields.append((44, price))
    c.send([*fields, (59, tif), *extra])


def status_of(server: ServerProcess, order_id: str) -> dict[str, Any]:
    r = server.get(f"/orders/{order_id}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_day_and_gtd_orders_expire_when_the_day_is_closed(server):
    async def scenario():
        c = await logon(server)
        today = dt.datetime.now(dt.UTC)
        day, gtc, gtd_today, gtd_later = (clid("DAY"), clid("GTC"), clid("GTDT"), clid("GTDL"))
        send_order(c, day)
        send_order(c, gtc, tif="1")
        send_order(c, gtd_today, tif="6", extra=((432, today.strftime("%Y%m%d")),))
        send_order(c, gtd_later, tif="6",
                   extra=((126, fix_time(today + dt.timedelta(days=5))),))
        ids = {cl: (await report_for(c, cl, "0"))[37] for cl in (day, gtc, gtd_today, gtd_later)}

        viewer = await asyncio.to_thread(server.post, "/trading-day/close", None, "viewer",
                                         "viewer-pw")
        assert viewer.status_code == 403
        info = (await asyncio.to_thread(server.get, "/trading-day")).json()
        closed = await asyncio.to_thread(server.post, "/trading-day/close")
        assert closed.status_code == 200 and closed.json() == {"date": info["date"]}

        for cl in (day, gtd_today):
            expired = await report_for(c, cl, "C")
            assert expired[39] == "C" and expired[151] == "0" and expired[37] == ids[cl]
            assert f"at the close of trading day {info['date']}" in expired[58]
        for cl in (gtc, gtd_later):
            c.status(cl, "AAPL", "1")
            assert (await report_for(c, cl, "I"))[39] == "0"
        after = (await asyncio.to_thread(server.get, "/trading-day")).json()
        assert after["last_closed"] == info["date"] and after["date"] > info["date"]
        # The next forced close closes the next trading date, not the same one again.
        again = await asyncio.to_thread(server.post, "/trading-day/close")
        assert again.json() == {"date": after["date"]}
        await c.logout()
    run(scenario())


@pytest.mark.parametrize("extra,text", [
    ((), "TimeInForce(59)=6 (GTD) needs ExpireTime(126) or ExpireDate(432)"),
    (((126, "20200101-00:00:00"),), "ExpireTime(126) is not in the future"),
    (((432, "20200101"),), "ExpireDate(432) is not in the future"),
])
def test_gtd_without_a_future_expiry_is_rejected_naming_the_tag(server, extra, text):
    async def scenario():
        c = await logon(server)
        cl = clid("BADGTD")
        send_order(c, cl, tif="6", extra=extra)
        refused = await report_for(c, cl)
        assert refused[150] == "8" and refused[39] == "8" and text in refused[58]
        await c.logout()
    run(scenario())


def test_trailing_stop_over_fix_rejects_bad_terms(server):
    async def scenario():
        c = await logon(server)
        cl = clid("BADTRAIL")
        send_order(c, cl, ord_type="3", price=None, extra=((18, "a"),))
        refused = await report_for(c, cl)
        assert refused[150] == "8" and "PegOffsetValue(211) > 0" in refused[58]
        cl = clid("BADTRAIL")
        send_order(c, cl, ord_type="3", price=None, extra=((18, "a"), (211, "1"), (836, "2")))
        refused = await report_for(c, cl)
        assert refused[150] == "8" and "unsupported PegOffsetType(836)=2" in refused[58]
        await c.logout()
        # FIX 4.2 takes the same tags (its dictionary gains ExecInst 'a' and tag 836).
        c42 = await logon(server, "CLIENT2", "FIX.4.2")
        cl = clid("TRAIL42")
        send_order(c42, cl, ord_type="3", price=None, extra=((18, "a"), (211, "50"),
                                                             (836, "1")))
        accepted = await report_for(c42, cl)
        assert accepted[150] == "0", accepted.get(58)
        c42.cancel(clid("CXL42"), cl, "AAPL", "1")
        assert (await report_for(c42, cl, "4"))[39] == "4"
        await c42.logout()
    run(scenario())


def test_trailing_stop_trails_and_triggers_on_the_sim_and_gtd_and_trail_survive_kill9(
        fresh_server):
    """The seeded book (seed 11): asks 173.46 x500, .47 x300, .48 x500, .49 x200, .50 x400;
    bids 173.44 x500, .43 x500, …; last 173.45. CLIENT3 (ACC3) makes the prints."""
    server = fresh_server
    state: dict[str, Any] = {}
    expire_at = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=40)

    async def before_crash():
        c = await logon(server)
        trader = await logon(server, "CLIENT3")
        trail = clid("TRAIL")
        # A buy stop 0.05 above the last price: 173.50, trailing the low down.
        send_order(c, trail, qty=10, ord_type="3", price=None, tif="1",
                   extra=((18, "a"), (211, "0.05")))
        state["trail"] = trail
        state["trail_id"] = (await report_for(c, trail, "0"))[37]
        assert Decimal(status_of(server, state["trail_id"])["stop_px"]) == Decimal("173.50")
        gtd = clid("GTD")
        send_order(c, gtd, tif="6", extra=((126, fix_time(expire_at)),))
        state["gtd"], state["gtd_id"] = gtd, (await report_for(c, gtd, "0"))[37]

        buy, sell = clid("UP"), clid("DOWN")
        send_order(trader, buy, qty=1000, price="173.50")  # prints .46, .47, .48: below 173.50
        while (await report_for(trader, buy, "F"))[39] != "2":
            pass
        send_order(trader, sell, side="2", qty=1000, price="173.41")  # prints .44, then .43
        while (await report_for(trader, sell, "F"))[39] != "2":
            pass
        detail = status_of(server, state["trail_id"])
        assert detail["status"] == "0" and not detail["trailing"]["triggered"]
        assert Decimal(detail["stop_px"]) == Decimal("173.48")  # 0.05 above the low, 173.43
        assert Decimal(detail["trailing"]["best_px"]) == Decimal("173.43")
        state["out_seq"] = c.next_out_seq
        await trader.logout()

    run(before_crash())
    server.kill9()
    server.start()

    async def after_restart():
        detail = status_of(server, state["trail_id"])
        assert Decimal(detail["stop_px"]) == Decimal("173.48")  # the trail, not a fresh start
        assert status_of(server, state["gtd_id"])["expire_time"] == expire_at.isoformat()
        c = await open_session("127.0.0.1", server.fix_port, "CLIENT1", "FIXGATE",
                               password=CLIENT1_PASSWORD, reset_seq=False,
                               seq_num=state["out_seq"])
        trader = await logon(server, "CLIENT3")
        # The restarted sim is seeded afresh (last 173.45): prints up to 173.48 reach the
        # journaled stop; a stop re-derived from the last price (173.50) would not trigger.
        lift = clid("LIFT")
        send_order(trader, lift, qty=900, price="173.48")
        fill = await report_for(c, state["trail"], "F", timeout=10)
        assert fill[39] == "2" and Decimal(fill[31]) == Decimal("173.48") and fill[32] == "10"
        # The GTD timer was re-armed from the journal: it expires at its ExpireTime.
        seconds_left = (expire_at - dt.datetime.now(dt.UTC)).total_seconds()
        expired = await report_for(c, state["gtd"], "C", timeout=max(seconds_left, 0) + 15)
        assert expired[39] == "C" and "GTD order expired at ExpireTime(126)" in expired[58]
        await trader.logout()
        await c.logout()

    run(after_restart(), timeout=120)
