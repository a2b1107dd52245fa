"""kill -9 and restart: nothing acknowledged is lost, open orders keep working, FIX
sequence numbers continue, and a client that missed reports gets them by resend."""

from __future__ import annotations

import asyncio
import contextlib
from decimal import Decimal
from typing import Any

import pytest

from gateway.fix_client import open_session
from tests.integration.conftest import run
from tests.integration.harness import CLIENT1_PASSWORD, ServerProcess
from tests.integration.test_fix_order_path import BUY_MARKETABLE, BUY_RESTING, logon, report_for

pytestmark = pytest.mark.integration


def orders_by_cl(server: ServerProcess) -> dict[str, dict]:
    r = server.get("/orders")
    assert r.status_code == 200
    return {o["cl_ord_id"]: o for o in r.json()}


def test_kill9_restart_keeps_orders_fills_positions_and_sequence_numbers(fresh_server):
    server = fresh_server
    state: dict[str, object] = {}

    async def before_crash():
        c = await logon(server)
        c.new_order("REST1", "AAPL", "1", 200, ord_type="2", price=BUY_RESTING)
        state["rest_order_id"] = (await report_for(c, "REST1", "0"))[37]
        located = await asyncio.to_thread(
            server.post, "/locates", {"account": "ACC1", "symbol": "MSFT", "qty": 100})
        assert located.status_code == 201
        c.new_order("SELL1", "MSFT", "5", 100, ord_type="2", price="340.00")  # rests above asks
        await report_for(c, "SELL1", "0")
        c.new_order("FILL1", "AAPL", "1", 100, ord_type="2", price=BUY_MARKETABLE)
        trade = await report_for(c, "FILL1", "F")
        while trade[39] != "2":
            trade = await report_for(c, "FILL1", "F")
        state["fill_avg"] = trade[6]
        state["out_seq"], state["in_seq"] = c.next_out_seq, c.last_in_seq
        # No logout: the process dies under the client.

    run(before_crash())

    orders_before = orders_by_cl(server)
    positions_before = server.get("/positions").json()
    server.kill9()
    server.start()

    assert orders_by_cl(server) == orders_before
    assert server.get("/positions").json() == positions_before
    pos = {(p["account"], p["symbol"]): p for p in positions_before}
    assert Decimal(pos[("ACC1", "AAPL")]["qty"]) == 100
    assert Decimal(pos[("ACC1", "AAPL")]["avg_px"]) == Decimal(state["fill_avg"])

    async def after_restart():
        c = await open_session("127.0.0.1", server.fix_port, "CLIENT1", "FIXGATE",
                               password=CLIENT1_PASSWORD, reset_seq=False,
                               seq_num=state["out_seq"])
        assert c.last_in_seq == state["in_seq"] + 1  # the server's Logon continues the sequence
        c.status("REST1", "AAPL", "1")
        st = await report_for(c, "REST1", "I")
        assert (st[37], st[39], st[38], st[14]) == (state["rest_order_id"], "0", "200", "0")
        # Still working at the exchange: the venue itself confirms the cancel.
        c.cancel("CXL1", "REST1", "AAPL", "1")
        canceled = await report_for(c, "CXL1", "4")
        assert canceled[37] == state["rest_order_id"]
        c.cancel("CXL2", "SELL1", "MSFT", "5")
        assert (await report_for(c, "CXL2", "4"))[39] == "4"
        await c.logout()

    run(after_restart())


def test_kill9_during_a_burst_loses_no_acknowledged_order_or_fill(fresh_server):
    server = fresh_server
    acked: dict[str, str] = {}
    fills: dict[str, set[str]] = {}

    async def burst():
        c = await logon(server)
        for i in range(300):
            price = BUY_MARKETABLE if i % 3 == 0 else BUY_RESTING
            c.new_order(f"B{i}", "AAPL", "1", 1, ord_type="2", price=price)
        killed = False
        while True:
            try:
                msg = await c.next_message(timeout=2)
            except (TimeoutError, ConnectionError, EOFError):
                break
            if msg.get(35) != "8":
                continue
            if msg[150] == "0":
                acked[msg[11]] = msg[37]
            elif msg[150] == "F":
                fills.setdefault(msg[37], set()).add(msg[17])
            if not killed and len(acked) >= 60:
                server.kill9()  # mid-stream: some orders are in flight, some unanswered
                killed = True

    run(burst())

    assert len(acked) >= 60
    server.start()
    after = orders_by_cl(server)
    for cl_ord_id, order_id in acked.items():
        assert after[cl_ord_id]["order_id"] == order_id, f"acknowledged {cl_ord_id} lost"
    for order_id, exec_ids in fills.items():
        detail = server.get(f"/orders/{order_id}").json()
        journaled = [f["exec_id"] for f in detail["fills"]]
        assert exec_ids <= set(journaled), f"acknowledged fill of {order_id} lost"
        assert len(journaled) == len(set(journaled)), "a fill was duplicated"


def test_reports_missed_while_logged_out_arrive_by_resend(server):
    async def scenario():
        c = await logon(server, "CLIENT3")
        c.new_order("AWAY1", "KO", "1", 10, ord_type="2", price="50.00")
        order_id = (await report_for(c, "AWAY1", "0"))[37]
        out_seq, in_seq = c.next_out_seq, c.last_in_seq
        await c.logout()

        r = await asyncio.to_thread(server.post, f"/orders/{order_id}/cancel")
        assert r.status_code == 200 and r.json()["status"] == "4"

        back = await open_session("127.0.0.1", server.fix_port, "CLIENT3", "FIXGATE",
                                  reset_seq=False, seq_num=out_seq + 1)
        assert back.last_in_seq > in_seq + 2  # logout, the missed report, then this logon
        back.send([(35, "2"), (7, str(in_seq + 1)), (16, "0")])
        er = await report_for(back, "AWAY1", "4")
        assert er[37] == order_id and er.get(43) == "Y"  # PossDupFlag on the resent copy
        await back.logout()

    run(scenario())


def test_after_kill9_the_client_learns_every_durable_fact_once_per_exec_id(fresh_server):
    """Fills booked just before a crash reach the client after the restart: by FIX resend
    of what was sent, and by the outbox (PossResend) of what was committed but not yet
    handed to the session. No ExecID arrives twice unless marked as a possible repeat."""
    server = fresh_server
    seen: dict[str, list[dict[int, str]]] = {}
    state: dict[str, int] = {}

    def note(msg: Any) -> None:
        if msg.get(35) == "8" and msg.get(150) in ("0", "F"):
            seen.setdefault(msg[17], []).append(dict(msg.fields))

    async def burst():
        c = await logon(server)
        for i in range(200):
            c.new_order(f"K{i}", "AAPL", "1", 1, ord_type="2", price=BUY_MARKETABLE)
        while len(seen) < 80:
            note(await c.next_message(timeout=10))
        server.kill9()
        with contextlib.suppress(TimeoutError, ConnectionError, EOFError):
            while True:
                note(await c.next_message(timeout=1))
        state["out_seq"], state["in_seq"] = c.next_out_seq, c.last_in_seq

    run(burst())
    server.start()

    def durable_facts() -> set[str]:
        facts: set[str] = set()
        for order in server.get("/orders").json():
            if order["cl_ord_id"].startswith("K") and order["status"] != "8":
                facts.add(f"{order['order_id']}.2")  # its New
                detail = server.get(f"/orders/{order['order_id']}").json()
                facts |= {f["exec_id"] for f in detail["fills"]}
        return facts

    durable = durable_facts()

    async def after():
        c = await open_session("127.0.0.1", server.fix_port, "CLIENT1", "FIXGATE",
                               password=CLIENT1_PASSWORD, reset_seq=False,
                               seq_num=state["out_seq"])
        c.send([(35, "2"), (7, str(state["in_seq"] + 1)), (16, "0")])
        # Until every durable fact has arrived (a loaded machine may pause for seconds),
        # then a moment more, for anything sent twice.
        deadline = asyncio.get_running_loop().time() + 40
        with contextlib.suppress(TimeoutError):
            while not durable <= set(seen) and asyncio.get_running_loop().time() < deadline:
                note(await c.next_message(timeout=10))
            while True:
                note(await c.next_message(timeout=1))
        await c.logout()

    run(after(), timeout=90)
    missing = durable - set(seen)
    assert not missing, f"durable facts the client never heard of: {sorted(missing)[:5]}"
    for exec_id, copies in seen.items():
        plain = [m for m in copies if m.get(43) != "Y" and m.get(97) != "Y"]
        assert len(plain) <= 1, f"{exec_id} sent twice as new"
