"""Kill switch: firm-wide, per account and per FIX session. While one is engaged in
an order's scope, new orders are refused.

Cancelling the working orders in scope is the OMS's job (it owns the orders);
this object only knows what is engaged, and is rebuilt from journaled events.
"""

from __future__ import annotations

from typing import Any

KIND = "kill_switch"


class KillSwitch:
    def __init__(self) -> None:
        self.firm = False
        self.accounts: set[str] = set()
        self.sessions: set[str] = set()

    def engaged_for(self, account: str, session: str | None) -> str | None:
        """The scope that blocks this order, in words, or None."""
        if self.firm:
            return "firm-wide"
        if account in self.accounts:
            return f"for account {account}"
        if session is not None and session in self.sessions:
            return f"for session {session}"
        return None

    def is_engaged(self, account: str, session: str | None = None) -> bool:
        return self.engaged_for(account, session) is not None

    @staticmethod
    def event(account: str | None, engaged: bool, by: str,
              session: str | None = None) -> dict[str, Any]:
        return {"account": account, "session": session, "engaged": engaged, "by": by}

    def apply(self, payload: dict[str, Any]) -> None:
        engaged = bool(payload["engaged"])
        account, session = payload.get("account"), payload.get("session")
        key = account or session
        target = self.accounts if account else self.sessions
        if not key:
            self.firm = engaged
        elif engaged:
            target.add(key)
        else:
            target.discard(key)

    def state(self) -> dict[str, Any]:
        return {"firm": self.firm, "accounts": sorted(self.accounts),
                "sessions": sorted(self.sessions)}
