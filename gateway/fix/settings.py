"""quickfix SessionSettings for the acceptor, written to `<data_dir>/fix/acceptor.cfg`.

The file is what quickfix reads, so an operator can see exactly which settings
a session runs with. `[fix.settings]` (all sessions) and each client's
`settings` table pass through unchanged, overriding the defaults below.

Two keys are read by fixgate as well as quickfix:

- `LogonTimeout` (seconds, quickfix's own key, which it applies to initiators
  only): a new connection must send its Logon, and be logged on, within it, or
  it is closed (see `gate.py`). [DEFAULT] value.
- `MaxOutboundBacklog` (messages, fixgate's): messages queued for one session
  and not yet written to its socket. A backlog past it for a second is a slow
  consumer: the session is disconnected (its unread reports stay in the store
  for the resend at its next logon), so a peer that stops reading holds neither
  memory nor anyone else's reports. Per session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import quickfix as fix

import fix_specs
from gateway.config import Config

SPEC_DIR = Path(fix_specs.__file__).parent
DICTIONARIES = {"FIX.4.4": "FIX44.xml", "FIX.4.2": "FIX42.xml"}

LOGON_TIMEOUT = 10
MAX_OUTBOUND_BACKLOG = 10_000

DEFAULTS = {
    "ConnectionType": "acceptor",
    "StartTime": "00:00:00",
    "EndTime": "00:00:00",  # equal times: the session never ends by schedule
    "UseDataDictionary": "Y",
    "ValidateUserDefinedFields": "N",
    "AllowUnknownMsgFields": "N",
    "CheckLatency": "Y",
    "MaxLatency": "120",
    "ResetOnLogon": "N",
    "PersistMessages": "Y",
    "SocketNodelay": "Y",  # an ExecutionReport must not wait for Nagle
    "LogonTimeout": str(LOGON_TIMEOUT),
    "MaxOutboundBacklog": str(MAX_OUTBOUND_BACKLOG),
}


def render(config: Config, data_dir: Path) -> str:
    fix_dir = data_dir / "fix"
    default = dict(DEFAULTS)
    default.update(
        {
            "SocketAcceptPort": str(config.fix.port),
            "SenderCompID": config.fix.sender_comp_id,
            "FileStorePath": str(fix_dir / "store"),
            "FileLogPath": str(fix_dir / "log"),
        }
    )
    default.update(config.fix.settings)
    lines = ["[DEFAULT]", *(f"{k}={v}" for k, v in default.items())]
    for client in config.fix.clients:
        session = {"BeginString": client.begin_string, "TargetCompID": client.comp_id}
        dictionary = DICTIONARIES.get(client.begin_string)
        if dictionary:
            session["DataDictionary"] = str(SPEC_DIR / dictionary)
        session.update(client.settings)
        lines += ["", "[SESSION]", *(f"{k}={v}" for k, v in session.items())]
    return "\n".join(lines) + "\n"


def build_settings(config: Config, data_dir: Path) -> Any:
    fix_dir = data_dir / "fix"
    (fix_dir / "store").mkdir(parents=True, exist_ok=True)
    (fix_dir / "log").mkdir(parents=True, exist_ok=True)
    path = fix_dir / "acceptor.cfg"
    path.write_text(render(config, data_dir))
    return fix.SessionSettings(str(path))
