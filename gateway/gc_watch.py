"""The garbage collector, kept out of the order path's way, and watched.

A full collection walks every tracked object, so as a day's orders pile up in
memory its pauses grow with them (measured: ~15 ms fresh, ~180 ms after
100,000 orders). The done orders and everything else that lives long are
moved out of its reach by freezing them every second (young garbage is
collected first, so only long-lived cycles, which the server does not make on
purpose, are kept), and every pause is measured so operators see it.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

FREEZE_EVERY_S = 1.0


class GcWatch:
    def __init__(self) -> None:
        self._started: float | None = None
        self.pauses_ms: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self.max_ms = {0: 0.0, 1: 0.0, 2: 0.0}
        self.count = {0: 0, 1: 0, 2: 0}
        self.freezes = 0
        self._task: asyncio.Task[None] | None = None

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        if self._started is None:
            return
        ms = (time.perf_counter() - self._started) * 1000
        gen = int(info.get("generation", 0))
        self.count[gen] += 1
        self.max_ms[gen] = max(self.max_ms[gen], ms)
        recent = self.pauses_ms[gen]
        recent.append(ms)
        if len(recent) > 1000:
            del recent[:500]

    def start(self) -> None:
        gc.callbacks.append(self._callback)
        self._task = asyncio.get_running_loop().create_task(self._freezer(), name="gc-freezer")

    async def stop(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)
        if self._task is not None:
            self._task.cancel()

    async def _freezer(self) -> None:
        while True:
            await asyncio.sleep(FREEZE_EVERY_S)
            gc.collect(1)
            gc.freeze()
            self.freezes += 1

    def state(self) -> dict[str, Any]:
        return {
            "frozen_objects": gc.get_freeze_count(),
            "freezes": self.freezes,
            "collections": {str(g): {"count": self.count[g],
                                     "max_pause_ms": round(self.max_ms[g], 3),
                                     "last_pause_ms": round(self.pauses_ms[g][-1], 3)
                                     if self.pauses_ms[g] else None} for g in (0, 1, 2)},
        }
