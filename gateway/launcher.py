"""Run `fixgate serve` as a child process on free loopback ports.

Used by the benchmark and by the integration tests: a separate process, so a
test can `kill -9` it and restart it on the same data directory, and so a load
generator does not share the server's interpreter.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Child:
    """A child process with its log: what both launchers share."""

    log_path: Path
    proc: subprocess.Popen[bytes] | None

    def tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text()[-n:]
        except OSError:
            return ""

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


class ServerProcess(_Child):
    def __init__(self, data_dir: Path, config_text: str, extra_args: tuple[str, ...] = ()) -> None:
        self.data_dir = data_dir
        self.fix_port = free_port()
        self.api_port = free_port()
        self.config_path = data_dir.parent / f"{data_dir.name}.toml"
        self.config_path.write_text(config_text)
        self.log_path = data_dir.parent / f"{data_dir.name}.log"
        self.extra_args = extra_args
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def start(self, timeout: float = 90.0) -> None:
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
                    *self.extra_args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.api}/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start in {timeout}s:\n{self.tail()}")


    def stop(self) -> None:
        self.terminate()
        self.stop_postgres()

    def stop_postgres(self) -> None:
        """The embedded PostgreSQL outlives a kill -9: stop it so nothing is left behind."""
        pid_file = self.data_dir / "pgdata" / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return
        try:
            os.kill(pid, signal.SIGINT)  # PostgreSQL's fast shutdown
        except ProcessLookupError:
            return
        for _ in range(200):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


class VenueSimProcess(_Child):
    """`fixgate venue-sim` in a child process: an upstream FIX venue to kill and restart
    (same port, same data directory, so its sequence numbers continue)."""

    def __init__(self, data_dir: Path, comp_id: str = "VSIM", clients: tuple[str, ...] = (
            "FIXGATE",), seed: int = 7, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.comp_id = comp_id
        self.clients = clients
        self.seed = seed
        self.port = port or free_port()
        self.log_path = data_dir.parent / f"{data_dir.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ready_before = self.tail(10**9).count("venue-sim ready")
        args = [sys.executable, "-m", "gateway.cli", "venue-sim", "--port", str(self.port),
                "--comp-id", self.comp_id, "--seed", str(self.seed), "--data-dir",
                str(self.data_dir), "--log-format", "json"]
        for client in self.clients:
            args += ["--client", client]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"venue-sim exited with {self.proc.returncode}:\n"
                                   f"{self.tail()}")
            if self.tail(10**9).count("venue-sim ready") > ready_before:
                return
            time.sleep(0.05)
        raise RuntimeError(f"venue-sim did not start in {timeout}s:\n{self.tail()}")


    def stop(self) -> None:
        self.terminate()
