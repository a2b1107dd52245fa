"""The client's wire codec agrees with simplefix and survives split and garbled reads."""

import simplefix

from gateway.fix_client import FixFramer, Message, encode_message

FIELDS = [(35, "8"), (49, "FIXGATE"), (56, "CLIENT1"), (34, 7), (11, "C1"), (58, "hi")]


def reference(fields: list[tuple[int, object]]) -> bytes:
    m = simplefix.FixMessage()
    m.append_pair(8, "FIX.4.4")
    for tag, value in fields:
        m.append_pair(tag, value)
    return m.encode()


def test_encoding_is_byte_for_byte_simplefix():
    assert encode_message("FIX.4.4", FIELDS) == reference(FIELDS)


def test_framer_joins_split_reads_and_skips_garbage():
    msg = encode_message("FIX.4.4", FIELDS)
    framer = FixFramer()
    got = framer.feed(b"junk" + msg[:13]) + framer.feed(msg[13:] + msg[:-3])
    got += framer.feed(msg[-3:])
    assert got == [msg, msg]
    length = msg.split(b"\x01")[1]
    bad_length = msg.replace(length, b"9=10", 1)  # points into the middle of the body
    assert framer.feed(bad_length + msg) == [msg]


def test_decode_matches_simplefix_and_falls_back_for_data_fields():
    decoded = Message.decode(reference(FIELDS))
    assert decoded[11] == "C1" and decoded[34] == "7" and decoded.msg_type == "8"
    raw = reference([(35, "B"), (95, 3), (96, b"a\x01b"), (148, "news")])
    assert Message.decode(raw)[96] == "a\x01b"
