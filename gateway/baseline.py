"""A bare quickfix acceptor for the benchmark: answers each NewOrderSingle with one
ExecutionReport New and does nothing else (no OMS, no journal, no venue, no logs).

It is the ceiling the full path is measured against: same engine, same Python
binding, same sockets. In-process::

    with BaselineAcceptor(port, [("FIXGATE", "BENCH1"), ("FIXGATE", "BENCH2")]):
        ...

or as its own process (what `fixgate bench --baseline` does, so that the load
generator does not share an interpreter with it)::

    python -m gateway.baseline --port P --sessions N [--sender-prefix BENCH]

which prints `ready` once it listens and stops on SIGTERM/SIGINT.

Notes on the quickfix 1.16 Python binding that shaped this module:

- Settings are built from text with `SessionSettings().setFromString(text)`;
  the constructor does not take a Python file object (it wants a C++ istream).
- There is no `SocketAcceptHost` in 1.16: the acceptor listens on every
  interface, whatever the settings say.
- Callbacks run on quickfix's own threads and take the GIL; an exception
  escaping one ends the process, so every callback here catches everything.
- A Logon from a CompID with no `[SESSION]` is not answered: quickfix drops
  the connection without a Logout.
- `ThreadedSocketAcceptor` (a thread per session, what the gateway uses) is the
  default. `SocketAcceptor` (one thread for all sessions, `threaded=False`) acks
  ~40% more orders/s with 4 sessions on 2 cores - the session threads only
  contend for the GIL - but its `stop()` segfaults in about 2 of 5 runs once a
  client has logged out (quickfix 1.16.0), so it is only an option here.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import signal
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any

import quickfix as fix

DEFAULT_SESSIONS: tuple[tuple[str, str], ...] = (("FIXGATE", "BENCH1"),)


def settings_text(
    port: int,
    sessions: Iterable[tuple[str, str]],
    begin_string: str = "FIX.4.4",
    heartbeat: int = 30,
) -> str:
    """quickfix settings for an all-day acceptor; `sessions` are (SenderCompID, TargetCompID)
    as the acceptor sees them, i.e. (our CompID, the client's CompID)."""
    lines = [
        "[DEFAULT]",
        "ConnectionType=acceptor",
        f"SocketAcceptPort={port}",
        "SocketReuseAddress=Y",
        "SocketNodelay=Y",
        "StartTime=00:00:00",
        "EndTime=00:00:00",  # equal times: the session never ends by schedule
        f"HeartBtInt={heartbeat}",
        "ReconnectInterval=30",
        "UseDataDictionary=N",
        "ResetOnLogon=N",
        "PersistMessages=N",  # nothing to resend: MemoryStore, and only acks
    ]
    for sender, target in sessions:
        lines += [
            "",
            "[SESSION]",
            f"BeginString={begin_string}",
            f"SenderCompID={sender}",
            f"TargetCompID={target}",
        ]
    return "\n".join(lines) + "\n"


class BaselineAcceptor(fix.Application):
    """quickfix acceptor that acks every NewOrderSingle with an ExecutionReport New."""

    def __init__(
        self,
        port: int,
        sessions: Iterable[tuple[str, str]] = DEFAULT_SESSIONS,
        begin_string: str = "FIX.4.4",
        heartbeat: int = 30,
        threaded: bool = True,
    ) -> None:
        super().__init__()
        self.port = port
        self.sessions = list(sessions)
        self.begin_string = begin_string
        self.heartbeat = heartbeat
        self.threaded = threaded
        self.orders_acked = 0
        self.logons = 0
        self._ids = itertools.count(1)
        self._acceptor: Any = None

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        """Listen (bound when this returns); quickfix.RuntimeError if the port is taken."""
        if self._acceptor is not None:
            return
        settings = fix.SessionSettings()
        settings.setFromString(
            settings_text(self.port, self.sessions, self.begin_string, self.heartbeat)
        )
        # No log factory: quickfix then logs nothing at all.
        kind = fix.ThreadedSocketAcceptor if self.threaded else fix.SocketAcceptor
        self._acceptor = kind(self, fix.MemoryStoreFactory(), settings)
        self._acceptor.start()

    def stop(self) -> None:
        if self._acceptor is not None:
            self._acceptor.stop(True)  # force: do not wait for Logout answers
            self._acceptor = None

    def __enter__(self) -> BaselineAcceptor:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- quickfix callbacks (quickfix threads; nothing may escape) -----------------

    def onCreate(self, sessionID: Any) -> None:
        pass

    def onLogon(self, sessionID: Any) -> None:
        with contextlib.suppress(Exception):
            self.logons += 1

    def onLogout(self, sessionID: Any) -> None:
        pass

    def toAdmin(self, message: Any, sessionID: Any) -> None:
        pass

    def fromAdmin(self, message: Any, sessionID: Any) -> None:
        pass

    def toApp(self, message: Any, sessionID: Any) -> None:
        pass

    def fromApp(self, message: Any, sessionID: Any) -> None:
        try:
            if message.getHeader().getField(35) == "D":
                self._ack(message, sessionID)
        except Exception:  # an escaping exception would end the process
            pass

    def _ack(self, order: Any, sessionID: Any) -> None:
        n = next(self._ids)
        qty = order.getField(38) if order.isSetField(38) else "0"
        er = fix.Message()
        er.getHeader().setField(35, "8")
        for tag, value in (
            (37, f"B{n}"),
            (11, order.getField(11)),
            (17, f"E{n}"),
            (150, "0"),
            (39, "0"),
            (55, order.getField(55)),
            (54, order.getField(54)),
            (38, qty),
            (14, "0"),
            (151, qty),
            (6, "0"),
        ):
            er.setField(tag, value)
        if fix.Session.sendToTarget(er, sessionID):
            self.orders_acked += 1


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="bare quickfix acceptor for `fixgate bench`")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--sender-prefix", default="BENCH", help="the clients' CompID prefix")
    parser.add_argument("--target", default="FIXGATE", help="the acceptor's own CompID")
    parser.add_argument(
        "--single-thread",
        action="store_true",
        help="SocketAcceptor instead of ThreadedSocketAcceptor (faster; may crash on stop)",
    )
    args = parser.parse_args(argv)
    sessions = [(args.target, f"{args.sender_prefix}{i + 1}") for i in range(args.sessions)]
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    acceptor = BaselineAcceptor(args.port, sessions, threaded=not args.single_thread)
    acceptor.start()
    print("ready", flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        acceptor.stop()


if __name__ == "__main__":
    main()
