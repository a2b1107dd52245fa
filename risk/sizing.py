"""Position sizing helpers the strategies use: the Kelly fraction."""

from __future__ import annotations


def kelly_fraction(win_probability: float, win_loss_ratio: float, *,
                   fraction: float = 1.0, cap: float = 1.0) -> float:
    """Share of capital to risk on a bet won with probability p paying b per unit lost.

    f* = p - (1 - p) / b, scaled by `fraction` (half-Kelly is common: full Kelly is
    optimal only if p and b are known exactly) and clipped to [0, cap].
    """
    if not 0 <= win_probability <= 1:
        raise ValueError(f"win_probability must be in [0, 1], got {win_probability}")
    if win_loss_ratio <= 0:
        raise ValueError(f"win_loss_ratio must be positive, got {win_loss_ratio}")
    f = win_probability - (1 - win_probability) / win_loss_ratio
    return max(0.0, min(cap, f * fraction))


def kelly_continuous(expected_return: float, variance: float, *, fraction: float = 1.0,
                     cap: float = 1.0) -> float:
    """Kelly leverage for a continuous return stream: mu / sigma^2, scaled and clipped."""
    if variance <= 0:
        raise ValueError(f"variance must be positive, got {variance}")
    return max(0.0, min(cap, expected_return / variance * fraction))
