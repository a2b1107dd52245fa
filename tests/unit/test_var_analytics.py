"""VaR/ES three ways against closed forms, decomposition, beta, Ledoit-Wolf, backtests."""

import math
from statistics import NormalDist

import numpy as np
import pytest

from risk.analytics import (
    basel_zone,
    beta,
    christoffersen_independence,
    component_var,
    correlation_breakdown,
    historical_var,
    kupiec_pof,
    ledoit_wolf,
    monte_carlo_var,
    parametric_from_history,
    parametric_var,
    rolling_backtest,
)

N = NormalDist()
COV = np.array([[0.0004, 0.00012], [0.00012, 0.0009]])  # 2 % and 3 % daily, rho 0.2
VALUES = np.array([1_000_000.0, -400_000.0])


def sigma_p(cov: np.ndarray = COV, w: np.ndarray = VALUES) -> float:
    return math.sqrt(float(w @ cov @ w))


def test_parametric_equals_the_normal_formula() -> None:
    s = sigma_p()
    r = parametric_var(np.zeros(2), COV, VALUES, 0.99, 1)
    assert r.var == pytest.approx(2.3263478740 * s, rel=1e-9)
    assert r.es == pytest.approx(s * N.pdf(2.3263478740) / 0.01, rel=1e-8)
    ten = parametric_var(np.zeros(2), COV, VALUES, 0.95, 10)
    assert ten.var == pytest.approx(1.6448536270 * s * math.sqrt(10), rel=1e-9)
    # a mean shifts the loss by h * mu_p
    mu = np.array([0.001, 0.0])
    assert parametric_var(mu, COV, VALUES, 0.99, 10).var == pytest.approx(
        2.3263478740 * s * math.sqrt(10) - 10 * 1000.0, rel=1e-9)


def test_cornish_fisher_fattens_the_tail_and_reduces_to_normal() -> None:
    plain = parametric_var(np.zeros(2), COV, VALUES, 0.99)
    assert parametric_var(np.zeros(2), COV, VALUES, 0.99, skew=1e-12,
                          exkurt=0.0).var == pytest.approx(plain.var, rel=1e-6)
    fat = parametric_var(np.zeros(2), COV, VALUES, 0.99, skew=-0.5, exkurt=4.0)
    assert fat.var > plain.var and fat.es > fat.var
    # the adjusted quantile, written out: z + (z^2-1)S/6 + (z^3-3z)K/24 - (2z^3-5z)S^2/36
    z = N.inv_cdf(0.01)
    zcf = z + (z * z - 1) * -0.5 / 6 + (z**3 - 3 * z) * 4.0 / 24 - (2 * z**3 - 5 * z) * 0.25 / 36
    assert fat.var == pytest.approx(-zcf * sigma_p(), rel=1e-9)


def test_historical_is_the_order_statistic() -> None:
    # 200 scenarios whose P&L is -1..-200 shuffled: at 95 % the tail holds 10, VaR is the
    # 10th worst loss (191) and ES the mean of the 10 worst (195.5)
    pnl = -np.random.default_rng(3).permutation(np.arange(1, 201, dtype=float))
    r = historical_var(pnl[:, None], np.array([1.0]), 0.95)
    assert (r.var, r.es) == (191.0, 195.5)
    # one position worth 2: everything doubles; 99 % of 200 -> 2 in the tail
    r2 = historical_var(pnl[:, None], np.array([2.0]), 0.99)
    assert (r2.var, r2.es) == (398.0, 399.0)


def test_historical_horizon_uses_overlapping_sums() -> None:
    daily = np.array([-1.0, -2.0, 3.0, -4.0, 0.5])
    r = historical_var(daily[:, None], np.array([1.0]), 0.5, horizon_days=2)
    # two-day sums: -3, 1, -1, -3.5 -> tail of 2: worst 3.5 and 3
    assert (r.var, r.es) == (3.0, 3.25)
    with pytest.raises(ValueError, match="too few"):
        historical_var(daily[:, None], np.array([1.0]), 0.99, horizon_days=6)


def test_monte_carlo_normal_converges_to_the_formula_and_is_seeded() -> None:
    mc = monte_carlo_var(np.zeros(2), COV, VALUES, 0.99, 1, paths=200_000, seed=7)
    exact = parametric_var(np.zeros(2), COV, VALUES, 0.99, 1)
    assert mc.var == pytest.approx(exact.var, rel=0.02)
    assert mc.es == pytest.approx(exact.es, rel=0.02)
    assert monte_carlo_var(np.zeros(2), COV, VALUES, paths=10_000, seed=7) == \
        monte_carlo_var(np.zeros(2), COV, VALUES, paths=10_000, seed=7)
    ten = monte_carlo_var(np.zeros(2), COV, VALUES, 0.99, 10, paths=200_000, seed=7)
    assert ten.var == pytest.approx(mc.var * math.sqrt(10), rel=1e-9)


def test_monte_carlo_student_t_has_a_fatter_99_9_tail_than_normal() -> None:
    normal = monte_carlo_var(np.zeros(2), COV, VALUES, 0.999, paths=200_000, seed=1)
    t = monte_carlo_var(np.zeros(2), COV, VALUES, 0.999, paths=200_000, seed=1, dist="t", df=4)
    assert t.var > normal.var * 1.1 and t.es > t.var
    with pytest.raises(ValueError, match="df > 2"):
        monte_carlo_var(np.zeros(2), COV, VALUES, dist="t", df=2)


@pytest.mark.parametrize("confidence", [0.95, 0.99])
def test_es_is_at_least_var_for_every_method(confidence: float) -> None:
    rng = np.random.default_rng(11)
    rets = rng.standard_t(4, size=(750, 3)) * 0.01
    w = np.array([1e6, 5e5, -2e5])
    for r in (historical_var(rets, w, confidence),
              parametric_from_history(rets, w, confidence),
              parametric_from_history(rets, w, confidence, cornish_fisher=True),
              monte_carlo_var(rets.mean(0), np.cov(rets.T), w, confidence, paths=20_000)):
        assert r.es >= r.var > 0


def test_out_of_range_confidence_and_horizon_are_refused() -> None:
    for bad in (1.0, 0.2, 1.5):
        with pytest.raises(ValueError, match="confidence"):
            parametric_var(np.zeros(2), COV, VALUES, bad)
    with pytest.raises(ValueError, match="horizon"):
        parametric_var(np.zeros(2), COV, VALUES, 0.99, 0)


def test_components_sum_to_var_and_marginal_is_the_derivative() -> None:
    d = component_var(COV, VALUES, 0.99)
    total = parametric_var(np.zeros(2), COV, VALUES, 0.99).var
    assert d.component.sum() == pytest.approx(total, rel=1e-12)
    bump = VALUES + np.array([1.0, 0.0])
    numeric = parametric_var(np.zeros(2), COV, bump, 0.99).var - total
    assert d.marginal[0] == pytest.approx(numeric, rel=1e-4)
    mu = np.array([0.0005, 0.001])
    with_mean = component_var(COV, VALUES, 0.99, 10, mu)
    assert with_mean.component.sum() == pytest.approx(
        parametric_var(mu, COV, VALUES, 0.99, 10).var, rel=1e-12)


def test_beta_and_benchmark_equivalent_exposure() -> None:
    rng = np.random.default_rng(5)
    bench = rng.normal(0, 0.01, 2000)
    a = 1.5 * bench  # beta 1.5 exactly
    b = -0.5 * bench
    exposure, b_ = beta(np.column_stack([a, b]), bench, np.array([100.0, 100.0]))
    assert exposure == pytest.approx(150 - 50)
    assert b_ == pytest.approx(0.5)
    assert beta(np.column_stack([a, b]), bench, np.array([100.0, -100.0]))[1] is None


def _ledoit_wolf_by_the_paper(x: np.ndarray) -> float:
    """Shrinkage intensity written term by term from Ledoit & Wolf (2004), Lemma 3.2-3.4."""
    n, p = x.shape
    x = x - x.mean(0)
    s = x.T @ x / n
    m = np.trace(s) / p
    d2 = np.sum((s - m * np.eye(p)) ** 2) / p
    b2 = sum(np.sum((np.outer(xk, xk) - s) ** 2) / p for xk in x) / n**2
    return float(min(b2, d2) / d2)


def test_ledoit_wolf_matches_the_published_formula() -> None:
    rng = np.random.default_rng(2)
    x = rng.multivariate_normal(np.zeros(4), COV[0, 0] * np.eye(4) + 0.0001, size=30)
    cov, shrink = ledoit_wolf(x)
    assert shrink == pytest.approx(_ledoit_wolf_by_the_paper(x), rel=1e-10)
    assert 0 < shrink < 1
    s = np.cov(x.T, bias=True)
    target = np.trace(s) / 4 * np.eye(4)
    assert np.allclose(cov, (1 - shrink) * s + shrink * target)
    try:
        from sklearn.covariance import ledoit_wolf as sk
    except ImportError:
        return
    ref, ref_shrink = sk(x)
    assert shrink == pytest.approx(ref_shrink) and np.allclose(cov, ref)


def test_ledoit_wolf_keeps_many_symbols_and_a_short_window_invertible() -> None:
    x = np.random.default_rng(0).normal(0, 0.01, size=(60, 200))  # more symbols than days
    assert np.linalg.matrix_rank(np.cov(x.T)) < 200
    cov, shrink = ledoit_wolf(x)
    assert shrink > 0.5 and np.linalg.eigvalsh(cov).min() > 0


def test_correlation_breakdown_raises_var_of_a_diversified_book() -> None:
    w = np.array([1e6, 1e6])
    base, full = correlation_breakdown(COV, w, 1.0)
    vol = np.sqrt(np.diag(COV))
    assert full == pytest.approx(2.3263478740 * float(vol @ w), rel=1e-9)  # rho = 1: add up
    assert base == pytest.approx(parametric_var(np.zeros(2), COV, w).var)
    half = correlation_breakdown(COV, w, 0.5)[1]
    assert base < half < full
    assert correlation_breakdown(COV, w, 0.0)[1] == pytest.approx(base)


# --- backtest statistics -------------------------------------------------------------------

@pytest.mark.parametrize(("n", "accepted", "rejected"), [
    # Jorion, Value at Risk, table "non-rejection regions for the number of failures",
    # p = 1 %, 95 % test confidence: T = 252: N < 7; T = 1000: 4 < N < 17 (at T = 252 no
    # failure at all is itself rejected by the LR statistic, 5.07 > 3.84: the table's lower
    # bound is the count a risk manager would complain about)
    (252, [1, 6], [7]),
    (1000, [5, 16], [4, 17]),
])
def test_kupiec_non_rejection_regions_match_the_textbook(n: int, accepted: list[int],
                                                          rejected: list[int]) -> None:
    for x in accepted:
        assert kupiec_pof(n, x, 0.99)[1] > 0.05, x
    for x in rejected:
        assert kupiec_pof(n, x, 0.99)[1] < 0.05, x


def test_kupiec_statistic_value() -> None:
    # T = 250, x = 5, p = 1 %: LR = -2 ln[(.99^245 .01^5) / ((245/250)^245 (5/250)^5)] = 1.9568
    lr, pvalue = kupiec_pof(250, 5, 0.99)
    assert lr == pytest.approx(1.9568, abs=1e-4)
    assert pvalue == pytest.approx(0.1618, abs=1e-4)
    assert kupiec_pof(250, 0, 0.99)[0] == pytest.approx(-2 * 250 * math.log(0.99))


def test_christoffersen_independence_against_a_hand_count() -> None:
    # 0 0 1 1 0 0 0 0 1 0: n00=4 n01=2 n10=2 n11=1; pi0=1/3 pi1=1/3 pi=1/3 -> LR = 0
    lr, p = christoffersen_independence(np.array([0, 0, 1, 1, 0, 0, 0, 0, 1, 0]))
    assert lr == pytest.approx(0.0, abs=1e-12) and p == pytest.approx(1.0)
    # clustered: 95 quiet days, then 5 exceptions in a row: n00=94 n01=1 n10=0 n11=4,
    # pi = 5/99, pi0 = 1/95, pi1 = 4/4
    h = np.r_[np.zeros(95), np.ones(5)]
    pi, pi0 = 5 / 99, 1 / 95
    expected = -2 * (94 * math.log(1 - pi) + 5 * math.log(pi)
                     - 94 * math.log(1 - pi0) - math.log(pi0))
    lr, p = christoffersen_independence(h)
    assert lr == pytest.approx(expected, rel=1e-12)
    assert p < 1e-4


@pytest.mark.parametrize(("x", "zone"), [(0, "green"), (4, "green"), (5, "yellow"),
                                         (9, "yellow"), (10, "red"), (15, "red")])
def test_basel_zones_of_the_250_day_table(x: int, zone: str) -> None:
    assert basel_zone(250, x, 0.99) == zone


def test_rolling_backtest_on_normal_returns_passes_and_on_a_regime_change_fails() -> None:
    rng = np.random.default_rng(4)
    calm = rng.normal(0, 0.01, size=(1250, 3))
    res = rolling_backtest(calm, 250, 0.99, 250, paths=5000)
    for m in res.values():
        assert m.observations == 1000 and m.kupiec_p > 0.01 and m.zone != "red"
    storm = np.vstack([calm[:500], rng.normal(0, 0.04, size=(250, 3))])
    res = rolling_backtest(storm, 500, 0.99, 250, paths=5000)
    # volatility quadruples: every method is caught out before its window catches up
    assert all(m.kupiec_p < 0.05 and m.zone != "green" for m in res.values())


def test_daily_closes_hand_over_the_last_print_and_volume_and_start_a_new_day() -> None:
    import datetime as dt
    from decimal import Decimal

    from gateway.price_history import DailyClose, daily_closes
    from oms.marketdata import Quote, TradeTick
    from risk.daily_closes import DailyCloses

    closes = DailyCloses()
    ts = dt.datetime(2026, 1, 5, 15, tzinfo=dt.UTC)
    for px, qty in (("10.00", "100"), ("10.50", "50"), ("10.25", "25")):
        closes.on_market_data(TradeTick("ABC", Decimal(px), Decimal(qty), ts))
    closes.on_market_data(Quote("ABC", Decimal("1"), Decimal("1"), Decimal("2"), Decimal("1"),
                                ts))
    payload = {"date": "2026-01-05"}
    closes.day_close_payload(payload)
    assert payload["closes"] == {"ABC": {"close": "10.25", "volume": "175"}}
    assert daily_closes(payload) == [DailyClose("ABC", dt.date(2026, 1, 5), 10.25, 175)]
    empty = {"date": "2026-01-06"}
    closes.day_close_payload(empty)  # no print that day: nothing to write
    assert empty["closes"] == {} and daily_closes(empty) == []


def test_book_var_runs_the_asked_methods_and_says_when_history_is_short() -> None:
    from risk.analytics.book import book_var

    rets = np.random.default_rng(8).multivariate_normal(np.zeros(2), COV, size=300)
    full = book_var(rets, VALUES, 0.99, 1, benchmark=rets[:, 0])
    assert set(full.methods) == {"historical", "parametric", "monte_carlo"}
    assert full.component.sum() == pytest.approx(full.methods["parametric"].var)
    assert full.benchmark_exposure is not None and full.beta is not None
    t = book_var(rets, VALUES, 0.999, 1, ("monte_carlo",), dist="t", df=3.5)
    normal = book_var(rets, VALUES, 0.999, 1, ("monte_carlo",))
    assert list(t.methods) == ["monte_carlo"]
    assert t.methods["monte_carlo"].var > normal.methods["monte_carlo"].var
    short = book_var(rets[:25], VALUES, 0.99, 10, ("historical", "parametric"))
    assert list(short.methods) == ["parametric"] and "too few" in short.notes[0]
