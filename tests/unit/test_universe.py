"""The default universe's reference prices are the real closes they claim to be."""

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from oms.universe import REFERENCE_DATE, default_universe

DAILY = Path(__file__).resolve().parents[3] / "shared" / "data" / "daily"


@pytest.mark.skipif(not DAILY.is_dir(), reason="../shared/data is not beside the checkout")
def test_reference_prices_are_the_closes_of_the_reference_date():
    for inst in default_universe():
        with open(DAILY / f"{inst.symbol}.csv") as f:
            close = next(r["close"] for r in csv.DictReader(f) if r["date"] == REFERENCE_DATE)
        assert inst.reference_price == Decimal(close).quantize(Decimal("0.01")), inst.symbol


def test_universe_is_on_tick_and_unique():
    universe = default_universe()
    assert len({i.symbol for i in universe}) == len(universe) == 20
    assert all(i.on_tick(i.reference_price) for i in universe)
