"""What the REST API accepts as input, checked once for every route.

A JSON body is parsed strictly: no `NaN`/`Infinity` constants, no number
that overflows to infinity or past Python's integer digit limit, no text
(value or key) holding a NUL or a lone surrogate, which PostgreSQL cannot
store. Path and query parameters get the same text rule. Each is the
client's mistake: a 422 whose detail names the field, never a 500, and
nothing of it reaches the journal.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute

from oms.text import printable, text_problem


class _Bad:
    """A number the parser refused, kept in place so the walk can name its field."""

    __slots__ = ("problem",)

    def __init__(self, problem: str) -> None:
        self.problem = problem


def _shown(literal: str) -> str:
    return literal if len(literal) <= 24 else f"{literal[:12]}…({len(literal)} characters)"


def _constant(name: str) -> _Bad:
    return _Bad(f"{name} is not a number JSON allows; send a finite number")


def _float(literal: str) -> float | _Bad:
    value = float(literal)
    if not math.isfinite(value):
        return _Bad(f"number {_shown(literal)} is out of range")
    return value


def _int(literal: str) -> int | _Bad:
    try:
        return int(literal)
    except ValueError:  # past sys.get_int_max_str_digits()
        return _Bad(f"number {_shown(literal)} is out of range")


def refuse(detail: str) -> HTTPException:
    return HTTPException(422, f"invalid request: {printable(detail)}")


def strict_json(raw: bytes) -> Any:
    """The JSON document in `raw`, or an HTTPException(422) saying what is wrong with it.

    A syntax error is left to FastAPI (json.JSONDecodeError: its usual 422)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise refuse(f"the body is not UTF-8 text (byte {exc.start})") from None
    try:
        doc = json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int)
    except RecursionError:
        raise refuse("the body nests too deeply") from None
    problem = body_problem(doc)
    if problem:
        raise refuse(problem)
    return doc


def _field(path: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in path) or "body"


def body_problem(doc: Any) -> str | None:
    """The first refused number or text in a parsed body, naming its field; None if clean."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), doc)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, _Bad):
            return f"{_field(path)}: {value.problem}"
        if isinstance(value, str):
            problem = text_problem(value, _field(path))
            if problem:
                return problem
        elif isinstance(value, dict):
            items = list(value.items())
            for key, _ in items:
                problem = text_problem(key, f"a key in {_field(path)}")
                if problem:
                    return problem
            stack.extend(((*path, key), item) for key, item in reversed(items))
        elif isinstance(value, list):
            stack.extend(((*path, i), item) for i, item in reversed(list(enumerate(value))))
    return None


class StrictRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = strict_json(await self.body())
        return self._json


class StrictRoute(APIRoute):
    """A route whose JSON body goes through `strict_json`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictRequest(request.scope, request.receive))

        return strict_handler


async def clean_parameters(request: Request) -> None:
    """A dependency of every route: path and query parameters obey the text rule."""
    for name, value in request.path_params.items():
        problem = text_problem(str(value), f"path parameter {name}")
        if problem:
            raise refuse(problem)
    for name, value in request.query_params.multi_items():
        problem = (text_problem(name, "a query parameter name")
                   or text_problem(value, f"query parameter {name}"))
        if problem:
            raise refuse(problem)


def safe_for_json(value: Any) -> Any:
    """`value` with every string made storable and sendable and every non-finite number or
    byte string turned into text, so an error answer can always be rendered."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, bytes | bytearray):
        return printable(bytes(value).decode("utf-8", "replace"))
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Decimal) and not value.is_finite():
        return str(value)
    if isinstance(value, _Bad):
        return value.problem
    if isinstance(value, dict):
        return {safe_for_json(k): safe_for_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [safe_for_json(v) for v in value]
    return value
