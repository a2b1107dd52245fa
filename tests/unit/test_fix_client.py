"""FixClient, the load generator and `fixgate client` against a real quickfix acceptor
(gateway.baseline.BaselineAcceptor, in this process, on a free loopback port).

Every scenario runs under asyncio.wait_for, and every acceptor is stopped in a finally.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import time
from collections.abc import Awaitable, Iterator
from typing import Any

import pytest
import quickfix
import simplefix

from gateway.baseline import BaselineAcceptor, settings_text
from gateway.bench import run_load
from gateway.fix_client import (
    FixClient,
    LogonRefused,
    Message,
    add_client_parser,
    format_message,
    open_session,
)

COMP_IDS = ["CLIENT1", "BENCH1", "BENCH2"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(coro: Awaitable[Any], timeout: float = 30.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


@pytest.fixture
def acceptor() -> Iterator[BaselineAcceptor]:
    acc = BaselineAcceptor(free_port(), [("FIXGATE", c) for c in COMP_IDS])
    acc.start()
    try:
        yield acc
    finally:
        acc.stop()


async def logged_on(port: int, sender: str = "CLIENT1", **kw: Any) -> FixClient:
    client = FixClient(sender, "FIXGATE", **kw)
    await client.connect("127.0.0.1", port)
    await client.logon(reset_seq=True)
    return client


def message(*pairs: tuple[int, str]) -> Message:
    fm = simplefix.FixMessage()
    for tag, value in pairs:
        fm.append_pair(tag, value)
    return Message.parse(fm)


# -- the client against quickfix ----------------------------------------------------------


def test_orders_are_acknowledged_with_execution_report_new(acceptor: BaselineAcceptor) -> None:
    async def scenario() -> None:
        c = await logged_on(acceptor.port)
        try:
            assert c.last_in_seq == 1 and c.next_out_seq == 2
            c.new_order("ORD-1", "AAPL", "1", 100, price="173.45")
            c.new_order("ORD-2", "MSFT", "2", 25, price="410.10", account="ACC1")
            c.new_order("ORD-3", "IBM", "5", 7, ord_type="1", tif="3")
            acks = [await c.next_message(timeout=5) for _ in range(3)]
            assert [a[11] for a in acks] == ["ORD-1", "ORD-2", "ORD-3"]
            assert [(a[55], a[54], a[38], a[151]) for a in acks] == [
                ("AAPL", "1", "100", "100"),
                ("MSFT", "2", "25", "25"),
                ("IBM", "5", "7", "7"),
            ]
            for a in acks:
                assert a.msg_type == "8" and a[150] == "0" and a[39] == "0"
                assert a[14] == "0" and a[6] == "0" and a[37] and a[17]
            assert c.next_out_seq == 5 and c.last_in_seq == 4
        finally:
            await c.logout()

    run(scenario())
    assert acceptor.orders_acked == 3 and acceptor.logons == 1


def test_unknown_comp_id_is_refused_not_left_hanging(acceptor: BaselineAcceptor) -> None:
    async def scenario() -> None:
        for sender, target in (("INTRUDER", "FIXGATE"), ("CLIENT1", "SOMEONE")):
            c = FixClient(sender, target)
            await c.connect("127.0.0.1", acceptor.port)
            started = time.monotonic()
            with pytest.raises(LogonRefused):
                await c.logon(reset_seq=True)
            assert time.monotonic() - started < 3  # quickfix drops the connection at once
            await c.close()

    run(scenario())
    assert acceptor.logons == 0


def test_reconnect_continues_the_sequence(acceptor: BaselineAcceptor) -> None:
    async def scenario() -> None:
        c = await logged_on(acceptor.port)
        c.new_order("SEQ-1", "AAPL", "1", 1, price="1")
        await c.next_message()
        await c.logout()
        out_seq, in_seq = c.next_out_seq, c.last_in_seq
        assert (out_seq, in_seq) == (4, 3)  # Logon, D, Logout out; Logon, ER, Logout in
        # quickfix holds the session a moment after it drops the connection: reconnect as
        # an engine does, retrying a logon dropped without a word.
        again = await open_session("127.0.0.1", acceptor.port, "CLIENT1", "FIXGATE",
                                   reset_seq=False, seq_num=out_seq)
        assert again.last_in_seq == in_seq + 1  # the Logon answer continues the sequence
        again.new_order("SEQ-2", "AAPL", "1", 1, price="1")
        assert (await again.next_message())[11] == "SEQ-2"
        await again.logout()

    run(scenario())


def test_session_reject_reaches_the_caller_and_the_session_survives(
    acceptor: BaselineAcceptor,
) -> None:
    async def scenario() -> None:
        c = await logged_on(acceptor.port)
        try:
            c.send([(35, "D"), (11, ""), (55, "AAPL")])  # ClOrdID without a value
            rej = await c.next_message(timeout=5, msg_type="3")
            assert (rej[45], rej[371], rej[373]) == ("2", "11", "4")
            assert format_message(rej).startswith("Reject")
            c.new_order("AFTER", "AAPL", "1", 1, price="1")
            assert (await c.next_message(timeout=5))[11] == "AFTER"
        finally:
            await c.logout()

    run(scenario())


# -- the load generator -------------------------------------------------------------------


def test_run_load_two_sessions_of_200_orders(acceptor: BaselineAcceptor) -> None:
    result = run(
        run_load("127.0.0.1", acceptor.port, sessions=2, orders=400, window=20), timeout=60
    )
    assert (result.sent, result.acked, result.rejected) == (400, 400, 0)
    assert len(result.latencies_ms) == 400
    assert acceptor.orders_acked == 400
    s = result.summary()
    assert 0 < s["p50_ms"] <= s["p99_ms"] <= s["p999_ms"] <= s["max_ms"] < 5000
    assert s["orders_per_s"] > 100 and s["acked"] == 400


def test_run_load_open_loop_keeps_the_rate(acceptor: BaselineAcceptor) -> None:
    result = run(
        run_load("127.0.0.1", acceptor.port, sessions=2, orders=300, rate=1000), timeout=60
    )
    assert result.acked == 300
    assert 0.25 < result.elapsed_s < 3.0  # 300 orders at 1000/s: about 0.3 s
    assert result.summary()["orders_per_s"] <= 1300


# -- the baseline acceptor ---------------------------------------------------------------


def test_baseline_settings_and_a_taken_port() -> None:
    text = settings_text(9999, [("FIXGATE", "BENCH1"), ("FIXGATE", "BENCH2")])
    assert "SocketAcceptPort=9999" in text and text.count("[SESSION]") == 2
    assert "TargetCompID=BENCH2" in text and "UseDataDictionary=N" in text
    settings = quickfix.SessionSettings()
    settings.setFromString(text)
    assert settings.size() == 2
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(quickfix.RuntimeError, match="Address already in use"):
            BaselineAcceptor(taken.getsockname()[1]).start()


# -- format_message -----------------------------------------------------------------------


def test_format_message_names_the_codes() -> None:
    trade = message(
        (35, "8"), (150, "F"), (39, "1"), (11, "A1"), (37, "FG7"), (55, "AAPL"), (54, "1"),
        (32, "100"), (31, "173.45"), (14, "100"), (151, "100"), (6, "173.45"), (58, "partial"),
    )  # fmt: skip
    line = format_message(trade)
    assert line.startswith("ExecutionReport ExecType=F(Trade) OrdStatus=1(PartiallyFilled)")
    for part in (
        "ClOrdID=A1", "OrderID=FG7", "Symbol=AAPL", "Side=Buy", "LastQty=100", "LastPx=173.45",
        "CumQty=100", "LeavesQty=100", "AvgPx=173.45", "Text=partial",
    ):  # fmt: skip
        assert part in line.split(" "), (part, line)
    short = format_message(message((35, "8"), (150, "8"), (39, "8"), (54, "5")))
    assert short == "ExecutionReport ExecType=8(Rejected) OrdStatus=8(Rejected) Side=SellShort"


def test_format_message_rejects() -> None:
    cxl = format_message(message((35, "9"), (11, "C2"), (41, "C1"), (102, "1"), (58, "unknown")))
    assert cxl.startswith("OrderCancelReject")
    assert "ClOrdID=C2" in cxl and "OrigClOrdID=C1" in cxl and "Text=unknown" in cxl
    session = format_message(message((35, "3"), (45, "7"), (373, "1"), (58, "missing 54")))
    assert session.startswith("Reject") and "Text=missing 54" in session
    bmr = format_message(message((35, "j"), (380, "3"), (58, "unsupported")))
    assert bmr.startswith("BusinessMessageReject") and "Text=unsupported" in bmr


# -- `fixgate client` ---------------------------------------------------------------------


def cli(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="fixgate")
    add_client_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["client", *argv])


def test_cli_order_prints_the_ack(
    acceptor: BaselineAcceptor, capsys: pytest.CaptureFixture[str]
) -> None:
    args = cli(
        "--port", str(acceptor.port), "--wait", "0.5",
        "order", "--symbol", "AAPL", "--side", "buy", "--qty", "100", "--price", "173.45",
    )  # fmt: skip
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "ExecutionReport ExecType=0(New) OrdStatus=0(New)" in out and "Side=Buy" in out


def test_cli_unreachable_server_and_refused_logon_exit_non_zero(
    acceptor: BaselineAcceptor, capsys: pytest.CaptureFixture[str]
) -> None:
    status = ["status", "--cl-ord-id", "X", "--symbol", "AAPL", "--side", "sell"]
    args = cli("--port", str(free_port()), *status)
    assert args.func(args) != 0
    captured = capsys.readouterr()
    assert "cannot connect" in captured.out + captured.err

    args = cli("--port", str(acceptor.port), "--sender", "NOBODY", *status)
    assert args.func(args) != 0
    captured = capsys.readouterr()
    assert "refused" in captured.out + captured.err


def test_client_order_flags_become_the_algorithm_tags():
    import argparse

    from gateway.fix_client import _algo_tags
    tags = dict(_algo_tags(argparse.Namespace(strategy="pov", minutes=None, rate="0.1")))
    assert tags == {847: "2", 849: "0.1"}
    tags = dict(_algo_tags(argparse.Namespace(strategy="twap", minutes=30.0, rate=None)))
    assert tags[847] == "1000" and len(tags[126]) == len("20261125-16:30:00")
    assert _algo_tags(argparse.Namespace(strategy=None, minutes=None, rate=None)) == []
