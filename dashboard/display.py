"""How tables and metrics reach the screen, in a clinician's words.

`show_table` shows only the columns it is given, each named in words (the frame's own column
name when that is already a word, else the label given here), numbers rounded by their
column's format, dates as "10 Jan 2024" and a missing value as a dash, never "None".
`metric_row` lays metrics out side by side, each as wide as its label and value, wrapping onto
the next line where the page is narrow: a metric is never cut short ("Non-inflam...").
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

MISSING = "—"
# Every ASCII punctuation character may be escaped with a backslash in CommonMark (and in
# Streamlit's markdown): escaped, none of them starts a link, an image, HTML, emphasis, a
# heading, a list, a colour or icon directive (":red[...]", ":material/...:"), LaTeX ("$"), or
# a bare web address that GitHub-flavoured markdown would turn into a link.
_MARKDOWN_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")
DATE_FORMAT = "D MMM YYYY"  # 10 Jan 2024
WHEN_FORMAT = "D MMM YYYY, HH:mm"  # 10 Jan 2024, 14:05


def text(label: str | None = None, help: str | None = None,  # noqa: A002 - st's name
         width: str | None = None) -> Any:
    """Words as they are; `width` ("small", "medium", "large") keeps a long text column from
    widening the table past the page (the cell shows the rest when opened)."""
    return st.column_config.TextColumn(label, help=help, width=width)


def count(label: str | None = None, help: str | None = None) -> Any:  # noqa: A002
    """A whole number (lesions, visits, IGA)."""
    return st.column_config.NumberColumn(label, help=help, format="%d")


def number(label: str | None = None, decimals: int = 1, help: str | None = None) -> Any:  # noqa: A002
    """A measured number rounded for reading."""
    return st.column_config.NumberColumn(label, help=help, format=f"%.{decimals}f")


def percent(label: str | None = None, decimals: int = 0, help: str | None = None) -> Any:  # noqa: A002
    """A number already in percent (12.5 -> '12.5%')."""
    return st.column_config.NumberColumn(label, help=help, format=f"%.{decimals}f%%")


def day(label: str | None = None, help: str | None = None) -> Any:  # noqa: A002
    """A date, '10 Jan 2024'."""
    return st.column_config.DateColumn(label, help=help, format=DATE_FORMAT)


def moment(label: str | None = None, help: str | None = None) -> Any:  # noqa: A002
    """A date and time to the minute, '10 Jan 2024, 14:05'."""
    return st.column_config.DatetimeColumn(label, help=help, format=WHEN_FORMAT)


def tick(label: str | None = None, help: str | None = None) -> Any:  # noqa: A002
    """Yes / no, drawn as a tick box."""
    return st.column_config.CheckboxColumn(label, help=help)


def show_table(frame: pd.DataFrame, columns: Mapping[str, Any], **kwargs: Any) -> None:
    """The frame's `columns` (name -> one of the column kinds above), in that order; the other
    columns of the frame are not shown. Missing values show as a dash."""
    order = [name for name in columns if name in frame.columns]
    st.dataframe(frame, column_config={name: columns[name] for name in order},
                 column_order=order, hide_index=True, width="stretch", placeholder=MISSING,
                 **kwargs)


def metric_row() -> Any:
    """A row for `metric`s (a horizontal container): side by side, wrapping onto the next line
    where the page is narrow."""
    return st.container(horizontal=True, gap="medium")


def metric(where: Any, label: str, value: Any, **kwargs: Any) -> None:
    """A metric as wide as its label and value (in a `metric_row`), so neither is cut."""
    where.metric(label, value, width="content", **kwargs)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as UTF-8 CSV, every text cell that a spreadsheet would run as a formula
    quoted (core.plain_text.spreadsheet_cell); the column names too."""
    from core.plain_text import spreadsheet_cell

    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or str(safe[column].dtype) in ("string", "str"):
            safe[column] = safe[column].map(spreadsheet_cell)
    safe.columns = [spreadsheet_cell(str(name)) for name in safe.columns]
    return safe.to_csv(index=False).encode("utf-8")


def plain(text: object) -> str:
    """User-entered text (notes, names, descriptions, codes) made safe for any element that
    renders markdown (st.markdown, st.write, st.caption, st.info, titles, labels): every
    punctuation character is escaped, so the words show exactly as typed and nothing in them
    becomes a link, an image that the browser would fetch, HTML or formatting. Line breaks
    are kept as breaks."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))
    return "  \n".join(escaped.splitlines()) if "\n" in escaped or "\r" in escaped else escaped


def show_text(where: Any, text: object, prefix: str = "") -> None:
    """A paragraph of user-entered text (`prefix` is the app's own words, e.g. "Notes: "),
    shown as plain text (see `plain`)."""
    where.markdown(prefix + plain(text))
