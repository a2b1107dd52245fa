"""Compliance reference data: restricted and watch lists, locates, instrument status.

Each changes only by a journaled control event (who, when, what), so the lists
in force are rebuilt from the database at start.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

RESTRICTED_KIND = "restricted_list"
LOCATE_KIND = "locate"
STATUS_KIND = "instrument_status"
FIRM = "*"  # the account key of a firm-wide entry


@dataclass(frozen=True, slots=True)
class ListEntry:
    symbol: str
    account: str | None  # None: the whole firm
    kind: str  # "restricted" or "watch"

    def to_dict(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "account": self.account, "kind": self.kind}


class RestrictedList:
    """Set lookups by (account, symbol): O(1) per order however long the list is."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], ListEntry] = {}

    def lookup(self, account: str, symbol: str) -> ListEntry | None:
        """The entry that applies: an account's own entry first, then the firm's."""
        return self._entries.get((account, symbol)) or self._entries.get((FIRM, symbol))

    @staticmethod
    def event(symbol: str, account: str | None, kind: str | None, by: str) -> dict[str, Any]:
        """kind None removes the entry."""
        return {"symbol": symbol, "account": account, "kind": kind, "by": by}

    def apply(self, payload: dict[str, Any]) -> None:
        account = payload.get("account")
        key = (account or FIRM, payload["symbol"])
        if payload.get("kind") is None:
            self._entries.pop(key, None)
        else:
            self._entries[key] = ListEntry(payload["symbol"], account, payload["kind"])

    def has(self, account: str | None, symbol: str) -> bool:
        return (account or FIRM, symbol) in self._entries

    def entries(self) -> list[ListEntry]:
        return sorted(self._entries.values(), key=lambda e: (e.symbol, e.account or ""))

    def __len__(self) -> int:
        return len(self._entries)


class Locates:
    """Shares located for short sale, per account and symbol (the latest figure wins)."""

    def __init__(self) -> None:
        self.qty: dict[tuple[str, str], Decimal] = {}

    @staticmethod
    def event(account: str, symbol: str, qty: Decimal, by: str) -> dict[str, Any]:
        return {"account": account, "symbol": symbol, "qty": str(qty), "by": by}

    def apply(self, payload: dict[str, Any]) -> None:
        self.qty[(payload["account"], payload["symbol"])] = Decimal(payload["qty"])

    def get(self, account: str, symbol: str) -> Decimal:
        return self.qty.get((account, symbol), Decimal(0))

    def entries(self) -> list[dict[str, str]]:
        return [{"account": account, "symbol": symbol, "qty": str(qty)}
                for (account, symbol), qty in sorted(self.qty.items())]


class InstrumentStatus:
    """Halted symbols; everything else trades."""

    def __init__(self) -> None:
        self.halted: dict[str, str] = {}  # symbol -> reason

    @staticmethod
    def event(symbol: str, halted: bool, reason: str, by: str) -> dict[str, Any]:
        return {"symbol": symbol, "halted": halted, "reason": reason, "by": by}

    def apply(self, payload: dict[str, Any]) -> None:
        if payload["halted"]:
            self.halted[payload["symbol"]] = payload.get("reason", "")
        else:
            self.halted.pop(payload["symbol"], None)
