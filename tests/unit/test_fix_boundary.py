"""The FIX boundary without a server: naming a bad field, the reject each message type
calls for, replies that can always be sent, the logon gate's framing, and the password
verdict cache."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time

import pytest

from gateway import passwords
from gateway.fix import gate, mapping
from gateway.passwords import PasswordVerifier, hash_password, verify_password

SOH = "\x01"


def raw(*fields: tuple[int, str]) -> str:
    return "".join(f"{tag}={value}{SOH}" for tag, value in fields)


def test_fields_are_named_as_the_dictionaries_name_them():
    assert mapping.field_name(11) == "ClOrdID(11)"
    assert mapping.field_name(554) == "Password(554)"
    assert mapping.field_name(59999) == "tag 59999"


def test_bad_text_names_the_first_field_holding_a_nul_or_a_byte_not_utf8():
    clean = raw((8, "FIX.4.4"), (35, "D"), (11, "é-1"), (55, "AAPL"))
    assert mapping.bad_text(clean) is None
    nul = raw((8, "FIX.4.4"), (35, "D"), (11, "A\x00B"), (55, "AAPL"))
    assert mapping.bad_text(nul) == "ClOrdID(11) contains a NUL byte at position 1"
    # quickfix hands a byte that is not UTF-8 over as a lone surrogate (surrogateescape)
    bad = raw((8, "FIX.4.4"), (35, "D"), (11, "ok"), (55, "A\udcb4"), (58, "\udcc3"))
    assert mapping.bad_text(bad) == "Symbol(55) contains a byte that is not UTF-8 at position 1"


def _fields(*pairs: tuple[int, str]) -> dict[int, str]:
    return dict(pairs)


def test_an_order_is_refused_with_a_rejected_execution_report():
    f = _fields((34, "7"), (11, "A\x00B"), (1, "ACC1"), (55, "AAPL"), (54, "2"), (38, "100"),
                (40, "2"), (59, "0"))
    msg_type, body = mapping.boundary_reject("D", f, "ClOrdID(11) contains a NUL byte", "FIX.4.4",
                                             "B1.1")
    b = dict(body)
    assert msg_type == "8"
    assert (b[37], b[17], b[150], b[39], b[103]) == ("NONE", "B1.1", "8", "8", "99")
    assert (b[11], b[1], b[55], b[54], b[38], b[151], b[14]) == (
        "A\ufffdB", "ACC1", "AAPL", "2", "100", "0", "0")
    assert b[58] == "ClOrdID(11) contains a NUL byte"
    _, body42 = mapping.boundary_reject("D", _fields((38, "1e999999")), "x", "FIX.4.2", "B1.2")
    assert dict(body42)[20] == "0" and dict(body42)[38] == "0"


@pytest.mark.parametrize("msg_type,response_to", [("F", "1"), ("G", "2")])
def test_a_cancel_or_replace_is_refused_with_an_order_cancel_reject(msg_type, response_to):
    f = _fields((11, "C2"), (41, "NOSUCH\udcff"), (1, "ACC1"))
    out, body = mapping.boundary_reject(msg_type, f, "OrigClOrdID(41) ...", "FIX.4.4", "B1.3")
    b = dict(body)
    assert out == "9"
    assert (b[11], b[41], b[37], b[39], b[434], b[102]) == (
        "C2", "NOSUCH\ufffd", "NONE", "8", response_to, "99")


def test_a_mass_cancel_is_refused_with_a_rejected_mass_cancel_report():
    out, body = mapping.boundary_reject("q", _fields((11, "M\x00"), (530, "7")), "t", "FIX.4.4",
                                        "B1.4")
    b = dict(body)
    assert out == "r" and (b[11], b[530], b[531], b[532], b[58]) == ("M\ufffd", "7", "0", "99", "t")


def test_any_other_message_is_refused_with_a_business_message_reject():
    f = _fields((34, "12"), (11, "S\udcb4"), (55, "A"))
    out, body = mapping.boundary_reject("H", f, "Symbol(55) ...", "FIX.4.4", "B1.5")
    assert out == "j"
    assert body == [(45, "12"), (379, "S\ufffd"), (372, "H"), (380, "0"), (58, "Symbol(55) ...")]


def test_render_leaves_a_clean_body_alone_and_makes_any_other_sendable():
    clean = [(11, "C1"), (58, "prix: 12€")]
    assert mapping.render(clean) == f"11=C1{SOH}58=prix: 12€{SOH}"
    dirty = [(11, "A\x00B"), (41, "X\udcff"), (58, f"two{SOH}99=1")]
    assert mapping.render(dirty) == f"11=A\ufffdB{SOH}41=X\ufffd{SOH}58=two\ufffd99=1{SOH}"
    # what the binding refuses to take (the old failure: a TypeError, and no reply)
    mapping.render(dirty).encode("utf-8")


# -- the logon gate's view of the first bytes --------------------------------------------------


def logon_bytes(*fields: tuple[int, bytes]) -> bytes:
    return gate.encode(b"FIX.4.4", [(35, b"A"), (49, b"CLIENT1"), (56, b"FIXGATE"), (34, b"1"),
                                    (52, b"20260101-00:00:00"), *fields])


def test_first_message_frames_a_logon_by_body_length_and_checksum():
    data = logon_bytes((98, b"0"), (108, b"30"), (554, b"pw"))
    pairs = gate.first_message(data + b"8=FIX.4.4\x019=5\x01")  # the next message may follow
    assert isinstance(pairs, list) and (554, b"pw") in pairs and pairs[0] == (8, b"FIX.4.4")
    for cut in (1, 10, len(data) - 1):
        assert gate.first_message(data[:cut]) is None  # still arriving
    assert gate.first_message(b"GET / HTTP/1.1\r\n") == "not a FIX message"
    broken = data[:-4] + b"999\x01"
    assert gate.first_message(broken) == "CheckSum(10) does not match the message"
    assert gate.first_message(b"8=FIX.4.4\x0135=A\x01") == "BodyLength(9) is not the second field"


# -- passwords ------------------------------------------------------------------------------------


def test_a_password_is_compared_as_the_bytes_sent():
    stored = hash_password("pw", iterations=1000)
    assert verify_password("pw", stored) and verify_password(b"pw", stored)
    assert not verify_password("p\udcff", stored)  # no UnicodeEncodeError
    assert not verify_password("\x00", "plain")


def test_the_verifier_remembers_verdicts_and_hashes_each_pair_once(monkeypatch):
    stored = hash_password("right", iterations=1000)
    calls: list[bytes] = []
    real = passwords._check

    def slow_check(raw: bytes, value: str) -> bool:
        calls.append(raw)
        time.sleep(0.2)
        return real(raw, value)

    monkeypatch.setattr(passwords, "_check", slow_check)
    v = PasswordVerifier()
    assert v.cached("wrong", stored) is None
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(v.verify("wrong", stored)))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [False] * 8 and calls == [b"wrong"]  # one hash for eight logons
    assert v.cached("wrong", stored) is False
    assert v.verify("right", stored) is True and v.cached(b"right", stored) is True
    assert len(calls) == 2
    assert v.cached("plain", "plain") is True  # plaintext: nothing to remember


def test_the_verdict_cache_is_bounded():
    v = PasswordVerifier(max_entries=2)
    stored = hash_password("x", iterations=10)
    for pw in ("a", "b", "c"):
        v.verify(pw, stored)
    assert v.cached("a", stored) is None and v.cached("c", stored) is False


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="Linux /proc")
def test_a_writer_blocked_on_a_full_socket_is_found_and_unblocked():
    # The slow consumer's fallback: the socket its sender thread is stuck writing to.
    a, b = socket.socketpair()
    tid: list[int] = []

    def writer() -> None:
        tid.append(threading.get_native_id())
        with contextlib.suppress(OSError):
            while True:
                a.send(b"x" * 65536)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    deadline = time.monotonic() + 5
    while (fd := gate.fd_blocked_in_send(tid[0]) if tid else None) is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert fd == a.fileno()
    assert gate.cut(fd, os.fstat(fd).st_ino)
    t.join(5)
    assert not t.is_alive()
    a.close()
    b.close()


def test_a_message_that_cannot_be_sent_is_logged_and_answered_otherwise(monkeypatch):
    from gateway.config import Config, FixClientConfig
    from gateway.fix.acceptor import FixAcceptor, SessionState

    acceptor = FixAcceptor(Config(), None, lambda cmd: None)  # type: ignore[arg-type]
    state = SessionState(None, "FIX.4.4:FIXGATE->C", FixClientConfig("C"), "FIX.4.4")
    sent: list[tuple[str, str]] = []

    def to_target(_state: SessionState, msg_type: str, raw: str) -> None:
        if msg_type == "8":
            raise TypeError("Wrong number or type of arguments")  # as the binding says it
        sent.append((msg_type, raw))

    monkeypatch.setattr(acceptor, "_to_target", to_target)
    acceptor._write(state, "8", [(37, "FG1"), (11, "C\udcff"), (150, "0")])
    [(msg_type, raw)] = sent
    assert msg_type == "j"
    assert raw.startswith(f"379=C\ufffd{SOH}372=8{SOH}380=0{SOH}58=the ExecutionReport")
    assert "could not be sent: TypeError" in raw
