"""The REST API at its edges: forged and broken tokens, roles, cancels a venue does
not answer or refuses, the firm-wide kill switch, internal errors, a journal outage."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest

from compliance.desk import RiskDesk
from compliance.pretrade import ComplianceRules
from gateway.api import risk_routes
from gateway.api.app import create_app
from gateway.api.context import ApiContext
from gateway.venues.sim.exchange import SimExchange
from oms.journal import InMemoryJournal
from oms.universe import default_universe
from oms.venue import VenueListener, VenueRequestRejected
from risk.limits import Limits, LimitsBook
from tests.unit.test_api import CONFIG, SECRET, forged, login, run, submit


class SilentVenue(SimExchange):
    """Takes cancel requests and never answers them."""

    def cancel(self, order_id: str) -> None:
        pass


class RefusingVenue(SimExchange):
    """Refuses every cancel, as a venue does when it thinks it is too late."""

    def set_listener(self, listener: VenueListener) -> None:
        super().set_listener(listener)
        self.oms = listener

    def cancel(self, order_id: str) -> None:
        self.oms.on_venue_event(VenueRequestRejected(order_id, "too late to cancel"))


class FailingJournal(InMemoryJournal):
    failing = False

    async def append(self, entries: Any, **kw: Any) -> None:
        if self.failing:
            raise OSError("journal disk is gone")
        await super().append(entries, **kw)


async def setup(
    venue: type[SimExchange] = SimExchange,
    journal: InMemoryJournal | None = None,
    sessions: Callable[[], list[dict[str, Any]]] = lambda: [],
):
    universe = default_universe()
    desk = RiskDesk(limits=LimitsBook(Limits()), rules=ComplianceRules(sell_short_action="remark"))
    service, monitor = desk.order_service(
        universe, journal or InMemoryJournal(), {"SIM": venue(universe, liquidity=False)}
    )
    await service.start()
    app = create_app(ApiContext(service=service, config=CONFIG, jwt_secret=SECRET, desk=desk,
                                monitor=monitor, sessions=sessions))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return service, httpx.AsyncClient(transport=transport, base_url="http://t")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def hand_signed(header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    """An HS256-style token built by hand, as an attacker would (no library checks on the key)."""
    signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signing}.{_b64(hmac.new(key, signing.encode(), hashlib.sha256).digest())}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


PUBLIC_KEY_PEM = (
    b"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEexampleexampleexample\n"
    b"-----END PUBLIC KEY-----\n"
)


def test_server_tokens_carry_the_configured_claims_and_tampering_is_refused():
    async def scenario():
        service, client = await setup()
        r = await client.post("/auth/token", data={"username": "viewer", "password": "viewer-pw"})
        body = r.json()
        assert body["token_type"] == "bearer" and body["expires_in"] == CONFIG.token_ttl_s
        claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"],
                            issuer=CONFIG.issuer)
        assert claims["sub"] == "viewer" and claims["roles"] == ["viewer"]
        assert claims["exp"] - claims["iat"] == CONFIG.token_ttl_s
        header, _, signature = body["access_token"].split(".")
        # The viewer rewrites its own token to say admin, keeping the server's signature.
        promoted = _b64(json.dumps(claims | {"roles": ["admin"]}).encode())
        r = await client.post("/kill-switch", json={},
                              headers=bearer(f"{header}.{promoted}.{signature}"))
        assert r.status_code == 401 and r.json()["detail"].startswith("invalid token")
        assert (await client.get("/kill-switch")).json() == {"detail": (
            "not authenticated: send Authorization: Bearer <token>")}
        await service.stop()

    run(scenario())


def test_every_bad_token_is_401_with_a_bearer_challenge_and_a_reason():
    async def scenario():
        service, client = await setup()
        now = int(time.time())
        good = {"sub": "admin", "roles": ["admin"], "iss": "fixgate", "iat": now, "exp": now + 60}
        hs256 = {"alg": "HS256", "typ": "JWT"}
        # The hand-made signer is right: with the real secret its token is accepted.
        ok = await client.get("/orders", headers=bearer(hand_signed(hs256, good, SECRET.encode())))
        assert ok.status_code == 200
        bad = {
            "alg none": jwt.encode(good, None, algorithm="none"),
            "HS256 keyed with a public key": hand_signed(hs256, good, PUBLIC_KEY_PEM),
            "RS256 header": hand_signed({"alg": "RS256", "typ": "JWT"}, good, SECRET.encode()),
            "other secret": jwt.encode(good, "another-secret-another-secret-0002"),
            "expired": jwt.encode(good | {"exp": now - 5}, SECRET),
            "other issuer": jwt.encode(good | {"iss": "evil"}, SECRET),
            "no exp": jwt.encode({k: v for k, v in good.items() if k != "exp"}, SECRET),
            "no iat": jwt.encode({k: v for k, v in good.items() if k != "iat"}, SECRET),
            "no sub": jwt.encode({k: v for k, v in good.items() if k != "sub"}, SECRET),
            "no iss": jwt.encode({k: v for k, v in good.items() if k != "iss"}, SECRET),
            "roles not a list": jwt.encode(good | {"roles": "admin"}, SECRET),
            "garbage": "not.a.token",
        }
        for name, token in bad.items():
            r = await client.get("/orders", headers=bearer(token))
            assert r.status_code == 401, name
            assert r.headers["www-authenticate"] == "Bearer", name
            assert isinstance(r.json()["detail"], str) and r.json()["detail"], name
        r = await client.get("/orders", headers={"Authorization": "Basic YWRtaW46cHc="})
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        await service.stop()

    run(scenario())


def test_a_valid_token_without_the_role_is_403_naming_the_roles_that_would_do():
    async def scenario():
        service, client = await setup()
        now = int(time.time())
        base = {"sub": "ops", "iss": "fixgate", "iat": now, "exp": now + 60}
        r = await client.get("/orders", headers=forged(base | {"roles": []}))
        assert r.status_code == 403 and "viewer" in r.json()["detail"]
        assert "ops" in r.json()["detail"]
        risk = forged(base | {"roles": ["risk"]})
        assert (await client.get("/orders", headers=risk)).status_code == 200
        r = await client.post("/orders/FG00000001/cancel", headers=risk)
        assert r.status_code == 403 and "admin" in r.json()["detail"]
        viewer = await login(client, "viewer", "viewer-pw")
        r = await client.request("DELETE", "/kill-switch", json={}, headers=viewer)
        assert r.status_code == 403
        await service.stop()

    run(scenario())


def test_cancel_the_venue_does_not_answer_is_202_pending_then_409(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(risk_routes, "CANCEL_WAIT_S", 0.2)

    async def scenario():
        service, client = await setup(venue=SilentVenue)
        admin = await login(client)
        submit(service, "B1")
        await service.barrier()
        oid = (await client.get("/orders", headers=admin)).json()[0]["order_id"]
        started = time.monotonic()
        r = await client.post(f"/orders/{oid}/cancel", headers=admin)
        assert r.status_code == 202 and r.json()["status"] == "6"
        assert time.monotonic() - started < 2  # the wait is bounded
        r = await client.post(f"/orders/{oid}/cancel", headers=admin)
        assert r.status_code == 409
        assert r.json()["detail"] == f"order {oid} already has a cancel pending"
        assert (await client.get(f"/orders/{oid}", headers=admin)).json()["status"] == "6"
        await service.stop()

    run(scenario())


def test_cancel_the_venue_refuses_is_409_and_the_order_keeps_working():
    async def scenario():
        service, client = await setup(venue=RefusingVenue)
        admin = await login(client)
        submit(service, "B1")
        await service.barrier()
        oid = (await client.get("/orders", headers=admin)).json()[0]["order_id"]
        r = await client.post(f"/orders/{oid}/cancel", headers=admin)
        assert r.status_code == 409
        assert r.json()["detail"] == f"the venue refused to cancel order {oid}; it is still new"
        assert r.json()["order"]["status"] == "0"
        assert (await client.get(f"/orders/{oid}", headers=admin)).json()["status"] == "0"
        await service.stop()

    run(scenario())


def test_cancel_of_a_filled_order_is_409_and_of_an_unknown_one_404():
    async def scenario():
        service, client = await setup()
        admin = await login(client)
        await client.post("/locates", json={"account": "ACC2", "symbol": "AAPL", "qty": 100},
                          headers=admin)
        submit(service, "S1", account="ACC2", side="2", price="170.00")
        submit(service, "B1", price="170.00")
        for _ in range(3):
            await service.barrier()
        filled = (await client.get("/orders", params={"status": "FILLED"}, headers=admin)).json()
        assert sorted(o["cl_ord_id"] for o in filled) == ["B1", "S1"]
        oid = filled[0]["order_id"]
        r = await client.post(f"/orders/{oid}/cancel", headers=admin)
        assert r.status_code == 409 and r.json()["detail"] == f"order {oid} is already filled"
        r = await client.post("/orders/FG99999999/cancel", headers=admin)
        assert r.status_code == 404 and r.json()["detail"] == "unknown order FG99999999"
        await service.stop()

    run(scenario())


def test_orders_status_filter_takes_several_codes_and_names():
    async def scenario():
        service, client = await setup()
        admin = await login(client)
        submit(service, "B1")
        submit(service, "B2", qty="999999")  # rejected: max order qty
        submit(service, "B3", symbol="MSFT", price="320.00")
        await service.barrier()

        async def ids(params: list[tuple[str, str]]) -> list[str]:
            r = await client.get("/orders", params=params, headers=admin)
            return sorted(o["cl_ord_id"] for o in r.json())

        assert await ids([("status", "0"), ("status", "8")]) == ["B1", "B2", "B3"]
        assert await ids([("status", "REJECTED")]) == ["B2"]
        assert await ids([("status", "NEW"), ("symbol", "MSFT")]) == ["B3"]
        assert await ids([("status", "FILLED")]) == []
        assert await ids([("account", "NOBODY")]) == []
        await service.stop()

    run(scenario())


def test_firm_kill_switch_cancels_every_account_blocks_everyone_and_releases():
    async def scenario():
        service, client = await setup()
        admin = await login(client)
        submit(service, "A1")
        submit(service, "B1", account="ACC2")
        await service.barrier()
        r = await client.post("/kill-switch", json={}, headers=admin)
        assert r.status_code == 200
        assert r.json()["engaged"] is True and r.json()["account"] is None
        assert r.json()["canceled"] == 2 and r.json()["state"]["firm"] is True
        viewer = await login(client, "viewer", "viewer-pw")
        assert (await client.get("/kill-switch", headers=viewer)).json()["firm"] is True
        submit(service, "C1", account="ACC3")
        await service.barrier()
        orders = {o["cl_ord_id"]: o for o in (await client.get("/orders", headers=admin)).json()}
        assert {k: o["status"] for k, o in orders.items()} == {"A1": "4", "B1": "4", "C1": "8"}
        assert "firm-wide" in orders["C1"]["text"]
        r = await client.request("DELETE", "/kill-switch", headers=admin)
        assert r.status_code == 200 and r.json()["engaged"] is False
        assert r.json()["state"] == {"firm": False, "accounts": [], "sessions": []}
        submit(service, "C2", account="ACC3")
        await service.barrier()
        c2 = (await client.get("/orders", params={"account": "ACC3", "status": "0"},
                               headers=admin)).json()
        assert [o["cl_ord_id"] for o in c2] == ["C2"]
        await service.stop()

    run(scenario())


def test_an_unexpected_error_is_a_500_with_json_and_the_api_keeps_serving():
    def broken_sessions() -> list[dict[str, Any]]:
        raise RuntimeError("acceptor gone")

    async def scenario():
        service, client = await setup(sessions=broken_sessions)
        admin = await login(client)
        r = await client.get("/sessions", headers=admin)
        assert r.status_code == 500 and r.json() == {"detail": "internal error"}
        assert "acceptor gone" not in r.text
        assert (await client.get("/health")).json() == {"status": "ok"}
        assert (await client.get("/orders", headers=admin)).status_code == 200
        await service.stop()

    run(scenario())


def test_a_journal_outage_is_a_503_not_a_stale_answer():
    async def scenario():
        journal = FailingJournal()
        service, client = await setup(journal=journal)
        admin = await login(client)
        journal.failing = True
        submit(service, "B1")
        for _ in range(5):  # let the flusher try, and fail
            await asyncio.sleep(0)
        r = await client.get("/orders", headers=admin)
        assert r.status_code == 503 and "journal unavailable" in r.json()["detail"]
        assert (await client.get("/health")).status_code == 200

    run(scenario())


def test_kill_switch_body_is_validated():
    async def scenario():
        service, client = await setup()
        admin = await login(client)
        for body, words in (({"account": "ACC1", "extra": 1}, "extra: Extra inputs"),
                            ({"account": 5}, "account: Input should be a valid string"),
                            ([1, 2], "Input should be a valid dictionary")):
            r = await client.post("/kill-switch", json=body, headers=admin)
            assert r.status_code == 422 and words in r.json()["detail"], r.json()
            assert r.json()["errors"][0]["type"]
        r = await client.get("/kill-switch", headers=admin)
        assert r.json() == {"firm": False, "accounts": [], "sessions": []}
        await service.stop()

    run(scenario())


def test_wrong_password_and_unknown_user_get_the_same_401():
    async def scenario():
        service, client = await setup()
        answers = [await client.post("/auth/token", data={"username": u, "password": p})
                   for u, p in (("admin", "wrong"), ("nobody", "pw"), ("viewer", "VIEWER-PW"))]
        assert [a.status_code for a in answers] == [401, 401, 401]
        assert {a.json()["detail"] for a in answers} == {"wrong username or password"}
        r = await client.post("/auth/token", data={"username": "admin"})
        assert r.status_code == 422 and r.json()["detail"] == (
            "invalid request: password: Field required")
        await service.stop()

    run(scenario())
