"""The REST API against what a client can get wrong: numbers JSON cannot carry, text the
journal cannot store (in a body, a path or a query), and control state read before it is
durable. Each is the client's mistake or a race: a 4xx or a consistent answer, never a 500,
and never a gateway that stops."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest

from oms.journal import InMemoryJournal
from tests.unit.test_api import login, run, submit
from tests.unit.test_api_edges import setup

JSON = {"Content-Type": "application/json"}


def texts(value: Any, depth: int = 0) -> Iterator[str]:
    """Every string inside a journal entry, whatever its shape."""
    if depth > 50:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from texts(k, depth + 1)
            yield from texts(v, depth + 1)
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            yield from texts(v, depth + 1)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from texts(getattr(value, f.name), depth + 1)


def unstorable(value: Any) -> list[str]:
    return [t for t in texts(value) if "\x00" in t or any(0xD800 <= ord(c) <= 0xDFFF for c in t)]


class PostgresLikeJournal(InMemoryJournal):
    """Refuses what PostgreSQL's jsonb refuses: a NUL, a lone surrogate."""

    async def append(self, batch: Any, *args: Any, **kwargs: Any) -> None:
        if unstorable(list(batch)):
            raise ValueError("unsupported Unicode escape sequence: \\u0000 cannot be converted "
                             "to text")
        await super().append(batch, *args, **kwargs)


class HeldJournal(InMemoryJournal):
    """A journal whose commits wait until the test lets them through."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()

    async def append(self, batch: Any, *args: Any, **kwargs: Any) -> None:
        await self.gate.wait()
        await super().append(batch, *args, **kwargs)

    def kinds(self) -> list[str]:
        return [getattr(e, "kind", "") for e in texts_entries(self.entries)]


def texts_entries(entries: list[Any]) -> Iterator[Any]:
    for entry in entries:  # (seq, entry) pairs, or bare entries
        yield entry[-1] if isinstance(entry, tuple) else entry


# -- #14: numbers and strings JSON should not carry ------------------------------------------


def test_nan_infinity_and_overflowing_numbers_are_422_naming_the_problem():
    async def scenario():
        service, client = await setup()
        admin = await login(client) | JSON
        cases = [
            ("POST", "/kill-switch", b'{"x": NaN}', "x: NaN is not a number JSON allows"),
            ("POST", "/kill-switch", b'{"account": Infinity}', "account: Infinity is not"),
            ("POST", "/kill-switch", b'{"account": -Infinity}', "account: -Infinity is not"),
            ("POST", "/kill-switch", b"1e999999", "body: number 1e999999 is out of range"),
            ("POST", "/kill-switch", b'{"account": [1e999999]}',
             "account.0: number 1e999999 is out of range"),
            ("POST", "/kill-switch", b'{"account": ' + b"9" * 5000 + b"}",
             "account: number 999999999999…(5000 characters) is out of range"),
            ("PUT", "/accounts/X/limits", b'{"max_order_qty": NaN}', "max_order_qty: NaN"),
            ("PUT", "/accounts/X/limits", b'{"max_order_qty": 1e400}',
             "max_order_qty: number 1e400 is out of range"),
            ("POST", "/locates", b'{"account": "A", "symbol": "AAPL", "qty": Infinity}',
             "qty: Infinity is not a number JSON allows"),
            ("POST", "/kill-switch", b'{"\\ud800": 1}',
             "a key in body contains a byte that is not UTF-8 at position 0"),
            ("POST", "/kill-switch", b'{"account": "\xff"}', "the body is not UTF-8 text (byte"),
            ("POST", "/kill-switch", b'{"account": "\xed\xa0\x80"}', "the body is not UTF-8"),
            ("POST", "/kill-switch", b"[" * 100_000, "the body nests too deeply"),
        ]
        for method, url, body, words in cases:
            r = await client.request(method, url, content=body, headers=admin)
            assert r.status_code == 422, (body[:40], r.status_code, r.text)
            assert r.json()["detail"].startswith("invalid request: "), r.json()
            assert words in r.json()["detail"], (words, r.json())
        # Not JSON at all, or sent as text: still the client's mistake.
        r = await client.post("/kill-switch", content=b"\xff\xfe{", headers=admin
                              | {"Content-Type": "text/plain"})
        assert r.status_code == 422 and "\ufffd" in r.text
        r = await client.post("/kill-switch", content=b'{"account": ', headers=admin)
        assert r.status_code == 422 and "JSON decode error" in r.json()["detail"]
        # Nothing took effect and the gateway still works.
        assert (await client.get("/kill-switch", headers=admin)).json()["accounts"] == []
        assert (await client.get("/accounts/X/limits", headers=admin)).json()[
            "max_order_qty"] == "100000"
        r = await client.post("/kill-switch", json={"account": "ACC1"}, headers=admin)
        assert r.status_code == 200 and r.json()["state"]["accounts"] == ["ACC1"]
        await service.stop()

    run(scenario())


@pytest.mark.parametrize("body,words", [
    ({"max_open_orders": "1e5000"}, "max_open_orders must be at most 1,000,000,000,000,000"),
    ({"max_open_orders": 1e300}, "max_open_orders must be at most"),
    ({"max_order_notional": "1e999999"}, "max_order_notional must be at most"),
    ({"messages_per_second": "9" * 400}, "messages_per_second must be at most"),
    ({"equity": "1e-999999"}, "equity has more than 9 decimal places"),
])
def test_limits_no_book_could_mean_are_422_and_the_journal_keeps_working(body, words):
    async def scenario():
        journal = PostgresLikeJournal()
        service, client = await setup(journal=journal)
        admin = await login(client)
        r = await client.put("/accounts/X/limits", json=body, headers=admin)
        assert r.status_code == 422, r.text
        assert words in r.json()["detail"], r.json()
        r = await client.put("/accounts/X/limits", json={"max_open_orders": 7}, headers=admin)
        assert r.status_code == 200 and r.json()["max_open_orders"] == 7
        assert (await client.get("/accounts/X/limits", headers=admin)).json()[
            "max_open_orders"] == 7
        await service.stop()

    run(scenario())


# -- #12: one byte must not stop the gateway --------------------------------------------------


def test_a_nul_or_lone_surrogate_anywhere_over_rest_is_422_and_the_gateway_keeps_working():
    async def scenario():
        journal = PostgresLikeJournal()
        service, client = await setup(journal=journal)
        admin = await login(client)
        cases = [
            ("POST", "/kill-switch", {"json": {"account": "\u0000"}},
             "account contains a NUL byte at position 0"),
            ("POST", "/kill-switch", {"json": {"session": "FIX.4.4:\udc80"}},
             "session contains a byte that is not UTF-8 at position 8"),
            ("POST", "/accounts/ACC1/state", {"json": {"state": "HALTED", "reason": "x\ud800"}},
             "reason contains a byte that is not UTF-8 at position 1"),
            ("PUT", "/accounts/%00/limits", {"json": {"max_order_qty": 5}},
             "path parameter account contains a NUL byte at position 0"),
            ("PUT", "/accounts/A%00B/limits", {"json": {"max_order_qty": 5}},
             "path parameter account contains a NUL byte at position 1"),
            ("POST", "/accounts/%00/state", {"json": {"state": "HALTED"}},
             "path parameter account contains a NUL byte"),
            ("GET", "/accounts/%00/risk", {}, "path parameter account contains a NUL byte"),
            ("POST", "/restricted-list", {"json": [{"symbol": "AAPL"}, {"symbol": "M\u0000"}]},
             "1.symbol contains a NUL byte at position 1"),
            ("DELETE", "/restricted-list/AAPL", {"params": {"account": "\u0000"}},
             "query parameter account contains a NUL byte at position 0"),
            ("POST", "/locates", {"json": {"account": "\u0000", "symbol": "AAPL", "qty": 1}},
             "account contains a NUL byte"),
            ("PUT", "/instruments/AAPL/status", {"json": {"halted": True, "reason": "\x00"}},
             "reason contains a NUL byte at position 0"),
            ("GET", "/orders", {"params": {"account": "\u0000"}},
             "query parameter account contains a NUL byte"),
        ]
        for method, url, kwargs, words in cases:
            if "json" in kwargs:  # escaped as \uXXXX, as a JSON client sends it
                kwargs = {"content": json.dumps(kwargs.pop("json")).encode()} | kwargs
            r = await client.request(method, url, headers=admin | JSON, **kwargs)
            assert r.status_code == 422, (url, r.status_code, r.text)
            assert words in r.json()["detail"], (words, r.json())
            # The next request is served: nothing unstorable reached the journal.
            assert (await client.get("/kill-switch", headers=admin)).status_code == 200, url
        assert unstorable(journal.entries) == []
        submit(service, "B1")
        await service.barrier()
        orders = (await client.get("/orders", headers=admin)).json()
        assert [(o["cl_ord_id"], o["status"]) for o in orders] == [("B1", "0")]
        r = await client.post("/kill-switch", json={"account": "ACC1"}, headers=admin)
        assert r.status_code == 200 and r.json()["canceled"] == 1
        await service.stop()

    run(scenario())


# -- #7: control state is read only once it is durable ----------------------------------------


CONTROLS = [
    ("POST", "/kill-switch", {"account": "ACC1"}, "/kill-switch",
     lambda body: "ACC1" in body["accounts"]),
    ("POST", "/restricted-list", {"symbol": "AAPL"}, "/restricted-list",
     lambda body: [e["symbol"] for e in body] == ["AAPL"]),
    ("POST", "/locates", {"account": "ACC1", "symbol": "AAPL", "qty": 5}, "/locates",
     lambda body: body != []),
    ("PUT", "/accounts/ACC1/limits", {"max_open_orders": 3}, "/accounts/ACC1/limits",
     lambda body: body["max_open_orders"] == 3),
    ("PUT", "/instruments/AAPL/status", {"halted": True}, "/instruments",
     lambda body: any(i["symbol"] == "AAPL" and i["halted"] for i in body)),
]


@pytest.mark.parametrize("method,url,body,read,changed", CONTROLS,
                         ids=[c[1] for c in CONTROLS])
def test_no_reader_sees_a_control_change_before_the_journal_holds_it(
        method, url, body, read, changed):
    async def scenario():
        journal = HeldJournal()
        service, client = await setup(journal=journal)
        admin = await login(client)
        committed = len(journal.entries)
        journal.gate.clear()  # the database is slow: nothing commits for now
        write = asyncio.create_task(client.request(method, url, json=body, headers=admin))
        for _ in range(50):
            await asyncio.sleep(0)
        reads = [asyncio.create_task(client.get(read, headers=admin)) for _ in range(3)]
        for _ in range(50):
            await asyncio.sleep(0)
        for task in reads:
            if task.done():  # an answer given now must not show what is not committed
                assert not changed(task.result().json()), "read a change not yet durable"
        assert len(journal.entries) == committed and not write.done()
        journal.gate.set()
        assert (await write).status_code in (200, 201)
        for task in reads:
            r = await task
            assert r.status_code == 200
            if changed(r.json()):
                assert len(journal.entries) > committed
        assert changed((await client.get(read, headers=admin)).json())
        await service.stop()

    run(scenario())


def test_a_whole_restricted_list_is_durable_at_once_and_the_last_word_wins():
    async def scenario():
        journal = HeldJournal()
        service, client = await setup(journal=journal)
        admin = await login(client)
        body = [{"symbol": f"S{i:03d}"} for i in range(300)]
        body += [{"symbol": "S001", "kind": "watch"}, {"symbol": "S002", "account": "ACC1"}]
        batches = journal.batches
        r = await client.post("/restricted-list", json=body, headers=admin)
        assert r.status_code == 201 and r.json()["size"] == 301
        assert journal.batches - batches <= 2  # one commit for the list, not 300
        listed = (await client.get("/restricted-list", headers=admin)).json()
        assert len(listed) == 301
        kinds = {(e["symbol"], e.get("account")): e["kind"] for e in listed}
        assert kinds[("S001", None)] == "watch" and kinds[("S002", "ACC1")] == "restricted"
        assert kinds[("S000", None)] == "restricted"
        await service.stop()

    run(scenario())


# -- a fuzz of bodies, paths and queries ------------------------------------------------------


TEMPLATES = [
    ("POST", "/kill-switch", {"account": "ACC9"}),
    ("POST", "/kill-switch", {"session": "FIX.4.4:FIXGATE->C9"}),
    ("PUT", "/accounts/{x}/limits", {"max_order_qty": 5, "loss_action": "halt"}),
    ("POST", "/restricted-list", {"symbol": "MSFT", "account": "ACC9", "kind": "watch"}),
    ("POST", "/restricted-list", [{"symbol": "MSFT"}, {"symbol": "AAPL", "account": None}]),
    ("POST", "/locates", {"account": "ACC9", "symbol": "AAPL", "qty": "10"}),
    ("PUT", "/instruments/{x}/status", {"halted": False, "reason": "ok"}),
    ("POST", "/accounts/{x}/state", {"state": "ACTIVE", "reason": "ok"}),
]
BAD_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e999999", "-1E400", "2" * 4400,
               "[1, NaN]", '{"a": Infinity}']
BAD_TEXT = ["\\u0000", "\\ud800", "a\\udfffb", "x\\u0000y", "\\udbff\\u0041", "\\u0000\\u0000"]
BAD_BYTES = [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80abc", b"\x00"]
GOOD_IDS = ["ACC1", "AAPL", "X", "%E2%82%AC"]
BAD_IDS = ["%00", "A%00", "%00%00B"]


def _poison(rng: random.Random) -> bytes:
    kind = rng.randrange(4)
    if kind == 0:
        return rng.choice(BAD_NUMBERS).encode()
    if kind == 1:
        return b'"' + rng.choice(BAD_TEXT).encode() + b'"'
    if kind == 2:
        return b'"ok' + rng.choice(BAD_BYTES) + b'"'
    return b'"' + rng.choice(BAD_TEXT).encode() + b'"'


def _json(value: Any, rng: random.Random, poison: bytes, placed: list[bool]) -> bytes:
    """`value` as JSON with the poison put in place of (or beside) one of its parts."""
    if not placed[0] and rng.random() < 0.3:
        placed[0] = True
        if isinstance(value, dict) and rng.random() < 0.5:
            key = poison if poison.startswith(b'"') else b'"k"'
            inner = b", ".join(b'"%s": %s' % (k.encode(), _json(v, rng, poison, [True]))
                               for k, v in value.items())
            return b"{" + inner + (b", " if inner else b"") + key + b": " + poison + b"}"
        return poison
    if isinstance(value, dict):
        parts = [b'"%s": %s' % (k.encode(), _json(v, rng, poison, placed))
                 for k, v in value.items()]
        return b"{" + b", ".join(parts) + b"}"
    if isinstance(value, list):
        return b"[" + b", ".join(_json(v, rng, poison, placed) for v in value) + b"]"
    if value is None:
        return b"null"
    if value is True or value is False:
        return b"true" if value else b"false"
    if isinstance(value, int | float):
        return str(value).encode()
    return b'"' + value.encode() + b'"'


def malformed(rng: random.Random, template: Any) -> bytes:
    poison = _poison(rng)
    placed = [False]
    body = _json(template, rng, poison, placed)
    if not placed[0]:  # the dice never chose a spot: the poison is the last value
        body = _json(template, rng, poison, [False]) if rng.random() < 0.5 else poison
        if poison not in body:
            body = poison
    roll = rng.random()
    if roll < 0.05:
        return body[: rng.randrange(1, max(2, len(body)))] or b"{"  # truncated
    if roll < 0.08:
        return b"[" * rng.randrange(2000, 20000) + body
    return body


def test_fuzzed_bodies_paths_and_queries_are_4xx_and_nothing_unstorable_is_journaled():
    async def scenario():
        journal = PostgresLikeJournal()
        service, client = await setup(journal=journal)
        admin = await login(client)
        rng = random.Random(20240611)
        content_types = ["application/json", "application/json; charset=utf-8",
                         "application/problem+json", "text/plain", None]
        started, counts = time.monotonic(), {}
        for i in range(2500):
            method, url, template = rng.choice(TEMPLATES)
            headers = dict(admin)
            ctype = rng.choice(content_types)
            if ctype:
                headers["Content-Type"] = ctype
            target = url.replace("{x}", rng.choice(GOOD_IDS))
            if i % 10 == 0 and "{x}" in url:  # a clean body, a poisoned path
                target = url.replace("{x}", rng.choice(BAD_IDS))
                body = _json(template, rng, b"", [True])
            elif i % 10 == 5:  # a clean body, a poisoned query (known or not)
                target += f"?{rng.choice(['account', 'x', '%00'])}={rng.choice(BAD_IDS)}"
                body = _json(template, rng, b"", [True])
            else:
                body = malformed(rng, template)
            r = await client.request(method, target, content=body, headers=headers)
            counts[r.status_code] = counts.get(r.status_code, 0) + 1
            assert 400 <= r.status_code < 500, (method, target, ctype, body[:80], r.text)
            assert isinstance(r.json()["detail"], str) and r.json()["detail"]
        assert time.monotonic() - started < 20, counts
        assert unstorable(journal.entries) == []
        # The gateway still works, and every change still reaches the journal.
        assert (await client.get("/health")).status_code == 200
        r = await client.post("/kill-switch", json={"account": "ACC1"}, headers=admin)
        assert r.status_code == 200 and "ACC1" in r.json()["state"]["accounts"]
        r = await client.put("/accounts/ACC1/limits", json={"max_open_orders": 9}, headers=admin)
        assert r.status_code == 200 and r.json()["max_open_orders"] == 9
        r = await client.post("/restricted-list", json={"symbol": "IBM"}, headers=admin)
        assert r.status_code == 201
        submit(service, "B1", account="ACC2")
        await service.barrier()
        orders = (await client.get("/orders", headers=admin)).json()
        assert [(o["cl_ord_id"], o["status"]) for o in orders] == [("B1", "0")]
        assert unstorable(journal.entries) == []
        await service.stop()

    run(scenario())
