"""Instruments and the symbol universe the server trades."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Instrument:
    symbol: str
    sector: str
    tick_size: Decimal
    lot_size: Decimal
    reference_price: Decimal

    def on_tick(self, price: Decimal) -> bool:
        return price % self.tick_size == 0


class Universe:
    """The symbols the server accepts, looked up by symbol."""

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        self._by_symbol = {i.symbol: i for i in instruments}

    def get(self, symbol: str) -> Instrument | None:
        return self._by_symbol.get(symbol)

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._by_symbol

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._by_symbol.values())

    def __len__(self) -> int:
        return len(self._by_symbol)
