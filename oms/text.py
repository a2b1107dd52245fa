"""Text that may enter the journal: one rule for every door (FIX, REST, agents).

PostgreSQL cannot store a NUL character, and a lone UTF-16 surrogate (what a
non-UTF-8 byte from a FIX peer decodes to) can be neither stored nor sent
back. Such text is refused at the boundary with a reason naming the field;
`printable` makes any text safe to echo in a reply.
"""

from __future__ import annotations

import re

_BAD = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str, field: str) -> str | None:
    """Why `value` cannot be accepted as `field`, or None when it can."""
    m = _BAD.search(value)
    if m is None:
        return None
    ch = m.group()
    what = "a NUL byte" if ch == "\x00" else "a byte that is not UTF-8"
    return f"{field} contains {what} at position {m.start()}"


def printable(value: str) -> str:
    """`value` with every character that cannot be stored or sent replaced by U+FFFD."""
    return _BAD.sub("\ufffd", value)
