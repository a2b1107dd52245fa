"""What the upstream FIX adapter and the standalone FIX sim venue share: reading a
message as quickfix hands it over, writing one with a single call into the binding,
and quickfix settings written to a file an operator can read."""

from __future__ import annotations

import time
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import quickfix as fix

from gateway.fix.mapping import Body, render
from gateway.fix.settings import DICTIONARIES, SPEC_DIR


def decimal(fields: Mapping[int, str], tag: int) -> Decimal | None:
    raw = fields.get(tag)
    if not raw:
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def send(session_id: Any, begin_string: str, msg_type: str, body: Body) -> bool:
    """Hand one application message to quickfix (header, length and checksum are its)."""
    msg = fix.Message(f"8={begin_string}\x019=0\x0135={msg_type}\x01{render(body)}10=000\x01",
                      False)
    return bool(fix.Session.sendToTarget(msg, session_id))


def run_tag() -> str:
    """A short tag unique to this process's run (base-36 milliseconds), so identifiers
    made from a counter never repeat those of an earlier run."""
    n = int(time.time() * 1000)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out


def write_settings(path: Path, default: Mapping[str, str],
                   sessions: list[dict[str, str]]) -> Any:
    """quickfix SessionSettings from `path`, written first so an operator sees them."""
    lines = ["[DEFAULT]", *(f"{k}={v}" for k, v in default.items())]
    for session in sessions:
        dictionary = DICTIONARIES.get(session.get("BeginString", ""))
        if dictionary and "DataDictionary" not in session:
            session = {**session, "DataDictionary": str(SPEC_DIR / dictionary)}
        lines += ["", "[SESSION]", *(f"{k}={v}" for k, v in session.items())]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return fix.SessionSettings(str(path))
