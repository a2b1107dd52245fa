"""The FIX acceptor: quickfix runs the session layer, this class adapts it to the OMS.

quickfix calls back on its own threads. Callbacks only read the message into
a command and hand it to the event loop that owns the OMS; they never touch
OMS state. Any exception escaping a callback would end the process in the
Python binding, so each one catches everything and answers with a reject.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import quickfix as fix
import structlog

from gateway.config import Config, FixClientConfig
from gateway.fix import mapping
from gateway.fix.settings import build_settings
from gateway.passwords import verify_password
from oms.reports import CancelReject, ExecutionReport, MassCancelReport

log = structlog.get_logger("fix")

# BusinessRejectReason(380)
_BMR_OTHER = "0"
_BMR_UNSUPPORTED_MSG_TYPE = "3"
_BMR_MISSING_FIELD = "5"


@dataclass
class SessionState:
    session_id: Any  # quickfix.SessionID
    key: str
    client: FixClientConfig
    begin_string: str  # cached: every call into the binding contends for the GIL
    last_logon: str | None = None
    last_logout: str | None = None


class FixAcceptor(fix.Application):  # type: ignore[misc]
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
        self._acceptor: Any = None
        self._settings: Any = None
        self._outbox: queue.SimpleQueue[tuple[SessionState, str, list[tuple[int, str]]] | None]
        self._outbox = queue.SimpleQueue()
        self._sender_thread = threading.Thread(target=self._sender, name="fix-sender",
                                               daemon=True)

    # -- lifecycle -----------------------------------------------------------

    def start(self, data_dir: Path) -> None:
        self._settings = build_settings(self.config, data_dir)
        store = fix.FileStoreFactory(self._settings)
        logs = fix.FileLogFactory(self._settings)
        self._acceptor = fix.ThreadedSocketAcceptor(self, store, self._settings, logs)
        self._sender_thread.start()
        self._acceptor.start()

    def stop(self) -> None:
        if self._sender_thread.is_alive():
            self._outbox.put(None)  # send what is queued, then stop
            self._sender_thread.join(10)
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
            self.sessions[key] = SessionState(sessionID, key, client, begin)
        except Exception:
            log.exception("onCreate failed")

    def onLogon(self, sessionID: Any) -> None:
        try:
            state = self.sessions.get(sessionID.toString())
            if state is not None:
                state.last_logon = mapping.transact_time()
            log.info("fix logon", session=sessionID.toString())
        except Exception:
            log.exception("onLogon failed")

    def onLogout(self, sessionID: Any) -> None:
        try:
            state = self.sessions.get(sessionID.toString())
            if state is not None:
                state.last_logout = mapping.transact_time()
            log.info("fix logout", session=sessionID.toString())
        except Exception:
            log.exception("onLogout failed")

    def toAdmin(self, message: Any, sessionID: Any) -> None:
        pass

    def fromAdmin(self, message: Any, sessionID: Any) -> None:
        try:
            msg_type = message.getHeader().getField(35)
            if msg_type != "A":
                return
            state = self.sessions.get(sessionID.toString())
            expected = state.client.password if state else None
            if expected is None:
                return
            given = message.getField(554) if message.isSetField(554) else None
            if given is None or not verify_password(given, expected):
                log.warning("fix logon refused: bad password", session=sessionID.toString())
                refusal = "logon refused: Password(554) missing or wrong"
            else:
                return
        except Exception:
            log.exception("fromAdmin failed")
            refusal = "logon refused: could not read the Logon message"
        raise fix.RejectLogon(refusal)

    def toApp(self, message: Any, sessionID: Any) -> None:
        pass

    def fromApp(self, message: Any, sessionID: Any) -> None:
        key = sessionID.toString()
        msg_type = ""
        try:
            # One call into the binding, then plain Python: each getField would be a
            # call of its own, made while this quickfix thread holds the GIL.
            fields = _fields(message.toString())
            msg_type = fields.get(35, "")
            build = mapping.INBOUND.get(msg_type)
            if build is None:
                self._business_reject(
                    sessionID,
                    message,
                    msg_type,
                    _BMR_UNSUPPORTED_MSG_TYPE,
                    f"unsupported MsgType(35)={msg_type}",
                )
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
            self._business_reject(sessionID, message, msg_type, _BMR_MISSING_FIELD, str(exc))
            return
        except Exception as exc:
            log.exception("fromApp failed", session=key)
            self._business_reject(
                sessionID, message, msg_type, _BMR_OTHER, f"message could not be processed: {exc}"
            )
            return
        self.loop.call_soon_threadsafe(self.dispatch, cmd)

    # -- outbound (event loop thread) ------------------------------------------------

    def _session_for(self, key: str | None) -> SessionState | None:
        return self.sessions.get(key) if key else None

    def execution_report(self, report: ExecutionReport) -> None:
        state = self._session_for(report.session)
        if state is None:
            return
        self._send(state, "8", mapping.execution_report(report, state.begin_string))

    def cancel_reject(self, reject: CancelReject) -> None:
        state = self._session_for(reject.session)
        if state is None:
            return
        self._send(state, "9", mapping.cancel_reject(reject))

    def mass_cancel_report(self, report: MassCancelReport) -> None:
        state = self._session_for(report.session)
        if state is None:
            return
        self._send(state, "r", mapping.mass_cancel_report(report))

    def _send(self, state: SessionState, msg_type: str, body: list[tuple[int, str]]) -> None:
        self._outbox.put((state, msg_type, body))

    def _sender(self) -> None:
        """Send in order, off the event loop: quickfix's store, log and socket writes run
        without the GIL, in parallel with the loop."""
        while (item := self._outbox.get()) is not None:
            state, msg_type, body = item
            try:
                begin = state.begin_string
                raw = "".join(f"{tag}={value}\x01" for tag, value in body)
                # Parsing one string is a single call into the binding; header, length
                # and checksum are filled in by sendToTarget.
                msg = fix.Message(f"8={begin}\x019=0\x0135={msg_type}\x01{raw}10=000\x01", False)
                # Stored for resend even while the client is logged out.
                fix.Session.sendToTarget(msg, state.session_id)
            except Exception:
                log.exception("sendToTarget failed", session=state.key, msg_type=msg_type)

    def _business_reject(
        self, sessionID: Any, message: Any, msg_type: str, reason: str, text: str
    ) -> None:
        """BusinessMessageReject(j): the answer to an application message we cannot act on."""
        try:
            body = [
                (45, message.getHeader().getField(34)),
                (372, msg_type or "?"),
                (380, reason),
                (58, text),
            ]
            if message.isSetField(11):
                body.insert(1, (379, message.getField(11)))
            state = self.sessions.get(sessionID.toString())
            if state is not None:
                self._send(state, "j", body)
            log.info("business reject", session=sessionID.toString(), text=text)
        except Exception:
            log.exception("business reject failed")


def _fields(raw: str) -> dict[int, str]:
    """A FIX message's fields as a tag->value dict (the application messages we accept
    carry no repeating groups, so a repeated tag keeps its last value)."""
    out: dict[int, str] = {}
    for part in raw.split("\x01"):
        tag, _, value = part.partition("=")
        if tag.isdigit():
            out[int(tag)] = value
    return out
