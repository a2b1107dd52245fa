"""Risk and compliance through the real server: limits set over REST by the risk role,
orders over FIX at each limit and one unit past it, lists and locates by the
compliance role, mass cancel over FIX, and a HALTED account surviving kill -9."""

from __future__ import annotations

import asyncio
import itertools
from decimal import Decimal

import pytest

from gateway.fix_client import FixClient
from tests.integration.conftest import run
from tests.integration.harness import ServerProcess
from tests.integration.test_fix_order_path import logon, report_for

pytestmark = pytest.mark.integration
_accounts = itertools.count(1)
RISK = {"user": "risk", "password": "risk-pw"}
CCO = {"user": "cco", "password": "cco-pw"}


def put_limits(server: ServerProcess, account: str, **limits: object) -> None:
    r = server.call("PUT", f"/accounts/{account}/limits", limits, **RISK)
    assert r.status_code == 200, r.text


async def send(c: FixClient, account: str, qty: object, price: str = "170.00",
               symbol: str = "AAPL", side: str = "1") -> dict:
    cl = f"{account}-{next(_accounts)}"
    c.new_order(cl, symbol, side, qty, ord_type="2", price=price, account=account)
    return await report_for(c, cl)


@pytest.mark.parametrize("limits,at,past,text", [
    ({"max_order_qty": 50}, [50], [51], "max order qty 50 exceeded: 51"),
    ({"max_order_notional": 17000}, [100], [101], "max order notional 17,000 exceeded: 17,170"),
    ({"max_position_qty": 100}, [60, 40], [1], "max position qty 100 exceeded: 101"),
    ({"credit_limit": 17000}, [50, 50], [1], "credit limit 17,000 exceeded: 17,170"),
    ({"max_open_orders": 2}, [1, 1], [1], "max open orders 2 exceeded: 3"),
])
def test_limits_over_fix_at_the_limit_and_one_past(server, limits, at, past, text):
    account = f"RISK{next(_accounts)}"
    put_limits(server, account, **limits)

    async def scenario():
        c = await logon(server, "CLIENT3")
        for qty in at:
            ok = await send(c, account, qty)
            assert ok[150] == "0", ok.get(58)
        for qty in past:
            refused = await send(c, account, qty)
            assert refused[150] == "8" and refused[103] == "3" and text in refused[58]
        await c.logout()
    run(scenario())


def test_limits_contract_roles_and_validation(server):
    r = server.call("GET", "/accounts/ACCX/limits", user="viewer", password="viewer-pw")
    assert r.status_code == 200 and r.json()["max_order_qty"] == "100000"
    r = server.call("PUT", "/accounts/ACCX/limits", {"max_order_qty": 10}, user="viewer",
                    password="viewer-pw")
    assert r.status_code == 403
    r = server.call("PUT", "/accounts/ACCX/limits", {"max_order_qty": 10}, **CCO)
    assert r.status_code == 403  # compliance edits lists, not limits
    r = server.call("PUT", "/accounts/ACCX/limits", {"max_order_qtty": 10}, **RISK)
    assert r.status_code == 422 and "unknown limit 'max_order_qtty'" in r.json()["detail"]
    r = server.call("PUT", "/accounts/ACCX/limits", {"loss_action": "panic"}, **RISK)
    assert r.status_code == 422 and "loss_action must be one of" in r.json()["detail"]
    r = server.call("PUT", "/accounts/ACCX/limits", {"max_order_qty": 10}, **RISK)
    assert r.json()["max_order_qty"] == "10" and r.json()["max_open_orders"] is None
    risk = server.call("GET", "/accounts/ACCX/risk", **CCO).json()
    assert risk["state"] == "ACTIVE" and "limit_usage" in risk


def test_restricted_list_and_locates_by_compliance(server):
    async def scenario():
        c = await logon(server, "CLIENT3")
        r = await asyncio.to_thread(server.post, "/restricted-list",
                                    {"symbol": "BA", "account": None, "kind": "restricted"},
                                    **CCO)
        assert r.status_code == 201
        refused = await send(c, "ACC3", 1, "200.00", "BA")
        assert refused[150] == "8" and "BA is on the restricted list" in refused[58]
        listed = (await asyncio.to_thread(server.get, "/restricted-list")).json()
        assert {"symbol": "BA", "account": None, "kind": "restricted"} in listed
        r = await asyncio.to_thread(server.call, "DELETE", "/restricted-list/BA", None, **CCO)
        assert r.status_code == 200
        assert (await send(c, "ACC3", 1, "200.00", "BA"))[150] == "0"
        r = await asyncio.to_thread(server.call, "DELETE", "/restricted-list/BA", None, **CCO)
        assert r.status_code == 404

        short = await send(c, "ACC3", 10, "100.00", "CVX", side="5")
        assert short[150] == "8" and "needs a locate" in short[58]
        r = await asyncio.to_thread(server.post, "/locates",
                                    {"account": "ACC3", "symbol": "CVX", "qty": 10}, **CCO)
        assert r.status_code == 201
        assert (await send(c, "ACC3", 10, "100.00", "CVX", side="5"))[150] == "0"
        r = await asyncio.to_thread(server.post, "/locates",
                                    {"account": "ACC3", "symbol": "CVX", "qty": 5}, **RISK)
        assert r.status_code == 403
        await c.logout()
    run(scenario())


def test_mass_cancel_over_fix_cancels_only_the_sessions_orders(server):
    async def scenario():
        c = await logon(server, "CLIENT3")
        other = await logon(server)
        for _ in range(3):
            assert (await send(c, "ACC3", 1, "105.00", "IBM"))[150] == "0"
        keep = await send(other, "ACC1", 1, "105.00", "IBM")
        c.send([(35, "q"), (11, "MC1"), (530, "7"), (60, "20260101-00:00:00")])
        report = await c.next_message(timeout=5, msg_type="r")
        assert report[531] == "7" and int(report[533]) >= 3
        canceled = 0
        while canceled < 3:
            msg = await c.next_message(timeout=5, msg_type="8")
            if msg[150] == "4" and "mass cancel MC1" in msg.get(58, ""):
                canceled += 1
        status = (await asyncio.to_thread(server.get, f"/orders/{keep[37]}")).json()
        assert status["status"] == "0"  # another session's order is untouched
        c.send([(35, "q"), (11, "MC2"), (530, "3"), (60, "20260101-00:00:00")])
        bad = await c.next_message(timeout=5, msg_type="r")
        assert bad[531] == "0" and "unsupported MassCancelRequestType(530)=3" in bad[58]
        await c.logout()
        await other.logout()
    run(scenario())


def test_halted_account_stays_halted_after_kill9(fresh_server):
    server = fresh_server
    r = server.post("/accounts/ACC3/state", {"state": "HALTED", "reason": "ops review"}, **RISK)
    assert r.status_code == 200 and r.json()["state"] == "HALTED"
    server.kill9()
    server.start()
    assert server.get("/accounts/ACC3/risk").json()["state"] == "HALTED"

    async def scenario():
        c = await logon(server, "CLIENT3")
        refused = await send(c, "ACC3", 1)
        assert refused[150] == "8" and "account ACC3 is HALTED (ops review)" in refused[58]
        r = await asyncio.to_thread(server.post, "/accounts/ACC3/state", {"state": "ACTIVE"},
                                    **RISK)
        assert r.json()["state"] == "ACTIVE"
        assert (await send(c, "ACC3", 1, "160.00"))[150] == "0"
        await c.logout()
    run(scenario())


def test_throttle_and_halt_over_fix(server):
    account = f"RISK{next(_accounts)}"
    put_limits(server, account, messages_per_second=3)

    async def scenario():
        c = await logon(server, "CLIENT3")
        answers = [await send(c, account, 1, "160.00") for _ in range(4)]
        assert [a[150] for a in answers[:3]] == ["0", "0", "0"]
        assert answers[3][150] == "8" and "message throttle: more than 3 messages per second" \
            in answers[3][58]
        r = await asyncio.to_thread(server.call, "PUT", "/instruments/KO/status",
                                    {"halted": True, "reason": "news pending"}, **CCO)
        assert r.status_code == 200
        halted = await send(c, "ACC3", 1, "51.00", "KO")
        assert halted[150] == "8" and halted[103] == "2" and "KO is halted: news pending" in \
            halted[58]
        await asyncio.to_thread(server.call, "PUT", "/instruments/KO/status", {"halted": False},
                                **CCO)
        assert (await send(c, "ACC3", 1, "51.00", "KO"))[150] == "0"
        await c.logout()
    run(scenario())


@pytest.mark.parametrize("key", ["max_gross_exposure", "max_net_exposure", "max_leverage"])
def test_exposure_limits_over_fix_count_the_filled_position(server, key):
    account = f"RISK{next(_accounts)}"

    async def scenario():
        c = await logon(server, "CLIENT3")
        filled = await send(c, account, 100, "330.00", "MSFT")  # marketable: fills
        while filled[150] != "F" or filled[39] != "2":
            filled = await report_for(c, filled[11])
        risk = (await asyncio.to_thread(server.get, f"/accounts/{account}/risk")).json()
        held = Decimal(risk["gross_exposure"])
        assert held > 0
        at_limit = held + 100 * Decimal("160.00")  # the position plus 100 AAPL at 160
        if key == "max_leverage":
            put_limits(server, account, equity=str(at_limit), max_leverage=1)
        else:
            put_limits(server, account, **{key: str(at_limit)})
        assert (await send(c, account, 100, "160.00"))[150] == "0"  # rests: exactly at it
        refused = await send(c, account, 101, "160.00")
        assert refused[150] == "8" and key.replace("_", " ") in refused[58]
        await c.logout()
    run(scenario())


def test_daily_loss_limit_over_fix_halts_and_cancels(server):
    account = f"LOSS{next(_accounts)}"

    async def scenario():
        c = await logon(server, "CLIENT3")
        seller = await logon(server)
        try:
            bought = await send(c, account, 100, "330.00", "MSFT")
            while bought[150] != "F" or bought[39] != "2":
                bought = await report_for(c, bought[11])
            working = await send(c, account, 1, "160.00")
            put_limits(server, account, daily_loss_limit=1, loss_action="halt")
            r = await asyncio.to_thread(server.post, "/locates",
                                        {"account": "ACC1", "symbol": "MSFT", "qty": 200}, **CCO)
            assert r.status_code == 201
            # Another client sells through the bids: MSFT prints below the account's cost.
            await send(seller, "ACC1", 200, "300.00", "MSFT", side="5")
            canceled = await report_for(c, working[11], "4")
            assert "account halted: daily loss limit 1 breached" in canceled[58]
            refused = await send(c, account, 1, "160.00")
            assert refused[150] == "8" and f"account {account} is HALTED" in refused[58]
            risk = (await asyncio.to_thread(server.get, f"/accounts/{account}/risk")).json()
            assert risk["state"] == "HALTED" and Decimal(risk["total_pnl"]) < -1
        finally:
            await c.logout()
            await seller.logout()
    run(scenario())
