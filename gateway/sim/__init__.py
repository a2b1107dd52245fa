"""The built-in simulated exchange (venue kind "sim")."""

from gateway.sim.exchange import SimExchange

__all__ = ["SimExchange"]
