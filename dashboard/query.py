"""Every address (query) parameter the app reads or writes, parsed in one place (issue 24).

An address is typed by anyone: `?patient=99999999999999999999999` or `?visit=²` must not reach a
query (an id past the database's integer range, a superscript digit `int()` refuses). A
parameter is an id only when it is 1 to 10 ASCII digits naming a number from 1 to 2^31 - 1
(PostgreSQL's `integer`, the narrowest id column); anything else gets the same answer as an id
the account may not see: "No such patient or no access." Pages never touch `st.query_params`
themselves (tests/dashboard/test_query_params.py checks the source).
"""
from __future__ import annotations

import streamlit as st

# The parameters the app uses; any other one is ignored.
PARAMETERS: tuple[str, ...] = ("patient", "visit")
MAX_ID = 2**31 - 1
NO_ACCESS = "No such patient or no access."


class BadParameter:
    """The value of a parameter that names no row (not a number, out of range)."""

    def __repr__(self) -> str:
        return "BAD"


BAD = BadParameter()


def parse_id(raw: object) -> int | BadParameter | None:
    """An id from an address value: None when absent or empty, BAD when it cannot be an id."""
    if raw is None:
        return None
    text = str(raw).strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ID)):
        return BAD
    value = int(text)
    return value if 1 <= value <= MAX_ID else BAD


def id_param(name: str) -> int | BadParameter | None:
    """The parameter `name` (one of PARAMETERS) of the page's address, parsed by `parse_id`."""
    if name not in PARAMETERS:
        raise ValueError(f"{name!r} is not an address parameter of the app; known: {PARAMETERS}")
    try:
        raw = st.query_params.get(name)
    except Exception:  # noqa: BLE001 - a malformed address must not end in a traceback
        return BAD
    return parse_id(raw)


def require_id(name: str) -> int | None:
    """The parameter's id, or None when the address has none; a value that cannot be an id
    stops the page with "No such patient or no access." (the answer to an id not allowed)."""
    value = id_param(name)
    if isinstance(value, BadParameter):
        st.error(NO_ACCESS)
        st.stop()
    return value  # type: ignore[return-value]


def set_id(name: str, value: int | None) -> None:
    """Put an id into the address (None: take the parameter out)."""
    if name not in PARAMETERS:
        raise ValueError(f"{name!r} is not an address parameter of the app; known: {PARAMETERS}")
    if value is None:
        st.query_params.pop(name, None)
    else:
        st.query_params[name] = str(int(value))


def clear() -> None:
    """Take every parameter out of the address (signing out)."""
    st.query_params.clear()
