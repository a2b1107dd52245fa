"""The built-in simulated exchange (venue kind "sim")."""

from gateway.venues.sim.exchange import SimExchange

__all__ = ["SimExchange"]
