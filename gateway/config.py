"""Server configuration: a TOML file, or the built-in demo config.

Every key is documented in README.md (section Configuration) and shown in
`examples/fixgate.toml`. Unknown keys are refused so a typo never silently
falls back to a default.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from compliance.pretrade import SELF_MATCH_MODES, ComplianceRules
from oms.instruments import Instrument
from risk.limits import LIMIT_KEYS, LimitError, Limits, parse_limits

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

[[venues]]
name = "SIM"
kind = "sim"

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


_SECTIONS = {"server", "database", "fix", "api", "venues", "limits", "compliance", "instruments"}
VALID_BEGIN_STRINGS = ("FIX.4.2", "FIX.4.4", "FIXT.1.1")


def _take(table: dict[str, Any], where: str, allowed: set[str]) -> dict[str, Any]:
    unknown = set(table) - allowed
    if unknown:
        raise ConfigError(f"[{where}]: unknown key(s) {', '.join(sorted(unknown))}")
    return table


def _settings(table: Any, where: str) -> dict[str, str]:
    if not isinstance(table, dict):
        raise ConfigError(f"[{where}] must be a table of quickfix settings")
    out = {}
    for k, v in table.items():
        out[str(k)] = ("Y" if v else "N") if isinstance(v, bool) else str(v)
    return out


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
    for i, c in enumerate(fix.get("clients", [])):
        c = _take(
            c, f"fix.clients[{i}]", {"comp_id", "begin_string", "password", "account", "settings"}
        )
        if "comp_id" not in c:
            raise ConfigError(f"[fix.clients[{i}]]: comp_id is required")
        begin = c.get("begin_string", "FIX.4.4")
        if begin not in VALID_BEGIN_STRINGS:
            raise ConfigError(
                f"[fix.clients[{i}]]: begin_string {begin!r} is not one of "
                f"{', '.join(VALID_BEGIN_STRINGS)}"
            )
        clients.append(
            FixClientConfig(
                comp_id=c["comp_id"],
                begin_string=begin,
                password=c.get("password"),
                account=c.get("account"),
                settings=_settings(c.get("settings", {}), f"fix.clients[{i}].settings"),
            )
        )
    comp_ids = [c.comp_id for c in clients]
    if len(set(comp_ids)) != len(comp_ids):
        raise ConfigError("[fix.clients]: comp_id values must be unique")

    users = []
    for i, u in enumerate(api.get("users", [])):
        u = _take(u, f"api.users[{i}]", {"name", "password", "roles"})
        if "name" not in u or "password" not in u:
            raise ConfigError(f"[api.users[{i}]]: name and password are required")
        users.append(ApiUser(u["name"], u["password"], tuple(u.get("roles", ["viewer"]))))

    venues = []
    for i, v in enumerate(raw.get("venues", [{"name": "SIM", "kind": "sim"}])):
        if "name" not in v or "kind" not in v:
            raise ConfigError(f"[venues[{i}]]: name and kind are required")
        venues.append(
            VenueConfig(
                v["name"], v["kind"], {k: val for k, val in v.items() if k not in ("name", "kind")}
            )
        )

    data_dir = Path(server.get("data_dir", "var"))
    if base_dir is not None and not data_dir.is_absolute():
        data_dir = base_dir / data_dir
    try:
        firm_limits = Limits(**parse_limits(limits))
    except LimitError as exc:
        raise ConfigError(f"[limits]: {exc}") from exc
    compliance = _compliance(raw.get("compliance", {}))
    instruments = tuple(_instrument(t, i) for i, t in enumerate(raw.get("instruments", [])))
    return Config(
        data_dir=data_dir,
        log_format=server.get("log_format", "console"),
        database_url=database.get("url", ""),
        fix=FixConfig(
            host=fix.get("host", "127.0.0.1"),
            port=int(fix.get("port", 9878)),
            sender_comp_id=fix.get("sender_comp_id", "FIXGATE"),
            clients=tuple(clients),
            settings=_settings(fix.get("settings", {}), "fix.settings"),
        ),
        api=ApiConfig(
            host=api.get("host", "127.0.0.1"),
            port=int(api.get("port", 8000)),
            jwt_secret=api.get("jwt_secret", ""),
            token_ttl_s=int(api.get("token_ttl_s", 3600)),
            issuer=api.get("issuer", "fixgate"),
            users=tuple(users),
        ),
        venues=tuple(venues),
        limits=firm_limits,
        compliance=compliance,
        instruments=instruments,
    )


def _instrument(table: dict[str, Any], i: int) -> Instrument:
    t = _take(table, f"instruments[{i}]",
              {"symbol", "sector", "reference_price", "tick_size", "lot_size"})
    if "symbol" not in t or "reference_price" not in t:
        raise ConfigError(f"[instruments[{i}]]: symbol and reference_price are required")
    try:
        values = [Decimal(str(t.get(k, d))) for k, d in
                  (("reference_price", 0), ("tick_size", "0.01"), ("lot_size", 1))]
    except ArithmeticError:
        raise ConfigError(f"[instruments[{i}]]: prices and sizes must be numbers") from None
    if any(v <= 0 for v in values):
        raise ConfigError(f"[instruments[{i}]]: prices and sizes must be positive")
    return Instrument(str(t["symbol"]), str(t.get("sector", "")), values[1], values[2], values[0])


def _clock_time(value: str, where: str) -> dt.time:
    try:
        return dt.time.fromisoformat(value)
    except (TypeError, ValueError):
        raise ConfigError(f"[compliance] {where} must be HH:MM, got {value!r}") from None


def _compliance(table: dict[str, Any]) -> ComplianceRules:
    c = _take(table, "compliance", {"sell_short_action", "duplicate_window_s", "duplicate_action",
                                    "self_match", "owner_groups", "trading_hours"})
    choices = {"sell_short_action": ("refuse", "remark"), "duplicate_action": ("reject", "flag"),
               "self_match": SELF_MATCH_MODES}
    for key, allowed in choices.items():
        if key in c and c[key] not in allowed:
            raise ConfigError(f"[compliance] {key} must be one of {', '.join(allowed)}, "
                              f"got {c[key]!r}")
    groups = {}
    for group, accounts in c.get("owner_groups", {}).items():
        for account in accounts:
            groups[str(account)] = str(group)
    hours = _take(c.get("trading_hours", {}), "compliance.trading_hours",
                  {"start", "end", "timezone"})
    timezone = hours.get("timezone", "America/New_York")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"[compliance.trading_hours] unknown timezone {timezone!r}") from None
    return ComplianceRules(
        sell_short_action=c.get("sell_short_action", "refuse"),
        duplicate_window_s=float(c.get("duplicate_window_s", 0)),
        duplicate_action=c.get("duplicate_action", "reject"),
        self_match=c.get("self_match", "off"),
        owner_groups=groups,
        session_start=_clock_time(hours["start"], "trading_hours.start") if "start" in hours
        else None,
        session_end=_clock_time(hours["end"], "trading_hours.end") if "end" in hours else None,
        timezone=timezone,
    )


def load_config(path: str | Path | None) -> Config:
    if path is None:
        return parse_config(DEMO_CONFIG)
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config {p}: {exc}") from exc
    return parse_config(text)
