"""Cell normalisers: one function per contract type, from a raw cell to a typed value.

Each returns ``(value, problem)``. A problem is a ``Problem(rule_id, message)`` in plain Chinese
for the sender; the value is then ``None``. Nothing here guesses: a date or an amount that cannot
be read exactly is a problem, never an approximation.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from decimal import Decimal

from ingest.pii import PII_IN_TEXT
from ingest.text import clean, compact

EXCEL_EPOCH = dt.date(1899, 12, 30)  # 1900 date system, including Excel's phantom 1900-02-29


@dataclass(frozen=True)
class Problem:
    rule_id: str
    message: str


def is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in ("", "\u3000"))


# ---------------------------------------------------------------------------- text


_PERSONAL_NUMBER = re.compile(PII_IN_TEXT)


def to_text(value: object) -> tuple[str | None, Problem | None]:
    """A code, a name, a unit: short text. An ID or a phone number in it (any spelling) is a row
    error: such a column is published as it is, and a number in it would stop publishing."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dt.datetime | dt.date):
        value = value.isoformat()[:10]
    text = compact(str(value))
    problem = personal_number_in(text)
    return (None, problem) if problem else ((text or None), None)


def personal_number_in(text: str | None) -> Problem | None:
    """The row error for an ID or a phone number in a column that is published as written."""
    if text and _PERSONAL_NUMBER.search(text):
        return Problem(
            "pii_in_field",
            "这一列填写了身份证号或手机号样式的号码；编号、姓名、单位、村名等列不能填写个人号码，请删去",
        )
    return None


def to_longtext(value: object) -> tuple[str | None, Problem | None]:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = clean(str(value))
    return (text or None), None


# ---------------------------------------------------------------------------- dates

_DATE_TEXT = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?$"
)
_DATE_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def _serial_to_date(serial: float) -> dt.date | None:
    # Serial numbers for 2000-01-01 .. 2099-12-31; anything else is not a date.
    if not (36526 <= serial < 73051) or serial != int(serial):
        return None
    return EXCEL_EPOCH + dt.timedelta(days=int(serial))


def to_date(value: object) -> tuple[dt.date | None, Problem | None]:
    if isinstance(value, dt.datetime):
        return value.date(), None
    if isinstance(value, dt.date):
        return value, None
    if isinstance(value, bool):
        return None, Problem("bad_date", f"日期无法识别：{value}")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return None, Problem("bad_date", f"日期无法识别：{value}")
        got = _serial_to_date(float(value)) if abs(value) < 1e9 else None
        if got is None:
            return None, Problem("bad_date", f"日期无法识别：{value}")
        return got, None
    text = clean(str(value))
    match = _DATE_TEXT.match(text) or _DATE_COMPACT.match(text)
    if match is None:
        if re.fullmatch(r"\d+(\.0+)?", text):
            got = _serial_to_date(float(text))
            if got is not None:
                return got, None
        return None, Problem("bad_date", f"日期无法识别：{value}（请写成 2013-04-02）")
    try:
        return dt.date(*(int(g) for g in match.groups())), None
    except ValueError:
        return None, Problem("bad_date", f"日期不存在：{value}")


# ---------------------------------------------------------------------------- numbers

_MONEY_TEXT = re.compile(r"^(-?[0-9]{1,16}(?:\.[0-9]{1,12})?)(万元|万|元)?$")
_FEN = Decimal("0.01")
_MAX_YUAN = Decimal(10) ** 16  # DECIMAL(18,2)
_FLOAT_NOISE = Decimal("0.000001")


def to_money(value: object, unit: str | None) -> tuple[Decimal | None, Problem | None]:
    """Yuan, exact to the fen. ``unit`` is the column's or sheet's unit ('万元' or None = 元);
    a unit written in the cell itself wins. A number cell may carry float noise below the fen
    (0.1 + 0.2); a written amount must be exact."""
    bad = Problem("bad_money", f"金额无法识别：{value}（请填数字，如 5000 或 0.5万元）")
    if isinstance(value, bool):
        return None, bad
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value) or abs(value) >= 1e17:
            return None, bad
        amount = Decimal(repr(float(value))) if isinstance(value, float) else Decimal(value)
        cell_unit, tolerance = None, _FLOAT_NOISE
    else:
        text = compact(str(value)).replace(",", "").replace("¥", "").replace("￥", "")
        match = _MONEY_TEXT.match(text)
        if match is None:
            return None, bad
        amount = Decimal(match.group(1))
        cell_unit, tolerance = match.group(2), Decimal(0)
    effective = cell_unit or unit
    if effective in ("万元", "万"):
        amount = amount * 10000
    if abs(amount) >= _MAX_YUAN:
        return None, Problem("bad_money", f"金额过大：{value}（请核对单位是元还是万元）")
    rounded = amount.quantize(_FEN)
    if abs(rounded - amount) > tolerance:
        return None, Problem("bad_money", f"金额精度超过分：{value}")
    return rounded, None


_PLAIN_NUMBER = re.compile(r"^[+-]?[0-9]{1,15}(?:\.[0-9]{1,12})?$")
_MAX_INT = 2**31  # INTEGER
_MAX_DECIMAL = Decimal(10) ** 8  # DECIMAL(10,2)


def _plain_number(value: object, units: str) -> Decimal | None:
    """A finite number written as digits (no exponent, no inf/nan), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value) if abs(value) < 10**15 else None
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) and abs(value) < 1e15 else None
    text = compact(str(value)).rstrip(units)
    return Decimal(text) if _PLAIN_NUMBER.match(text) else None


def to_int(value: object) -> tuple[int | None, Problem | None]:
    number = _plain_number(value, "人户个条次")
    if number is None or number != number.to_integral_value():
        return None, Problem("bad_number", f"不是整数：{value}")
    if abs(number) >= _MAX_INT:
        return None, Problem("bad_number", f"数值过大：{value}")
    return int(number), None


def to_decimal(value: object) -> tuple[Decimal | None, Problem | None]:
    number = _plain_number(value, "小时h")
    if number is None:
        return None, Problem("bad_number", f"不是数字：{value}")
    if abs(number) >= _MAX_DECIMAL:
        return None, Problem("bad_number", f"数值过大：{value}")
    return number.quantize(_FEN), None


_TRUE = {"是", "√", "✓", "✔", "有", "1", "y", "yes", "true", "对"}
_FALSE = {"否", "×", "✗", "✘", "x", "无", "0", "n", "no", "false", "不是"}


def to_bool(value: object) -> tuple[bool | None, Problem | None]:
    if isinstance(value, bool):
        return value, None
    text = compact(str(value)).lower()
    if text.endswith(".0"):
        text = text[:-2]
    if text in _TRUE:
        return True, None
    if text in _FALSE:
        return False, None
    return None, Problem("bad_bool", f"是/否 无法识别：{value}（请填 是 或 否）")


def to_enum(value: object, lookup: dict[str, str], allowed: tuple[str, ...]):
    text = compact(str(value))
    got = lookup.get(text)
    if got is None:
        return None, Problem("bad_enum", f"“{value}”不在可选值中（{'/'.join(allowed)}）")
    return got, None


# ---------------------------------------------------------------------------- identifiers

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def resident_id_check_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def to_resident_id(value: object) -> tuple[str | None, Problem | None]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return None, Problem(
            "id_mangled",
            f"身份证号被 Excel 存成了数字（{value}），后几位已丢失；请把该列设为文本后重新填写",
        )
    text = compact(str(value)).upper()
    if re.fullmatch(r"[0-9](\.[0-9]+)?E\+[0-9]+", text):
        return None, Problem(
            "id_mangled",
            f"身份证号被 Excel 改写成科学计数法（{value}）；请把该列设为文本后重新填写",
        )
    if not re.fullmatch(r"[0-9]{17}[0-9X]", text):
        return None, Problem("bad_id", f"身份证号应为18位（末位可为X）：{value}")
    try:
        dt.date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        return None, Problem("bad_id", f"身份证号中的出生日期不存在：{text[:6]}********{text[-4:]}")
    if resident_id_check_char(text[:17]) != text[17]:
        return None, Problem("bad_id", f"身份证号校验位错误：{text[:6]}********{text[-4:]}")
    return text, None


def to_phone(value: object) -> tuple[str | None, Problem | None]:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = re.sub(r"[\s\-()（）]", "", compact(str(value)))
    if text.startswith("+86"):
        text = text[3:]
    if not re.fullmatch(r"[0-9]{7,12}", text):
        return None, Problem("bad_phone", f"联系电话无法识别：{value}")
    return text, None


def to_credit_code(value: object) -> tuple[str | None, Problem | None]:
    text = compact(str(value)).upper()
    if not re.fullmatch(r"[0-9A-HJ-NPQRTUWXY]{18}", text):
        return None, Problem("bad_credit_code", f"统一社会信用代码应为18位：{value}")
    return text, None
