"""The built-in simulated exchange (venue kind "sim")."""
