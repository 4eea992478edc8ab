"""Tables for the book's pages: Markdown pipe tables, which MyST-NB renders as tables (GitHub-flavoured Markdown).

A chapter shows one with ``IPython.display.Markdown(markdown_table(...))``; outside the book (Colab, Jupyter) the
same call renders as a table too.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

__all__ = ["markdown_table", "markdown_records"]


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown pipe table with the given header and rows; ``|`` inside a cell is escaped.

    Examples:
        >>> from implicit.tables import markdown_table
        >>> print(markdown_table(["m", "verdict"], [[100, "reproduced"], [200, "a | b"]]))
        | m | verdict |
        |---|---|
        | 100 | reproduced |
        | 200 | a \\| b |
    """
    def cell(value: object) -> str:
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(map(cell, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in rows]
    return "\n".join(lines)


def markdown_records(records: Sequence[Mapping[str, object]] | Mapping[object, Mapping[str, object]],
                     columns: Mapping[str, str] | None = None, digits: int = 3) -> str:
    """A Markdown table of records, one row each; floats to ``digits`` significant digits.

    Args:
        records: a list of dicts with the same keys, or ``{key: {column: value}}`` (the key becomes the first,
            unnamed column).
        columns: ``{column: header}``, the columns to show in that order (default: every key, named as it is).

    Examples:
        >>> from implicit.tables import markdown_records
        >>> print(markdown_records([{"m": 16, "rate": 0.123456}, {"m": 32, "rate": 1.0}]))
        | m | rate |
        |---|---|
        | 16 | 0.123 |
        | 32 | 1 |
        >>> print(markdown_records({100: {"dW": 1.23456, "t": 2.0}}, {"t": "time", "dW": "max ‖ΔW‖"}))
        |  | time | max ‖ΔW‖ |
        |---|---|---|
        | 100 | 2 | 1.23 |
    """
    def text(value: object) -> object:
        return f"{value:.{digits}g}" if isinstance(value, float) else value

    keyed = isinstance(records, Mapping)
    rows = list(records.values()) if keyed else list(records)
    if not rows:
        raise ValueError("no records to tabulate")
    columns = dict(columns) if columns is not None else {c: c for c in rows[0]}
    body = [[text(row[c]) for c in columns] for row in rows]
    if keyed:
        return markdown_table(["", *columns.values()], [[key, *row] for key, row in zip(records, body, strict=True)])
    return markdown_table(list(columns.values()), body)
