"""Execution: how an accepted order is worked at the venues.

Pure decision code, no I/O and no wall clock: the smart order router's split
(`router.py`) and the intraday volume profiles VWAP follows (`profile.py`).
"""
