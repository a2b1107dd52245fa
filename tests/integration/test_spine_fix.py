"""The spine's defects as a FIX client meets them: ClOrdIDs given by replaces and OrderIDs
after kill -9, a replace at the open-order limit, a journal that a bad byte cannot stop."""

from __future__ import annotations

import pytest

from tests.integration.conftest import run
from tests.integration.test_fix_order_path import BUY_RESTING, logon, report_for

pytestmark = pytest.mark.integration


def test_replace_chain_and_order_ids_survive_kill9(fresh_server):
    server = fresh_server
    seen: dict[str, str] = {}

    async def before():
        c = await logon(server)
        c.new_order("CH1", "AAPL", "1", 100, ord_type="2", price=BUY_RESTING)
        seen["order_id"] = (await report_for(c, "CH1", "0"))[37]
        c.replace("CH2", "CH1", "AAPL", "1", 150, price=BUY_RESTING)
        assert (await report_for(c, "CH2", "5"))[38] == "150"
        c.new_order("BAD1", "AAPL", "9", 100, ord_type="2", price=BUY_RESTING)
        refused = await report_for(c, "BAD1", "8")
        assert "Side(54)=9" in refused[58]
        seen["refused_id"] = refused[37]

    run(before())
    server.kill9()
    server.start()

    async def after():
        c = await logon(server)
        c.cancel("CH3", "CH2", "AAPL", "1")  # names the ClOrdID the replace gave
        canceled = await report_for(c, "CH3", "4")
        assert canceled[37] == seen["order_id"] and canceled[41] == "CH2"
        c.new_order("CH2", "AAPL", "1", 1, ord_type="2", price=BUY_RESTING)  # reused: refused
        dup = await report_for(c, "CH2", "8")
        assert "duplicate ClOrdID(11) CH2" in dup[58]
        c.new_order("NEW1", "AAPL", "1", 1, ord_type="2", price=BUY_RESTING)
        fresh_id = (await report_for(c, "NEW1", "0"))[37]
        assert fresh_id not in (seen["order_id"], seen["refused_id"], dup[37])
        assert int(fresh_id[2:]) > int(seen["refused_id"][2:])
        await c.logout()

    run(after())


def test_a_replace_at_the_open_order_limit_is_accepted_over_fix(server):
    assert server.call("PUT", "/accounts/ACC3/limits", {"max_open_orders": 1},
                       user="risk", password="risk-pw").status_code == 200

    async def scenario():
        c = await logon(server, "CLIENT3")
        c.new_order("OL1", "AAPL", "1", 100, ord_type="2", price=BUY_RESTING)
        await report_for(c, "OL1", "0")
        c.replace("OL2", "OL1", "AAPL", "1", 100, price="165.05")
        replaced = await report_for(c, "OL2", "5")
        assert replaced[44] == "165.05"
        c.new_order("OL3", "AAPL", "1", 100, ord_type="2", price=BUY_RESTING)
        assert "max open orders 1 exceeded: 2" in (await report_for(c, "OL3", "8"))[58]
        await c.logout()

    run(scenario())


def test_a_nul_in_a_rest_field_is_refused_and_the_journal_stays_up(server):
    r = server.post("/kill-switch", {"account": "\u0000"}, user="risk", password="risk-pw")
    assert r.status_code == 422 and "NUL" in r.json()["detail"]

    async def scenario():
        c = await logon(server, "CLIENT2", "FIX.4.2")
        c.new_order("UP1", "AAPL", "1", 1, ord_type="2", price=BUY_RESTING)
        assert (await report_for(c, "UP1", "0"))[39] == "0"  # still accepting orders
        await c.logout()

    run(scenario())
