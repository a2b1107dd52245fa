"""Portfolio risk analytics on arrays: VaR/ES three ways, decomposition, beta,
shrinkage covariance, correlation breakdown, VaR backtests. No I/O, no clock."""

from risk.analytics.backtest import (
    basel_zone,
    christoffersen_independence,
    kupiec_pof,
    rolling_backtest,
)
from risk.analytics.measures import (
    VarResult,
    beta,
    component_var,
    correlation_breakdown,
    historical_var,
    ledoit_wolf,
    monte_carlo_var,
    parametric_from_history,
    parametric_var,
)

__all__ = [
    "VarResult", "basel_zone", "beta", "christoffersen_independence", "component_var",
    "correlation_breakdown", "historical_var", "kupiec_pof", "ledoit_wolf",
    "monte_carlo_var", "parametric_from_history", "parametric_var", "rolling_backtest",
]
