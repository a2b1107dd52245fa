"""Kill switch: firm-wide and per account. While engaged, new orders are refused.

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

    def is_engaged(self, account: str) -> bool:
        return self.firm or account in self.accounts

    @staticmethod
    def event(account: str | None, engaged: bool, by: str) -> dict[str, Any]:
        return {"account": account, "engaged": engaged, "by": by}

    def apply(self, payload: dict[str, Any]) -> None:
        account = payload.get("account")
        engaged = bool(payload["engaged"])
        if account is None:
            self.firm = engaged
        elif engaged:
            self.accounts.add(account)
        else:
            self.accounts.discard(account)

    def state(self) -> dict[str, Any]:
        return {"firm": self.firm, "accounts": sorted(self.accounts)}
