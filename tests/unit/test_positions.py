from decimal import Decimal as D

from oms.positions import Position


def test_average_cost_adds_and_realises_on_reduction():
    p = Position("ACC1", "AAPL")
    p.apply_fill(D(100), D(10))
    p.apply_fill(D(100), D(12))
    assert (p.qty, p.avg_px) == (200, 11)
    p.apply_fill(D(-50), D(13))
    assert (p.qty, p.avg_px, p.realized_pnl) == (150, 11, 100)


def test_flip_from_long_to_short_opens_at_fill_price():
    p = Position("ACC1", "AAPL")
    p.apply_fill(D(100), D(10))
    p.apply_fill(D(-150), D(9))
    assert p.qty == -50
    assert p.avg_px == 9
    assert p.realized_pnl == -100


def test_short_covered_at_lower_price_is_profit():
    p = Position("ACC1", "AAPL")
    p.apply_fill(D(-100), D(20))
    p.apply_fill(D(100), D(18))
    assert (p.qty, p.avg_px, p.realized_pnl) == (0, 0, 200)
