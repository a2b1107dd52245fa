"""An upstream FIX venue for real: `fixgate venue-sim` as a second process, fixgate
logged on to it as an initiator, a FIX client in front. Orders route upstream and
fill; the venue dies and comes back knowing nothing; fixgate dies while the venue
fills its order. Both sides end up agreeing, and every fill is booked once."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gateway.fix_client import open_session
from gateway.launcher import VenueSimProcess
from gateway.passwords import hash_password
from tests.integration.conftest import run
from tests.integration.harness import CLIENT1_PASSWORD, TEST_CONFIG, ServerProcess
from tests.integration.test_fix_order_path import logon, report_for

pytestmark = pytest.mark.integration

MARKETABLE = "185.00"  # above any ask the venue's background flow makes, inside the collar
RESTING = "158.00"  # below any bid it makes (its fair value stays within 5% of 173.45)


def upstream_config(venue_port: int, comp_id: str = "VSIM") -> str:
    venues = (f'[[venues]]\nname = "UPX"\nkind = "fix"\nhost = "127.0.0.1"\n'
              f'port = {venue_port}\nsender_comp_id = "FIXGATE"\ntarget_comp_id = "{comp_id}"\n'
              '[venues.settings]\nReconnectInterval = 1\nHeartBtInt = 5\n\n')
    text = re.sub(r"\[\[venues\]\].*?(?=\[limits\])", venues, TEST_CONFIG, flags=re.S)
    return text.replace("{hash}", hash_password(CLIENT1_PASSWORD, iterations=1000))


def log_records(path: Path, start: int) -> Iterator[dict[str, Any]]:
    with open(path, "rb") as f:
        f.seek(start)
        for line in f.read().splitlines():
            try:
                yield json.loads(line)
            except ValueError:
                continue


async def wait_log(server: ServerProcess, start: int, pred: Callable[[dict[str, Any]], bool],
                   timeout: float = 30.0) -> dict[str, Any]:
    """The first JSON log line of the server written after byte `start` that matches."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for rec in log_records(server.log_path, start):
            if pred(rec):
                return rec
        await asyncio.sleep(0.05)
    raise AssertionError(f"no matching log line in {timeout}s:\n{server.tail()}")


def venue_status(status: str) -> Callable[[dict[str, Any]], bool]:
    return lambda r: (r.get("event") == "venue status" and r.get("venue") == "UPX"
                      and r.get("status") == status)


def log_size(server: ServerProcess) -> int:
    return server.log_path.stat().st_size


async def wait_upstream_ack(server: ServerProcess, order_id: str, timeout: float = 10.0) -> None:
    """The venue's own ack of our order, read from the upstream session's message log."""
    log = (server.data_dir / "fix" / "upstream" / "UPX" / "log" /
           "FIX.4.4-FIXGATE-VSIM.messages.current.log")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        if any(f"\x0111={order_id}\x01" in line and "\x01150=0\x01" in line
               for line in text.splitlines()):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"venue never acknowledged {order_id}")


def explained(chain: tuple[VenueSimProcess, ServerProcess], coro: Any) -> None:
    """Run a scenario; if it fails, say what both processes logged."""
    venue, server = chain
    try:
        run(coro, timeout=150)
    except BaseException as exc:
        raise AssertionError(f"{exc!r}\n--- gateway log ---\n{server.tail(8000)}\n"
                             f"--- venue log ---\n{venue.tail(3000)}") from exc


@pytest.fixture
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[VenueSimProcess,
                                                                      ServerProcess]]:
    base = tmp_path_factory.mktemp("upstream")
    venue = VenueSimProcess(base / "venue", comp_id="VSIM", clients=("FIXGATE", "TRADER"))
    venue.start()
    server = ServerProcess(base / "gw", upstream_config(venue.port))
    try:
        server.start()
        yield venue, server
    finally:
        server.stop()
        venue.stop()


def test_route_fill_venue_dies_down_restart_reconcile(chain):
    venue, server = chain
    state: dict[str, str] = {}

    async def scenario():
        await wait_log(server, 0, venue_status("up"))
        c = await logon(server)
        c.new_order("UFILL1", "AAPL", "1", 100, ord_type="2", price=MARKETABLE)
        assert (await report_for(c, "UFILL1", "0"))[39] == "0"
        trade = await report_for(c, "UFILL1", "F")
        while True:
            assert trade[30] == "UPX"  # LastMkt: the venue that filled
            assert Decimal(trade[31]) <= Decimal(MARKETABLE)
            if trade[39] == "2":
                break
            trade = await report_for(c, "UFILL1", "F")
        assert trade[14] == "100" and trade[151] == "0"
        state["fill_order"] = trade[37]

        c.new_order("UREST1", "AAPL", "1", 100, ord_type="2", price=RESTING)
        rest_id = state["rest_order"] = (await report_for(c, "UREST1", "0"))[37]
        await wait_upstream_ack(server, rest_id)

        mark = log_size(server)
        venue.kill9()
        await wait_log(server, mark, venue_status("down"), timeout=15)
        shown = await asyncio.to_thread(server.get, "/venues")
        assert [(v["name"], v["kind"], v["status"]) for v in shown.json()] == [
            ("UPX", "fix", "down")]
        c.new_order("UDOWN1", "AAPL", "1", 100, ord_type="2", price=RESTING)
        rejected = await report_for(c, "UDOWN1", "8")
        assert rejected[39] == "8" and "venue UPX is down" in rejected[58]

        mark = log_size(server)
        venue.start()  # same port and store: it knows no orders any more
        canceled = await report_for(c, "UREST1", "4", timeout=30)
        assert canceled[37] == rest_id and canceled[39] == "4"
        assert "venue UPX no longer knows the order" in canceled[58]
        await wait_log(server, mark, venue_status("up"))
        shown = await asyncio.to_thread(server.get, "/venues")
        assert shown.json()[0]["status"] == "up"

        c.new_order("UFILL2", "AAPL", "1", 100, ord_type="2", price=MARKETABLE)
        assert (await report_for(c, "UFILL2", "F", timeout=10))[30] == "UPX"
        await c.logout()

    explained(chain, scenario())
    filled = server.get(f"/orders/{state['fill_order']}").json()
    assert filled["status"] == "2" and Decimal(filled["cum_qty"]) == 100
    assert all(f["venue_trade_id"] for f in filled["fills"])
    assert server.get(f"/orders/{state['rest_order']}").json()["status"] == "4"


def test_fill_while_fixgate_is_down_is_booked_once_after_restart(chain):
    venue, server = chain
    state: dict[str, str] = {}

    async def before_crash():
        await wait_log(server, 0, venue_status("up"))
        c = await logon(server)
        c.new_order("UREST2", "MSFT", "1", 100, ord_type="2", price="300.00")
        state["order"] = (await report_for(c, "UREST2", "0"))[37]
        await wait_upstream_ack(server, state["order"])
        await c.close()

    explained(chain, before_crash())
    server.kill9()

    async def sweep():
        # Another member of the venue sells through the whole bid side, ours included.
        t = await open_session("127.0.0.1", venue.port, "TRADER", "VSIM")
        t.new_order("SWEEP1", "MSFT", "2", 1_000_000, ord_type="1")
        while True:
            msg = await t.next_message(timeout=10)
            if msg.get(11) == "SWEEP1" and msg.get(150) == "4":  # the remainder
                break
        await t.logout()

    explained(chain, sweep())
    mark = log_size(server)
    server.start()

    async def after_restart():
        await wait_log(server, mark, venue_status("up"))

    explained(chain, after_restart())

    def order() -> dict[str, Any]:
        return server.get(f"/orders/{state['order']}").json()

    detail = order()
    assert detail["status"] == "2", detail
    assert len(detail["fills"]) == 1, detail["fills"]
    fill = detail["fills"][0]
    assert Decimal(fill["last_qty"]) == 100 and Decimal(fill["last_px"]) == Decimal("300")
    position = {(p["account"], p["symbol"]): p for p in server.get("/positions").json()}
    assert Decimal(position[("ACC1", "MSFT")]["qty"]) == 100

    # A second restart replays the journal; the venue has nothing more to resend.
    mark = log_size(server)
    server.kill9()
    server.start()
    run(wait_log(server, mark, venue_status("up")))
    assert len(order()["fills"]) == 1


def test_venue_sim_answers_every_request_a_gateway_reconciles_with(tmp_path: Path):
    venue = VenueSimProcess(tmp_path / "venue", comp_id="VSIM", clients=("GW",))
    venue.start()

    async def scenario():
        c = await open_session("127.0.0.1", venue.port, "GW", "VSIM")
        c.new_order("O1", "AAPL", "1", 100, ord_type="2", price=RESTING)
        ack = await report_for(c, "O1", "0")
        c.new_order("O1", "AAPL", "1", 100, ord_type="2", price=RESTING)
        dup = await report_for(c, "O1", "8")
        assert "duplicate ClOrdID(11) O1" in dup[58]
        c.replace("O2", "O1", "AAPL", "1", 300, ord_type="2", price="158.50")
        replaced = await report_for(c, "O2", "5")
        assert (replaced[37], replaced[41], replaced[38], replaced[44]) == (ack[37], "O1", "300",
                                                                           "158.5")
        c.new_order("O3", "MSFT", "2", 10, ord_type="2", price="350.00")
        await report_for(c, "O3", "0")
        # Status by the original ClOrdID finds the order under its current one.
        c.send([(35, "H"), (11, "O1"), (55, "AAPL"), (54, "1"), (790, "S1")])
        status = await report_for(c, "O2", "I")
        assert (status[39], status[38], status[790]) == ("0", "300", "S1")
        c.status("NOPE", "AAPL", "1")
        unknown = await report_for(c, "NOPE", "I")
        assert (unknown[39], unknown[103], unknown[37]) == ("8", "5", "NONE")
        c.send([(35, "AF"), (584, "M1"), (585, "7")])
        reports = [await c.next_message(msg_type="8") for _ in range(2)]
        assert {r[11] for r in reports} == {"O2", "O3"}
        assert all(r[150] == "I" and r[584] == "M1" and r[911] == "2" for r in reports)
        assert [r[912] for r in reports] == ["N", "Y"]
        c.cancel("O4", "O2", "AAPL", "1")
        assert (await report_for(c, "O4", "4"))[41] == "O2"
        c.cancel("O5", "O2", "AAPL", "1")
        too_late = await c.next_message(msg_type="9")
        assert (too_late[11], too_late[102]) == ("O5", "0") and "canceled" in too_late[58]
        c.cancel("O6", "GHOST", "AAPL", "1")
        unknown_cxl = await c.next_message(msg_type="9")
        assert (unknown_cxl[11], unknown_cxl[102]) == ("O6", "1")
        await c.logout()

    try:
        run(scenario())
    finally:
        venue.stop()


def test_client_replace_and_cancel_go_upstream_and_come_back(chain):
    _venue, server = chain

    async def scenario():
        await wait_log(server, 0, venue_status("up"))
        c = await logon(server)
        c.new_order("URC1", "AAPL", "1", 100, ord_type="2", price=RESTING)
        order_id = (await report_for(c, "URC1", "0"))[37]
        await wait_upstream_ack(server, order_id)
        c.replace("URC2", "URC1", "AAPL", "1", 300, ord_type="2", price="158.50")
        replaced = await report_for(c, "URC2", "5", timeout=10)
        assert (replaced[37], replaced[38], replaced[44], replaced[151]) == (
            order_id, "300", "158.5", "300")
        c.cancel("URC3", "URC2", "AAPL", "1")
        canceled = await report_for(c, "URC3", "4", timeout=10)
        assert canceled[37] == order_id and canceled[39] == "4"
        await c.logout()

    explained(chain, scenario())
    # What went upstream: the venue saw our OrderID as ClOrdID, then a replace and a
    # cancel under ClOrdIDs derived from it, each naming the one before.
    log = (server.data_dir / "fix" / "upstream" / "UPX" / "log" /
           "FIX.4.4-FIXGATE-VSIM.messages.current.log").read_text()
    sent = [dict(f.split("=", 1) for f in line.split(" : ", 1)[1].split("\x01") if "=" in f)
            for line in log.splitlines() if "\x0149=FIXGATE\x01" in line]
    order_id = server.get("/orders").json()[0]["order_id"]
    nos = next(m for m in sent if m["35"] == "D")
    replace = next(m for m in sent if m["35"] == "G")
    cancel = next(m for m in sent if m["35"] == "F")
    assert nos["11"] == order_id
    assert replace["41"] == order_id and replace["11"].startswith(f"{order_id}.")
    assert replace["38"] == "300" and replace["44"] == "158.5"
    assert cancel["41"] == replace["11"] and cancel["11"].startswith(f"{order_id}.")
