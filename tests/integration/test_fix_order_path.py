"""The order path end to end: real server, embedded PostgreSQL, FIX over loopback."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from gateway.fix_client import FixClient, LogonRefused, open_session
from tests.integration.conftest import run
from tests.integration.harness import CLIENT1_PASSWORD, ServerProcess

pytestmark = pytest.mark.integration

AAPL_REF = Decimal("173.45")
BUY_MARKETABLE = "176.00"  # above the seeded asks, inside the 10% collar
BUY_RESTING = "165.00"  # below the seeded bids: rests untouched
_ids = itertools.count(1)


def clid(prefix: str = "T") -> str:
    return f"{prefix}{next(_ids)}-{id(object())}"


async def logon(
    server: ServerProcess, comp_id: str = "CLIENT1", begin_string: str = "FIX.4.4"
) -> FixClient:
    return await open_session("127.0.0.1", server.fix_port, comp_id, "FIXGATE",
                              begin_string=begin_string,
                              password=CLIENT1_PASSWORD if comp_id == "CLIENT1" else None)


async def report_for(
    client: FixClient, cl_ord_id: str, exec_type: str | None = None, timeout: float = 5.0
) -> dict[int, str] | object:
    """The next ExecutionReport (or cancel reject) about this ClOrdID, with the ExecType asked."""
    while True:
        msg = await client.next_message(timeout=timeout)
        if msg.get(11) != cl_ord_id and msg.get(41) != cl_ord_id:
            continue
        if exec_type is None or msg.get(150) == exec_type:
            return msg


def test_limit_order_is_acknowledged_then_filled_with_fill_details(server):
    async def scenario():
        c = await logon(server)
        cl = clid()
        c.new_order(cl, "AAPL", "1", 100, ord_type="2", price=BUY_MARKETABLE)
        new = await report_for(c, cl, "0")
        assert new[39] == "0" and new[37].startswith("FG")
        assert new[1] == "ACC1"  # the session's default account
        cum = Decimal(0)
        while cum < 100:
            trade = await report_for(c, cl, "F")
            assert trade[37] == new[37]
            assert Decimal(trade[32]) > 0 and Decimal(trade[31]) <= Decimal(BUY_MARKETABLE)
            cum = Decimal(trade[14])
            assert Decimal(trade[151]) == 100 - cum
        assert trade[39] == "2" and Decimal(trade[6]) > 0
        await c.logout()

    run(scenario())


def test_resting_order_cancel_and_replace_and_status(server):
    async def scenario():
        c = await logon(server)
        cl = clid()
        c.new_order(cl, "AAPL", "1", 200, ord_type="2", price=BUY_RESTING)
        new = await report_for(c, cl, "0")
        order_id = new[37]

        cl2 = clid()
        c.replace(cl2, cl, "AAPL", "1", 300, ord_type="2", price="166.00")
        rep = await report_for(c, cl2, "5")
        assert (rep[37], rep[41], rep[38], rep[44], rep[39]) == (order_id, cl, "300", "166", "0")
        assert rep[151] == "300"

        c.status(cl2, "AAPL", "1")
        st = await report_for(c, cl2, "I")
        assert st[39] == "0" and st[38] == "300" and st[37] == order_id

        cl3 = clid()
        c.cancel(cl3, cl2, "AAPL", "1")
        canceled = await report_for(c, cl3, "4")
        assert canceled[39] == "4" and canceled[41] == cl2 and canceled[151] == "0"

        cl4 = clid()
        c.cancel(cl4, cl2, "AAPL", "1")
        rej = await c.next_message(timeout=5, msg_type="9")
        assert rej[11] == cl4 and rej[102] == "0" and "already canceled" in rej[58]
        await c.logout()

    run(scenario())


@pytest.mark.parametrize(
    "fields,reason,text",
    [
        ({"symbol": "NOPE", "price": "10.00"}, "1", "unknown symbol 'NOPE'"),
        ({"qty": 0}, "13", "OrderQty(38) must be positive"),
        ({"price": None}, "99", "Price(44) is required"),
        ({"qty": 200000}, "3", "max order qty 100,000 exceeded: 200,000"),
        (
            {"qty": 40000, "price": "175.00"},
            "3",
            "max order notional 5,000,000 exceeded: 7,000,000",
        ),
        ({"price": "250.00"}, "99", "price collar: limit price 250.00"),
        ({"price": "173.455"}, "18", "not a multiple of the tick size"),
    ],
)
def test_bad_orders_are_rejected_with_a_readable_reason(server, fields, reason, text):
    async def scenario():
        c = await logon(server)
        cl = clid()
        args = {"symbol": "AAPL", "qty": 100, "price": BUY_RESTING} | fields
        c.new_order(cl, args["symbol"], "1", args["qty"], ord_type="2", price=args["price"])
        rej = await report_for(c, cl, "8")
        assert rej[39] == "8" and rej[103] == reason
        assert text in rej[58]
        await c.logout()

    run(scenario())


def test_duplicate_clordid_and_unknown_cancel_are_refused(server):
    async def scenario():
        c = await logon(server)
        cl = clid()
        c.new_order(cl, "AAPL", "1", 10, ord_type="2", price=BUY_RESTING)
        await report_for(c, cl, "0")
        c.new_order(cl, "AAPL", "1", 10, ord_type="2", price=BUY_RESTING)
        dup = await report_for(c, cl, "8")
        assert dup[103] == "6" and "duplicate ClOrdID(11)" in dup[58]

        c.status("no-such-order", "AAPL", "1")
        unknown = await report_for(c, "no-such-order", "I")
        assert (unknown[39], unknown[103], unknown[55]) == ("8", "5", "AAPL")
        assert "unknown order" in unknown[58]

        c.cancel(clid(), "no-such-order", "AAPL", "1")
        rej = await c.next_message(timeout=5, msg_type="9")
        assert rej[102] == "1" and "unknown order" in rej[58] and rej[37] == "NONE"
        await c.logout()

    run(scenario())


def test_unsupported_message_type_gets_business_reject(server):
    async def scenario():
        c = await logon(server)
        # OrderMassStatusRequest: valid FIX 4.4, not offered by this gateway.
        c.send([(35, "AF"), (584, "M1"), (585, "7")])
        bmr = await c.next_message(timeout=5, msg_type="j")
        assert bmr[380] == "3" and "unsupported MsgType(35)=AF" in bmr[58]
        await c.logout()

    run(scenario())


def test_logon_with_wrong_password_or_unknown_compid_is_refused(server):
    async def scenario():
        c = FixClient("CLIENT1", "FIXGATE")
        await c.connect("127.0.0.1", server.fix_port)
        with pytest.raises(LogonRefused, match="Password"):
            await c.logon(password="wrong", reset_seq=True)
        stranger = FixClient("INTRUDER", "FIXGATE")
        await stranger.connect("127.0.0.1", server.fix_port)
        with pytest.raises(LogonRefused):
            await stranger.logon(reset_seq=True)

    run(scenario())
    # Both attempts are on record for the operator.
    assert "fix logon refused: bad password" in server.tail(200_000)
    events = (server.data_dir / "fix" / "log" / "GLOBAL.event.current.log").read_text()
    assert "Session not found for incoming message" in events and "49=INTRUDER" in events


def test_fix42_session_trades_with_fix42_execution_reports(server):
    async def scenario():
        c = await logon(server, "CLIENT2", "FIX.4.2")
        cl = clid()
        c.new_order(cl, "MSFT", "1", 50, ord_type="1")
        new = await report_for(c, cl, "0")
        assert new[20] == "0" and new[1] == "ACC2"
        fill = await report_for(c, cl, None)
        while fill[150] not in ("1", "2"):
            fill = await report_for(c, cl, None)
        assert fill[150] in ("1", "2") and Decimal(fill[32]) > 0
        await c.logout()

    run(scenario())


def test_stop_order_triggers_from_last_trade(server):
    async def scenario():
        c = await logon(server)
        buyer = await logon(server, "CLIENT3")
        # A buy stop at the best ask: the last price is still the reference (140.57), so it
        # waits; another client's marketable buy prints at the ask and triggers it.
        cl = clid()
        c.new_order(cl, "JPM", "1", 10, ord_type="3", stop_px="140.58")
        new = await report_for(c, cl, "0")
        assert new[99] == "140.58" and new[40] == "3"
        with pytest.raises(TimeoutError):
            await report_for(c, cl, "F", timeout=0.5)  # not triggered without a trade
        push = clid()
        buyer.new_order(push, "JPM", "1", 100, ord_type="2", price="142.00")
        await report_for(buyer, push, "0")
        trade = await report_for(c, cl, "F", timeout=10)
        assert Decimal(trade[31]) >= Decimal("140.58") and trade[14] == "10"
        await c.logout()
        await buyer.logout()

    run(scenario())
