"""The real server for integration tests: `fixgate serve` in a child process with a
test config, plus HTTP helpers that log in first."""

from __future__ import annotations

from pathlib import Path

import httpx

from gateway import launcher
from gateway.passwords import hash_password

TEST_CONFIG = """
[server]
data_dir = "var"
log_format = "console"

[fix]
host = "127.0.0.1"
sender_comp_id = "FIXGATE"

[fix.settings]
HeartBtInt = "30"

[[fix.clients]]
comp_id = "CLIENT1"
begin_string = "FIX.4.4"
password = "{hash}"
account = "ACC1"

[[fix.clients]]
comp_id = "CLIENT2"
begin_string = "FIX.4.2"
account = "ACC2"

[[fix.clients]]
comp_id = "CLIENT3"
begin_string = "FIX.4.4"
account = "ACC3"

[api]
host = "127.0.0.1"
jwt_secret = "test-secret-test-secret-test-secret-42"

[[api.users]]
name = "admin"
password = "admin-pw"
roles = ["admin"]

[[api.users]]
name = "viewer"
password = "viewer-pw"
roles = ["viewer"]

[[api.users]]
name = "risk"
password = "risk-pw"
roles = ["risk"]

[[api.users]]
name = "cco"
password = "cco-pw"
roles = ["compliance"]

[[venues]]
name = "SIM"
kind = "sim"
seed = 11
tick_interval = 3600.0   # seeded book, no background flow: fills are predictable

[limits]
max_order_qty = 100000
max_order_notional = 5000000
price_collar_pct = 10
"""

CLIENT1_PASSWORD = "client1-pw"


class ServerProcess(launcher.ServerProcess):
    def __init__(self, data_dir: Path, config_text: str | None = None) -> None:
        text = config_text or TEST_CONFIG.replace(
            "{hash}", hash_password(CLIENT1_PASSWORD, iterations=1000)
        )
        super().__init__(data_dir, text)

    def token(self, user: str = "admin", password: str = "admin-pw") -> str:
        r = httpx.post(f"{self.api}/auth/token", data={"username": user, "password": password})
        r.raise_for_status()
        return str(r.json()["access_token"])

    def get(
        self, path: str, user: str = "admin", password: str = "admin-pw", **kw: object
    ) -> httpx.Response:
        return httpx.get(
            f"{self.api}{path}",
            headers={"Authorization": f"Bearer {self.token(user, password)}"},
            **kw,
        )  # type: ignore[arg-type]

    def post(self, path: str, json: object = None, user: str = "admin",
             password: str = "admin-pw") -> httpx.Response:
        return self.call("POST", path, json, user, password)

    def call(self, method: str, path: str, json: object = None, user: str = "admin",
             password: str = "admin-pw") -> httpx.Response:
        return httpx.request(method, f"{self.api}{path}", json=json, timeout=30,
                             headers={"Authorization": f"Bearer {self.token(user, password)}"})
