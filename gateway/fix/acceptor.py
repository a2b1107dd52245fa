"""The FIX acceptor: quickfix runs the session layer, this class adapts it to the OMS.

quickfix calls back on its own threads. Callbacks only read the message into
a command and hand it to the event loop that owns the OMS; they never touch
OMS state. Any exception escaping a callback would end the process in the
Python binding, so each one catches everything and answers with a reject.

Inbound, text that cannot be journaled or echoed (a NUL, a byte that is not
UTF-8) is refused here, with the reject a client expects naming the field.
Outbound, every message of a session goes through that session's queue and
sender thread (`_send`, then `_write`): quickfix writes to the socket while
holding the session's lock, so a peer that does not read blocks only its own
sender; one whose backlog stays past MaxOutboundBacklog while its socket takes
nothing is disconnected as a slow consumer. New connections pass the logon gate
(`gate.py`) first: every Logon gets an answer, and a connection that does not
log on within LogonTimeout is closed.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import quickfix as fix
import structlog

from gateway.config import Config, FixClientConfig
from gateway.fix import mapping
from gateway.fix.gate import LogonGate
from gateway.fix.settings import LOGON_TIMEOUT, MAX_OUTBOUND_BACKLOG, build_settings
from gateway.passwords import PasswordVerifier
from oms.reports import CancelReject, ExecutionReport, MassCancelReport

log = structlog.get_logger("fix")

SLOW_CONSUMER_S = 1.0
_MSG_NAMES = {"8": "ExecutionReport", "9": "OrderCancelReject", "j": "BusinessMessageReject",
              "r": "OrderMassCancelReport"}


@dataclass
class Outbound:
    """One session's messages on their way to quickfix, in order."""

    limit: int
    # Lists of (MsgType, body, journal seq): what one turn of the event loop produced
    # for the session goes over as one item, so its sender wakes once, not per message.
    queue: queue.SimpleQueue[list[tuple[str, mapping.Body, int]] | None] = field(
        default_factory=queue.SimpleQueue)
    backlog: int = 0  # messages queued and not yet handed to quickfix
    lock: threading.Lock = field(default_factory=threading.Lock)  # held while writing
    thread: threading.Thread | None = None
    native_id: int | None = None
    over_since: float | None = None  # when the backlog went past the limit
    writing_since: float | None = None  # when the write in progress began
    dropping: bool = False
    guard: threading.Lock = field(default_factory=threading.Lock)  # over_since, dropping


@dataclass
class SessionState:
    session_id: Any  # quickfix.SessionID
    key: str
    client: FixClientConfig
    begin_string: str  # cached: every call into the binding contends for the GIL
    outbound: Outbound = field(default_factory=lambda: Outbound(MAX_OUTBOUND_BACKLOG))
    last_logon: str | None = None
    last_logout: str | None = None
    last_logout_reason: str | None = None

    @property
    def password(self) -> str | None:
        return self.client.password


class FixAcceptor(fix.Application):
    def __init__(
        self,
        config: Config,
        loop: asyncio.AbstractEventLoop,
        dispatch: Callable[[mapping.Command], None],
    ) -> None:
        super().__init__()
        self.config = config
        self.loop = loop
        self.dispatch = dispatch
        self.clients = {c.comp_id: c for c in config.fix.clients}
        self.sessions: dict[str, SessionState] = {}
        self.passwords = PasswordVerifier()
        self.gate: LogonGate | None = None
        self._acceptor: Any = None
        self._settings: Any = None
        self._started = False
        # ExecIDs of refusals made here, which are no OMS fact: unique across restarts.
        self._exec_prefix = f"B{int(time.time() * 1000):x}."
        self._exec_seq = itertools.count(1)  # next() on it is atomic: any quickfix thread
        # The outbox: journal sequence numbers of reports queued but not yet handed to
        # quickfix (which stores what it is handed, for resend, before writing it).
        self._unhanded: collections.Counter[int] = collections.Counter()
        self._unhanded_lock = threading.Lock()
        self._data_dir: Path | None = None
        self._loop_thread = threading.get_ident()  # built on the event loop's thread
        self._buffered: dict[str, tuple[SessionState, list[tuple[str, mapping.Body, int]]]] = {}
        self._stored: dict[str, set[tuple[str, str]]] = {}  # session -> (MsgType, id) held

    # -- lifecycle -----------------------------------------------------------

    def start(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._settings = build_settings(self.config, data_dir)
        store = fix.FileStoreFactory(self._settings)
        logs = fix.FileLogFactory(self._settings)
        self._acceptor = fix.ThreadedSocketAcceptor(self, store, self._settings, logs)
        self._started = True
        for state in self.sessions.values():
            self._start_sender(state)
        self._acceptor.start()
        defaults = self._settings.get()
        self.gate = LogonGate(
            port=self.config.fix.port,
            sessions={(s.begin_string, s.session_id.getSenderCompID().getValue(),
                       s.session_id.getTargetCompID().getValue()): s
                      for s in self.sessions.values()},
            verifier=self.passwords,
            reserve_seq=self._reserve_seq,
            logon_timeout=float(defaults.getString("LogonTimeout"))
            if defaults.has("LogonTimeout") else float(LOGON_TIMEOUT),
        )
        self.gate.start()

    def stop(self) -> None:
        if self.gate is not None:
            self.gate.stop()
        deadline = time.monotonic() + 10
        for state in self.sessions.values():
            state.outbound.queue.put(None)  # send what is queued, then stop
        for state in self.sessions.values():
            thread = state.outbound.thread
            if thread is not None and thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))
        if self._acceptor is not None:
            self._acceptor.stop(True)
            self._acceptor = None

    def session_states(self) -> list[dict[str, Any]]:
        out = []
        for s in self.sessions.values():
            session = fix.Session.lookupSession(s.session_id)
            out.append(
                {
                    "session_id": s.key,
                    "begin_string": s.session_id.getBeginString().getValue(),
                    "sender_comp_id": s.session_id.getSenderCompID().getValue(),
                    "target_comp_id": s.session_id.getTargetCompID().getValue(),
                    "account": s.client.account,
                    "logged_on": bool(session.isLoggedOn()) if session else False,
                    "next_sender_seq_num": session.getExpectedSenderNum() if session else None,
                    "next_target_seq_num": session.getExpectedTargetNum() if session else None,
                    "last_logon": s.last_logon,
                    "last_logout": s.last_logout,
                    "last_logout_reason": s.last_logout_reason,
                    "outbound_backlog": s.outbound.backlog,
                }
            )
        return out

    # -- quickfix callbacks (quickfix threads) ----------------------------------

    def onCreate(self, sessionID: Any) -> None:
        try:
            target = sessionID.getTargetCompID().getValue()
            client = self.clients.get(target) or FixClientConfig(comp_id=target)
            key = sessionID.toString()
            begin = sessionID.getBeginString().getValue()
            state = SessionState(sessionID, key, client, begin)
            settings = self._settings.get(sessionID) if self._settings is not None else None
            if settings is not None and settings.has("MaxOutboundBacklog"):
                state.outbound.limit = settings.getInt("MaxOutboundBacklog")
            self.sessions[key] = state
            if self._started:
                self._start_sender(state)
        except Exception:
            log.exception("onCreate failed")

    def onLogon(self, sessionID: Any) -> None:
        try:
            state = self.sessions.get(sessionID.toString())
            if state is not None:
                state.last_logon = mapping.transact_time()
                state.last_logout_reason = None
                with state.outbound.guard:  # judged on this connection only
                    state.outbound.dropping = False
                    state.outbound.over_since = None
            log.info("fix logon", session=sessionID.toString())
        except Exception:
            log.exception("onLogon failed")

    def onLogout(self, sessionID: Any) -> None:
        try:
            state = self.sessions.get(sessionID.toString())
            if state is not None:
                state.last_logout = mapping.transact_time()
            log.info("fix logout", session=sessionID.toString(),
                     reason=state.last_logout_reason if state else None)
        except Exception:
            log.exception("onLogout failed")

    def toAdmin(self, message: Any, sessionID: Any) -> None:
        pass

    def fromAdmin(self, message: Any, sessionID: Any) -> None:
        """The Logon's password, checked again where quickfix decides (the gate checked it
        first, so the verdict is cached: no hashing on quickfix's thread)."""
        try:
            msg_type = message.getHeader().getField(35)
            if msg_type != "A":
                return
            state = self.sessions.get(sessionID.toString())
            expected = state.client.password if state else None
            if expected is None:
                return
            given = message.getField(554) if message.isSetField(554) else None
            if given and self.passwords.verify(given, expected):
                return
            log.warning("fix logon refused: bad password", session=sessionID.toString())
            refusal = "logon refused: Password(554) missing or wrong"
        except Exception:
            log.exception("fromAdmin failed")
            refusal = "logon refused: could not read the Logon message"
        raise fix.RejectLogon(refusal)

    def toApp(self, message: Any, sessionID: Any) -> None:
        pass

    def fromApp(self, message: Any, sessionID: Any) -> None:
        key = sessionID.toString()
        msg_type = ""
        fields: mapping.Fields = {}
        try:
            # One call into the binding, then plain Python: each getField would be a
            # call of its own, made while this quickfix thread holds the GIL.
            raw = message.toString()
            fields = mapping.fields_of(raw)
            msg_type = fields.get(35, "")
            build = mapping.INBOUND.get(msg_type)
            if build is None:
                self._business_reject(key, fields, msg_type, mapping.BMR_UNSUPPORTED_MSG_TYPE,
                                      f"unsupported MsgType(35)={msg_type}")
                return
            problem = mapping.bad_text(raw)
            if problem is not None:
                self._refuse(key, msg_type, fields, problem)
                return
            if msg_type == "D":
                state = self.sessions.get(key)
                account = (
                    state.client.account if state else None
                ) or sessionID.getTargetCompID().getValue()
                cmd = build(fields, key, account)
            else:
                cmd = build(fields, key)
        except mapping.MappingError as exc:
            self._business_reject(key, fields, msg_type, mapping.BMR_MISSING_FIELD, str(exc))
            return
        except Exception as exc:
            log.exception("fromApp failed", session=key)
            self._business_reject(key, fields, msg_type, mapping.BMR_OTHER,
                                  f"message could not be processed: {exc}")
            return
        self.loop.call_soon_threadsafe(self.dispatch, cmd)

    # -- refusals made here (quickfix threads) ---------------------------------------

    def _refuse(self, key: str, msg_type: str, fields: mapping.Fields, text: str) -> None:
        """Refuse at the boundary, with the reject this message type calls for."""
        state = self.sessions.get(key)
        if state is None:
            return
        out_type, body = mapping.boundary_reject(msg_type, fields, text, state.begin_string,
                                                 f"{self._exec_prefix}{next(self._exec_seq)}")
        self._send(state, out_type, body)
        log.info("refused at the FIX boundary", session=key, msg_type=msg_type, text=text)

    def _business_reject(self, key: str, fields: mapping.Fields, msg_type: str, reason: str,
                         text: str) -> None:
        state = self.sessions.get(key)
        if state is None:
            return
        self._send(state, "j", mapping.business_reject(fields, msg_type, reason, text))
        log.info("business reject", session=key, text=text)

    # -- outbound (event loop thread) ------------------------------------------------

    def _session_for(self, key: str | None) -> SessionState | None:
        return self.sessions.get(key) if key else None

    def execution_report(self, report: ExecutionReport) -> None:
        state = self._session_for(report.session)
        if state is None or self._already_sent(state, report, "8", report.exec_id):
            return
        self._send(state, "8", mapping.execution_report(report, state.begin_string),
                   report.seq, report.poss_resend)

    def cancel_reject(self, reject: CancelReject) -> None:
        state = self._session_for(reject.session)
        if state is None or self._already_sent(state, reject, "9", reject.cl_ord_id):
            return
        self._send(state, "9", mapping.cancel_reject(reject), reject.seq, reject.poss_resend)

    def mass_cancel_report(self, report: MassCancelReport) -> None:
        state = self._session_for(report.session)
        if state is None or self._already_sent(state, report, "r", report.cl_ord_id):
            return
        self._send(state, "r", mapping.mass_cancel_report(report), report.seq,
                   report.poss_resend)

    # -- the outbox ------------------------------------------------------------------------

    def handed_through(self, done: int) -> int:
        """The highest journal sequence number up to which every report queued here has
        been handed to quickfix (`done`: every report up to it has been queued)."""
        with self._unhanded_lock:
            if self._unhanded:
                return min(done, min(self._unhanded) - 1)
        return done

    def _already_sent(self, state: SessionState, report: Any, msg_type: str, ref: str) -> bool:
        """A report re-sent after a restart (the outbox) that the session's store already
        holds reached quickfix before the crash: the client has it, or gets it by resend."""
        if not report.poss_resend:
            return False
        held = self._stored.get(state.key)
        if held is None:
            held = self._stored[state.key] = self._read_store(state)
        return (msg_type, ref) in held

    def _read_store(self, state: SessionState) -> set[tuple[str, str]]:
        """(MsgType, ExecID or ClOrdID) of every message in the session's FileStore."""
        if self._data_dir is None:
            return set()
        sid = state.session_id
        name = (f"{state.begin_string}-{sid.getSenderCompID().getValue()}-"
                f"{sid.getTargetCompID().getValue()}.body")
        try:
            data = (self._data_dir / "fix" / "store" / name).read_bytes()
        except OSError:
            return set()
        held = set()
        for raw in data.split(b"\x018=FIX"):
            fields = dict(f.partition(b"=")[::2] for f in raw.split(b"\x01"))
            kind = fields.get(b"35", b"").decode(errors="replace")
            ref = fields.get(b"17" if kind == "8" else b"11", b"")
            held.add((kind, ref.decode(errors="replace")))
        return held

    # -- the one way out (any thread, then the session's sender thread) -----------------

    def _send(self, state: SessionState, msg_type: str, body: mapping.Body, seq: int = 0,
              poss_resend: bool = False) -> None:
        """Queue a message for its session's sender thread; never blocks on the peer.

        A session whose backlog stays past its MaxOutboundBacklog while its socket takes
        nothing for SLOW_CONSUMER_S is a slow consumer (a burst that the peer reads away,
        such as a kill switch's cancels, is not; nor is a backlog that goes to the store
        while the session is logged out): it is disconnected, and what it had not read
        stays in quickfix's store for the resend when it logs on again."""
        if poss_resend:
            body = [(97, "Y"), *body]  # a header field, first after MsgType: in order
        if seq:
            with self._unhanded_lock:
                self._unhanded[seq] += 1
        if threading.get_ident() != self._loop_thread:
            self._enqueue(state, [(msg_type, body, seq)])  # a quickfix thread's refusal
            return
        if not self._buffered:
            self.loop.call_soon(self._flush_buffered)  # after this turn's other reports
        buffered = self._buffered.get(state.key)
        if buffered is None:
            self._buffered[state.key] = (state, [(msg_type, body, seq)])
        else:
            buffered[1].append((msg_type, body, seq))

    def _flush_buffered(self) -> None:
        buffered, self._buffered = self._buffered, {}
        for state, items in buffered.values():
            self._enqueue(state, items)

    def _enqueue(self, state: SessionState, items: list[tuple[str, mapping.Body, int]]) -> None:
        out = state.outbound
        with out.guard:
            out.backlog += len(items)
        out.queue.put(items)
        if out.backlog > out.limit and out.over_since is None:
            with out.guard:
                if out.over_since is not None or out.dropping:
                    return
                out.over_since = time.monotonic()
            self._check_backlog_later(state, SLOW_CONSUMER_S)

    def _start_sender(self, state: SessionState) -> None:
        if state.outbound.thread is None:
            state.outbound.thread = threading.Thread(
                target=self._sender, args=(state,), name=f"fix-sender-{state.client.comp_id}",
                daemon=True)
            state.outbound.thread.start()

    def _sender(self, state: SessionState) -> None:
        """Send in order, off the event loop: quickfix's store, log and socket writes run
        without the GIL, in parallel with the loop."""
        out = state.outbound
        out.native_id = threading.get_native_id()
        while (items := out.queue.get()) is not None:
            for msg_type, body, seq in items:
                self._send_one(state, msg_type, body, seq)

    def _send_one(self, state: SessionState, msg_type: str, body: mapping.Body,
                  seq: int) -> None:
        out = state.outbound
        if out.dropping:
            self._let_disconnect(state)
        out.writing_since = time.monotonic()
        with out.lock:
            self._write(state, msg_type, body)
        out.writing_since = None
        with out.guard:
            out.backlog -= 1
        if seq:
            with self._unhanded_lock:
                left = self._unhanded[seq] - 1
                if left:
                    self._unhanded[seq] = left
                else:
                    del self._unhanded[seq]
        if out.over_since is not None and out.backlog <= out.limit:
            with out.guard:
                out.over_since = None

    def _write(self, state: SessionState, msg_type: str, body: mapping.Body) -> None:
        """Hand one message to quickfix, which stores it for resend (even while the client
        is logged out) and writes it to the session's socket. A message that cannot be
        built is logged and answered otherwise, never dropped in silence."""
        try:
            self._to_target(state, msg_type, mapping.render(body))
            return
        except Exception as exc:
            log.exception("fix message could not be sent", session=state.key,
                          msg_type=msg_type, body=repr(body)[:500])
            problem = f"{type(exc).__name__}: {exc}"
        name = _MSG_NAMES.get(msg_type, f"MsgType(35)={msg_type}")
        fields = dict(body)
        reject: mapping.Body = []
        if fields.get(11):
            reject.append((379, fields[11]))
        reject += [(372, msg_type), (380, mapping.BMR_OTHER),
                   (58, f"the {name} answering this could not be sent: {problem}")]
        try:
            self._to_target(state, "j", mapping.render(reject))
        except Exception:
            log.exception("fix fallback reject could not be sent either", session=state.key)

    def _to_target(self, state: SessionState, msg_type: str, raw: str) -> None:
        # Parsing one string is a single call into the binding; header, length and
        # checksum are filled in by sendToTarget.
        msg = fix.Message(f"8={state.begin_string}\x019=0\x0135={msg_type}\x01{raw}10=000\x01",
                          False)
        fix.Session.sendToTarget(msg, state.session_id)

    # -- slow consumers and sequence numbers -------------------------------------------------

    def _check_backlog_later(self, state: SessionState, delay: float) -> None:
        timer = threading.Timer(delay, self._check_backlog, (state,))
        timer.daemon = True
        timer.start()

    def _check_backlog(self, state: SessionState) -> None:
        out = state.outbound
        with out.guard:
            if out.over_since is None or out.dropping:
                return
            if out.backlog <= out.limit:
                out.over_since = None
                return
            now = time.monotonic()
            writing = out.writing_since
            stuck = writing is not None and now - writing >= SLOW_CONSUMER_S
            wait = out.over_since + SLOW_CONSUMER_S - now
            drop = out.dropping = wait <= 0 and stuck
        if drop:
            self._slow_consumer(state)
        else:  # still behind, but its socket takes what is written: look again
            self._check_backlog_later(state, max(wait, SLOW_CONSUMER_S / 4))

    def _slow_consumer(self, state: SessionState) -> None:
        out = state.outbound
        reason = (f"slow consumer: {out.backlog} messages not yet written to its socket "
                  f"(MaxOutboundBacklog={out.limit}), which took nothing for "
                  f"{SLOW_CONSUMER_S:g}s; disconnected")
        state.last_logout_reason = reason
        log.warning("fix slow consumer: disconnecting", session=state.key, reason=reason)

        def drop() -> None:
            gate = self.gate
            tid = out.native_id
            done = gate.drop(state.key, tid) if gate is not None else False
            if not done:
                log.error("fix slow consumer: its socket was not found, not disconnected",
                          session=state.key)
                time.sleep(1)
                with out.guard:
                    out.dropping = False  # try again at the next message
                    out.over_since = None

        threading.Thread(target=drop, name=f"fix-drop-{state.client.comp_id}",
                         daemon=True).start()

    def _let_disconnect(self, state: SessionState) -> None:
        """Once a slow consumer's socket is cut, quickfix's reader must take the session's
        lock to disconnect it: let it, rather than retake the lock at once to write on
        into the dead socket (what follows is stored for the resend all the same)."""
        session = fix.Session.lookupSession(state.session_id)
        deadline = time.monotonic() + 2
        while (state.outbound.dropping and session is not None and session.isLoggedOn()
               and time.monotonic() < deadline):
            time.sleep(0.01)

    def _reserve_seq(self, state: Any) -> int:
        """A MsgSeqNum for a message written outside quickfix (the gate's Logout to a
        refused Logon), consumed as quickfix would: the session's next one, under the
        sender's lock so no report takes it too."""
        out = state.outbound
        if not out.lock.acquire(timeout=1):
            raise TimeoutError("the session's sender is busy")
        try:
            session = fix.Session.lookupSession(state.session_id)
            seq = int(session.getExpectedSenderNum())
            session.setNextSenderMsgSeqNum(seq + 1)
            return seq
        finally:
            out.lock.release()
