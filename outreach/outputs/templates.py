"""Blank templates for the partners: one xlsx per dataset of the registry (``ingest/registry.yml``).

Each template is what the loader reads best: a title row, the header row (``*`` marks a required
column), a notes row that says how to fill each column, then empty data rows with drop-downs for
enum, yes/no and township columns, text format for ID, phone and code columns and a date format
for date columns. The notes row starts with ``填写说明：`` so the loader can recognise it and skip
it as not-data (see ``NOTES_MARK``); a filled template must load with every row accounted for.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from ingest.discover import PROVIDER_NAMES
from ingest.places import load_gazetteer
from ingest.registry import ColumnSpec, DatasetSpec, load_registry
from outreach.outputs.workbook import HEADER, safe_workbook
from outreach.settings import DEFAULT_GAZETTEER

NOTES_MARK = "填写说明："
TITLE_ROW, HEADER_ROW, NOTES_ROW, FIRST_DATA_ROW = 0, 1, 2, 3
DATA_ROWS = 2000  # rows below the notes row that carry drop-downs and formats

TYPE_NOTES = {
    "text": "文本",
    "longtext": "文字说明；请勿写入身份证号、电话号码",
    "place_township": "本县乡镇名称，如 什玲镇（可下拉选择）",
    "place_village": "村委会名称，如 什玲村委会",
    "date": "日期：2013-04-02",
    "money": "金额：元，可写 0.5万元",
    "int": "整数，如 3",
    "decimal": "数字，可带小数，如 1.5",
    "bool": "是/否（下拉选择）",
    "resident_id": "18位身份证号，末位可为X；身份证号请设为文本格式（本列已设为文本）",
    "phone": "11位手机号或带区号的固定电话，如 0898-12345678；请设为文本格式（本列已设为文本）",
    "credit_code": "18位统一社会信用代码（文本格式）",
}
# What a column means beyond its type, where the contract says more than the type does.
COLUMN_NOTES = {
    "pair_end": "空白表示结对仍在继续",
    "end_date": "空白表示仍在驻村",
    "decided_on": "一月一议的日期（每月最后一个星期五）",
    "closed_on": "未办结可留空",
    "household_code": "与困难户信息中的户编号一致",
    "cadre_code": "与干部名册中的干部编号一致",
    "project_code": "与项目台账中的项目编号一致",
}
_TEXT_FORMAT_TYPES = {"resident_id", "phone", "credit_code"}


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _is_text_formatted(col: ColumnSpec) -> bool:
    """ID, phone and code columns: Excel must keep them as typed (leading zeros, 18 digits)."""
    return col.type in _TEXT_FORMAT_TYPES or (col.type == "text" and col.name.endswith("_code"))


def column_note(col: ColumnSpec) -> str:
    """How to fill one column, in plain Chinese: required or not, type and format, values."""
    if col.type == "enum":
        note = f"可选：{'/'.join(col.values)}（下拉选择）"
    else:
        note = TYPE_NOTES[col.type]
    if col.type == "text" and _is_text_formatted(col):
        note = "文本格式的编号"
    extra = COLUMN_NOTES.get(col.name)
    if extra:
        note = f"{note}；{extra}"
    return ("必填；" if col.required else "选填；") + note


def header_text(col: ColumnSpec) -> str:
    return col.header + ("*" if col.required else "")


def _choices(col: ColumnSpec, townships: list[str]) -> list[str]:
    if col.type == "enum":
        return list(col.values)
    if col.type == "bool":
        return ["是", "否"]
    if col.type == "place_township":
        return townships
    return []


def template_name(index: int, spec: DatasetSpec) -> str:
    return f"{index:02d}_{spec.title}_{spec.name}.xlsx"


def write_template(path: Path, spec: DatasetSpec, townships: list[str]) -> None:
    """One dataset's blank template at ``path``; ``townships``: the 乡镇 drop-down's choices."""
    # a template holds only our own text; written like every workbook we send out
    with safe_workbook(path) as workbook:
        ws = workbook.add_worksheet(spec.title[:31])
        title_fmt = workbook.add_format({"bold": True, "font_size": 14, "align": "center"})
        header_fmt = workbook.add_format(HEADER)
        required_fmt = workbook.add_format({**HEADER, "font_color": "#C00000"})
        notes_fmt = workbook.add_format(
            {"italic": True, "font_color": "#595959", "text_wrap": True, "valign": "top"}
        )
        column_fmts = {
            "text": workbook.add_format({"num_format": "@"}),
            "date": workbook.add_format({"num_format": "yyyy-mm-dd"}),
            "money": workbook.add_format({"num_format": "#,##0.00"}),
            "int": workbook.add_format({"num_format": "0"}),
            "decimal": workbook.add_format({"num_format": "0.00"}),
        }

        who = "、".join(PROVIDER_NAMES.get(p, p) for p in spec.providers)
        last_col = len(spec.columns) - 1
        title = f"{spec.title}（填报单位：{who}）"
        if last_col > 0:
            ws.merge_range(TITLE_ROW, 0, TITLE_ROW, last_col, title, title_fmt)
        else:
            ws.write_string(TITLE_ROW, 0, title, title_fmt)
        ws.set_row(HEADER_ROW, 32)
        ws.set_row(NOTES_ROW, 66)
        last_data_row = FIRST_DATA_ROW + DATA_ROWS - 1
        for c, col in enumerate(spec.columns):
            note = column_note(col)
            if c == 0:
                note = NOTES_MARK + note  # the loader skips the row by this mark
            header = header_text(col)
            ws.write_string(HEADER_ROW, c, header, required_fmt if col.required else header_fmt)
            ws.write_string(NOTES_ROW, c, note, notes_fmt)

            if _is_text_formatted(col):
                fmt = column_fmts["text"]
            else:
                fmt = column_fmts.get(col.type)
            width = 40 if col.type == "longtext" else max(_width(header) + 4, 12)
            if col.type in ("resident_id", "credit_code"):
                width = max(width, 22)
            ws.set_column(c, c, width, fmt)

            choices = _choices(col, townships)
            if choices:
                ws.data_validation(
                    FIRST_DATA_ROW,
                    c,
                    last_data_row,
                    c,
                    {
                        "validate": "list",
                        "source": choices,
                        # a warning, not a stop: 同上 and the accepted aliases still go in
                        "error_type": "warning",
                        "error_title": "不在可选值中",
                        "error_message": f"“{col.header}”请选择：{'/'.join(choices)}",
                    },
                )
        ws.freeze_panes(FIRST_DATA_ROW, 0)


def write_templates(target: Path, gazetteer: Path = DEFAULT_GAZETTEER) -> list[Path]:
    """Write one blank template per dataset into ``target``; returns the paths in registry order.

    ``gazetteer`` gives the townships offered in the 乡镇 drop-downs.
    """
    target.mkdir(parents=True, exist_ok=True)
    townships = [t.name for t in load_gazetteer(Path(gazetteer)).townships]
    written = []
    for index, spec in enumerate(load_registry().values(), start=1):
        path = target / template_name(index, spec)
        write_template(path, spec, townships)
        written.append(path)
    return written
