"""Untriggered stop orders of one symbol, kept sorted by stop price.

A trade at price P touches every buy stop at or below P and every sell stop at
or above P, so each check is a binary search plus the touched slice, however
many stops wait.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, bisect_right, insort
from decimal import Decimal

_Entry = tuple[Decimal, int, str]  # stop price, arrival sequence, order id


def _px(entry: _Entry) -> Decimal:
    return entry[0]


def is_touched(is_buy: bool, stop_px: Decimal, last: Decimal | None) -> bool:
    if last is None:
        return False
    return last >= stop_px if is_buy else last <= stop_px


class StopBook:
    def __init__(self) -> None:
        self._buys: list[_Entry] = []  # ascending by stop price
        self._sells: list[_Entry] = []
        self._entries: dict[str, tuple[bool, _Entry]] = {}
        self._seq = itertools.count()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._entries

    def add(self, order_id: str, is_buy: bool, stop_px: Decimal) -> None:
        if order_id in self._entries:
            raise ValueError(f"stop {order_id!r} is already waiting")
        entry = (stop_px, next(self._seq), order_id)
        insort(self._buys if is_buy else self._sells, entry)
        self._entries[order_id] = (is_buy, entry)

    def remove(self, order_id: str) -> bool:
        found = self._entries.pop(order_id, None)
        if found is None:
            return False
        is_buy, entry = found
        entries = self._buys if is_buy else self._sells
        del entries[bisect_left(entries, entry)]
        return True

    def touched(self, price: Decimal) -> list[str]:
        """Take out and return the stops a trade at `price` triggers, in arrival order."""
        cut = bisect_right(self._buys, price, key=_px)
        hit = self._buys[:cut]
        del self._buys[:cut]
        cut = bisect_left(self._sells, price, key=_px)
        hit += self._sells[cut:]
        del self._sells[cut:]
        for _, _, order_id in hit:
            del self._entries[order_id]
        hit.sort(key=lambda e: e[1])
        return [order_id for _, _, order_id in hit]
