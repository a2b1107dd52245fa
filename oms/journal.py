"""The journal protocol: an append-only, ordered log of events.

`append` writes one batch atomically and returns only once it is durable;
the OMS calls it once per loop turn with everything that turn produced
(group commit). The PostgreSQL implementation lives in gateway/; the
in-memory one here serves unit tests of the core.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from oms.events import OrderEvent, utcnow


@dataclass(frozen=True, slots=True)
class ControlEvent:
    """A firm-level fact that is not about one order: kill switch engaged or released, …"""

    kind: str
    payload: dict[str, Any]
    ts: datetime = field(default_factory=utcnow)


JournalEntry = OrderEvent | ControlEvent


class Journal(Protocol):
    async def append(self, entries: Sequence[JournalEntry]) -> None: ...

    async def load(self) -> list[JournalEntry]: ...


class InMemoryJournal:
    def __init__(self) -> None:
        self.entries: list[JournalEntry] = []
        self.batches = 0

    async def append(self, entries: Sequence[JournalEntry]) -> None:
        self.entries.extend(entries)
        self.batches += 1

    async def load(self) -> list[JournalEntry]:
        return list(self.entries)
