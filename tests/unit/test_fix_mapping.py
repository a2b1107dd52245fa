"""FIX <-> domain mapping, per FIX version."""

from decimal import Decimal as D

import pytest

from gateway.fix import mapping
from oms.enums import ExecType, OrdStatus
from oms.reports import ExecutionReport


def report(exec_type: ExecType, status: OrdStatus, **kw) -> ExecutionReport:
    fields = dict(
        session="S",
        order_id="FG00000001",
        exec_id="FG00000001.3",
        exec_type=exec_type,
        ord_status=status,
        cl_ord_id="C2",
        orig_cl_ord_id="C1",
        account="ACC1",
        symbol="AAPL",
        side="1",
        ord_type="2",
        time_in_force="0",
        qty=D("100"),
        price=D("173.50"),
        stop_px=None,
        cum_qty=D("40"),
        leaves_qty=D("60"),
        avg_px=D("173.5"),
        last_qty=D("40"),
        last_px=D("173.50"),
    )
    fields.update(kw)
    return ExecutionReport(**fields)


def test_fix44_trade_report_carries_fill_details():
    f = dict(
        mapping.execution_report(report(ExecType.TRADE, OrdStatus.PARTIALLY_FILLED), "FIX.4.4")
    )
    assert (f[150], f[39], f[32], f[31], f[14], f[151], f[6]) == (
        "F",
        "1",
        "40",
        "173.5",
        "40",
        "60",
        "173.5",
    )
    assert 20 not in f and 41 not in f


def test_fix42_uses_exec_trans_type_and_fill_exec_types():
    partial = dict(
        mapping.execution_report(report(ExecType.TRADE, OrdStatus.PARTIALLY_FILLED), "FIX.4.2")
    )
    assert (partial[20], partial[150]) == ("0", "1")
    full = dict(
        mapping.execution_report(
            report(ExecType.TRADE, OrdStatus.FILLED, leaves_qty=D(0)), "FIX.4.2"
        )
    )
    assert full[150] == "2"
    status = dict(mapping.execution_report(report(ExecType.ORDER_STATUS, OrdStatus.NEW), "FIX.4.2"))
    assert (status[20], status[150]) == ("3", "0")


def test_replace_report_names_the_original_clordid_and_reject_has_reason():
    f = dict(mapping.execution_report(report(ExecType.REPLACED, OrdStatus.NEW), "FIX.4.4"))
    assert f[41] == "C1"
    rej = dict(
        mapping.execution_report(
            report(ExecType.REJECTED, OrdStatus.REJECTED, ord_rej_reason=3, text="too big"),
            "FIX.4.4",
        )
    )
    assert (rej[103], rej[58]) == ("3", "too big")


def test_inbound_new_order_defaults_and_errors():
    cmd = mapping.new_order(
        {11: "C1", 55: "AAPL", 54: "1", 38: "100", 40: "2", 44: "10.5"}, "S", "ACC1"
    )
    assert (cmd.account, cmd.time_in_force, cmd.price, cmd.qty) == ("ACC1", "0", D("10.5"), D(100))
    with pytest.raises(mapping.MappingError, match=r"OrderQty\(38\) is not a number"):
        mapping.new_order({11: "C1", 55: "AAPL", 54: "1", 38: "ten", 40: "2"}, "S", "ACC1")
    with pytest.raises(mapping.MappingError, match=r"ClOrdID\(11\) missing"):
        mapping.new_order({55: "AAPL", 54: "1", 38: "1", 40: "1"}, "S", "ACC1")
    with pytest.raises(mapping.MappingError, match="not a finite number"):
        mapping.new_order({11: "C", 55: "AAPL", 54: "1", 38: "NaN", 40: "1"}, "S", "ACC1")


def test_gtd_and_trailing_stop_tags_reach_the_command():
    import datetime as dt
    base = {11: "C1", 55: "AAPL", 54: "1", 38: "100", 40: "3", 59: "6"}
    cmd = mapping.new_order({**base, 126: "20260102-15:30:00.250", 18: "a", 211: "1.5",
                             836: "1"}, "S", "ACC1")
    assert cmd.expire_time == dt.datetime(2026, 1, 2, 15, 30, 0, 250_000, tzinfo=dt.UTC)
    assert (cmd.exec_inst, cmd.peg_offset, cmd.peg_offset_type) == ("a", D("1.5"), "1")
    assert mapping.new_order({**base, 432: "20260105"}, "S", "ACC1").expire_date == dt.date(
        2026, 1, 5)
    with pytest.raises(mapping.MappingError, match=r"ExpireTime\(126\) is not a UTC timestamp"):
        mapping.new_order({**base, 126: "2026-01-02T15:30"}, "S", "ACC1")
    with pytest.raises(mapping.MappingError, match=r"ExpireDate\(432\) is not a date"):
        mapping.new_order({**base, 432: "20261340"}, "S", "ACC1")
