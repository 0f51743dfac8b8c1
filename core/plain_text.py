"""Text typed by people, made safe where it is read by other programs.

A spreadsheet opening a CSV file runs a cell that starts with `=`, `+`, `-` or `@` (and, in
some programs, a tab or a carriage return) as a formula: `=HYPERLINK("http://...")` in a study
arm's name would become a link, or worse (CSV or formula injection). `spreadsheet_cell` puts a
single quote before such a text, which spreadsheets show as the text itself. Numbers are
left as numbers (a negative count is not a formula).
"""
from __future__ import annotations

FORMULA_STARTS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: object) -> object:
    """`value` unchanged, unless it is a text starting like a formula: then quoted ("'=...")."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
