"""Connections before logon: the FIX acceptor's gatekeeper.

quickfix runs the session layer, but a connection is no session until its Logon
is accepted, and up to then quickfix leaves a client unanswered: a Logon for a
session that is already connected waits up to 5 s and is then dropped without a
word (so are 19 of 20 concurrent logons of one session, one per second), a Logon
with an empty field (`554=`) is never answered and holds its session hostage,
and a connection that never sends a Logon stays open for good.

So every new connection is held until this gate has read its Logon. The listening
socket gets SO_RCVLOWAT = HOLD_BYTES, which each accepted connection inherits:
quickfix's poll() does not report the client's first bytes, and the gate reads
them with MSG_PEEK. A Logon that will do is released (SO_RCVLOWAT back to 1, and
quickfix reads it at once; its password is then checked again from the verdict
cache, without hashing); any other is answered here with a Logout whose Text(58)
says why, and closed. A connection with no Logon within LogonTimeout is closed,
and so is a released one whose session is not logged on by then.

The gate finds connections in /proc/self/fd (TCP sockets whose local port is the
FIX port), looking whenever the kernel's PassiveOpens counter moves and once a
second. It knows which socket carries which session, so the acceptor can cut off
a slow consumer (`drop`). It needs Linux; elsewhere it stays off and quickfix's
own behaviour applies.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import quickfix as fix
import structlog

from gateway.fix.mapping import field_name
from gateway.passwords import PasswordVerifier

log = structlog.get_logger("fix")

HOLD_BYTES = 256 * 1024  # far more than any Logon; a released connection gets 1 again
MAX_LOGON_BYTES = 8192  # a Logon is a few hundred bytes: more, and it is no Logon
BUSY_WAIT_S = 5.0  # as quickfix: the session's previous connection may still be closing
TICK_S = 0.01  # while a connection is being looked at, or was lately
IDLE_TICK_S = 0.05  # otherwise: each wake-up costs CPU for nothing
ACTIVE_S = 2.0
SCAN_EVERY_S = 1.0
_LOGON_REQUIRED = (34, 52, 98, 108)  # header MsgSeqNum, SendingTime; EncryptMethod, HeartBtInt


class GateSession(Protocol):
    key: str
    session_id: Any
    begin_string: str

    @property
    def password(self) -> str | None: ...


# -- the first message, as bytes -------------------------------------------------------------

INCOMPLETE = None


def first_message(data: bytes) -> list[tuple[int, bytes]] | str | None:
    """The first FIX message in `data` as (tag, value) pairs; None while it may still be
    arriving; a string saying why the bytes are no FIX message."""
    if not b"8=FIX".startswith(data[:5]):
        return "not a FIX message"
    soh1 = data.find(b"\x01")
    if soh1 < 0:
        return INCOMPLETE if len(data) < 32 else "not a FIX message"
    second = data[soh1 + 1:soh1 + 3]
    if not b"9=".startswith(second):
        return "BodyLength(9) is not the second field"
    if len(second) < 2:
        return INCOMPLETE
    soh2 = data.find(b"\x01", soh1 + 1)
    if soh2 < 0:
        return INCOMPLETE if len(data) - soh1 < 16 else "BodyLength(9) is not a number"
    length = data[soh1 + 3:soh2]
    if not length.isdigit() or int(length) > MAX_LOGON_BYTES:
        return "BodyLength(9) is not a number" if not length.isdigit() else "message too long"
    body_end = soh2 + 1 + int(length)
    if len(data) < body_end + 7:
        return INCOMPLETE
    trailer = data[body_end:body_end + 7]
    if trailer[:3] != b"10=" or trailer[6:7] != b"\x01":
        return "BodyLength(9) does not match the message"
    if not trailer[3:6].isdigit() or int(trailer[3:6]) != sum(data[:body_end]) % 256:
        return "CheckSum(10) does not match the message"
    pairs: list[tuple[int, bytes]] = []
    for part in data[:body_end].split(b"\x01")[:-1]:
        tag, eq, value = part.partition(b"=")
        if not eq or not tag.isdigit():
            return "a field is not tag=value"
        pairs.append((int(tag), value))
    return pairs


def encode(begin: bytes, fields: list[tuple[int, bytes]]) -> bytes:
    body = b"".join(b"%d=%b\x01" % (tag, value) for tag, value in fields)
    head = b"8=%b\x019=%d\x01" % (begin, len(body))
    msg = head + body
    return msg + b"10=%03d\x01" % (sum(msg) % 256)


def _utc_now() -> bytes:
    now = time.time()
    return (time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}"
            ).encode()


# -- sockets of this process -------------------------------------------------------------------


def socket_fds() -> dict[int, int]:
    """inode -> fd of every socket this process holds."""
    out: dict[int, int] = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if link.startswith("socket:["):
            out[int(link[8:-1])] = int(name)
    return out


def _is_socket(fd: int, inode: int) -> bool:
    try:
        return os.readlink(f"/proc/self/fd/{fd}") == f"socket:[{inode}]"
    except OSError:
        return False


def dup_socket(fd: int, inode: int) -> socket.socket | None:
    """A socket object on a duplicate of `fd`, if that is still socket `inode`. Closing
    it closes only the duplicate; its blocking mode is never touched (the open file
    description is shared with quickfix)."""
    try:
        dup = os.dup(fd)
    except OSError:
        return None
    try:
        if os.fstat(dup).st_ino != inode:
            os.close(dup)
            return None
        return socket.socket(fileno=dup)
    except OSError:
        os.close(dup)
        return None


def _local_port(s: socket.socket) -> int | None:
    if s.family not in (socket.AF_INET, socket.AF_INET6) or s.type != socket.SOCK_STREAM:
        return None
    try:
        return int(s.getsockname()[1])
    except OSError:
        return None


def _connected(s: socket.socket) -> bool:
    try:
        s.getpeername()
        return True
    except OSError:
        return False


def _peer(s: socket.socket) -> str:
    try:
        host, port = s.getpeername()[:2]
        return f"{host}:{port}"
    except OSError:
        return "?"


def cut(fd: int, inode: int) -> bool:
    """Shut socket `inode` (open as `fd`) down both ways: a send blocked on it fails at
    once, and quickfix's reader sees the end of the stream and disconnects the session."""
    s = dup_socket(fd, inode)
    if s is None:
        return False
    try:
        s.shutdown(socket.SHUT_RDWR)
        return True
    except OSError:
        return False
    finally:
        s.close()


# write, writev, sendto, sendmsg
_SEND_SYSCALLS = {"x86_64": {1, 20, 44, 46}, "aarch64": {64, 66, 206, 211}}


def fd_blocked_in_send(tid: int) -> int | None:
    """The fd thread `tid` is blocked writing to, read from /proc (the fallback for a
    socket the gate does not know)."""
    try:
        with open(f"/proc/self/task/{tid}/syscall") as f:
            parts = f.read().split()
    except OSError:
        return None
    calls = _SEND_SYSCALLS.get(os.uname().machine, set())
    if len(parts) < 2 or not parts[0].isdigit() or int(parts[0]) not in calls:
        return None
    return int(parts[1], 16)


# -- the gate ------------------------------------------------------------------------------------


@dataclass
class _Held:
    sock: socket.socket
    inode: int
    fd: int
    peer: str
    since: float
    logon: list[tuple[int, bytes]] | None = None
    session: GateSession | None = None
    verdict: Future[bool] | None = None
    busy_since: float | None = None


@dataclass
class _Released:
    key: str
    session_id: Any
    inode: int
    fd: int
    deadline: float


@dataclass
class LogonGate:
    port: int
    sessions: dict[tuple[str, str, str], GateSession]  # (BeginString, ours, theirs)
    verifier: PasswordVerifier
    reserve_seq: Callable[[GateSession], int]  # the MsgSeqNum for a refusal, consumed
    logon_timeout: float = 10.0
    enabled: bool = False
    _held: dict[int, _Held] = field(default_factory=dict)
    _released: dict[int, _Released] = field(default_factory=dict)
    _conn: dict[str, _Released] = field(default_factory=dict)  # session key -> its socket
    _ignored: set[int] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _listener: socket.socket | None = None
    _hashing: ThreadPoolExecutor | None = None
    _snmp: int | None = None
    _passive: int = -1

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Hold every connection the acceptor takes from now on; call once quickfix listens."""
        try:
            listener = self._find_listener()
        except OSError:
            listener = None
        if listener is None:
            log.warning("fix logon gate off: the acceptor's listening socket was not found "
                        "(Linux /proc needed); quickfix alone answers logons", port=self.port)
            return
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, HOLD_BYTES)
        self._listener = listener
        with contextlib.suppress(OSError):
            self._snmp = os.open("/proc/self/net/snmp", os.O_RDONLY)
        self._hashing = ThreadPoolExecutor(2, thread_name_prefix="fix-logon-hash")
        self.enabled = True
        self._thread = threading.Thread(target=self._run, name="fix-logon-gate", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        with self._lock:
            for held in self._held.values():
                held.sock.close()
            self._held.clear()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 1)
            self._listener.close()
            self._listener = None
        if self._hashing is not None:
            self._hashing.shutdown(wait=False, cancel_futures=True)
        if self._snmp is not None:
            os.close(self._snmp)
            self._snmp = None

    def _find_listener(self) -> socket.socket | None:
        for inode, fd in socket_fds().items():
            s = dup_socket(fd, inode)
            if s is None:
                continue
            try:
                if (_local_port(s) == self.port
                        and s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)):
                    self._ignored.add(inode)
                    return s
            except OSError:
                pass
            s.close()
        return None

    # -- cutting a session off (any thread) -------------------------------------------------

    def drop(self, key: str, sender_tid: int | None = None) -> bool:
        """Cut the connection that carries session `key`. Without the gate (or if it does
        not know the socket) the socket is the one `sender_tid` is blocked writing to."""
        with self._lock:
            conn = self._conn.get(key)
        if conn is not None and cut(conn.fd, conn.inode):
            return True
        if sender_tid is None:
            return False
        for _ in range(20):  # the thread may be between two writes
            fd = fd_blocked_in_send(sender_tid)
            if fd is not None:
                try:
                    inode = os.fstat(fd).st_ino
                except OSError:
                    inode = None
                s = dup_socket(fd, inode) if inode is not None else None
                if s is not None:
                    ours = _local_port(s) == self.port and _connected(s)
                    s.close()
                    if ours and cut(fd, inode):  # type: ignore[arg-type]
                        return True
            time.sleep(0.05)
        return False

    # -- the gate's thread -------------------------------------------------------------------

    def _run(self) -> None:
        poller = select.poll()
        assert self._listener is not None
        poller.register(self._listener, select.POLLIN)
        next_scan = 0.0
        burst = 0
        active_until = 0.0
        while not self._stop.is_set():
            try:
                busy = self._held or self._released or time.monotonic() < active_until
                ready = poller.poll((TICK_S if busy else IDLE_TICK_S) * 1000)
                now = time.monotonic()
                if self._passive_opens_moved():
                    burst = 10  # the connection may not be accepted yet: look for 100 ms
                if ready or burst or now >= next_scan:
                    found = self._scan(now)
                    burst = 0 if found else max(0, burst - 1)
                    if now >= next_scan:
                        next_scan = now + SCAN_EVERY_S
                    if found or ready:
                        active_until = now + ACTIVE_S
                    if ready and not found:
                        time.sleep(TICK_S)  # quickfix has not accepted it yet
                for held in list(self._held.values()):
                    self._examine(held, time.monotonic())
                self._watch_released(time.monotonic())
            except Exception:
                log.exception("fix logon gate")
                time.sleep(TICK_S)

    def _passive_opens_moved(self) -> bool:
        if self._snmp is None:
            return False
        try:
            data = os.pread(self._snmp, 8192, 0)
            head = data.index(b"\nTcp: ")
            line = data.index(b"\nTcp: ", head + 1)
            names = data[head + 6:line].split()
            values = data[line + 6:data.index(b"\n", line + 1)].split()
            count = int(values[names.index(b"PassiveOpens")])
        except (OSError, ValueError, IndexError):
            return False
        moved, self._passive = count != self._passive, count
        return moved

    def _scan(self, now: float) -> bool:
        fds = socket_fds()
        found = False
        for inode, fd in fds.items():
            if inode in self._held or inode in self._released or inode in self._ignored:
                continue
            if any(c.inode == inode for c in self._conn.values()):
                continue
            s = dup_socket(fd, inode)
            if s is None:
                continue
            try:
                held = (_local_port(s) == self.port and _connected(s)
                        and s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT) >= HOLD_BYTES)
            except OSError:
                held = False
            if not held:  # not a FIX connection, or one quickfix had before the gate began
                s.close()
                self._ignored.add(inode)
                continue
            with self._lock:
                self._held[inode] = _Held(s, inode, fd, _peer(s), now)
            found = True
        self._ignored &= fds.keys()
        with self._lock:
            for key, conn in list(self._conn.items()):
                if conn.inode not in fds:  # closed
                    del self._conn[key]
        return found

    # -- one held connection ---------------------------------------------------------------------

    def _examine(self, held: _Held, now: float) -> None:
        if held.logon is None:
            try:
                data = held.sock.recv(MAX_LOGON_BYTES + 64, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except BlockingIOError:
                data = None
            except OSError:
                self._forget(held)
                return
            if data == b"":
                self._forget(held)  # the client left; quickfix sees the end of the stream too
                return
            parsed = first_message(data) if data else INCOMPLETE
            if isinstance(parsed, str):
                self._close(held, f"not a FIX Logon: {parsed}")
                return
            if parsed is None:
                if now - held.since > self.logon_timeout:
                    self._close(held, f"no Logon within LogonTimeout={self.logon_timeout:g}s")
                return
            held.logon = parsed
            self._judge(held)
            if held.inode in self._held and held.verdict is None:
                self._admit(held, now)
            return
        if held.verdict is not None:
            if not held.verdict.done():
                return
            try:
                good = held.verdict.result()
            except Exception:
                log.exception("fix logon: password check failed")
                good = False
            held.verdict = None
            if not good:
                self._refuse(held, "logon refused: Password(554) wrong", password=True)
                return
        self._admit(held, now)

    def _judge(self, held: _Held) -> None:
        pairs = held.logon or []
        f: dict[int, bytes] = {}
        for tag, value in pairs:
            f.setdefault(tag, value)
        begin, ours, theirs = f.get(8, b""), f.get(56, b""), f.get(49, b"")
        session = self.sessions.get((begin.decode("latin-1"), ours.decode("latin-1"),
                                     theirs.decode("latin-1")))
        held.session = session
        if session is None:
            if not (begin and ours and theirs):
                self._close(held, "not a FIX Logon: no BeginString, SenderCompID or "
                                  "TargetCompID")
                return
            self._refuse_stranger(held, begin, ours, theirs)
            return
        msg_type = f.get(35, b"")
        if msg_type != b"A":
            self._refuse(held, "logon refused: the first message must be a Logon (35=A), not "
                               f"MsgType(35)={msg_type.decode('latin-1')}")
            return
        empty = next((tag for tag, value in pairs if value == b""), None)
        if empty is not None:
            self._refuse(held, f"logon refused: {field_name(empty)} has no value",
                         password=empty == 554)
            return
        missing = next((tag for tag in _LOGON_REQUIRED if tag not in f), None)
        if missing is not None:
            self._refuse(held, f"logon refused: required field {field_name(missing)} missing")
            return
        expected = session.password
        if expected is None:
            return
        given = f.get(554)
        if given is None:
            self._refuse(held, "logon refused: Password(554) missing", password=True)
            return
        verdict = self.verifier.cached(given, expected)
        if verdict is False:
            self._refuse(held, "logon refused: Password(554) wrong", password=True)
        elif verdict is None:
            assert self._hashing is not None
            held.verdict = self._hashing.submit(self.verifier.verify, given, expected)

    def _busy(self, session: GateSession) -> bool:
        if fix.Session.isSessionRegistered(session.session_id):
            return True
        with self._lock:
            conn = self._conn.get(session.key)
        return conn is not None and _is_socket(conn.fd, conn.inode)

    def _admit(self, held: _Held, now: float) -> None:
        session = held.session
        assert session is not None
        if self._busy(session):
            if held.busy_since is None:
                held.busy_since = now
            if now - held.busy_since >= BUSY_WAIT_S:
                self._refuse(held, f"logon refused: session {session.key} is already logged on")
            return
        try:
            held.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 1)
        except OSError:
            self._forget(held)
            return
        conn = _Released(session.key, session.session_id, held.inode, held.fd,
                         held.since + self.logon_timeout)
        with self._lock:
            self._held.pop(held.inode, None)
            self._released[held.inode] = conn
            self._conn[session.key] = conn
        held.sock.close()

    def _watch_released(self, now: float) -> None:
        for inode, conn in list(self._released.items()):
            session = fix.Session.lookupSession(conn.session_id)
            logged_on = session is not None and session.isLoggedOn()
            if logged_on or not _is_socket(conn.fd, inode):
                del self._released[inode]
            elif now > conn.deadline:
                del self._released[inode]
                cut(conn.fd, inode)
                log.warning("fix connection closed: not logged on within LogonTimeout",
                            session=conn.key, logon_timeout=self.logon_timeout)

    # -- answers -------------------------------------------------------------------------------

    def _forget(self, held: _Held) -> None:
        with self._lock:
            self._held.pop(held.inode, None)
        held.sock.close()

    def _close(self, held: _Held, reason: str) -> None:
        """Close a connection that never said who it is: there is no one to answer."""
        self._drain(held)
        with contextlib.suppress(OSError):
            held.sock.shutdown(socket.SHUT_RDWR)
        self._forget(held)
        log.warning("fix connection closed before logon", peer=held.peer, reason=reason)

    def _drain(self, held: _Held) -> None:
        """Take the held bytes off the socket, so quickfix never reads them."""
        with contextlib.suppress(OSError):
            held.sock.recv(MAX_LOGON_BYTES + 64, socket.MSG_DONTWAIT)

    def _logout(self, held: _Held, begin: bytes, ours: bytes, theirs: bytes, seq: int,
                text: str) -> None:
        msg = encode(begin, [(35, b"5"), (49, ours), (56, theirs), (34, b"%d" % seq),
                             (52, _utc_now()), (58, text.encode())])
        with contextlib.suppress(OSError):
            held.sock.send(msg, socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL)

    def _refuse(self, held: _Held, text: str, *, password: bool = False) -> None:
        """A Logout saying why, then close. The refusal takes a MsgSeqNum of the session,
        as quickfix's own refusals do, unless the session is in use."""
        session = held.session
        assert session is not None
        self._drain(held)
        seq = self._seq_for(session)
        f = dict(reversed(held.logon or []))
        self._logout(held, f[8], f[56], f[49], seq, text)
        with contextlib.suppress(OSError):
            held.sock.shutdown(socket.SHUT_RDWR)
        self._forget(held)
        event = "fix logon refused: bad password" if password else "fix logon refused"
        log.warning(event, session=session.key, peer=held.peer, reason=text)

    def _seq_for(self, session: GateSession) -> int:
        qf = fix.Session.lookupSession(session.session_id)
        if qf is None:
            return 1
        if self._busy(session):
            return int(qf.getExpectedSenderNum())
        try:
            return self.reserve_seq(session)
        except Exception:
            log.exception("fix logon: no sequence number reserved", session=session.key)
            return int(qf.getExpectedSenderNum())

    def _refuse_stranger(self, held: _Held, begin: bytes, ours: bytes, theirs: bytes) -> None:
        """An unknown session: answered, then handed to quickfix, whose global event log
        keeps the stranger's Logon for the operator (and which closes the connection)."""
        text = (f"logon refused: no session {begin.decode('latin-1')}:"
                f"{ours.decode('latin-1')}->{theirs.decode('latin-1')} here")
        self._logout(held, begin, ours, theirs, 1, text)
        log.warning("fix logon refused", peer=held.peer, reason=text)
        with contextlib.suppress(OSError):
            held.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 1)
        self._forget(held)
