"""The REST API over a real OrderService (in-memory journal, real sim exchange)."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal as D

import httpx
import jwt

from compliance.desk import RiskDesk
from compliance.pretrade import ComplianceRules
from gateway.api.app import create_app
from gateway.api.context import ApiContext
from gateway.config import ApiConfig, ApiUser
from gateway.passwords import hash_password
from gateway.venues.sim.exchange import SimExchange
from oms.commands import SubmitOrder
from oms.journal import InMemoryJournal
from oms.universe import default_universe
from risk.limits import Limits, LimitsBook

SECRET = "unit-test-secret-unit-test-secret-0001"
CONFIG = ApiConfig(
    users=(
        ApiUser("admin", hash_password("pw", iterations=1000), ("admin",)),
        ApiUser("viewer", "viewer-pw", ("viewer",)),
    )
)


async def setup(desk: RiskDesk | None = None):
    universe = default_universe()
    desk = desk or RiskDesk(limits=LimitsBook(Limits()),
                            rules=ComplianceRules(sell_short_action="remark"))
    service, monitor = desk.order_service(
        universe, InMemoryJournal(), {"SIM": SimExchange(universe, liquidity=False)})
    await service.start()
    app = create_app(ApiContext(service=service, config=CONFIG, jwt_secret=SECRET, desk=desk,
                                monitor=monitor, sessions=lambda: [{"session_id": "S"}]))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    return service, client


async def login(client, user="admin", pw="pw") -> dict[str, str]:
    r = await client.post("/auth/token", data={"username": user, "password": pw})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def submit(service, cl, account="ACC1", side="1", qty="100", price="160.00", symbol="AAPL"):
    service.submit(
        SubmitOrder(
            cl_ord_id=cl,
            account=account,
            symbol=symbol,
            side=side,
            ord_type="2",
            qty=D(qty),
            price=D(price),
            session="FIX.4.4:X",
        )
    )


def run(coro):
    return asyncio.run(coro)


def forged(claims: dict, key: str = SECRET, alg: str = "HS256") -> dict[str, str]:
    return {"Authorization": f"Bearer {jwt.encode(claims, key, algorithm=alg)}"}


def test_login_and_token_attacks_are_refused():
    async def scenario():
        service, client = await setup()
        r = await client.post("/auth/token", data={"username": "admin", "password": "nope"})
        assert r.status_code == 401 and r.json()["detail"] == "wrong username or password"
        assert (await client.get("/orders")).status_code == 401
        now = int(time.time())
        good = {"sub": "admin", "roles": ["admin"], "iss": "fixgate", "iat": now, "exp": now + 60}
        assert (await client.get("/orders", headers=forged(good))).status_code == 200
        none_alg = jwt.encode(good, None, algorithm="none")
        r = await client.get("/orders", headers={"Authorization": f"Bearer {none_alg}"})
        assert r.status_code == 401 and "invalid token" in r.json()["detail"]
        r = await client.get("/orders", headers=forged(good, key="x" * 32))
        assert r.status_code == 401 and "Signature" in r.json()["detail"]
        r = await client.get("/orders", headers=forged(good | {"exp": now - 10}))
        assert r.status_code == 401 and r.json()["detail"] == "token expired"
        r = await client.get("/orders", headers=forged(good | {"iss": "someone-else"}))
        assert r.status_code == 401 and "issuer" in r.json()["detail"]
        r = await client.get("/orders", headers={"Authorization": "Bearer garbage"})
        assert r.status_code == 401
        assert (await client.get("/health")).json() == {"status": "ok"}
        await service.stop()

    run(scenario())


def test_viewer_reads_but_cannot_act():
    async def scenario():
        service, client = await setup()
        submit(service, "B1")
        await service.barrier()
        viewer = await login(client, "viewer", "viewer-pw")
        orders = (await client.get("/orders", headers=viewer)).json()
        assert [o["cl_ord_id"] for o in orders] == ["B1"]
        r = await client.post(f"/orders/{orders[0]['order_id']}/cancel", headers=viewer)
        assert r.status_code == 403 and "admin" in r.json()["detail"]
        r = await client.post("/kill-switch", json={}, headers=viewer)
        assert r.status_code == 403
        await service.stop()

    run(scenario())


def test_orders_filters_detail_cancel_and_conflicts():
    async def scenario():
        service, client = await setup()
        admin = await login(client)
        submit(service, "B1")
        submit(service, "B2", account="ACC2", symbol="MSFT", price="320.00")
        submit(service, "B3", qty="999999")  # rejected: max order qty
        await service.barrier()
        by_acc = (await client.get("/orders", params={"account": "ACC2"}, headers=admin)).json()
        assert [o["cl_ord_id"] for o in by_acc] == ["B2"]
        rejected = (await client.get("/orders", params={"status": "8"}, headers=admin)).json()
        assert [o["cl_ord_id"] for o in rejected] == ["B3"]
        assert "max order qty" in rejected[0]["text"]
        named = (
            await client.get("/orders", params={"status": "NEW", "symbol": "AAPL"}, headers=admin)
        ).json()
        assert [o["cl_ord_id"] for o in named] == ["B1"]
        r = await client.get("/orders", params={"status": "BOGUS"}, headers=admin)
        assert r.status_code == 422 and "unknown status BOGUS" in r.json()["detail"]
        assert (await client.get("/orders/NOPE", headers=admin)).status_code == 404
        oid = named[0]["order_id"]
        r = await client.post(f"/orders/{oid}/cancel", headers=admin)
        assert r.status_code == 200 and r.json()["status"] == "4"
        assert "canceled by operator admin" in r.json()["text"]
        r = await client.post(f"/orders/{oid}/cancel", headers=admin)
        assert r.status_code == 409 and "already canceled" in r.json()["detail"]
        detail = (await client.get(f"/orders/{oid}", headers=admin)).json()
        assert detail["status"] == "4" and detail["fills"] == []
        await service.stop()

    run(scenario())


def test_positions_after_a_fill_and_instruments():
    async def scenario():
        service, client = await setup()
        admin = await login(client)
        # ACC2 is flat: its sell is re-marked a short sale, which needs a locate.
        r = await client.post("/locates", json={"account": "ACC2", "symbol": "AAPL", "qty": 100},
                              headers=admin)
        assert r.status_code == 201
        submit(service, "S1", account="ACC2", side="2", qty="100", price="170.00")
        submit(service, "B1", qty="100", price="170.00")
        for _ in range(3):
            await service.barrier()
        pos = (await client.get("/positions", headers=admin)).json()
        assert {(p["account"], p["qty"], p["avg_px"]) for p in pos} == {
            ("ACC1", "100", "170.00"),
            ("ACC2", "-100", "170.00"),
        }
        filled = (await client.get("/orders", params={"status": "2"}, headers=admin)).json()
        detail = (await client.get(f"/orders/{filled[0]['order_id']}", headers=admin)).json()
        assert detail["fills"][0]["last_qty"] == "100"
        inst = (await client.get("/instruments", headers=admin)).json()
        aapl = next(i for i in inst if i["symbol"] == "AAPL")
        assert aapl["reference_price"] == "173.45" and aapl["tick_size"] == "0.01"
        assert aapl["last_price"] == "170.00"
        await service.stop()

    run(scenario())


def test_kill_switch_for_one_account_then_release():
    async def scenario():
        service, client = await setup()
        admin = await login(client)
        submit(service, "B1")
        submit(service, "B2")
        submit(service, "C1", account="ACC2")
        await service.barrier()
        r = await client.post("/kill-switch", json={"account": "ACC1"}, headers=admin)
        assert r.status_code == 200 and r.json()["canceled"] == 2
        assert r.json()["state"] == {"firm": False, "accounts": ["ACC1"], "sessions": []}
        for _ in range(3):
            await service.barrier()
        statuses = {
            o["cl_ord_id"]: o["status"] for o in (await client.get("/orders", headers=admin)).json()
        }
        assert statuses == {"B1": "4", "B2": "4", "C1": "0"}
        submit(service, "B3")
        await service.barrier()
        b3 = (await client.get("/orders", params={"status": "8"}, headers=admin)).json()
        assert "kill switch engaged for account ACC1" in b3[0]["text"]
        r = await client.post("/kill-switch", json={"acount": "ACC1"}, headers=admin)
        assert r.status_code == 422  # a typo in the body never engages the whole firm
        r = await client.request("DELETE", "/kill-switch", json={"account": "ACC1"}, headers=admin)
        assert r.json()["state"]["accounts"] == []
        submit(service, "B4")
        await service.barrier()
        b4 = [
            o for o in (await client.get("/orders", headers=admin)).json() if o["cl_ord_id"] == "B4"
        ]
        assert b4[0]["status"] == "0"
        await service.stop()

    run(scenario())


def test_firm_risk_limits_and_compliance_endpoints_with_roles():
    async def scenario():
        desk = RiskDesk(limits=LimitsBook(Limits()),
                        rules=ComplianceRules(sell_short_action="remark"))
        service, client = await setup(desk)
        admin = await login(client)
        await client.post("/locates", json={"account": "ACC2", "symbol": "AAPL", "qty": 100},
                          headers=admin)
        submit(service, "S1", account="ACC2", side="2", qty="100", price="170.00")
        submit(service, "B1", qty="100", price="170.00")
        submit(service, "S2", account="ACC3", side="5", qty="1", price="175.00")  # no locate
        for _ in range(3):
            await service.barrier()
        firm = (await client.get("/risk", headers=admin)).json()
        assert {a["account"] for a in firm["accounts"]} == {"ACC1", "ACC2"}
        assert firm["total_pnl"] == "0.00"  # marked at the one print, 170.00
        risk = (await client.get("/accounts/ACC1/risk", headers=admin)).json()
        assert risk["gross_exposure"] == "17000.00" and risk["state"] == "ACTIVE"
        r = await client.put("/accounts/ACC1/limits", json={"max_order_qty": "abc"},
                             headers=admin)
        assert r.status_code == 422 and "max_order_qty must be a number" in r.json()["detail"]
        r = await client.post("/accounts/ACC1/state", json={"state": "SLEEPY"}, headers=admin)
        assert r.status_code == 422
        r = await client.put("/instruments/NOPE/status", json={"halted": True}, headers=admin)
        assert r.status_code == 404
        r = await client.put("/instruments/AAPL/status", json={"halted": True, "reason": "LULD"},
                             headers=admin)
        assert r.json() == {"symbol": "AAPL", "halted": True, "reason": "LULD"}
        inst = (await client.get("/instruments", headers=admin)).json()
        assert next(i for i in inst if i["symbol"] == "AAPL")["halted"] is True
        r = await client.post("/locates", json={"account": "A", "symbol": "AAPL", "qty": -1},
                              headers=admin)
        assert r.status_code == 422
        r = await client.post("/restricted-list", json=[{"symbol": "X1"}, {"symbol": "X2",
                              "kind": "watch"}], headers=admin)
        assert r.status_code == 201 and r.json() == {"added": 2, "size": 2}
        r = await client.post("/restricted-list", json={"symbol": "X3", "kind": "banned"},
                              headers=admin)
        assert r.status_code == 422
        viewer = await login(client, "viewer", "viewer-pw")
        assert (await client.get("/risk", headers=viewer)).status_code == 200
        assert (await client.post("/locates", json={"account": "A", "symbol": "AAPL", "qty": 1},
                                  headers=viewer)).status_code == 403
        await service.stop()
    run(scenario())
