"""The operator's view over real HTTP, against the real server and FIX sessions."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest

from tests.integration.conftest import run
from tests.integration.test_fix_order_path import BUY_RESTING, logon, report_for

pytestmark = pytest.mark.integration


def test_jwt_attacks_are_refused_over_http(server):
    now = int(time.time())
    claims = {"sub": "admin", "roles": ["admin"], "iss": "fixgate", "iat": now, "exp": now + 60}
    for token in (
        jwt.encode(claims, None, algorithm="none"),
        jwt.encode(claims, "not-the-server-secret-not-the-server", algorithm="HS256"),
        jwt.encode(
            claims | {"exp": now - 1}, "test-secret-test-secret-test-secret-42", algorithm="HS256"
        ),
    ):
        r = httpx.get(f"{server.api}/orders", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert httpx.get(f"{server.api}/positions").status_code == 401
    assert (
        server.post("/kill-switch", json={}, user="viewer", password="viewer-pw").status_code == 403
    )
    assert httpx.get(f"{server.api}/docs").status_code == 200


def test_sessions_show_who_is_logged_on(server):
    async def scenario():
        c = await logon(server, "CLIENT3")
        sessions = {s["target_comp_id"]: s for s in server.get("/sessions").json()}
        assert sessions["CLIENT3"]["logged_on"] is True
        assert sessions["CLIENT2"]["begin_string"] == "FIX.4.2"
        await c.logout()

    run(scenario())


def test_kill_switch_cancels_the_clients_working_orders_and_refuses_new_ones(server):
    async def scenario():
        c = await logon(server, "CLIENT3")
        c.new_order("KS1", "PFE", "1", 10, ord_type="2", price="45.00")
        await report_for(c, "KS1", "0")
        r = server.post("/kill-switch", json={"account": "ACC3"})
        assert r.status_code == 200 and r.json()["canceled"] >= 1
        canceled = await report_for(c, "KS1", "4")
        assert "kill switch engaged for account ACC3" in canceled[58]
        c.new_order("KS2", "PFE", "1", 10, ord_type="2", price="45.00")
        rejected = await report_for(c, "KS2", "8")
        assert "kill switch" in rejected[58]
        r = httpx.request(
            "DELETE",
            f"{server.api}/kill-switch",
            json={"account": "ACC3"},
            headers={"Authorization": f"Bearer {server.token()}"},
        )
        assert r.json()["state"]["accounts"] == []
        c.new_order("KS3", "PFE", "1", 10, ord_type="2", price="45.00")
        assert (await report_for(c, "KS3", "0"))[39] == "0"
        await c.logout()

    run(scenario())


def test_garbled_messages_get_a_session_reject(server):
    async def scenario():
        c = await logon(server)
        # NewOrderSingle without the required Side(54): the session layer answers.
        c.send(
            [
                (35, "D"),
                (11, "G1"),
                (21, "1"),
                (55, "AAPL"),
                (60, "20260101-00:00:00"),
                (38, "10"),
                (40, "2"),
                (44, "165.00"),
            ]
        )
        rej = await c.next_message(timeout=5, msg_type="3")
        assert rej[373] == "1" and rej[371] == "54"
        c.send(
            [
                (35, "D"),
                (11, "G2"),
                (21, "1"),
                (55, "AAPL"),
                (54, "1"),
                (60, "20260101-00:00:00"),
                (38, "ten"),
                (40, "2"),
                (44, "165.00"),
            ]
        )
        rej = await c.next_message(timeout=5, msg_type="3")
        assert rej[373] == "6" and rej[371] == "38"  # incorrect data format
        # The session survives both: a good order still trades.
        c.new_order("G3", "AAPL", "1", 10, ord_type="2", price=BUY_RESTING)
        assert (await report_for(c, "G3", "0"))[39] == "0"
        await c.logout()

    run(scenario())
