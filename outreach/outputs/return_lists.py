"""Feedback to senders: one Chinese workbook per sending unit listing what the warehouse sends back.

Reads the restricted raw layer of the build file (read-only): quarantined rows, quarantined
files and unmatched sheets, i.e. the current state of the inbox, not only this run's. Writes
``退回清单_<provider>_<unit>.xlsx`` for every unit (``ingest.senders``: a township, a joint
branch, an enterprise, the department; a file outside any unit folder goes to the department's
``退回清单_<provider>.xlsx``) that has something to fix, with a plain-Chinese hint per rule. A
unit's list holds its own files only: the rows it sends back quote the unit's own cells (names
of household heads among them), never another unit's. The raw layer holds personal data; nothing leaves this module unmasked: every
string that comes from a sender's file (cells, headers, file and sheet names, the loader's
messages that quote them) goes through :func:`mask_text` (IDs, mobiles, landlines, long digit
runs) before it is written.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ingest.discover import PROVIDER_NAMES
from ingest.pii import mask_text
from ingest.registry import DatasetSpec, load_registry, match_header_cell
from ingest.senders import Sender, sender_of
from outreach.outputs.workbook import safe_workbook
from outreach.settings import PROGRAMME_START

UNKNOWN_PROVIDER_FILE = "unknown"


def _value_text(value: object) -> str:
    """A cell value from ``original_values`` as the sender would recognise it, masked."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            text = str(int(value))  # 13812343210.0 is a phone typed as a number
        elif abs(value) >= 1e15:
            text = f"{value:.6g}"  # an ID Excel stored as a number: already unreadable
        else:
            text = repr(value)
    else:
        text = str(value)
    if text.endswith("T00:00:00"):
        text = text[: -len("T00:00:00")]
    return mask_text(text)


# ------------------------------------------------------------------------------ hints

ROW_HINTS = {
    "required_missing": "请补填该必填项（模板中表头带 * 的列）后重新报送。",
    "bad_date": "日期请写成 2013-04-02（或 2013年4月2日），并确认该日期真实存在（如没有2月30日）。",
    "date_out_of_range": f"请核对日期：应在 {PROGRAMME_START.isoformat()} 之后，且不晚于报送当天；如是笔误请更正。",
    "bad_money": "金额请只填数字，单位为元，如 5000；以万元计可写 0.5万元；不要夹带文字说明。",
    "bad_number": "请只填数字（人数、户数、条数为整数），不要夹带文字或单位。",
    "bad_bool": "请填“是”或“否”。",
    "bad_enum": "请从该列的下拉选项中选择，可选值见“问题”一栏；空白模板中有下拉框。",
    "bad_id": "请核对身份证号：应为18位，末位可为X，其中的出生日期和最后一位校验码须正确。",
    "id_mangled": "身份证号被 Excel 当成数字保存，后几位已丢失：请先把该列设为“文本”格式，再重新录入完整号码。",
    "bad_phone": "联系电话请填11位手机号，或带区号的固定电话（如 0898-12345678）；不要填写文字。",
    "bad_credit_code": "统一社会信用代码应为18位数字或大写字母，请对照营业执照核对。",
    "unknown_township": "乡镇请填写本县乡镇名称：{townships}。",
    "ditto_without_above": "“同上”只能在上一行已有内容时使用；请在该单元格填写实际内容。",
    "pii_in_field": "编号、姓名、单位等列不能填写身份证号或手机号：请删去号码（号码请填在“身份证号”“联系电话”列）后重新报送。",
    "not_sender_dataset": "这类台账不由本单位报送（如干部名册只由县委组织部报送）：请删除该工作表，或转交应报送的单位。",
    "row_from_other_unit": "该户属于其他乡镇，其走访和结对由该乡镇报送：请删除该行，如户编号写错请更正后重新报送。",
    "other_unit": "每个单位只报送本单位的数据：其他乡镇或支部的行请由该单位自行报送；如是笔误，请更正乡镇或支部名称后重新报送。",
}
ROW_HINT_FALLBACK = "请按“问题”一栏的说明修改该行后重新报送；如有疑问请联系县委组织部。"

FILE_HINTS = {
    "empty_file": "文件是空的（0 字节，或每个工作表都没有内容），可能是上传或拷贝中断，或报送了空白文件；请确认后重新报送。",
    "corrupt": "文件已损坏，无法打开（多为下载、拷贝不完整）；请在 Excel 中打开确认内容后，另存为新的 .xlsx 文件再报送。",
    "encrypted": "文件设置了打开密码：请在 Excel 中取消密码（文件 → 信息 → 保护工作簿 → 用密码进行加密，清空密码）后重新报送。",
    "not_spreadsheet": "这不是 Excel 表格（可能只是改了扩展名，或是没有表格的网页）：请在 Excel 中打开后“另存为” Excel 工作簿（.xlsx）再报送。",
    "bad_encoding": "文本表格的编码无法识别：请另存为“CSV UTF-8”或“Unicode 文本”，或直接另存为 .xlsx 报送。",
    "bad_csv": "CSV 文件中有引号没有成对，或某个单元格内容过长，后面的内容无法分开：请在 Excel 中打开核对该行后，另存为 .xlsx 报送。",
    "unsupported_format": "WPS 表格（.et）文件无法读取：请在 WPS 中“另存为” Excel 工作簿（.xlsx）后重新报送。",
    "unreadable": "读取时文件已被移走、删除或无法打开：请重新报送该文件。",
    "parser_error": "系统读取该文件时出错，责任不在报送单位；文件已留存，县委组织部会处理，无需重复报送。",
    "unknown_provider": "文件没有放在报送单位的文件夹里：请放入 townships（乡镇）、joint_branches（联合党支部）、enterprises（企业）或 county（县委组织部）文件夹后重新报送。",
    "zip_bomb": "文件解压后体积异常巨大，出于安全未读取：请把数据复制到空白模板中保存后重新报送。",
    "xml_entities": "文件内部含有不安全的结构（XML 实体），出于安全未读取：请把数据复制到空白模板中保存后重新报送。",
    "cell_bomb": "工作表的使用范围异常巨大（如整列格式被拉到第一百万行），出于安全未读取：请删除多余的行和列，或把数据复制到空白模板后重新报送。",
    "parser_crashed": "读取该文件时程序异常退出：请在 Excel 中打开后另存为新的 .xlsx 文件再报送。",
    "parser_timeout": "读取该文件超时：请删除无关的工作表、图片和大片空白格式，或按季度拆分为多个文件后重新报送。",
    "too_large": "文件过大：请按季度或乡镇拆分为多个文件，或删除无关的工作表和图片后重新报送。",
}
FILE_HINT_FALLBACK = (
    "该文件无法读取：请在 Excel 中打开后另存为 .xlsx 重新报送；如有疑问请联系县委组织部。"
)


def _template_line(spec: DatasetSpec) -> str:
    headers = "、".join(c.header + ("*" if c.required else "") for c in spec.columns)
    return f"{spec.title}：{headers}"


def _sheet_hint(header_cells: list[str], registry: dict[str, DatasetSpec]) -> str:
    """Which template the sheet comes closest to and which required headers it lacks."""
    best: tuple[int, DatasetSpec] | None = None
    for spec in registry.values():
        found = {col.name for h in header_cells if (col := match_header_cell(spec, h)[0])}
        score = len(found)
        if score and (best is None or score > best[0]):
            best = (score, spec)
    titles = "、".join(s.title for s in registry.values())
    if best is None or best[0] < 2:
        return (
            f"表头与任何模板都对不上。现有模板：{titles}；请使用空白模板的表头"
            "（见“说明”页）。若此工作表不是报送数据（如填表说明），可以忽略。"
        )
    spec = best[1]
    found = {col.name for h in header_cells if (col := match_header_cell(spec, h)[0])}
    missing = [c.header for c in spec.required if c.name not in found]
    lacking = f"，缺少必填列：{'、'.join(missing)}" if missing else ""
    return (
        f"最接近“{spec.title}”模板{lacking}。请按该模板补齐表头（表头须在同一行），"
        "或改用空白模板。若此工作表不是报送数据，可以忽略。"
    )


# ------------------------------------------------------------------------------ reading


@dataclass(frozen=True)
class Findings:
    rows: list[tuple]  # provider, file, sheet, row, dataset, rule, message, original JSON
    files: list[tuple]  # provider, file, rule, message
    sheets: list[tuple]  # provider, file, sheet, header JSON
    townships: list[str]


def _fetch(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    try:
        return con.execute(sql).fetchall()
    except duckdb.CatalogException:  # a build file from before the first ingest
        return []


def _read(build_db: Path) -> Findings:
    con = duckdb.connect(str(build_db), read_only=True)
    try:
        return Findings(
            rows=_fetch(
                con,
                "select coalesce(provider, ''), source_file, sheet_name, row_number, dataset, "
                "rule_id, message, original_values from raw.quarantine_rows "
                "order by source_file, sheet_name, row_number",
            )
            # rows the build returned: a township's visits and pairings of another's households
            + _fetch(
                con,
                "select coalesce(provider, ''), source_file, sheet_name, row_number, dataset, "
                "rule_id, detail, null from marts.dq_results where rule_id = 'row_from_other_unit' "
                "order by source_file, sheet_name, row_number",
            ),
            files=_fetch(
                con,
                "select coalesce(provider, ''), source_file, rule_id, message "
                "from raw.quarantine_files order by source_file, file_sha256",
            ),
            sheets=_fetch(
                con,
                "select coalesce(provider, ''), source_file, sheet_name, header_cells "
                "from raw.unmatched_sheets order by source_file, sheet_name",
            ),
            townships=[
                r[0]
                for r in _fetch(
                    con, "select township_name from raw.townships order by township_code"
                )
            ],
        )
    finally:
        con.close()


def _original_text(original_json: str | None) -> str:
    if not original_json:
        return ""
    try:
        cells = json.loads(original_json)
    except ValueError:
        return _value_text(original_json)
    if not isinstance(cells, dict):
        return _value_text(str(cells))
    return "；".join(
        f"{mask_text(str(header))}: {_value_text(value)}" for header, value in cells.items()
    )


def _header_list(header_json: str | None) -> list[str]:
    try:
        cells = json.loads(header_json or "[]")
    except ValueError:
        return [header_json or ""]
    return [str(c) for c in cells] if isinstance(cells, list) else [str(cells)]


# ------------------------------------------------------------------------------ writing


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _write_table(workbook, name: str, headers: list[str], rows: list[list], widths: list[int]):
    """A list sheet: bold header, frozen header row, autofilter, widths from the content.
    Cells are written as given: the caller masks everything that comes from a sender."""
    ws = workbook.add_worksheet(name)
    bold = workbook.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
    number = workbook.add_format({"valign": "top"})
    for c, header in enumerate(headers):
        ws.write_string(0, c, header, bold)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if isinstance(value, int):
                ws.write_number(r, c, value, number)
            else:
                ws.write_string(r, c, value or "", wrap)
    for c, header in enumerate(headers):
        longest = max([_width(header)] + [_width(str(row[c] or "")) for row in rows])
        ws.set_column(c, c, min(max(longest + 2, 8), widths[c]))
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, max(len(rows), 1), len(headers) - 1)
    return ws


def _sender(source_file: str | None, townships: frozenset[str]) -> Sender:
    return sender_of(source_file or "", townships)


def _who(sender: Sender) -> str:
    """The unit a list is for, in words: ``乡镇：毛感乡``, ``县委组织部``."""
    kind = PROVIDER_NAMES.get(sender.provider or "", "未放入报送单位文件夹的文件")
    if not sender.unit:
        return kind if sender.provider in (None, "county") else f"{kind}（未放入单位文件夹的文件）"
    return f"{kind}：{'／'.join(sender.unit)}"


def write_unit_workbook(
    path: Path,
    sender: Sender,
    run_id: str,
    findings: Findings,
    registry: dict[str, DatasetSpec],
) -> None:
    townships = frozenset(findings.townships)
    rows = [r for r in findings.rows if _sender(r[1], townships) == sender]
    files = [f for f in findings.files if _sender(f[1], townships) == sender]
    sheets = [s for s in findings.sheets if _sender(s[1], townships) == sender]
    township_hint = "、".join(findings.townships) or "见县乡镇名录"
    who = mask_text(_who(sender))

    # cell text comes from the senders' files: safe_workbook keeps it text
    with safe_workbook(path) as workbook:
        title = workbook.add_format({"bold": True, "font_size": 14})
        label = workbook.add_format({"bold": True, "valign": "top"})
        wrap = workbook.add_format({"text_wrap": True, "valign": "top"})
        intro = workbook.add_worksheet("说明")
        intro.set_column(0, 0, 22)
        intro.set_column(1, 1, 100)
        lines: list[tuple[str, str]] = [
            ("这是什么", "报送数据退回清单：下列内容未能入库，请按“如何修改”更正。"),
            ("报送单位", who),
            ("运行编号", run_id),
            (
                "退回行",
                f"{len(rows)} 行（{len({r[1] for r in rows})} 个文件），见“退回行”页",
            ),
            ("退回文件", f"{len(files)} 个整份文件无法读取，见“退回文件”页"),
            ("无法识别的工作表", f"{len(sheets)} 个，见“无法识别的工作表”页"),
            (
                "如何重新报送",
                "在原文件中改正后，用同一文件名放回原文件夹即可：新文件会整体替换旧文件，"
                "已入库的其他行不会重复。整份退回的文件请修复后重新报送。",
            ),
            (
                "个人信息",
                "本清单中的身份证号、电话号码均已脱敏（如 469029********0024、138****3210），"
                "请根据文件名、工作表和行号在原文件中查找。",
            ),
        ]
        intro.write_string(0, 0, f"数据退回清单（{who}）", title)
        for i, (key, text) in enumerate(lines, start=2):
            intro.write_string(i, 0, key, label)
            intro.write_string(i, 1, text, wrap)
        line = len(lines) + 3
        intro.write_string(line, 0, "现有模板", label)
        intro.write_string(line, 1, "每个工作表的表头须与以下任一模板一致（带 * 为必填列）：", wrap)
        for spec in registry.values():
            line += 1
            intro.write_string(line, 1, _template_line(spec), wrap)

        def dataset_title(name: str) -> str:
            return registry[name].title if name in registry else (name or "")

        def row_hint(rule: str) -> str:
            hint = ROW_HINTS.get(rule, ROW_HINT_FALLBACK)
            return hint.format(townships=township_hint) if "{" in hint else hint

        _write_table(
            workbook,
            "退回行",
            ["文件", "工作表", "行号", "数据集", "问题", "如何修改", "原始内容"],
            [
                [
                    mask_text(source_file or ""),
                    mask_text(sheet or ""),
                    int(row_number) if row_number is not None else "",
                    dataset_title(dataset),
                    mask_text(message or ""),
                    row_hint(rule or ""),
                    _original_text(original),
                ]
                for _, source_file, sheet, row_number, dataset, rule, message, original in rows
            ],
            [50, 20, 8, 24, 50, 50, 80],
        )
        _write_table(
            workbook,
            "退回文件",
            ["文件", "问题", "如何修改"],
            [
                [
                    mask_text(source_file or ""),
                    mask_text(message or ""),
                    FILE_HINTS.get(rule or "", FILE_HINT_FALLBACK),
                ]
                for _, source_file, rule, message in files
            ],
            [50, 60, 80],
        )
        _write_table(
            workbook,
            "无法识别的工作表",
            ["文件", "工作表", "表头", "如何修改"],
            [
                [
                    mask_text(source_file or ""),
                    mask_text(sheet or ""),
                    mask_text(" | ".join(_header_list(header))),
                    _sheet_hint(_header_list(header), registry),
                ]
                for _, source_file, sheet, header in sheets
            ],
            [50, 20, 60, 80],
        )


def feedback_name(sender: Sender) -> str:
    """``退回清单_townships_毛感乡.xlsx``, ``退回清单_county.xlsx``; files outside any provider
    folder: ``退回清单_unknown.xlsx``. Only letters (Chinese too), digits and ``_``."""
    safe = re.sub(r"\W", "_", mask_text(sender.key).replace("*", "x"))[:80]  # a file name's length
    return f"退回清单_{safe or UNKNOWN_PROVIDER_FILE}.xlsx"


def write_feedback(build_db: Path, report_dir: Path, run_id: str) -> list[Path]:
    """Write one ``退回清单_<provider>_<unit>.xlsx`` per sending unit with anything to send back.

    Returns the paths written, sorted. A unit with nothing to fix gets no workbook (and a stale
    one from an earlier attempt of the same run is removed). No build file: nothing.
    """
    report_dir.mkdir(parents=True, exist_ok=True)
    findings = _read(build_db) if build_db.exists() else Findings([], [], [], [])
    registry = load_registry()
    townships = frozenset(findings.townships)
    senders = sorted(
        {_sender(r[1], townships) for r in findings.rows}
        | {_sender(f[1], townships) for f in findings.files}
        | {_sender(s[1], townships) for s in findings.sheets},
        key=lambda s: s.key,
    )
    written = []
    names: set[str] = set()
    for sender in senders:
        name = feedback_name(sender)
        if name in names:  # two units whose names write the same (a/b and a_b): keep both
            name = (
                name.removesuffix(".xlsx")
                + f"_{hashlib.sha256(sender.key.encode()).hexdigest()[:8]}.xlsx"
            )
        names.add(name)
        path = report_dir / name
        write_unit_workbook(path, sender, run_id, findings, registry)
        written.append(path)
    for stale in report_dir.glob("退回清单_*.xlsx"):
        if stale not in written:
            stale.unlink()
    return sorted(written)
