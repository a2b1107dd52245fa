"""A bare quickfix acceptor for the benchmark: answers each NewOrderSingle with one
ExecutionReport New and does nothing else (no OMS, no journal, no venue).

It is the ceiling the full path is measured against: same engine, same Python
binding, same sockets. Run as `python -m gateway.baseline --port P --sessions N`.
"""

from __future__ import annotations

import argparse
import itertools
import signal
import tempfile
import threading
from pathlib import Path
from typing import Any

import quickfix as fix


class BaselineApp(fix.Application):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self._ids = itertools.count(1)

    def onCreate(self, sessionID: Any) -> None:
        pass

    def onLogon(self, sessionID: Any) -> None:
        pass

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
            if message.getHeader().getField(35) != "D":
                return
            n = next(self._ids)
            er = fix.Message()
            er.getHeader().setField(fix.MsgType("8"))
            qty = message.getField(38)
            for tag, value in (
                (37, f"B{n}"),
                (11, message.getField(11)),
                (17, f"E{n}"),
                (150, "0"),
                (39, "0"),
                (55, message.getField(55)),
                (54, message.getField(54)),
                (38, qty),
                (14, "0"),
                (151, qty),
                (6, "0"),
            ):
                er.setField(tag, value)
            fix.Session.sendToTarget(er, sessionID)
        except Exception:  # an escaping exception would end the process
            pass


def settings_text(port: int, comp_ids: list[str], store_dir: Path) -> str:
    lines = [
        "[DEFAULT]",
        "ConnectionType=acceptor",
        f"SocketAcceptPort={port}",
        "SocketAcceptHost=127.0.0.1",
        "SenderCompID=FIXGATE",
        "StartTime=00:00:00",
        "EndTime=00:00:00",
        "UseDataDictionary=N",
        f"FileStorePath={store_dir}",
    ]
    for comp_id in comp_ids:
        lines += ["", "[SESSION]", "BeginString=FIX.4.4", f"TargetCompID={comp_id}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sessions", type=int, default=4)
    parser.add_argument("--sender-prefix", default="BENCH")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "baseline.cfg"
        ids = [f"{args.sender_prefix}{i + 1}" for i in range(args.sessions)]
        cfg.write_text(settings_text(args.port, ids, Path(tmp)))
        settings = fix.SessionSettings(str(cfg))
        acceptor = fix.ThreadedSocketAcceptor(BaselineApp(), fix.MemoryStoreFactory(), settings)
        acceptor.start()
        print("ready", flush=True)
        done = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: done.set())
        signal.signal(signal.SIGINT, lambda *_: done.set())
        done.wait()
        acceptor.stop()


if __name__ == "__main__":
    main()
