"""The upstream FIX venue adapter without a socket: the mapping both ways, and the
adapter inside a real OrderService (in-memory journal) with the wire replaced by a
recorder, so down/up, duplicate fills, reconciliation and restart are exercised
message by message."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D
from pathlib import Path

import pytest

from compliance.desk import RiskDesk
from gateway.config import ConfigError, parse_config
from gateway.fix.mapping import Body
from gateway.venues import build_venue
from gateway.venues.fix_upstream import (
    FixUpstreamVenue,
    Request,
    Tracked,
    new_order_fields,
    replace_fields,
    report_event,
    status_event,
)
from oms.enums import OrdStatus, OrdType, Side, TimeInForce
from oms.journal import InMemoryJournal
from oms.service import OrderService
from oms.universe import default_universe
from oms.venue import (
    VenueAccepted,
    VenueCanceled,
    VenueFill,
    VenueOrder,
    VenueOrderRejected,
    VenueReplaced,
    VenueStatus,
)
from risk.limits import Limits, LimitsBook
from tests.unit.test_order_service import Recorder, order, settle

LIMIT = VenueOrder("FG00000007", "ACC1", "AAPL", Side.BUY, OrdType.LIMIT, TimeInForce.DAY,
                   D("300"), D("170.5"))


# -- mapping ----------------------------------------------------------------------------------


def test_new_order_single_carries_the_oms_order_id_as_clordid_and_the_terms():
    f = dict(new_order_fields(LIMIT))
    assert f[11] == "FG00000007" and f[1] == "ACC1" and f[55] == "AAPL"
    assert (f[54], f[38], f[40], f[44], f[59]) == ("1", "300", "2", "170.5", "0")
    assert 99 not in f
    market = dict(new_order_fields(VenueOrder("FG1", "", "MSFT", Side.SELL, OrdType.MARKET,
                                              TimeInForce.IOC, D(5), D("1"))))
    assert 44 not in market and 1 not in market and market[40] == "1" and market[59] == "3"


def test_replace_asks_for_the_venues_total_quantity_under_a_new_clordid():
    t = Tracked(LIMIT, cl_ord_id="FG00000007.ab1", venue_order_id="V9", venue_cum=D(100))
    f = dict(replace_fields(t, Request("G", "FG00000007.ab2", D(150), D("171"))))
    assert (f[41], f[37], f[11]) == ("FG00000007.ab1", "V9", "FG00000007.ab2")
    assert f[38] == "250"  # 100 filled there + 150 still to work
    assert f[44] == "171"


def test_execution_reports_map_to_venue_events_of_the_order():
    base = {37: "V1", 11: "FG00000007", 39: "0"}
    assert report_event({**base, 150: "0"}, "UPX") == VenueAccepted("FG00000007")
    fill = {**base, 150: "F", 17: "X-T5", 32: "40", 31: "170.25", 39: "1"}
    assert report_event(fill, "UPX") == VenueFill("FG00000007", D(40), D("170.25"), "X-T5")
    # FIX.4.2 reports a fill as ExecType 1/2
    assert isinstance(report_event({**fill, 150: "1"}, "UPX", "FIX.4.2"), VenueFill)
    canceled = report_event({**base, 11: "FG00000007.k3", 150: "4", 58: "IOC remainder"}, "UPX")
    assert canceled == VenueCanceled("FG00000007", "IOC remainder")
    assert report_event({**base, 11: "FG00000007.k4", 150: "5"}, "UPX") == \
        VenueReplaced("FG00000007")
    rejected = report_event({**base, 150: "8", 58: "unknown symbol"}, "UPX")
    assert rejected == VenueOrderRejected("FG00000007",
                                          "venue UPX rejected the order: unknown symbol")


def test_a_status_answer_for_an_unknown_order_cancels_it_naming_the_venue():
    unknown = {37: "NONE", 11: "FG00000007", 150: "I", 39: "8", 103: "5",
               58: "unknown order 'FG00000007'"}
    event = status_event(unknown, "UPX")
    assert isinstance(event, VenueCanceled) and event.order_id == "FG00000007"
    assert "venue UPX no longer knows the order" in event.reason
    assert status_event({37: "V1", 11: "FG00000007.x1", 150: "I", 39: "1"}, "UPX") is None
    gone = status_event({37: "V1", 11: "FG00000007", 150: "I", 39: "4"}, "UPX")
    assert isinstance(gone, VenueCanceled) and "canceled at venue UPX" in gone.reason


# -- config -----------------------------------------------------------------------------------

FIX_VENUE = ('[[venues]]\nname = "UPX"\nkind = "fix"\nhost = "127.0.0.1"\nport = 9900\n'
             'sender_comp_id = "FIXGATE"\ntarget_comp_id = "VSIM"\n')


def test_fix_venue_config_is_checked_and_reaches_the_adapter(tmp_path: Path):
    cfg = parse_config(FIX_VENUE + 'password = "pw"\n[venues.settings]\nHeartBtInt = 5\n')
    venue = build_venue(cfg.venues[0], default_universe(), tmp_path)
    assert isinstance(venue, FixUpstreamVenue)
    assert (venue.port, venue.target_comp_id, venue.password) == (9900, "VSIM", "pw")
    assert venue.settings == {"HeartBtInt": "5"} and venue.status is VenueStatus.DOWN


@pytest.mark.parametrize("text,message", [
    (FIX_VENUE + "seed = 1\n", "[venues[0]]: unknown key(s) seed for a fix venue (UPX); known: "
     "begin_string, host, kind, messages_per_second, name, password, port, sender_comp_id, "
     "settings, target_comp_id"),
    (FIX_VENUE + "messages_per_second = 0\n", "[venues[0]] messages_per_second must be"),
    (FIX_VENUE.replace('target_comp_id = "VSIM"\n', ""),
     "[venues[0]]: target_comp_id is required for a fix venue"),
    (FIX_VENUE.replace("9900", "70000"), "[venues[0]] port must be between 1 and 65535"),
    (FIX_VENUE + 'begin_string = "FIX.4.0"\n', "[venues[0]] begin_string must be one of"),
])
def test_fix_venue_config_mistakes_are_named(text: str, message: str):
    with pytest.raises(ConfigError) as err:
        parse_config(text)
    assert message in str(err.value)


# -- the adapter inside an OrderService -------------------------------------------------------


class Wire(FixUpstreamVenue):
    """The adapter with its session replaced by a list of what it sent."""

    def __init__(self, **kw: object) -> None:
        super().__init__("UPX", host="127.0.0.1", port=1, sender_comp_id="FIXGATE",
                         target_comp_id="VSIM", data_dir=Path("/nonexistent"),
                         **kw)  # type: ignore[arg-type]
        self.sent: list[tuple[str, dict[int, str]]] = []

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        pass

    def _transmit(self, msg_type: str, body: Body) -> bool:
        self.sent.append((msg_type, dict(body)))
        return True

    def of(self, msg_type: str) -> list[dict[int, str]]:
        return [f for t, f in self.sent if t == msg_type]


async def make(journal: InMemoryJournal) -> tuple[OrderService, Recorder, Wire]:
    wire = Wire()
    desk = RiskDesk(limits=LimitsBook(Limits()))
    service, _ = desk.order_service(default_universe(), journal, {"UPX": wire})
    rec = Recorder(journal)
    service.add_sink(rec)
    await service.start()
    return service, rec, wire


async def settled(service: OrderService) -> None:
    await asyncio.sleep(0)  # events the adapter handed to the next loop turn
    await settle(service)


def test_down_then_up_duplicate_fill_booked_once_and_unknown_order_canceled_on_reconnect():
    async def scenario():
        service, rec, wire = await make(InMemoryJournal())
        service.submit(order("D1"))
        await settled(service)
        # Refused before it is accepted: the gates see the venue down.
        assert [r.exec_type.value for r in rec.of("D1")] == ["8"]
        assert rec.of("D1")[-1].text == "venue UPX is down"
        assert wire.of("D") == []

        wire._on_logon()  # nothing to reconcile: up at once
        assert wire.status is VenueStatus.UP
        oid = service.submit(order("B1", qty="100"))
        await settled(service)
        assert wire.of("D")[0][11] == oid
        ticks: list[object] = []
        wire.subscribe(lambda tick: 1 / 0)  # a broken subscriber costs no fill
        wire.subscribe(ticks.append)
        ack = {35: "8", 37: "V1", 11: oid, 150: "0", 39: "0", 14: "0"}
        fill = {35: "8", 37: "V1", 11: oid, 150: "F", 39: "1", 17: "VX-T1", 32: "40",
                31: "170", 14: "40", 30: "VSIM"}
        for message in (ack, fill, {**fill, 43: "Y"}):  # the same fill again, by resend
            wire._on_app(message)
        await settled(service)
        booked = service.orders[oid]
        assert booked.cum_qty == 40 and len(booked.fills) == 1
        assert [r.exec_type.value for r in rec.of("B1")] == ["0", "F"]
        assert rec.of("B1")[-1].last_mkt == "UPX"
        assert wire.last_price("AAPL") == D(170)
        assert [(t.symbol, t.price, t.qty) for t in ticks] == [("AAPL", D(170), D(40))]

        wire._on_logout("session dropped")
        assert wire.status is VenueStatus.DOWN
        wire._on_logon()
        assert wire.status is VenueStatus.DOWN  # logged on, not yet reconciled
        status = wire.of("H")[-1]
        assert (status[11], status[37]) == (oid, "V1")
        wire._on_app({35: "8", 37: "NONE", 11: oid, 150: "I", 39: "8", 103: "5",
                      58: f"unknown order '{oid}'"})
        await settled(service)
        assert wire.status is VenueStatus.UP
        assert booked.status is OrdStatus.CANCELED
        assert "venue UPX no longer knows the order" in rec.of("B1")[-1].text
        await service.stop()

    asyncio.run(scenario())


def test_after_a_restart_orders_are_asked_about_not_resubmitted_and_a_pending_cancel_goes_out():
    async def scenario():
        journal = InMemoryJournal()
        service, rec, wire = await make(journal)
        wire._on_logon()
        oid = service.submit(order("R1"))
        await settled(service)
        wire._on_app({35: "8", 37: "V7", 11: oid, 150: "0", 39: "0", 14: "0"})
        wire._on_logout("session dropped")
        # A cancel while the venue is down is kept, not refused: a kill switch must land.
        service.cancel_all(None, "kill switch")
        await settled(service)
        assert service.orders[oid].status is OrdStatus.PENDING_CANCEL
        assert wire.of("F") == []
        await service.stop()

        service, rec, wire = await make(journal)  # fixgate restarts
        await settled(service)
        assert wire.of("D") == [] and wire.of("H") == []  # nothing resubmitted; not logged on
        assert service.orders[oid].status is OrdStatus.PENDING_CANCEL  # still asked for
        wire._on_logon()
        assert wire.of("H")[0][11] == oid
        # The venue still works it, under the ClOrdID of an earlier replace.
        wire._on_app({35: "8", 37: "V7", 11: f"{oid}.zz1", 150: "I", 39: "0", 14: "0"})
        cancel = wire.of("F")[0]
        assert (cancel[41], cancel[37]) == (f"{oid}.zz1", "V7")
        assert cancel[11].startswith(f"{oid}.")
        wire._on_app({35: "8", 37: "V7", 11: cancel[11], 41: f"{oid}.zz1", 150: "4", 39: "4",
                      14: "0"})
        await settled(service)
        assert service.orders[oid].status is OrdStatus.CANCELED
        assert rec.reports[-1].text == "kill switch"
        assert wire.status is VenueStatus.UP
        await service.stop()

    asyncio.run(scenario())


def test_a_session_reject_of_our_order_rejects_it_instead_of_leaving_it_hanging():
    import quickfix as fix

    async def scenario():
        service, rec, wire = await make(InMemoryJournal())
        wire._on_logon()
        oid = service.submit(order("SR1"))
        await settled(service)
        nos = fix.Message(f"8=FIX.4.4\x019=0\x0135=D\x0134=12\x0111={oid}\x0155=AAPL\x01"
                          "10=000\x01", False)
        wire.toApp(nos, None)  # what quickfix calls as it sends it, MsgSeqNum set
        reject = fix.Message("8=FIX.4.4\x019=0\x0135=3\x0134=3\x0145=12\x01371=21\x01"
                             "58=Required tag missing\x0110=000\x01", False)
        wire.fromAdmin(reject, None)
        await asyncio.sleep(0)  # handed over with call_soon_threadsafe
        await settled(service)
        assert service.orders[oid].status is OrdStatus.REJECTED
        assert rec.of("SR1")[-1].text == (
            "venue UPX: session Reject(3): Required tag missing (tag 21)")
        resent = fix.Message(f"8=FIX.4.4\x019=0\x0135=D\x0134=12\x0143=Y\x0111={oid}\x01"
                             "10=000\x01", False)
        with pytest.raises(fix.DoNotSend):  # a stale order is gap-filled, never resent
            wire.toApp(resent, None)
        status = fix.Message(f"8=FIX.4.4\x019=0\x0135=H\x0134=13\x0143=Y\x0111={oid}\x01"
                             "10=000\x01", False)
        wire.toApp(status, None)  # a status request is resent: its answer is awaited
        await service.stop()

    asyncio.run(scenario())


def test_settings_quickfix_refuses_stop_the_start_naming_the_venue(tmp_path: Path):
    cfg = parse_config(FIX_VENUE + '[venues.settings]\nHeartBtInt = "soon"\n')
    venue = build_venue(cfg.venues[0], default_universe(), tmp_path)

    async def start() -> None:
        await venue.start()

    with pytest.raises(RuntimeError, match=r"venue UPX: QuickFIX refused its settings"):
        asyncio.run(start())


def test_a_burst_beyond_the_venues_message_rate_is_spread_in_order_never_dropped():
    from gateway.venues.timing import ManualTimers

    async def scenario():
        timers = ManualTimers()
        wire = Wire(messages_per_second=2, timers=timers)
        desk = RiskDesk(limits=LimitsBook(Limits()))
        service, _ = desk.order_service(default_universe(), InMemoryJournal(), {"UPX": wire})
        service.add_sink(Recorder(service.journal))  # type: ignore[arg-type]
        await service.start()
        wire._on_logon()
        ids = [service.submit(order(f"R{n}", qty="100")) for n in range(5)]
        await settled(service)
        assert [f[11] for f in wire.of("D")] == ids[:2]  # two this second
        timers.advance(1.0)
        assert [f[11] for f in wire.of("D")] == ids[:4]
        timers.advance(1.0)
        assert [f[11] for f in wire.of("D")] == ids  # all of them, in order
        await service.stop()

    asyncio.run(scenario())
