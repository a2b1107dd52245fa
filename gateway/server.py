"""The composition root: one function of a Config builds and runs a whole server.

Tests build the same server with a test config; nothing else wires parts together.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import os
import secrets
import signal
import time
from pathlib import Path
from typing import Any

import asyncpg
import structlog
import uvicorn

from compliance.desk import RiskDesk
from gateway import price_history
from gateway.api.app import ApiContext, create_app
from gateway.config import Config
from gateway.database import EmbeddedPostgres, migrate
from gateway.fix.acceptor import FixAcceptor
from gateway.fix.mapping import Command
from gateway.gc_watch import GcWatch
from gateway.journal_pg import PostgresJournal
from gateway.passwords import is_hashed
from gateway.price_history import DailyClose, daily_closes
from gateway.stress import StressDesk
from gateway.venues import build_venue
from oms.execution.profile import profile_for
from oms.instruments import Universe
from oms.service import OrderService
from oms.trading_day import DAY_CLOSED
from oms.universe import default_universe
from risk.daily_closes import DailyCloses
from risk.monitor import RiskMonitor

log = structlog.get_logger("server")


def jwt_secret(config: Config) -> str:
    """The configured secret, or one generated on first start and kept in data_dir."""
    if config.api.jwt_secret:
        return config.api.jwt_secret
    path = config.data_dir / "jwt_secret"
    if path.exists():
        return path.read_text().strip()
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret)
    return secret


class Server:
    def __init__(self, config: Config, *, gates: bool = True) -> None:
        self.config = config
        self.gates_enabled = gates
        self.data_dir = Path(config.data_dir).resolve()
        self.embedded: EmbeddedPostgres | None = None
        self.pool: asyncpg.Pool | None = None
        self.journal: PostgresJournal | None = None
        self.service: OrderService | None = None
        self.acceptor: FixAcceptor | None = None
        self.desk = RiskDesk.from_config(config.limits, config.compliance, config.trading)
        self.monitor: RiskMonitor | None = None
        self.stress: StressDesk | None = None
        self._api: uvicorn.Server | None = None
        self._api_task: asyncio.Task[Any] | None = None
        self.gc_watch = GcWatch()
        self._background: set[asyncio.Task[Any]] = set()
        self._replayed_closes: list[DailyClose] = []

    async def start(self) -> None:
        cfg = self.config
        self.data_dir.mkdir(parents=True, exist_ok=True)
        url = cfg.database_url
        if not url:
            self.embedded = EmbeddedPostgres(self.data_dir)
            url = await asyncio.to_thread(self.embedded.start)
        self.pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
        await migrate(self.pool)

        universe = Universe([*default_universe(), *cfg.instruments])
        if cfg.execution.profiles:
            log.info("VWAP volume profiles loaded", symbols=sorted(cfg.execution.profiles),
                     files=[str(f) for f in cfg.execution.vwap_profiles])
        venues = {v.name: build_venue(v, universe, self.data_dir) for v in cfg.venues}
        desk = self.desk
        if not self.gates_enabled:
            log.warning("pre-trade gates are OFF: benchmark mode, never for real orders")
        self.journal = PostgresJournal(self.pool)
        self.service, monitor = desk.order_service(
            universe, self.journal, venues, default_venue=cfg.venues[0].name,
            gates=self.gates_enabled,
            volume_profile=functools.partial(profile_for, cfg.execution.profiles))
        self.monitor = monitor
        self.stress = StressDesk.build(self.service, cfg.risk)
        # The sim's last print of each trading date becomes that date's close in the
        # price history (GET /risk/var). The closes ride in the journaled day_closed
        # event; the table is written from the event (after its commit, off the order
        # path), and at start from the replayed events, so a kill -9 loses none.
        closes = DailyCloses()
        for v in cfg.venues:
            if v.kind == "sim":
                venues[v.name].subscribe(closes.on_market_data)
        self.service.trading_day.contributors.append(closes.day_close_payload)
        applied = self.service.controls[DAY_CLOSED]

        def day_closed(payload: dict[str, Any]) -> None:
            applied(payload)
            self._on_day_closed(payload)
        self.service.controls[DAY_CLOSED] = day_closed
        began = time.perf_counter()
        # Replay allocates an object or more per event and frees few: with the collector
        # on, its full passes over the growing heap cost more than the replay itself.
        gc.disable()
        try:
            await self.service.start()
        finally:
            gc.freeze()  # what replay built lives for the whole run: out of the GC's way
            gc.enable()
        if self._replayed_closes:
            await price_history.upsert(self.pool, self._replayed_closes, "sim", replace=False)
            self._replayed_closes = []
        log.info("journal replayed", events=self.service.replayed,
                 seconds=round(time.perf_counter() - began, 2),
                 open_orders=len(self.service.working_orders()))

        self.stress.start_sampling()
        loop = asyncio.get_running_loop()
        self.acceptor = FixAcceptor(cfg, loop, self._dispatch)
        self.service.add_sink(self.acceptor)
        self.acceptor.start(self.data_dir)
        resent = self.service.resend_unhanded()
        if resent:
            log.warning("reports of committed events re-sent after restart", reports=resent)
        if cfg.fix.host not in ("0.0.0.0", ""):
            log.warning("QuickFIX 1.16 cannot bind one address: the FIX acceptor listens on "
                        "every interface", port=cfg.fix.port, requested_host=cfg.fix.host)

        app = create_app(
            ApiContext(
                service=self.service,
                config=cfg.api,
                jwt_secret=jwt_secret(cfg),
                desk=desk,
                monitor=monitor,
                sessions=self.acceptor.session_states,
                runtime=self.gc_watch.state,
                venue_kinds={v.name: v.kind for v in cfg.venues},
                stress=self.stress,
                price_history=functools.partial(price_history.load_closes, self.pool),
                var=cfg.var,
            )
        )
        self._api = uvicorn.Server(
            uvicorn.Config(
                app,
                host=cfg.api.host,
                port=cfg.api.port,
                log_level="warning",
                lifespan="off",
                access_log=False,
            )
        )
        self._api_task = asyncio.create_task(self._api.serve(), name="rest-api")
        # Start-up objects (instruments, the replayed journal) live for the whole
        # run: move them out of the collector's reach so full passes stay short.
        gc.collect()
        gc.freeze()
        self.gc_watch.start()
        while not self._api.started:
            if self._api_task.done():
                self._api_task.result()  # raises the bind error
                raise RuntimeError("REST API stopped during start")
            await asyncio.sleep(0.02)
        log.info(
            "fixgate started",
            fix=f"{cfg.fix.host}:{cfg.fix.port}",
            api=f"http://{cfg.api.host}:{cfg.api.port}",
            data_dir=str(self.data_dir),
        )

    def _on_day_closed(self, payload: dict[str, Any]) -> None:
        rows = daily_closes(payload)
        if not rows or self.service is None:
            return
        if not self.service.started:  # replay: written (where absent) once it is done
            self._replayed_closes += rows
            return
        self.service.queue.after_commit(functools.partial(self._store_closes, rows))

    def _store_closes(self, rows: list[DailyClose]) -> None:
        if self.pool is None:
            return
        task = asyncio.get_running_loop().create_task(
            price_history.upsert(self.pool, rows, "sim"), name="price-history")
        self._background.add(task)
        task.add_done_callback(self._stored)

    def _stored(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("daily closes not written to the price history", error=str(task.exception()))

    def _dispatch(self, cmd: Command) -> None:
        assert self.service is not None
        self.service.handle(cmd)

    async def stop(self) -> None:
        await self.gc_watch.stop()
        if self.stress is not None:
            self.stress.stop()
        if self._api is not None:
            self._api.should_exit = True
            if self._api_task is not None:
                with contextlib.suppress(Exception):
                    await self._api_task
        if self.service is not None:
            # Commit what is pending, so its reports are queued before FIX goes quiet.
            with contextlib.suppress(Exception):
                await self.service.barrier()
        if self.acceptor is not None:
            await asyncio.to_thread(self.acceptor.stop)
        if self.service is not None:
            with contextlib.suppress(Exception):
                await self.service.stop()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self.journal is not None:
            await self.journal.close()
        if self.pool is not None:
            await self.pool.close()
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.stop)

    def _client_hint(self) -> str:
        """The first FIX client's flags; a plaintext (demo) password is shown, a hash is not."""
        if not self.config.fix.clients:
            return ""
        client = self.config.fix.clients[0]
        hint = f" --sender {client.comp_id} --begin-string {client.begin_string}"
        if client.password and not is_hashed(client.password):
            hint += f" --password {client.password}"
        elif client.password:
            hint += " --password ..."
        return hint

    def banner(self) -> str:
        cfg = self.config
        users = ", ".join(f"{u.name} ({'/'.join(u.roles)})" for u in cfg.api.users) or "none"
        clients = ", ".join(f"{c.comp_id} {c.begin_string}" for c in cfg.fix.clients) or "none"
        venues = ", ".join(f"{v.name} ({v.kind})" for v in cfg.venues)
        return "\n".join(
            [
                "fixgate is running",
                f"  FIX acceptor   {cfg.fix.host}:{cfg.fix.port}"
                f"  SenderCompID={cfg.fix.sender_comp_id}"
                f"  sessions: {clients}",
                f"  REST API       http://{cfg.api.host}:{cfg.api.port}  (docs: /docs)",
                f"  venues         {venues}  (ExDestination(100) pins; "
                + ("unpinned orders are routed)" if len(cfg.venues) > 1
                   else f"default {cfg.venues[0].name})"),
                f"  API users      {users}",
                f"  log in         curl -d 'username=admin&password=...' "
                f"http://{cfg.api.host}:{cfg.api.port}/auth/token",
                f"  try an order   .venv/bin/fixgate client --port {cfg.fix.port}"
                f"{self._client_hint()} order --symbol AAPL --side buy --qty 100 --price 174.00",
                f"  data dir       {self.data_dir}",
            ]
        )


async def serve(config: Config, *, gates: bool = True) -> None:
    server = Server(config, gates=gates)
    await server.start()
    print(server.banner(), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("fixgate stopping")
        await server.stop()
