"""The FIX acceptor at its edges, over real FIX against the real server: text the
journal cannot hold, answers that echo it, a peer that stops reading, and logons
quickfix alone would leave unanswered."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from gateway.fix_client import (
    FixClient,
    FixFramer,
    LogonRefused,
    Message,
    encode_message,
    open_session,
    utc_timestamp,
)
from gateway.passwords import hash_password
from tests.integration.conftest import run
from tests.integration.harness import CLIENT1_PASSWORD, TEST_CONFIG, ServerProcess

pytestmark = pytest.mark.integration

LOGON_TIMEOUT = 2  # seconds, [fix.settings] LogonTimeout of this module's server
BACKLOG = 200  # [fix.settings] MaxOutboundBacklog
CLIENT4_PASSWORD = "client4-pw"  # hashed at the real cost (pbkdf2, 600,000 iterations)
PASSWORDS = {"CLIENT1": CLIENT1_PASSWORD, "CLIENT4": CLIENT4_PASSWORD}
BUY_RESTING = "165.00"  # below the seeded bids: rests untouched
_ids = itertools.count(1)


def clid(prefix: str = "E") -> str:
    return f"{prefix}{next(_ids)}-{time.monotonic_ns()}"


@pytest.fixture(scope="module")
def edges(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    config = TEST_CONFIG.replace(
        "{hash}", hash_password(CLIENT1_PASSWORD, iterations=1000)
    ).replace(
        'HeartBtInt = "30"',
        f'HeartBtInt = "30"\nLogonTimeout = "{LOGON_TIMEOUT}"\nMaxOutboundBacklog = "{BACKLOG}"'
        # A socket buffer of known size: the kernel's own may grow to megabytes and take
        # every report the slow consumer below is sent before it ever stalls.
        '\nSocketSendBufferSize = "65536"',
    ) + f"""
[[fix.clients]]
comp_id = "CLIENT4"
begin_string = "FIX.4.4"
password = "{hash_password(CLIENT4_PASSWORD)}"
account = "ACC4"
"""
    srv = ServerProcess(tmp_path_factory.mktemp("fixgate") / "data", config)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


async def logon(server: ServerProcess, comp_id: str = "CLIENT3",
                begin_string: str = "FIX.4.4") -> FixClient:
    return await open_session("127.0.0.1", server.fix_port, comp_id, "FIXGATE",
                              begin_string=begin_string, password=PASSWORDS.get(comp_id))


def order(cl_ord_id: str | bytes, symbol: str | bytes = "AAPL", *extra: tuple[int, object],
          qty: bool = True) -> list[tuple[int, object]]:
    fields: list[tuple[int, object]] = [(35, "D"), (11, cl_ord_id), (21, "1"), (55, symbol),
                                        (54, "1"), (60, utc_timestamp())]
    if qty:
        fields.append((38, "10"))
    return [*fields, (40, "2"), (44, BUY_RESTING), *extra]


async def answer(c: FixClient, msg_type: str | None = None, timeout: float = 5) -> Message:
    return await c.next_message(timeout=timeout, msg_type=msg_type)


# -- text the journal cannot hold, refused at the FIX boundary (#12) --------------------------


def test_a_nul_inside_a_field_reaches_the_gateway_and_is_refused_naming_the_field(edges):
    # quickfix passes a raw NUL through (no session Reject): the gateway must refuse it.
    async def scenario():
        c = await logon(edges)
        c.send(order(b"A\x00B"))
        er = await answer(c)
        assert er.msg_type == "8", er  # not a session-level Reject(3)
        assert (er[150], er[39], er[103]) == ("8", "8", "99")
        assert "ClOrdID(11) contains a NUL byte at position 1" in er[58]
        assert er[11] == "A\ufffdB" and er[37] == "NONE"
        await c.logout()

    run(scenario())
    # Refused before the OMS: no order of it in the blotter (nor in the journal).
    orders = edges.get("/orders", params={"account": "ACC3"}).json()
    assert not [o for o in orders if o["cl_ord_id"].startswith("A\ufffd")]


def test_every_field_is_checked_not_only_those_the_order_carries(edges):
    async def scenario():
        c = await logon(edges)
        cl = clid()
        c.send(order(cl, "AAPL", (58, b"note\x00")))
        er = await answer(c)
        assert (er.msg_type, er[11], er[39]) == ("8", cl, "8")
        assert "Text(58) contains a NUL byte at position 4" in er[58]
        await c.logout()

    run(scenario())


def test_a_byte_that_is_not_utf8_is_refused_on_a_fix42_session_too(edges):
    async def scenario():
        c = await logon(edges, "CLIENT2", "FIX.4.2")
        cl = clid()
        c.send(order(cl, b"\xc3"))
        er = await answer(c)
        assert (er.msg_type, er[20], er[150], er[39], er[11]) == ("8", "0", "8", "8", cl)
        assert "Symbol(55) contains a byte that is not UTF-8 at position 0" in er[58]
        assert er[55] == "\ufffd"
        await c.logout()

    run(scenario())


# -- every answer is sent, whatever it echoes (#13) --------------------------------------------


def test_a_cancel_of_an_unknown_id_with_a_bad_byte_is_answered(edges):
    async def scenario():
        c = await logon(edges)
        cl = clid()
        c.cancel(cl, b"NOSUCH\xff", "AAPL", "1")  # type: ignore[arg-type]
        rej = await answer(c, "9")
        assert (rej[11], rej[41], rej[434], rej[39]) == (cl, "NOSUCH\ufffd", "1", "8")
        assert "OrigClOrdID(41) contains a byte that is not UTF-8 at position 6" in rej[58]
        # A replace is answered the same way, as a replace.
        c.replace(b"R\xff", cl, "AAPL", "1", 10, price=BUY_RESTING)  # type: ignore[arg-type]
        rej = await answer(c, "9")
        assert (rej[11], rej[434]) == ("R\ufffd", "2") and "ClOrdID(11)" in rej[58]
        await c.logout()

    run(scenario())


def test_a_status_request_with_a_bad_byte_is_answered(edges):
    async def scenario():
        c = await logon(edges)
        cl = clid()
        seq = c.send([(35, "H"), (11, cl), (55, b"A\xb4"), (54, "1")])
        bmr = await answer(c, "j")
        assert (bmr[45], bmr[372], bmr[379], bmr[380]) == (str(seq), "H", cl, "0")
        assert "Symbol(55) contains a byte that is not UTF-8 at position 1" in bmr[58]
        await c.logout()

    run(scenario())


def test_a_refusal_echoing_a_bad_clordid_is_sent(edges):
    # Missing OrderQty used to be answered by a BusinessMessageReject echoing ClOrdID in
    # BusinessRejectRefID(379): with a bad byte in it, that answer was never sent.
    async def scenario():
        c = await logon(edges)
        c.send(order(b"X\xff", qty=False))
        er = await answer(c)
        assert (er.msg_type, er[11], er[39]) == ("8", "X\ufffd", "8")
        assert "ClOrdID(11) contains a byte that is not UTF-8" in er[58]
        await c.logout()

    run(scenario())


# -- a slow consumer stalls no one (#15) --------------------------------------------------------


class RawClient:
    """A blocking socket speaking just enough FIX for what FixClient would not do: stop
    reading, or never log on."""

    def __init__(self, port: int, rcvbuf: int | None = None) -> None:
        self.sock = socket.socket()
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port))
        self.seq = 1
        self.framer = FixFramer()
        self.pending: list[bytes] = []

    def send(self, sender: str, fields: list[tuple[int, object]]) -> None:
        header = [fields[0], (49, sender), (56, "FIXGATE"), (34, self.seq),
                  (52, utc_timestamp())]
        self.sock.sendall(encode_message("FIX.4.4", header + fields[1:]))
        self.seq += 1

    def read_message(self, timeout: float) -> Message | None:
        """The next message; None once the server has closed the connection."""
        self.sock.settimeout(timeout)
        while not self.pending:
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                return None
            if not data:
                return None
            self.pending += self.framer.feed(data)
        return Message.decode(self.pending.pop(0))

    def close(self) -> None:
        self.sock.close()


def test_a_slow_consumer_is_disconnected_and_delays_no_other_session(edges):
    # CLIENT3 sends orders and never reads its socket (a tiny receive buffer); each
    # order, refused for its unknown symbol, makes one report. However much the kernel
    # buffers, its reports end up waiting on it.
    slow = RawClient(edges.fix_port, rcvbuf=4096)
    slow.send("CLIENT3", [(35, "A"), (98, "0"), (108, "30"), (141, "Y")])
    assert slow.read_message(5)[35] == "A"
    stop = threading.Event()

    def flood() -> None:
        with contextlib.suppress(OSError):  # cut off
            for n in range(20000):
                if stop.is_set():
                    return
                slow.send("CLIENT3", order(clid("S"), "NOPE"))
                if n % 200 == 199:
                    time.sleep(0.05)  # a pace the server keeps up with

    def slow_session() -> dict:
        return {s["target_comp_id"]: s for s in edges.get("/sessions").json()}["CLIENT3"]

    flooder = threading.Thread(target=flood, daemon=True)
    flooder.start()

    # Meanwhile CLIENT2 trades on: each of its orders is acknowledged promptly, before,
    # while and after CLIENT3 stalls, until CLIENT3 is cut off.
    async def other_session() -> list[float]:
        c = await logon(edges, "CLIENT2", "FIX.4.2")
        acks: list[float] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            cl = clid("F")
            started = time.monotonic()
            c.new_order(cl, "AAPL", "1", 10, ord_type="2", price=BUY_RESTING)
            while (await answer(c, "8")).get(11) != cl:  # 5 s each at most
                pass
            acks.append(time.monotonic() - started)
            if not (await asyncio.to_thread(slow_session))["logged_on"]:
                break
            await asyncio.sleep(0.1)
        await c.logout()
        return acks

    try:
        acks = run(other_session())
    finally:
        stop.set()
        flooder.join(30)
    assert len(acks) > 1 and max(acks) < 5  # it used to take 20-40 s
    session = slow_session()
    assert not session["logged_on"]  # and the operator sees why
    assert "slow consumer" in session["last_logout_reason"]
    assert f"MaxOutboundBacklog={BACKLOG}" in session["last_logout_reason"]

    # Cut off: reading what reached CLIENT3's socket ends the stream.
    deadline = time.monotonic() + 30
    while (msg := slow.read_message(deadline - time.monotonic())) is not None:
        assert msg.msg_type in ("8", "0", "1"), msg
    slow.close()

    async def back_again() -> None:  # and may log on again, and trade
        c = await logon(edges)
        cl = clid()
        c.new_order(cl, "AAPL", "1", 10, ord_type="2", price=BUY_RESTING)
        while (await answer(c, "8")).get(11) != cl:
            pass
        await c.logout()

    run(back_again())


# -- every logon attempt is answered (#16) -----------------------------------------------------


async def attempt(server: ServerProcess, comp_id: str, password: str | None,
                  timeout: float = 5, **kw: object) -> tuple[str, float]:
    """Log on once; the answer's Text(58) (or what happened instead) and how long it took."""
    c = FixClient(comp_id, "FIXGATE", **kw)  # type: ignore[arg-type]
    await c.connect("127.0.0.1", server.fix_port)
    started = time.monotonic()
    try:
        await c.logon(password=password, reset_seq=True, timeout=timeout)
        outcome = "logged on"
        await c.logout()
    except LogonRefused as exc:
        outcome = str(exc)
        for _ in range(200):  # after the Logout, the server closes the connection
            if c.closed:
                break
            await asyncio.sleep(0.01)
        assert c.closed, "connection left open after the refusal"
    finally:
        await c.close()
    return outcome, time.monotonic() - started


def test_a_wrong_password_for_a_session_already_logged_on_is_answered(edges):
    async def scenario():
        live = await logon(edges, "CLIENT1")
        text, took = await attempt(edges, "CLIENT1", "wrong")
        assert text == "logon refused: Password(554) wrong" and took < 2
        # The session logged on is untouched.
        cl = clid()
        live.new_order(cl, "AAPL", "1", 10, ord_type="2", price=BUY_RESTING)
        assert (await answer(live, "8"))[11] == cl
        await live.logout()

    run(scenario())
    assert "fix logon refused: bad password" in edges.tail(200_000)


def test_a_second_logon_of_a_session_logged_on_is_answered(edges):
    async def scenario():
        live = await logon(edges, "CLIENT1")
        text, took = await attempt(edges, "CLIENT1", CLIENT1_PASSWORD, timeout=8)
        assert text == "logon refused: session FIX.4.4:FIXGATE->CLIENT1 is already logged on"
        assert took < 7  # the previous connection may take a moment to close: 5 s
        await live.logout()

    run(scenario())


def test_an_empty_password_is_answered_and_holds_no_session_hostage(edges):
    async def scenario():
        text, took = await attempt(edges, "CLIENT1", "")
        assert text == "logon refused: Password(554) has no value" and took < 2
        c = await logon(edges, "CLIENT1")  # quickfix no longer holds the session
        await c.logout()

    run(scenario())


def test_twenty_concurrent_wrong_passwords_are_all_answered(edges):
    async def scenario():
        started = time.monotonic()
        outcomes = await asyncio.gather(
            *(attempt(edges, "CLIENT4", "wrong", timeout=4) for _ in range(20)))
        texts = [text for text, _ in outcomes]  # each with a reason, none left waiting
        assert all("Password(554)" in text and "wrong" in text for text in texts), texts
        assert time.monotonic() - started < 4
        c = await logon(edges, "CLIENT4")
        await c.logout()

    run(scenario())


def test_a_connection_that_never_logs_on_is_closed(edges):
    silent = RawClient(edges.fix_port)
    garbage = RawClient(edges.fix_port)
    partial = RawClient(edges.fix_port)
    started = time.monotonic()
    garbage.sock.sendall(b"GET / HTTP/1.1\r\nHost: fixgate\r\n\r\n")
    partial.sock.sendall(b"8=FIX.4.4\x019=70\x0135=A\x0134=1\x0149=CLIENT3")
    assert garbage.read_message(LOGON_TIMEOUT + 5) is None
    assert time.monotonic() - started < 1  # no FIX at all: closed at once
    assert silent.read_message(LOGON_TIMEOUT + 5) is None
    assert partial.read_message(LOGON_TIMEOUT + 5) is None
    assert LOGON_TIMEOUT - 0.5 < time.monotonic() - started < LOGON_TIMEOUT + 3
    for c in (silent, garbage, partial):
        c.close()
    assert "no Logon within LogonTimeout=2s" in edges.tail(200_000)


def test_an_unknown_session_is_answered(edges):
    async def scenario():
        text, _ = await attempt(edges, "INTRUDER", None)
        assert text == "logon refused: no session FIX.4.4:FIXGATE->INTRUDER here"

    run(scenario())


def test_a_refused_logon_takes_a_sequence_number_as_quickfix_does(edges):
    # A client engine counts the refusal's Logout as received: the next Logon of the
    # session must carry the number after it, or the client finds it too low.
    async def scenario():
        c = await logon(edges, "CLIENT1")
        await c.logout()
        seq_out, next_in = c.next_out_seq, c.last_in_seq + 1
        w = FixClient("CLIENT1", "FIXGATE", seq_num=seq_out)
        await w.connect("127.0.0.1", edges.fix_port)
        with pytest.raises(LogonRefused):
            await w.logon(password="wrong")
        refusal = w.last_in_seq
        await w.close()
        assert refusal == next_in
        ok = FixClient("CLIENT1", "FIXGATE", seq_num=seq_out)
        await ok.connect("127.0.0.1", edges.fix_port)
        reply = await ok.logon(password=CLIENT1_PASSWORD)
        assert int(reply[34]) == refusal + 1
        await ok.logout()

    run(scenario())
