"""Start the real server (`fixgate serve`) as a child process on free loopback ports.

A subprocess, not an in-process object, so tests can `kill -9` it exactly as an
operator's worst day would, and restart it on the same data directory.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    def __init__(self, data_dir: Path, config_text: str | None = None) -> None:
        from gateway.passwords import hash_password

        self.data_dir = data_dir
        self.fix_port = free_port()
        self.api_port = free_port()
        self.config_path = data_dir.parent / f"{data_dir.name}.toml"
        text = config_text or TEST_CONFIG.replace(
            "{hash}", hash_password(CLIENT1_PASSWORD, iterations=1000)
        )
        self.config_path.write_text(text)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"{data_dir.name}.log"

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def start(self, timeout: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gateway.cli",
                    "serve",
                    "--config",
                    str(self.config_path),
                    "--data-dir",
                    str(self.data_dir),
                    "--fix-port",
                    str(self.fix_port),
                    "--api-port",
                    str(self.api_port),
                    "--log-format",
                    "json",
                ],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if httpx.get(f"{self.api}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start in {timeout}s:\n{self.tail()}")

    def tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text()[-n:]
        except OSError:
            return ""

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.stop_postgres()

    def stop_postgres(self) -> None:
        """The embedded PostgreSQL outlives a kill -9: stop it so tests leave nothing behind."""
        pid_file = self.data_dir / "pgdata" / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return
        try:
            os.kill(pid, signal.SIGINT)  # fast shutdown
        except ProcessLookupError:
            return
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def token(self, user: str = "admin", password: str = "admin-pw") -> str:
        r = httpx.post(f"{self.api}/auth/token", data={"username": user, "password": password})
        r.raise_for_status()
        return str(r.json()["access_token"])

    def get(self, path: str, user: str = "admin", password: str = "admin-pw", **kw: object):
        return httpx.get(
            f"{self.api}{path}",
            headers={"Authorization": f"Bearer {self.token(user, password)}"},
            **kw,
        )

    def post(self, path: str, json: object = None, user: str = "admin", password: str = "admin-pw"):
        return httpx.post(
            f"{self.api}{path}",
            json=json,
            headers={"Authorization": f"Bearer {self.token(user, password)}"},
        )
