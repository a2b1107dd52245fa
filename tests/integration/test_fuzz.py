"""Fuzz: every bad value in every field of a NewOrderSingle, then thousands of random
malformed application messages over a real FIX session, and
malformed REST bodies, at a real server. Every well-framed message is answered, the
journal stays up, and a normal order fills afterwards."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest

from gateway.fix_client import FixClient
from oms.text import printable
from tests.integration.conftest import run
from tests.integration.test_fix_order_path import BUY_MARKETABLE, logon, report_for

pytestmark = pytest.mark.integration

MESSAGES = 1500
ANSWERS = {"8", "9", "j", "3", "r"}  # ExecutionReport, CancelReject, BMR, Reject, MassCancel
TAGS = (1, 11, 37, 38, 40, 41, 44, 54, 55, 59, 99, 100, 126, 168, 530, 847, 849, 9849, 5000)
NASTY: tuple[Any, ...] = (
    "", "0", "-1", "1e30", "1E-30", "NaN", "Infinity", "abc", "9" * 40, "0.0000000001",
    "AAPL", "ZZZZ", "1", "2", "5", "7", "D", b"A\x00B", b"\xff\xfe", b"\xc3", b"A\xb4",
    "x" * 3000, " ", "\u00e9", "FG00000001", "SIM", "-0", "1.5", "100",
)


def mutant(rng: random.Random, k: int) -> list[tuple[int, Any]]:
    """An application message, well framed, with a body that is anything but right."""
    msg_type = rng.choice(("D", "D", "D", "F", "G", "H", "q", "Z", "AE"))
    fields: list[tuple[int, Any]] = [(35, msg_type)]
    if rng.random() < 0.8:
        fields.append((11, f"FZ{k}" if rng.random() < 0.8 else rng.choice(NASTY)))
    base = {1: "ACC3", 55: "AAPL", 54: "1", 38: "100", 40: "2", 44: "165.00", 60:
            "20261125-12:00:00.000", 41: f"FZ{k - 1}", 530: "7", 21: "1"}
    if rng.random() < 0.5:
        # One field wrong in an otherwise good message: these reach the OMS itself.
        bad = rng.choice([*base, 11])
        fields = [(35, msg_type), (11, f"FZ{k}")]
        fields += [(tag, value) for tag, value in base.items()]
        return [(tag, rng.choice(NASTY) if tag == bad else value) for tag, value in fields]
    for tag, value in base.items():
        roll = rng.random()
        if roll < 0.15:
            continue  # missing
        fields.append((tag, rng.choice(NASTY) if roll < 0.45 else value))
    for _ in range(rng.randint(0, 3)):
        fields.append((rng.choice(TAGS), rng.choice(NASTY)))
    return fields


def sweep() -> list[list[tuple[int, Any]]]:
    """Every nasty value in every field of an otherwise good NewOrderSingle."""
    good = [(11, ""), (1, "ACC3"), (55, "AAPL"), (54, "1"), (38, "100"), (40, "2"),
            (44, "165.00"), (59, "0"), (60, "20261125-12:00:00.000"), (21, "1")]
    out = []
    for i, (tag, _) in enumerate(good):
        for j, value in enumerate(NASTY):
            fields = [(35, "D"), *((t, f"SW{i}-{j}" if t == 11 else v) for t, v in good)]
            out.append([(t, value if t == tag else v) for t, v in fields])
    return out


def echoed(value: Any) -> str:
    """A ClOrdID as the gateway echoes it: bytes that cannot be sent come back U+FFFD."""
    text = value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value
    return printable(text)


def answered(msg: Any, seq: int, cl_ord_id: Any) -> bool:
    if msg.msg_type not in ANSWERS:
        return False
    if msg.get(45) == str(seq):
        return True
    return cl_ord_id not in (None, "", b"") and msg.get(11) == echoed(cl_ord_id)


async def send_all(c: FixClient, rng: random.Random) -> list[str]:
    silent = []
    for fields in [*sweep(), *(mutant(rng, k) for k in range(MESSAGES))]:
        cl = dict(fields).get(11)
        seq = c.send(fields)
        while True:
            try:
                msg = await c.next_message(timeout=5)
            except TimeoutError:
                silent.append(f"seq {seq}: {fields!r:.300}")
                break
            if answered(msg, seq, cl):
                break
    return silent


def test_malformed_fix_messages_are_all_answered_and_the_gateway_keeps_working(server):
    rng = random.Random(20261125)

    async def scenario():
        c = await logon(server, "CLIENT3")
        silent = await send_all(c, rng)
        assert silent == [], f"{len(silent)} unanswered, e.g. {silent[:3]}"
        assert not c.closed  # the session survived all of it
        c.new_order("FZ-OK", "AAPL", "1", 100, ord_type="2", price=BUY_MARKETABLE)
        assert (await report_for(c, "FZ-OK", "F", timeout=10))[37].startswith("FG")
        await c.logout()

    run(scenario(), timeout=600)
    assert server.get("/health").status_code == 200


def test_malformed_rest_bodies_get_4xx_and_the_journal_stays_up(server):
    rng = random.Random(7)
    token = server.token("admin", "admin-pw")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    bodies = [b"{", b"null", b'{"account": NaN}', b'{"qty": 1e999999}',
              b'{"\\ud800": 1}', b'{"account": "\\u0000"}', b'{"max_open_orders": "1e5000"}',
              b'{"symbol": 5}', b"\xff\xfe", b'{"halted": "yes"}', b'{"state": "PANIC"}']
    paths = [("POST", "/kill-switch"), ("PUT", "/accounts/ACC9/limits"),
             ("POST", "/restricted-list"), ("POST", "/locates"),
             ("PUT", "/instruments/AAPL/status"), ("POST", "/accounts/ACC9/state")]
    with httpx.Client(base_url=server.api, headers=headers, timeout=30) as http:
        for _ in range(600):
            method, path = rng.choice(paths)
            body = rng.choice(bodies)
            if rng.random() < 0.3:
                body = bytes(rng.randrange(256) for _ in range(rng.randint(1, 40)))
            r = http.request(method, path, content=body)
            assert 400 <= r.status_code < 500, (method, path, body, r.status_code, r.text)
            assert "detail" in r.json()
        assert http.get("/kill-switch").json()["firm"] is False

    async def still_trading():
        c = await logon(server, "CLIENT3")
        c.new_order("FZ-REST", "AAPL", "1", 1, ord_type="2", price=BUY_MARKETABLE)
        assert (await report_for(c, "FZ-REST", "F", timeout=10))[39] in ("1", "2")
        await c.logout()

    run(still_trading())
