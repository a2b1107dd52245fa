"""A small asyncio FIX initiator: the `fixgate client` command, the load generator
and the tests all speak FIX through this one class.

It keeps its own sequence numbers, answers Heartbeat/TestRequest/ResendRequest
in the background (gap-filling what it sent, since it stores nothing), and
hands application messages to the caller in order.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import time
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import simplefix

ADMIN_TYPES = {"0", "1", "2", "4", "5", "A"}


class LogonRefused(Exception):
    """The server answered the Logon with a Logout or closed the connection."""

    def __init__(self, text: str, closed: bool = False) -> None:
        super().__init__(text)
        self.closed = closed  # dropped without a word: unknown CompID, or still logged on


# -- wire codec ----------------------------------------------------------------------
#
# simplefix's parser scans in Python and re-slices its buffer after every field, so a
# 64 KiB read of acks costs quadratic time; under `fixgate bench` that made the load
# generator, not the server, the bottleneck. The hot path therefore frames messages by
# BodyLength(9) and splits fields with bytes.split; simplefix parses whatever the fast
# path does not handle (a data field holding SOH).

SOH = b"\x01"


def encode_message(begin_string: str, fields: Iterable[tuple[int, Any]]) -> bytes:
    """A whole FIX message: BodyLength(9) and CheckSum(10) computed here."""
    body = b"".join(b"%d=%b\x01" % (t, v if isinstance(v, bytes) else str(v).encode())
                    for t, v in fields)
    msg = b"8=%b\x019=%d\x01%b" % (begin_string.encode(), len(body), body)
    return msg + b"10=%03d\x01" % (sum(msg) % 256)


class FixFramer:
    """Splits a byte stream into whole FIX messages, framed by BodyLength(9)."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buf
        buf += data
        out: list[bytes] = []
        pos, n = 0, len(buf)
        while pos < n:
            start = buf.find(b"8=FIX", pos)
            if start < 0:
                pos = max(pos, n - 4)  # keep a possibly split "8=FI"
                break
            soh1 = buf.find(SOH, start)
            soh2 = buf.find(SOH, soh1 + 1) if soh1 >= 0 else -1
            if soh2 < 0:
                pos = start
                break
            if buf[soh1 + 1:soh1 + 3] != b"9=" or not buf[soh1 + 3:soh2].isdigit():
                pos = start + 1  # garbage: look for the next BeginString
                continue
            body_end = soh2 + 1 + int(buf[soh1 + 3:soh2])
            end = buf.find(SOH, body_end)
            if end < 0:
                pos = start
                break
            if buf[body_end:body_end + 3] != b"10=":
                pos = start + 1  # BodyLength does not match: not a message
                continue
            out.append(bytes(buf[start:end + 1]))
            pos = end + 1
        del buf[:pos]
        return out


class Message:
    """A received FIX message: tag -> str access (`msg[39]`, `msg.get(58)`)."""

    def __init__(self, fields: dict[int, str], raw: bytes = b"") -> None:
        self.fields = fields
        self.raw = raw

    @classmethod
    def parse(cls, fm: simplefix.FixMessage) -> Message:
        fields = {int(tag): value.decode(errors="replace") for tag, value in fm.pairs}
        return cls(fields, fm.encode(raw=True))

    @classmethod
    def decode(cls, data: bytes) -> Message:
        fields: dict[int, str] = {}
        for part in data.split(SOH)[:-1]:
            tag, eq, value = part.partition(b"=")
            if not eq or not tag.isdigit():  # a data field holding SOH: the careful parser
                parser = simplefix.FixParser()
                parser.append_buffer(data)
                fm = parser.get_message()
                if fm is None:
                    raise ValueError(f"not a FIX message: {data[:80]!r}")
                return cls.parse(fm)
            fields[int(tag)] = value.decode(errors="replace")
        return cls(fields, data)

    @property
    def msg_type(self) -> str:
        return self.fields.get(35, "")

    def __getitem__(self, tag: int) -> str:
        return self.fields[tag]

    def __contains__(self, tag: object) -> bool:
        return tag in self.fields

    def get(self, tag: int, default: str | None = None) -> str | None:
        return self.fields.get(tag, default)

    def __repr__(self) -> str:
        return f"Message({format_message(self)})"


def utc_timestamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H:%M:%S.%f")[:-3]


class FixClient:
    def __init__(
        self, sender: str, target: str, begin_string: str = "FIX.4.4", seq_num: int = 1
    ) -> None:
        self.sender = sender
        self.target = target
        self.begin_string = begin_string
        self.next_out_seq = seq_num
        self.last_in_seq = 0
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._app: asyncio.Queue[Message | None] = asyncio.Queue()
        self._admin: asyncio.Queue[Message | None] = asyncio.Queue()
        self._stash: deque[Message] = deque()
        self.closed = False

    # -- connection ------------------------------------------------------------

    async def connect(self, host: str, port: int, timeout: float = 5.0) -> None:
        self._reader, self._writer = await asyncio.wait_for(
            asyncio.open_connection(host, port), timeout
        )
        self._task = asyncio.create_task(self._read_loop())

    async def logon(
        self,
        password: str | None = None,
        heartbeat: int = 30,
        reset_seq: bool = False,
        timeout: float = 10.0,
    ) -> Message:
        fields: list[tuple[int, str]] = [(35, "A"), (98, "0"), (108, str(heartbeat))]
        if reset_seq:
            self.next_out_seq = 1
            fields.append((141, "Y"))
        if password is not None:
            fields.append((554, password))
        self.send(fields)
        try:
            answer = await asyncio.wait_for(self._admin_reply({"A", "5"}), timeout)
        except TimeoutError:
            raise LogonRefused("no answer to Logon") from None
        if answer is None:
            raise LogonRefused("connection closed by the server (unknown CompID, or the "
                               "session is still logged on)", closed=True)
        if answer.msg_type == "5":
            raise LogonRefused(answer.get(58) or "logout without a reason")
        return answer

    async def _admin_reply(self, types: set[str]) -> Message | None:
        while True:
            msg = await self._admin.get()
            if msg is None or msg.msg_type in types:
                return msg

    async def logout(self, timeout: float = 5.0) -> None:
        if self.closed:
            return
        self.send([(35, "5")])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._admin_reply({"5"}), timeout)
            # Wait for the server to drop the connection, so that a logon right after
            # this one is not refused as a second connection of the same session.
            if self._task is not None:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
        await self.close()

    async def close(self) -> None:
        self.closed = True
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    # -- sending -------------------------------------------------------------------

    def send(self, fields: Iterable[tuple[int, str | bytes | int]]) -> int:
        """Send a message; fields start with (35, MsgType). Returns its MsgSeqNum."""
        fields = list(fields)
        seq = self.next_out_seq
        header = [fields[0], (49, self.sender), (56, self.target), (34, seq),
                  (52, utc_timestamp())]
        assert self._writer is not None, "connect() first"
        self._writer.write(encode_message(self.begin_string, header + fields[1:]))
        self.next_out_seq += 1
        return seq

    def new_order(
        self,
        cl_ord_id: str,
        symbol: str,
        side: str,
        qty: Any,
        ord_type: str = "2",
        price: Any = None,
        stop_px: Any = None,
        tif: str = "0",
        account: str | None = None,
        ex_destination: str | None = None,
        extra: Iterable[tuple[int, Any]] = (),
    ) -> int:
        """`extra`: more tags, e.g. an algorithm's ((847, "1000"), (126, "...")) ."""
        fields: list[tuple[int, Any]] = [(35, "D"), (11, cl_ord_id)]
        if account:
            fields.append((1, account))
        fields += [
            (21, "1"),
            (55, symbol),
            (54, side),
            (60, utc_timestamp()),
            (38, qty),
            (40, ord_type),
        ]
        if ex_destination:
            fields.append((100, ex_destination))
        return self.send([*fields, *_prices(price, stop_px), (59, tif), *extra])

    def cancel(
        self, cl_ord_id: str, orig_cl_ord_id: str, symbol: str, side: str, qty: Any = None
    ) -> int:
        fields: list[tuple[int, Any]] = [
            (35, "F"),
            (41, orig_cl_ord_id),
            (11, cl_ord_id),
            (55, symbol),
            (54, side),
            (60, utc_timestamp()),
        ]
        if qty is not None:
            fields.append((38, qty))
        return self.send(fields)

    def replace(
        self,
        cl_ord_id: str,
        orig_cl_ord_id: str,
        symbol: str,
        side: str,
        qty: Any,
        ord_type: str = "2",
        price: Any = None,
        stop_px: Any = None,
    ) -> int:
        fields: list[tuple[int, Any]] = [
            (35, "G"),
            (41, orig_cl_ord_id),
            (11, cl_ord_id),
            (21, "1"),
            (55, symbol),
            (54, side),
            (60, utc_timestamp()),
            (38, qty),
            (40, ord_type),
        ]
        return self.send([*fields, *_prices(price, stop_px)])

    def status(self, cl_ord_id: str, symbol: str, side: str) -> int:
        return self.send([(35, "H"), (11, cl_ord_id), (55, symbol), (54, side)])

    # -- receiving ------------------------------------------------------------------

    async def next_message(self, timeout: float = 5.0, msg_type: str | None = None) -> Message:
        """The next application message (of `msg_type` if given; others stay queued)."""
        for i, msg in enumerate(self._stash):
            if msg_type is None or msg.msg_type == msg_type:
                del self._stash[i]
                return msg
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {msg_type or 'application'} message in {timeout}s")
            got = await asyncio.wait_for(self._app.get(), remaining)
            if got is None:
                self._app.put_nowait(None)  # stay closed for later callers
                raise ConnectionError("connection closed by the server")
            if msg_type is None or got.msg_type == msg_type:
                return got
            self._stash.append(got)

    async def _read_loop(self) -> None:
        framer = FixFramer()
        assert self._reader is not None
        try:
            while True:
                data = await self._reader.read(65536)
                if not data:
                    break
                for raw in framer.feed(data):
                    self._on_message(Message.decode(raw))
        except (ConnectionError, OSError):
            pass
        finally:
            self.closed = True
            self._app.put_nowait(None)
            self._admin.put_nowait(None)

    def _on_message(self, msg: Message) -> None:
        seq = msg.get(34)
        if seq and seq.isdigit():
            self.last_in_seq = max(self.last_in_seq, int(seq))
        kind = msg.msg_type
        if kind == "1":
            self.send([(35, "0"), (112, msg.get(112) or "")])
        elif kind == "2":
            # We keep no store: gap-fill everything asked for.
            begin = int(msg.get(7) or "1")
            self.send_gap_fill(begin)
        if kind in ADMIN_TYPES:
            self._admin.put_nowait(msg)
        else:
            self._app.put_nowait(msg)

    def send_gap_fill(self, begin: int) -> None:
        new_seq = self.next_out_seq
        self.next_out_seq = begin
        self.send([(35, "4"), (43, "Y"), (123, "Y"), (36, new_seq)])
        self.next_out_seq = new_seq


def _prices(price: Any, stop_px: Any) -> list[tuple[int, Any]]:
    """Price(44) and StopPx(99), each only when given."""
    return [(tag, v) for tag, v in ((44, price), (99, stop_px)) if v is not None]


async def open_session(host: str, port: int, sender: str, target: str, *,
                       begin_string: str = "FIX.4.4", password: str | None = None,
                       reset_seq: bool = True, seq_num: int = 1,
                       attempts: int = 5) -> FixClient:
    """Connect and log on, retrying a logon the server dropped without a word.

    An acceptor drops a second connection for a session it still holds; right
    after a logout that window is a few milliseconds, so engines reconnect.
    A Logout with a reason (a wrong password) is final and raised at once.
    """
    for attempt in range(attempts):
        client = FixClient(sender, target, begin_string, seq_num)
        await client.connect(host, port)
        try:
            await client.logon(password=password, reset_seq=reset_seq)
            return client
        except LogonRefused as exc:
            await client.close()
            if not exc.closed or attempt == attempts - 1:
                raise
            await asyncio.sleep(0.1 * (attempt + 1))
    raise AssertionError("unreachable")


# -- human-readable printing --------------------------------------------------------

EXEC_TYPES = {
    "0": "New",
    "1": "PartialFill",
    "2": "Fill",
    "4": "Canceled",
    "5": "Replaced",
    "6": "PendingCancel",
    "8": "Rejected",
    "C": "Expired",
    "E": "PendingReplace",
    "F": "Trade",
    "I": "OrderStatus",
}
ORD_STATUSES = {
    "0": "New",
    "1": "PartiallyFilled",
    "2": "Filled",
    "4": "Canceled",
    "6": "PendingCancel",
    "8": "Rejected",
    "A": "PendingNew",
    "C": "Expired",
    "E": "PendingReplace",
}
SIDES = {"1": "Buy", "2": "Sell", "5": "SellShort"}
MSG_NAMES = {
    "8": "ExecutionReport",
    "9": "OrderCancelReject",
    "3": "Reject",
    "j": "BusinessMessageReject",
    "5": "Logout",
    "A": "Logon",
}
_SHOWN = [
    (11, "ClOrdID"),
    (41, "OrigClOrdID"),
    (37, "OrderID"),
    (55, "Symbol"),
    (38, "OrderQty"),
    (44, "Price"),
    (99, "StopPx"),
    (32, "LastQty"),
    (31, "LastPx"),
    (30, "LastMkt"),
    (14, "CumQty"),
    (151, "LeavesQty"),
    (6, "AvgPx"),
    (103, "OrdRejReason"),
    (102, "CxlRejReason"),
    (380, "BusinessRejectReason"),
    (373, "SessionRejectReason"),
    (58, "Text"),
]


def format_message(msg: Message) -> str:
    parts = [MSG_NAMES.get(msg.msg_type, f"MsgType={msg.msg_type}")]
    if 150 in msg:
        parts.append(f"ExecType={msg[150]}({EXEC_TYPES.get(msg[150], '?')})")
    if 39 in msg:
        parts.append(f"OrdStatus={msg[39]}({ORD_STATUSES.get(msg[39], '?')})")
    if 54 in msg:
        parts.append(f"Side={SIDES.get(msg[54], msg[54])}")
    parts += [f"{name}={msg[tag]}" for tag, name in _SHOWN if tag in msg]
    return " ".join(parts)


# -- `fixgate client` -----------------------------------------------------------------

_SIDE_CODES = {"buy": "1", "sell": "2", "short": "5"}
_TYPE_CODES = {"market": "1", "limit": "2", "stop": "3", "stoplimit": "4"}
_TIF_CODES = {"day": "0", "gtc": "1", "ioc": "3", "fok": "4"}


def add_client_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("client", help="log on and send one order, cancel or status")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9878)
    p.add_argument("--sender", default="CLIENT1", help="your SenderCompID")
    p.add_argument("--target", default="FIXGATE", help="the gateway's CompID")
    p.add_argument("--begin-string", default="FIX.4.4", choices=["FIX.4.4", "FIX.4.2"])
    p.add_argument("--password")
    p.add_argument("--wait", type=float, default=2.0, help="seconds to print reports for")
    p.add_argument("--no-reset", action="store_true", help="do not send ResetSeqNumFlag=Y")
    actions = p.add_subparsers(dest="action", required=True)
    o = actions.add_parser("order", help="send a NewOrderSingle")
    o.add_argument("--symbol", required=True)
    o.add_argument("--side", choices=sorted(_SIDE_CODES), required=True)
    o.add_argument("--qty", required=True)
    o.add_argument("--price")
    o.add_argument("--type", choices=sorted(_TYPE_CODES), default=None)
    o.add_argument("--stop-px")
    o.add_argument("--tif", choices=sorted(_TIF_CODES), default="day")
    o.add_argument("--account")
    o.add_argument("--cl-ord-id")
    o.add_argument("--ex-destination", help="ExDestination(100): the venue to pin the order to")
    o.add_argument("--strategy", choices=sorted(_STRATEGIES),
                   help="TargetStrategy(847): work the order by an algorithm")
    o.add_argument("--minutes", type=float,
                   help="with --strategy: ExpireTime(126) this many minutes from now")
    o.add_argument("--rate", help="with --strategy pov: ParticipationRate(849), e.g. 0.1")
    c = actions.add_parser("cancel", help="send an OrderCancelRequest")
    c.add_argument("--orig-cl-ord-id", required=True)
    c.add_argument("--symbol", required=True)
    c.add_argument("--side", choices=sorted(_SIDE_CODES), required=True)
    s = actions.add_parser("status", help="send an OrderStatusRequest")
    s.add_argument("--cl-ord-id", required=True)
    s.add_argument("--symbol", required=True)
    s.add_argument("--side", choices=sorted(_SIDE_CODES), required=True)
    p.set_defaults(func=lambda args: asyncio.run(_client_main(args)))


_cli_ids = itertools.count(1)


def _new_id() -> str:
    return f"CLI-{int(time.time() * 1000)}-{next(_cli_ids)}"


_STRATEGIES = {"twap": "1000", "vwap": "1", "pov": "2"}


def _algo_tags(args: argparse.Namespace) -> list[tuple[int, str]]:
    tags: list[tuple[int, str]] = []
    if args.strategy:
        tags.append((847, _STRATEGIES[args.strategy]))
    if args.minutes is not None:
        end = datetime.now(UTC) + timedelta(minutes=args.minutes)
        tags.append((126, end.strftime("%Y%m%d-%H:%M:%S")))
    if args.rate:
        tags.append((849, args.rate))
    return tags


async def _client_main(args: argparse.Namespace) -> int:
    client = FixClient(args.sender, args.target, args.begin_string)
    try:
        await client.connect(args.host, args.port)
    except (OSError, TimeoutError) as exc:
        print(f"fixgate client: cannot connect to {args.host}:{args.port}: {exc}")
        return 2
    try:
        await client.logon(password=args.password, reset_seq=not args.no_reset)
    except LogonRefused as exc:
        print(f"fixgate client: logon refused: {exc}")
        return 3
    print(f"logged on as {args.sender} -> {args.target} ({args.begin_string})")
    side = _SIDE_CODES[args.side]
    if args.action == "order":
        ord_type = _TYPE_CODES[args.type] if args.type else ("2" if args.price else "1")
        cl = args.cl_ord_id or _new_id()
        client.new_order(
            cl,
            args.symbol,
            side,
            args.qty,
            ord_type,
            args.price,
            args.stop_px,
            _TIF_CODES[args.tif],
            args.account,
            args.ex_destination,
            _algo_tags(args),
        )
        print(f"sent NewOrderSingle ClOrdID={cl}")
    elif args.action == "cancel":
        cl = _new_id()
        client.cancel(cl, args.orig_cl_ord_id, args.symbol, side)
        print(f"sent OrderCancelRequest ClOrdID={cl} OrigClOrdID={args.orig_cl_ord_id}")
    else:
        client.status(args.cl_ord_id, args.symbol, side)
        print(f"sent OrderStatusRequest ClOrdID={args.cl_ord_id}")
    deadline = time.monotonic() + args.wait
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            print(format_message(await client.next_message(timeout=remaining)))
        except (TimeoutError, ConnectionError):
            break
    await client.logout()
    return 0
