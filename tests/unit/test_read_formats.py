"""Every format partners really save is read to the same rows, and every broken one is refused
with a rule and a reason: CSV and TSV in every encoding and line end, OpenDocument, xlsb, WPS
.et, HTML tables and SpreadsheetML 2003 saved as .xls."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import pytest

from ingest.discover import sniff
from ingest.guard import DEFAULT_LIMITS, Limits, inspect
from ingest.header import find_header
from ingest.read import ReadError, read_sheets
from ingest.read_text import detect_delimiter
from ingest.registry import load_registry
from tests.workbooks import (
    html_table_bytes,
    ods_bytes,
    spreadsheetml_bytes,
    text_table_bytes,
    xls_bytes,
    xlsb_bytes,
)

TITLE = ["保亭县毛感乡2014年第二季度帮扶走访记录表"]
HEADER = ["走访日期", "干部编号", "户编号", "走访方式", "备注"]
DATA = [
    ["2014-04-02", "C001", "H001", "入户", "了解生产情况，群众反映“路难走”"],
    ["2014-04-03", "C002", "H002", "电话", "多行\n备注"],
]
ROWS = [TITLE, HEADER, *DATA]
SMALL = Limits(max_cells=1000)


def _read(tmp_path: Path, name: str, data: bytes, limits: Limits = DEFAULT_LIMITS):
    path = tmp_path / name
    path.write_bytes(data)
    kind = sniff(path)
    finding = inspect(path, kind, len(data), limits)
    if finding is not None:
        raise ReadError(finding.rule_id, finding.message)
    return kind, read_sheets(path, kind, limits)


def _texts(rows) -> list[list[str]]:
    """Rows as the text a clerk sees, trailing empty cells dropped."""
    out = []
    for row in rows:
        cells = ["" if v is None else str(v) for v in row]
        while cells and cells[-1] == "":
            cells.pop()
        out.append(cells)
    return out


# (encoding, with its byte-order mark): GB18030 has no mark
ENCODINGS = [
    (encoding, bom)
    for encoding in ("utf-8", "gb18030", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
    for bom in (True, False)
    if not (bom and encoding == "gb18030")
]


@pytest.mark.parametrize(("encoding", "bom"), ENCODINGS)
@pytest.mark.parametrize("line_end", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize(("delimiter", "suffix"), [(",", ".csv"), ("\t", ".txt"), ("\t", ".tsv")])
def test_text_tables_in_every_encoding_line_end_and_separator_read_the_same(
    tmp_path, encoding, bom, line_end, delimiter, suffix
):
    data = text_table_bytes(ROWS, encoding, line_end, delimiter, bom)
    kind, (sheet,) = _read(tmp_path, f"走访{suffix}", data)
    assert kind == "csv"
    assert _texts(sheet.rows) == _texts(ROWS)


def test_excel_unicode_text_is_found_as_a_visits_sheet(tmp_path):
    """Excel's "Unicode 文本": UTF-16LE with its mark, tab-separated, CRLF, named .txt."""
    data = text_table_bytes(ROWS, "utf-16-le", "\r\n", "\t", bom=True)
    _, (sheet,) = _read(tmp_path, "走访.txt", data)
    assert find_header(sheet, load_registry()).dataset == "visits"


@pytest.mark.parametrize(
    ("sample", "delimiter"),
    [
        ("a,b,c\n1,2,3\n", ","),
        ("a\tb\tc\n1\t2\t3\n", "\t"),
        ("a;b;c\n1;2;3\n", ";"),
        # a comma inside the text of a tab-separated file does not make it comma-separated
        ("标题，说明\n日期\t编号\t备注\n2014-04-02\tC1\t路难走,桥也坏了\n", "\t"),
        ('"a,b"\tc\n"1,2"\t3\n', "\t"),
        ("one column\nno separator\n", ","),
    ],
)
def test_the_separator_is_detected(sample, delimiter):
    assert detect_delimiter(sample) == delimiter


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (b"a,b\n" + b"x" * 200_000 + b",1\n", "bad_csv"),  # a cell over the field limit
        (b'a,b\n"x,y\nc,d\ne,f\n', "bad_csv"),  # an opening quote never closed
        ("走访日期,户编号\n".encode("utf-16-le") + b"\xff\xfe\x00\xd8", "bad_encoding"),
        (b"\xff\xfe\x00\x00" + b"\x00\x00\x11\x00" * 4, "bad_encoding"),  # past U+10FFFF
    ],
)
def test_broken_text_tables_are_refused_with_a_reason(tmp_path, data, rule):
    with pytest.raises(ReadError) as err:
        _read(tmp_path, "坏.csv", data)
    assert err.value.rule_id == rule and err.value.message


def test_an_unclosed_quote_names_the_line_it_starts_on(tmp_path):
    data = '走访日期,户编号,备注\n2014-04-02,H1,好\n2014-04-03,H2,"没有收尾\n2014-04-04,H3,x\n'
    with pytest.raises(ReadError) as err:
        _read(tmp_path, "坏.csv", data.encode())
    assert "第 3 行" in err.value.message


def test_text_with_zero_bytes_that_is_no_encoding_is_not_a_spreadsheet(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"\x00\x01\x02\x03abc\x00\x00\x05" * 50)
    assert sniff(path) == "unknown"
    with pytest.raises(ReadError) as err:
        read_sheets(path, "unknown")
    assert err.value.rule_id == "not_spreadsheet"


def test_opendocument_reads_like_a_workbook(tmp_path):
    kind, (sheet,) = _read(tmp_path, "走访.ods", ods_bytes({"走访": ROWS}))
    assert kind == "ods"
    assert _texts(sheet.rows) == _texts(ROWS)


@pytest.mark.parametrize(
    "extra",
    [
        # a value repeated over a million rows and thousands of columns
        '<table:table-row table:number-rows-repeated="1000000">'
        '<table:table-cell office:value-type="string" table:number-columns-repeated="100">'
        "<text:p>x</text:p></table:table-cell></table:table-row>",
        # one value far away, after a million repeated empty rows
        '<table:table-row table:number-rows-repeated="1000000"><table:table-cell '
        'table:number-columns-repeated="16000"/></table:table-row>'
        '<table:table-row><table:table-cell table:number-columns-repeated="50"/>'
        '<table:table-cell office:value-type="string"><text:p>x</text:p></table:table-cell>'
        "</table:table-row>",
        # a merged range of a million rows
        '<table:table-row><table:table-cell office:value-type="string" '
        'table:number-rows-spanned="1000000" table:number-columns-spanned="20">'
        "<text:p>x</text:p></table:table-cell></table:table-row>",
    ],
)
def test_opendocument_cell_bombs_are_caught_before_parsing(tmp_path, extra):
    path = tmp_path / "bomb.ods"
    path.write_bytes(ods_bytes({"走访": ROWS}, extra_rows_xml=extra))
    finding = inspect(path, sniff(path), path.stat().st_size)
    assert finding is not None and finding.rule_id == "cell_bomb"


def test_opendocument_with_entities_is_refused(tmp_path):
    data = ods_bytes({"走访": ROWS})
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename == "content.xml":
                body = body.replace(
                    b"?>", b'?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>', 1
                )
            dst.writestr(info.filename, body)
    path = tmp_path / "entities.ods"
    path.write_bytes(buf.getvalue())
    assert inspect(path, sniff(path), path.stat().st_size).rule_id == "xml_entities"


def test_a_merged_range_counts_against_the_cell_guard(tmp_path):
    """A 5 KB xlsx whose merge A3:K1000000 would be filled in cell by cell."""
    from tests.hostile import _xlsx_bytes, good_rows_xml

    merge = '<mergeCells count="1"><mergeCell ref="A3:K1000000"/></mergeCells>'
    data = _xlsx_bytes(good_rows_xml(), after_data=merge)
    assert inspect_bytes_ok(tmp_path, _xlsx_bytes(good_rows_xml()))
    path = tmp_path / "merged.xlsx"
    path.write_bytes(data)
    assert inspect(path, "xlsx", len(data)).rule_id == "cell_bomb"


def inspect_bytes_ok(tmp_path: Path, data: bytes) -> bool:
    path = tmp_path / "ok.xlsx"
    path.write_bytes(data)
    return inspect(path, "xlsx", len(data)) is None


def test_xlsb_reads_like_a_workbook(tmp_path):
    kind, (sheet,) = _read(tmp_path, "走访.xlsb", xlsb_bytes({"走访": ROWS}))
    assert kind == "xlsx"  # an Office Open XML package; calamine tells xlsb from xlsx
    assert _texts(sheet.rows) == _texts(ROWS)


def test_a_wps_et_that_is_an_xls_inside_is_read(tmp_path):
    kind, (sheet,) = _read(tmp_path, "走访.et", xls_bytes({"走访": ROWS}))
    assert kind == "xls"
    assert _texts(sheet.rows) == _texts(ROWS)


def test_a_wps_et_calamine_cannot_read_asks_for_xlsx(tmp_path):
    data = xls_bytes({"走访": ROWS}).replace(
        "Workbook".encode("utf-16-le"), "WpsBook1".encode("utf-16-le")
    )
    with pytest.raises(ReadError) as err:
        _read(tmp_path, "走访.et", data)
    assert err.value.rule_id == "unsupported_format"
    assert ".xlsx" in err.value.message and "WPS" in err.value.message
    with pytest.raises(ReadError) as err:  # the same bytes named .xls: a broken workbook
        _read(tmp_path, "走访.xls", data)
    assert err.value.rule_id == "corrupt"


@pytest.mark.parametrize("charset", ["utf-8", "gbk", "gb2312"])
def test_an_html_table_saved_as_xls_is_read(tmp_path, charset):
    data = html_table_bytes(ROWS, charset=charset, merges=[(0, 0, 0, 4)])
    kind, (sheet,) = _read(tmp_path, "走访导出.xls", data)
    assert kind == "html"
    assert sheet.name == "走访导出"
    assert _texts(sheet.rows) == _texts([TITLE * 5, HEADER, *DATA])  # the merge fills its row
    assert find_header(sheet, load_registry()).dataset == "visits"


def test_html_spans_script_nested_tables_and_captions(tmp_path):
    page = """<html><head><title>x</title><script>document.write('<table><tr><td>no</td></tr></table>')</script></head>
    <body><table><caption>走访 清单</caption>
      <tr><th rowspan="2">走访日期</th><th colspan="2">对象</th></tr>
      <tr><td>干部编号</td><td>户编号
      <tr><td>2014-04-02<td>C1<td>H1&nbsp;<br>（补）</td></tr>
      <tr><td colspan="3"><table><tr><td>内层</td></tr></table>合计</td></tr>
      <tr><td rowspan="9">尾</td></tr>
    </table></body></html>"""
    _, sheets = _read(tmp_path, "p.xls", page.encode())
    assert [s.name for s in sheets] == ["走访 清单", "p_2"]
    assert _texts(sheets[0].rows) == [
        ["走访日期", "对象", "对象"],
        ["走访日期", "干部编号", "户编号"],
        ["2014-04-02", "C1", "H1\n（补）"],
        ["合计", "合计", "合计"],
        ["尾"],  # a rowspan past the last row ends with the table
    ]
    assert _texts(sheets[1].rows) == [["内层"]]


@pytest.mark.parametrize(
    ("page", "rule"),
    [
        ("<html><body><p>会话已过期</p></body></html>", "not_spreadsheet"),
        ("<html><body><table><tr><td></td></tr></table></body></html>", "not_spreadsheet"),
        ("<table><tr>" + "<td>x</td>" * 1001 + "</tr></table>", "cell_bomb"),
        (
            '<table><tr><td rowspan="3">x</td></tr>' + "<tr><td>y</td></tr>" * 600 + "</table>",
            "cell_bomb",
        ),
    ],
)
def test_html_without_a_table_or_with_a_cell_bomb_is_refused(tmp_path, page, rule):
    with pytest.raises(ReadError) as err:
        _read(tmp_path, "p.xls", page.encode(), SMALL)
    assert err.value.rule_id == rule


def test_html_spans_end_with_the_table(tmp_path):
    """HTML caps a rowspan at 65534; the rows it covers end with the table, so a huge span on
    a short table is read, not feared."""
    page = '<table><tr><td rowspan="65534" colspan="3">x</td><td>y</td></tr><tr><td>z</td></tr></table>'
    _, (sheet,) = _read(tmp_path, "p.xls", page.encode())
    assert sheet.rows == [["x", "x", "x", "y"], ["x", "x", "x", "z"]]


def test_spreadsheetml_2003_is_read_with_its_types(tmp_path):
    rows = [
        HEADER,
        [dt.date(2014, 4, 2), "C001", "H001", "入户", None],
        [41733, "C002", "H002", "电话", True],
    ]
    kind, (sheet, other) = _read(
        tmp_path, "走访.xls", spreadsheetml_bytes({"走访": rows, "其他": [["x"]]})
    )
    assert kind == "spreadsheetml"
    assert (other.name, other.rows) == ("其他", [["x"]])
    assert sheet.rows == [
        HEADER,
        [dt.date(2014, 4, 2), "C001", "H001", "入户", None],
        [41733, "C002", "H002", "电话", True],
    ]


def test_spreadsheetml_index_gaps_and_merges(tmp_path):
    xml = (
        '<?xml version="1.0"?><?mso-application progid="Excel.Sheet"?>'
        '<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" '
        'xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet"><Worksheet ss:Name="走访"><Table>'
        '<Row><Cell ss:MergeAcross="2"><Data ss:Type="String">标题</Data></Cell></Row>'
        '<Row ss:Index="3"><Cell ss:MergeDown="1"><Data ss:Type="String">A</Data></Cell>'
        '<Cell ss:Index="3"><Data ss:Type="Number">1.5</Data></Cell></Row>'
        '<Row><Cell ss:Index="2"><Data ss:Type="String">B</Data></Cell></Row>'
        "</Table></Worksheet></Workbook>"
    )
    _, (sheet,) = _read(tmp_path, "x.xls", xml.encode())
    assert sheet.rows == [
        ["标题", "标题", "标题"],
        [None, None, None],
        ["A", None, 1.5],
        ["A", "B", None],
    ]


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ('<Row ss:Index="900000"><Cell><Data ss:Type="String">x</Data></Cell></Row>', "cell_bomb"),
        (
            '<Row><Cell ss:MergeAcross="5000" ss:MergeDown="5000"><Data ss:Type="String">x</Data></Cell></Row>',
            "cell_bomb",
        ),
        ('<Row ss:Index="-1"><Cell><Data ss:Type="String">x</Data></Cell></Row>', "corrupt"),
        ("<Row><Cell><Data>x</Row>", "corrupt"),
    ],
)
def test_broken_or_hostile_spreadsheetml_is_refused(tmp_path, body, rule):
    xml = (
        '<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" '
        f'xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet"><Worksheet ss:Name="s"><Table>{body}'
        "</Table></Worksheet></Workbook>"
    )
    with pytest.raises(ReadError) as err:
        _read(tmp_path, "x.xls", xml.encode(), SMALL)
    assert err.value.rule_id == rule


def test_spreadsheetml_declaring_entities_is_refused_before_parsing(tmp_path):
    xml = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
        '<?mso-application progid="Excel.Sheet"?>'
        '<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"><Worksheet><Table><Row>'
        "<Cell><Data>&lol2;</Data></Cell></Row></Table></Worksheet></Workbook>"
    )
    path = tmp_path / "x.xls"
    path.write_bytes(xml.encode())
    assert sniff(path) == "spreadsheetml"
    assert inspect(path, "spreadsheetml", path.stat().st_size).rule_id == "xml_entities"
    with pytest.raises(ReadError) as err:  # and the parser refuses it on its own too
        read_sheets(path, "spreadsheetml")
    assert err.value.rule_id == "xml_entities"


@pytest.mark.parametrize(
    ("name", "data", "kind"),
    [
        ("a.xlsx", b"", "empty"),
        ("a.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "xls"),
        ("a.xls", b"PK\x03\x04" + b"\0" * 100, "xlsx"),
        ("a.xls", b"\xef\xbb\xbf<!DOCTYPE html><html><table></table></html>", "html"),
        ("a.xls", "<html>".encode("utf-16"), "html"),
        (
            "a.xls",
            b'<?xml version="1.0"?>\n<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet">',
            "spreadsheetml",
        ),
        (
            "a.xml",
            b'<?xml version="1.0"?><?mso-application progid="Excel.Sheet"?><Workbook>',
            "spreadsheetml",
        ),
        ("a.xls", b"a,b\n1,2\n", "text"),
        ("a.txt", "a\tb\n".encode("utf-16"), "csv"),
        ("a.tsv", b"a\tb\n", "csv"),
    ],
)
def test_sniffing_goes_by_the_bytes_and_for_text_by_the_name(tmp_path, name, data, kind):
    path = tmp_path / name
    path.write_bytes(data)
    assert sniff(path) == kind


def test_an_ods_whose_mimetype_is_not_first_is_still_inspected_as_opendocument(tmp_path):
    data = ods_bytes({"走访": ROWS})
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in reversed(src.infolist()):
            dst.writestr(info.filename, src.read(info.filename))
    path = tmp_path / "x.ods"
    path.write_bytes(buf.getvalue())
    assert sniff(path) == "xlsx"
    assert inspect(path, "xlsx", path.stat().st_size) is None
    (sheet,) = read_sheets(path, "xlsx")
    assert _texts(sheet.rows) == _texts(ROWS)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_mark_is_found_even_when_a_character_ends_in_a_zero_byte(
    tmp_path, encoding
):
    """一 (U+4E00), 丁 (U+4E01)…: a CJK character may put a zero byte on the 'wrong' side."""
    rows = [HEADER, ["2014-04-02", "C一〇〇", "H丁一", "入户", "一一一一一一一一"]]
    kind, (sheet,) = _read(tmp_path, "走访.csv", text_table_bytes(rows, encoding))
    assert kind == "csv" and _texts(sheet.rows) == _texts(rows)
