"""Every workbook we send out (templates, return lists, follow-up lists, the quarterly report):
one way to write it safely, and the look they share."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

HEADER = {
    "bold": True,
    "bg_color": "#DDEBF7",
    "border": 1,
    "align": "center",
    "valign": "vcenter",
    "text_wrap": True,
}

# Text in our workbooks comes from the senders' sheets: a cell that starts with "=" or looks like
# a link or a number stays the text it was, never a formula, a hyperlink or a number.
TEXT_STAYS_TEXT = {
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
}


@contextlib.contextmanager
def safe_workbook(path: Path) -> Iterator:
    """An ``xlsxwriter.Workbook`` that keeps text as text, written to a hidden file beside
    ``path`` and renamed over it only when the block ends without an error: a reader sees the
    old workbook or the new one, never half of one, and a failure leaves no stray file."""
    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    workbook = xlsxwriter.Workbook(str(tmp), TEXT_STAYS_TEXT)
    try:
        yield workbook
        workbook.close()
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(Exception):
            workbook.close()
        tmp.unlink(missing_ok=True)
        raise
