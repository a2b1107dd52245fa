from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.integration.harness import ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path_factory.mktemp("fixgate") / "data")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def fresh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of the test's own, for tests that kill or restart it."""
    srv = ServerProcess(tmp_path_factory.mktemp("fixgate") / "data")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def run(coro: object, timeout: float = 60.0) -> object:
    return asyncio.run(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]
