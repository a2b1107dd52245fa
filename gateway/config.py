"""Server configuration: a TOML file, or the built-in demo config.

Every key is documented in README.md (section Configuration) and shown in
`examples/fixgate.toml`. Unknown keys are refused so a typo never silently
falls back to a default.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfoNotFoundError

from compliance.pretrade import SELF_MATCH_MODES, ComplianceRules
from gateway.profiles import load_profiles
from oms.execution.profile import ProfileError, VolumeProfile
from oms.instruments import Instrument
from oms.text import text_problem
from oms.trading_day import ALL_WEEK, MIDNIGHT, MONDAY_TO_FRIDAY, TradingCalendar, weekday_numbers
from risk.limits import LIMIT_KEYS, LimitError, Limits, parse_limits
from risk.stress import Scenario, StressError, scenario_from_csv

DEMO_CONFIG = """
[server]
data_dir = "var"
log_format = "console"

[database]
url = ""

[fix]
host = "127.0.0.1"
port = 9878
sender_comp_id = "FIXGATE"

[[fix.clients]]
comp_id = "CLIENT1"
begin_string = "FIX.4.4"
password = "client1-secret"
account = "ACC1"

[[fix.clients]]
comp_id = "CLIENT2"
begin_string = "FIX.4.2"
account = "ACC2"

[api]
host = "127.0.0.1"
port = 8000
jwt_secret = ""

[[api.users]]
name = "admin"
password = "admin"
roles = ["admin"]

[[api.users]]
name = "viewer"
password = "viewer"
roles = ["viewer"]

# Two independent simulated exchanges, so that pinning (ExDestination) and the router
# have a choice: SIM-A is the deeper, cheaper-to-take venue; SIM-B pays a maker rebate.
[[venues]]
name = "SIM-A"
kind = "sim"
seed = 7
maker_fee_bps = 0.2
taker_fee_bps = 0.3

[[venues]]
name = "SIM-B"
kind = "sim"
seed = 8
liquidity_scale = 0.6
maker_fee_bps = -0.2
taker_fee_bps = 0.5
latency_ms = 2
messages_per_second = 500

[limits]
max_order_qty = 100000
max_order_notional = 5000000
price_collar_pct = 10
"""


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class FixClientConfig:
    comp_id: str
    begin_string: str = "FIX.4.4"
    password: str | None = None
    account: str | None = None
    settings: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FixConfig:
    host: str = "127.0.0.1"
    port: int = 9878
    sender_comp_id: str = "FIXGATE"
    clients: tuple[FixClientConfig, ...] = ()
    settings: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ApiUser:
    name: str
    password: str
    roles: tuple[str, ...] = ("viewer",)


@dataclass(frozen=True)
class ApiConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    jwt_secret: str = ""
    token_ttl_s: int = 3600
    issuer: str = "fixgate"
    users: tuple[ApiUser, ...] = ()


@dataclass(frozen=True)
class VenueConfig:
    name: str
    kind: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ExecutionConfig:
    vwap_profiles: tuple[Path, ...] = ()  # the files, as configured
    # What they hold, per symbol; a symbol without one gets the U-shaped default.
    profiles: dict[str, VolumeProfile] = field(default_factory=dict)


@dataclass(frozen=True)
class VarConfig:
    """[var]: what GET /risk/var measures against."""

    benchmark: str = "SPY"        # beta and benchmark-equivalent exposure
    history_days: int = 500       # daily returns used, the newest
    monte_carlo_paths: int = 50_000
    monte_carlo_dist: str = "normal"  # or "t" (Student-t paths)
    t_df: float = 5.0             # degrees of freedom of the Student-t paths


@dataclass(frozen=True)
class Config:
    data_dir: Path = Path("var")
    log_format: str = "console"
    database_url: str = ""
    fix: FixConfig = field(default_factory=FixConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    venues: tuple[VenueConfig, ...] = (VenueConfig("SIM", "sim"),)
    limits: Limits = field(default_factory=Limits)
    compliance: ComplianceRules = field(default_factory=ComplianceRules)
    instruments: tuple[Instrument, ...] = ()  # added to the default universe
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    trading: TradingCalendar = field(default_factory=TradingCalendar)  # the trading day
    risk: RiskAnalyticsConfig = field(default_factory=lambda: RiskAnalyticsConfig())
    var: VarConfig = field(default_factory=lambda: VarConfig())


@dataclass(frozen=True)
class RiskAnalyticsConfig:
    """[risk]: correlation alerts and stress tests (risk/correlation.py, risk/stress.py)."""

    correlation_threshold: float | None = None  # a pair at or above it alerts; None: off
    average_correlation_threshold: float | None = None  # the held book's average
    correlation_window: int = 60  # returns per correlation
    correlation_interval_s: float = 60.0  # how often last trade prices are sampled
    impact_coefficient: float = 1.0  # Y of the square-root impact in liquidity stress
    scenario_files: tuple[Path, ...] = ()  # more stress scenarios, CSV (README)
    scenarios: tuple[Scenario, ...] = ()  # what those files hold, checked at load


_SECTIONS = {"server", "database", "fix", "api", "venues", "limits", "compliance", "instruments",
             "execution", "trading", "risk", "var"}
VALID_BEGIN_STRINGS = ("FIX.4.2", "FIX.4.4", "FIXT.1.1")
LOG_FORMATS = ("console", "json")
API_ROLES = ("admin", "risk", "compliance", "viewer")


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _table(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"[{where}] must be a table, got {_kind_of(value)}")
    return value


def _tables(value: Any, where: str) -> list[dict[str, Any]]:
    """An array of tables (`[[where]]`)."""
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise ConfigError(f"[[{where}]] must be an array of tables (write [[{where}]] once "
                          f"per entry), got {_kind_of(value)}")
    return value


def _take(table: Any, where: str, allowed: set[str] | Sequence[str],
          what: str = "") -> dict[str, Any]:
    """`table` if it is a table holding only `allowed` keys; else a ConfigError naming them."""
    table = _table(table, where)
    unknown = set(table) - set(allowed)
    if unknown:
        raise ConfigError(f"[{where}]: unknown key(s) {', '.join(sorted(unknown))}{what}; "
                          f"known: {', '.join(sorted(allowed))}")
    return table


def _text(value: str, key: str, where: str) -> str:
    problem = text_problem(value, key)
    if problem:
        raise ConfigError(f"[{where}] {problem}")
    return value


def _string(table: dict[str, Any], key: str, where: str, default: str | None = None,
            *, choices: Sequence[str] = (), required: bool = False) -> Any:
    if key not in table:
        if required:
            raise ConfigError(f"[{where}]: {key} is required")
        return default
    value = table[key]
    if not isinstance(value, str):
        raise ConfigError(f"[{where}] {key} must be a string, got {_kind_of(value)}")
    if required and not value:
        raise ConfigError(f"[{where}] {key} must not be empty")
    if choices and value not in choices:
        raise ConfigError(f"[{where}] {key} must be one of {', '.join(choices)}, got {value!r}")
    return _text(value, key, where)


def _integer(table: dict[str, Any], key: str, where: str, default: int,
             *, low: int | None = None, high: int | None = None) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"[{where}] {key} must be an integer, got {_kind_of(value)}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"at least {low}" if high is None else f"between {low} and {high}"
        raise ConfigError(f"[{where}] {key} must be {bounds}, got {value}")
    return value


def _number(table: dict[str, Any], key: str, where: str, default: float,
            *, positive: bool = False) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"[{where}] {key} must be a number, got {_kind_of(value)}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        word = "positive" if positive else "non-negative"
        raise ConfigError(f"[{where}] {key} must be a {word} number, got {value}")
    return float(value)


def _boolean(table: dict[str, Any], key: str, where: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"[{where}] {key} must be true or false, got {_kind_of(value)}")
    return value


def _strings(table: dict[str, Any], key: str, where: str, default: Sequence[str]) -> list[str]:
    value = table.get(key, list(default))
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"[{where}] {key} must be a list of strings, got {_kind_of(value)}")
    return [_text(v, key, where) for v in value]


def _settings(table: Any, where: str) -> dict[str, str]:
    if not isinstance(table, dict):
        raise ConfigError(f"[{where}] must be a table of quickfix settings")
    out = {}
    for k, v in table.items():
        if isinstance(v, dict | list):
            raise ConfigError(f"[{where}] {k} must be a string, number or boolean, "
                              f"got {_kind_of(v)}")
        text = ("Y" if v else "N") if isinstance(v, bool) else _text(str(v), str(k), where)
        out[_text(str(k), "setting name", where)] = text
    return out


def _bounded(table: dict[str, Any], key: str, where: str, low: float, high: float) -> float:
    """A number within [low, high] (both ends included)."""
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"[{where}] {key} must be a number, got {_kind_of(value)}")
    if not math.isfinite(value) or not low <= value <= high:
        raise ConfigError(f"[{where}] {key} must be between {low:g} and {high:g}, got {value}")
    return float(value)


def _sim_options(v: dict[str, Any], where: str) -> dict[str, Any]:
    opts: dict[str, Any] = {}
    if "seed" in v:
        opts["seed"] = _integer(v, "seed", where, 7)
    if "liquidity" in v:
        opts["liquidity"] = _boolean(v, "liquidity", where, True)
    if "tick_interval" in v:
        opts["tick_interval"] = _number(v, "tick_interval", where, 0.05, positive=True)
    if "liquidity_scale" in v:
        opts["liquidity_scale"] = _number(v, "liquidity_scale", where, 1.0, positive=True)
        if opts["liquidity_scale"] > 1000:
            raise ConfigError(f"[{where}] liquidity_scale must be at most 1000, "
                              f"got {v['liquidity_scale']}")
    # A negative maker fee is a rebate; a taker rebate larger than any fee is a typo.
    if "maker_fee_bps" in v:
        opts["maker_fee_bps"] = _bounded(v, "maker_fee_bps", where, -100, 100)
    if "taker_fee_bps" in v:
        opts["taker_fee_bps"] = _bounded(v, "taker_fee_bps", where, -100, 100)
    if "latency_ms" in v:
        opts["latency_ms"] = _bounded(v, "latency_ms", where, 0, 60_000)
    if "messages_per_second" in v:
        opts["messages_per_second"] = _integer(v, "messages_per_second", where, 0, low=1)
    return opts


SIM_KEYS = ("seed", "liquidity", "tick_interval", "liquidity_scale", "maker_fee_bps",
            "taker_fee_bps", "latency_ms", "messages_per_second")


def _fix_venue_options(v: dict[str, Any], where: str) -> dict[str, Any]:
    """An upstream FIX venue (fixgate logs on as a QuickFIX initiator)."""
    for key in ("host", "port", "sender_comp_id", "target_comp_id"):
        if key not in v:
            raise ConfigError(f"[{where}]: {key} is required for a fix venue")
    return {
        "host": _string(v, "host", where, required=True),
        "port": _integer(v, "port", where, 0, low=1, high=65535),
        "sender_comp_id": _string(v, "sender_comp_id", where, required=True),
        "target_comp_id": _string(v, "target_comp_id", where, required=True),
        "begin_string": _string(v, "begin_string", where, "FIX.4.4",
                                choices=("FIX.4.4", "FIX.4.2")),
        "password": _string(v, "password", where),
        "settings": _settings(v.get("settings", {}), f"{where}.settings"),
        "messages_per_second": (_integer(v, "messages_per_second", where, 0, low=1)
                                if "messages_per_second" in v else None),
    }


# Each venue kind: the options its table may hold (besides name and kind), and their check.
VENUE_KINDS: dict[str, tuple[tuple[str, ...], Callable[[dict[str, Any], str], dict[str, Any]]]] = {
    "sim": (SIM_KEYS, _sim_options),
    "fix": (("host", "port", "sender_comp_id", "target_comp_id", "begin_string", "password",
             "settings", "messages_per_second"), _fix_venue_options),
}


def _venues(raw: Any) -> tuple[VenueConfig, ...]:
    tables = _tables(raw, "venues")
    if not tables:
        raise ConfigError("[[venues]]: at least one venue is required")
    venues = []
    for i, v in enumerate(tables):
        where = f"venues[{i}]"
        if "name" not in v or "kind" not in v:
            raise ConfigError(f"[{where}]: name and kind are required")
        name = _string(v, "name", where, required=True)
        kind = _string(v, "kind", where, required=True)
        if kind not in VENUE_KINDS:
            raise ConfigError(f"[{where}] kind {kind!r} is not supported; supported kinds: "
                              f"{', '.join(VENUE_KINDS)}")
        known, check = VENUE_KINDS[kind]
        _take(v, where, ("name", "kind", *known), what=f" for a {kind} venue ({name})")
        venues.append(VenueConfig(name, kind, check(v, where)))
    names = [v.name for v in venues]
    if len(set(names)) != len(names):
        raise ConfigError("[[venues]]: name values must be unique")
    return tuple(venues)


def parse_config(text: str, *, base_dir: Path | None = None) -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config is not valid TOML: {exc}") from exc
    _take(raw, "top level", _SECTIONS)
    server = _take(raw.get("server", {}), "server", {"data_dir", "log_format"})
    database = _take(raw.get("database", {}), "database", {"url"})
    fix = _take(
        raw.get("fix", {}), "fix", {"host", "port", "sender_comp_id", "clients", "settings"}
    )
    api = _take(
        raw.get("api", {}), "api", {"host", "port", "jwt_secret", "token_ttl_s", "issuer", "users"}
    )
    limits = _take(raw.get("limits", {}), "limits", set(LIMIT_KEYS))

    clients = []
    for i, c in enumerate(_tables(fix.get("clients", []), "fix.clients")):
        where = f"fix.clients[{i}]"
        c = _take(c, where, {"comp_id", "begin_string", "password", "account", "settings"})
        comp_id = _string(c, "comp_id", where, required=True)
        begin = _string(c, "begin_string", where, "FIX.4.4")
        if begin not in VALID_BEGIN_STRINGS:
            raise ConfigError(
                f"[{where}]: begin_string {begin!r} is not one of "
                f"{', '.join(VALID_BEGIN_STRINGS)}"
            )
        clients.append(
            FixClientConfig(
                comp_id=comp_id,
                begin_string=begin,
                password=_string(c, "password", where),
                account=_string(c, "account", where),
                settings=_settings(c.get("settings", {}), f"{where}.settings"),
            )
        )
    comp_ids = [c.comp_id for c in clients]
    if len(set(comp_ids)) != len(comp_ids):
        raise ConfigError("[fix.clients]: comp_id values must be unique")

    users = []
    for i, u in enumerate(_tables(api.get("users", []), "api.users")):
        where = f"api.users[{i}]"
        u = _take(u, where, {"name", "password", "roles"})
        if "name" not in u or "password" not in u:
            raise ConfigError(f"[{where}]: name and password are required")
        roles = _strings(u, "roles", where, ["viewer"])
        unknown_roles = sorted(set(roles) - set(API_ROLES))
        if unknown_roles:
            raise ConfigError(f"[{where}] roles: unknown role(s) {', '.join(unknown_roles)}; "
                              f"known: {', '.join(API_ROLES)}")
        users.append(ApiUser(_string(u, "name", where, required=True),
                             _string(u, "password", where, required=True), tuple(roles)))
    user_names = [u.name for u in users]
    if len(set(user_names)) != len(user_names):
        raise ConfigError("[api.users]: name values must be unique")

    venues = _venues(raw.get("venues", [{"name": "SIM", "kind": "sim"}]))

    data_dir = Path(_string(server, "data_dir", "server", "var"))
    if base_dir is not None and not data_dir.is_absolute():
        data_dir = base_dir / data_dir
    try:
        firm_limits = Limits(**parse_limits(limits))
    except LimitError as exc:
        raise ConfigError(f"[limits]: {exc}") from exc
    compliance = _compliance(raw.get("compliance", {}))
    trading = _trading(raw.get("trading"), raw.get("compliance", {}).get("trading_hours"))
    instruments = tuple(_instrument(t, i) for i, t in
                        enumerate(_tables(raw.get("instruments", []), "instruments")))
    execution = _execution(raw.get("execution", {}))
    risk = _risk(raw.get("risk", {}), base_dir)
    return Config(
        data_dir=data_dir,
        log_format=_string(server, "log_format", "server", "console", choices=LOG_FORMATS),
        database_url=_string(database, "url", "database", ""),
        fix=FixConfig(
            host=_string(fix, "host", "fix", "127.0.0.1"),
            port=_integer(fix, "port", "fix", 9878, low=0, high=65535),
            sender_comp_id=_string(fix, "sender_comp_id", "fix", "FIXGATE"),
            clients=tuple(clients),
            settings=_settings(fix.get("settings", {}), "fix.settings"),
        ),
        api=ApiConfig(
            host=_string(api, "host", "api", "127.0.0.1"),
            port=_integer(api, "port", "api", 8000, low=0, high=65535),
            jwt_secret=_string(api, "jwt_secret", "api", ""),
            token_ttl_s=_integer(api, "token_ttl_s", "api", 3600, low=1),
            issuer=_string(api, "issuer", "api", "fixgate"),
            users=tuple(users),
        ),
        venues=venues,
        limits=firm_limits,
        compliance=compliance,
        instruments=instruments,
        execution=execution,
        trading=trading,
        risk=risk,
        var=_var(raw.get("var", {})),
    )


def _var(table: Any) -> VarConfig:
    t = _take(table, "var", {"benchmark", "history_days", "monte_carlo_paths",
                             "monte_carlo_dist", "t_df"})
    df = _number(t, "t_df", "var", 5.0)
    if df <= 2:
        raise ConfigError(f"[var] t_df must be more than 2 (a finite variance), got {df}")
    return VarConfig(
        benchmark=_string(t, "benchmark", "var", "SPY").upper(),
        history_days=_integer(t, "history_days", "var", 500, low=20, high=10_000),
        monte_carlo_paths=_integer(t, "monte_carlo_paths", "var", 50_000, low=1_000,
                                   high=1_000_000),
        monte_carlo_dist=_string(t, "monte_carlo_dist", "var", "normal",
                                 choices=("normal", "t")),
        t_df=df,
    )


def _risk(table: Any, base_dir: Path | None) -> RiskAnalyticsConfig:
    where = "risk"
    t = _take(table, where, {"correlation_threshold", "average_correlation_threshold",
                             "correlation_window", "correlation_interval_s",
                             "impact_coefficient", "scenario_files"})
    thresholds = []
    for key in ("correlation_threshold", "average_correlation_threshold"):
        value = t.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or not -1 <= value <= 1):
            raise ConfigError(f"[{where}] {key} must be a correlation between -1 and 1, "
                              f"got {value!r}")
        thresholds.append(None if value is None else float(value))
    files = []
    for name in _strings(t, "scenario_files", where, []):
        path = Path(name)
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        if not path.is_file():
            raise ConfigError(f"[{where}] scenario_files: no such file {name!r}")
        files.append(path)
    scenarios = []
    for path in files:
        try:
            scenarios.append(scenario_from_csv(path.stem, path.read_text()))
        except (StressError, UnicodeDecodeError) as exc:
            raise ConfigError(f"[{where}] scenario_files: {path}: {exc}") from None
    if len({s.name for s in scenarios}) != len(scenarios):
        raise ConfigError(f"[{where}] scenario_files: two files have the same name")
    return RiskAnalyticsConfig(
        correlation_threshold=thresholds[0], average_correlation_threshold=thresholds[1],
        correlation_window=_integer(t, "correlation_window", where, 60, low=2, high=10_000),
        correlation_interval_s=_number(t, "correlation_interval_s", where, 60.0, positive=True),
        impact_coefficient=_number(t, "impact_coefficient", where, 1.0),
        scenario_files=tuple(files), scenarios=tuple(scenarios))


def _execution(table: Any) -> ExecutionConfig:
    t = _take(table, "execution", {"vwap_profiles"})
    files = tuple(Path(f) for f in _strings(t, "vwap_profiles", "execution", []))
    for f in files:
        if not f.is_file():
            raise ConfigError(f"[execution] vwap_profiles: no such file {str(f)!r} "
                              "(build one with `fixgate profile build`)")
    try:
        profiles = load_profiles(files)
    except ProfileError as exc:
        raise ConfigError(f"[execution] vwap_profiles: {exc}") from None
    return ExecutionConfig(files, profiles)


def _instrument(table: dict[str, Any], i: int) -> Instrument:
    where = f"instruments[{i}]"
    t = _take(table, where, {"symbol", "sector", "reference_price", "tick_size", "lot_size"})
    if "symbol" not in t or "reference_price" not in t:
        raise ConfigError(f"[{where}]: symbol and reference_price are required")
    symbol = _string(t, "symbol", where, required=True)
    sector = _string(t, "sector", where, "")
    values = []
    for key, default in (("reference_price", 0), ("tick_size", "0.01"), ("lot_size", 1)):
        raw = t.get(key, default)
        try:
            if isinstance(raw, bool):
                raise InvalidOperation
            values.append(Decimal(str(raw)))
        except ArithmeticError:
            raise ConfigError(f"[{where}]: prices and sizes must be numbers, "
                              f"got {key} = {raw!r}") from None
    if any(not v.is_finite() or v <= 0 for v in values):
        raise ConfigError(f"[{where}]: prices and sizes must be positive")
    return Instrument(symbol, sector, values[1], values[2], values[0])


def _clock_time(value: Any, where: str) -> dt.time:
    if isinstance(value, dt.time):  # a TOML local time: start = 09:30:00
        return value
    try:
        return dt.time.fromisoformat(value)
    except (TypeError, ValueError):
        section, _, key = where.rpartition(".")
        raise ConfigError(f"[{section}] {key} must be HH:MM, got {value!r}") from None


def _timezone(table: dict[str, Any], where: str, default: str) -> str:
    timezone = _string(table, "timezone", where, default)
    try:
        TradingCalendar(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"[{where}] unknown timezone {timezone!r}") from None
    return str(timezone)


def _trading(table: Any, legacy: Any) -> TradingCalendar:
    """[trading]: the one trading calendar. [compliance.trading_hours] (start, end,
    timezone; Monday to Friday) is the older spelling of the same hours."""
    if table is not None and legacy is not None:
        raise ConfigError("[trading] and [compliance.trading_hours] both set trading hours: "
                          "keep [trading] (open, close, timezone, weekdays)")
    if legacy is not None:
        where = "compliance.trading_hours"
        hours = _take(legacy, where, {"start", "end", "timezone"})
        timezone = _timezone(hours, where, "America/New_York")
        if "start" not in hours or "end" not in hours:
            return TradingCalendar()  # as before: without both, around the clock
        return TradingCalendar(timezone, _clock_time(hours["start"], f"{where}.start"),
                               _clock_time(hours["end"], f"{where}.end"), MONDAY_TO_FRIDAY)
    where = "trading"
    t = _take(table if table is not None else {}, where,
              {"timezone", "open", "close", "weekdays"})
    timezone = _timezone(t, where, "UTC")
    opens = _clock_time(t["open"], "trading.open") if "open" in t else None
    if "close" in t:
        closes = _clock_time(t["close"], "trading.close")
    elif opens is not None:
        raise ConfigError("[trading] open needs a close")
    else:
        closes = MIDNIGHT
    if opens is not None and opens == closes:
        raise ConfigError("[trading] open and close must differ")
    default_days = ("Mon", "Tue", "Wed", "Thu", "Fri") if opens is not None else ()
    names = _strings(t, "weekdays", where, default_days)
    if "weekdays" in t and not names:
        raise ConfigError("[trading] weekdays must name at least one day")
    try:
        days = weekday_numbers(names) if names else (
            MONDAY_TO_FRIDAY if opens is not None else ALL_WEEK)
    except ValueError as exc:
        raise ConfigError(f"[trading] weekdays: {exc}") from None
    return TradingCalendar(timezone, opens, closes, days)


def _owner_groups(table: Any) -> dict[str, str]:
    where = "compliance.owner_groups"
    groups: dict[str, str] = {}
    for group, accounts in _table(table, where).items():
        if not isinstance(accounts, list) or not all(isinstance(a, str) for a in accounts):
            raise ConfigError(f"[{where}] {group} must be a list of account names, "
                              f"got {_kind_of(accounts)}")
        for account in accounts:
            if account in groups and groups[account] != group:
                raise ConfigError(f"[{where}] account {account} is in two groups: "
                                  f"{groups[account]} and {group}")
            groups[_text(account, str(group), where)] = _text(str(group), "group", where)
    return groups


def _compliance(table: Any) -> ComplianceRules:
    c = _take(table, "compliance", {"sell_short_action", "duplicate_window_s", "duplicate_action",
                                    "self_match", "owner_groups", "trading_hours"})
    choices = {"sell_short_action": ("refuse", "remark"), "duplicate_action": ("reject", "flag"),
               "self_match": SELF_MATCH_MODES}
    for key, allowed in choices.items():
        if key in c and c[key] not in allowed:
            raise ConfigError(f"[compliance] {key} must be one of {', '.join(allowed)}, "
                              f"got {c[key]!r}")
    groups = _owner_groups(c.get("owner_groups", {}))
    return ComplianceRules(
        sell_short_action=c.get("sell_short_action", "refuse"),
        duplicate_window_s=_number(c, "duplicate_window_s", "compliance", 0),
        duplicate_action=c.get("duplicate_action", "reject"),
        self_match=c.get("self_match", "off"),
        owner_groups=groups,
    )


def load_config(path: str | Path | None, data_dir: str | Path | None = None) -> Config:
    """The config file (the demo config without one); `data_dir` overrides
    server.data_dir, as the commands' --data-dir does."""
    if path is None:
        config = parse_config(DEMO_CONFIG)
    else:
        p = Path(path)
        try:
            text = p.read_text()
        except OSError as exc:
            raise ConfigError(f"cannot read config {p}: {exc}") from exc
        config = parse_config(text)
    if data_dir:
        config = dataclasses.replace(config, data_dir=Path(data_dir))
    return config
