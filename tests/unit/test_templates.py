"""Blank templates: one per dataset, headers the loader recognises, notes, drop-downs, formats."""

from __future__ import annotations

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from ingest.header import find_header
from ingest.read import read_sheets
from ingest.registry import load_registry
from outreach.cli import main
from outreach.outputs.templates import DATA_ROWS, NOTES_MARK, write_templates

REGISTRY = load_registry()


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    target = tmp_path_factory.mktemp("templates")
    return write_templates(target)


def _column_formats(ws) -> dict[int, str]:
    formats = {}
    for dim in ws.column_dimensions.values():
        for c in range(dim.min, dim.max + 1):
            formats[c] = dim.number_format
    return formats


def test_one_template_per_dataset_named_by_number_title_and_dataset(templates):
    assert [p.name for p in templates] == [
        f"{i:02d}_{spec.title}_{name}.xlsx"
        for i, (name, spec) in enumerate(REGISTRY.items(), start=1)
    ]
    assert all(p.stat().st_size > 0 for p in templates)


def test_title_header_with_required_marks_and_a_notes_row(templates):
    for path, spec in zip(templates, REGISTRY.values(), strict=True):
        ws = openpyxl.load_workbook(path).worksheets[0]
        assert spec.title in ws.cell(1, 1).value
        headers = [ws.cell(2, c + 1).value for c in range(len(spec.columns))]
        assert headers == [c.header + ("*" if c.required else "") for c in spec.columns]
        notes = [ws.cell(3, c + 1).value for c in range(len(spec.columns))]
        assert notes[0].startswith(NOTES_MARK)
        assert all(notes), f"{spec.name}: every column has a note"
        for col, note in zip(spec.columns, notes, strict=True):
            assert note.startswith(("必填", "选填", NOTES_MARK + "必填", NOTES_MARK + "选填"))
            assert ("必填" in note) == col.required
            if col.type == "enum":
                assert all(v in note for v in col.values)
            if col.type == "date":
                assert "2013-04-02" in note
            if col.type == "money":
                assert "0.5万元" in note
            if col.type == "resident_id":
                assert "文本格式" in note
        assert ws.freeze_panes == "A4"
        assert ws.max_row == 3, "a blank template holds no data"


def test_drop_downs_for_enums_and_yes_no_and_text_format_for_ids(templates):
    households = openpyxl.load_workbook(templates[1]).worksheets[0]
    formats = _column_formats(households)
    spec = REGISTRY["households"]
    by_name = {c.name: i + 1 for i, c in enumerate(spec.columns)}
    assert formats[by_name["head_id_number"]] == "@"
    assert formats[by_name["phone"]] == "@"
    assert formats[by_name["household_code"]] == "@"
    for path, spec in zip(templates, REGISTRY.values(), strict=True):
        ws = openpyxl.load_workbook(path).worksheets[0]
        validations = {str(dv.sqref): dv.formula1 for dv in ws.data_validations.dataValidation}
        formats = _column_formats(ws)
        for i, col in enumerate(spec.columns, start=1):
            letter = get_column_letter(i)
            ref = f"{letter}4:{letter}{3 + DATA_ROWS}"
            if col.type == "enum":
                assert validations[ref] == '"' + ",".join(col.values) + '"', (spec.name, col)
            elif col.type == "bool":
                assert validations[ref] == '"是,否"'
            elif col.type == "place_township":
                assert "什玲镇" in validations[ref]
            else:
                assert ref not in validations
            if col.type == "date":
                assert formats[i] == "yyyy-mm-dd"
            if col.type in ("resident_id", "phone", "credit_code"):
                assert formats[i] == "@"


def test_the_loader_recognises_every_template_from_its_header(templates):
    for path, spec in zip(templates, REGISTRY.values(), strict=True):
        (sheet,) = read_sheets(path, "xlsx")
        match = find_header(sheet, REGISTRY)
        assert match is not None and match.dataset == spec.name
        assert match.header_rows == (1,) and match.data_start == 2
        assert [c[1].name for c in match.columns] == [c.name for c in spec.columns]
        assert match.ignored_headers == ()
        assert match.sheet_unit is None  # no 单位：万元 above the header


def test_cli_writes_the_templates(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OUTREACH_HOME", str(tmp_path))
    assert main(["templates", str(tmp_path / "tpl")]) == 0
    written = sorted(p.name for p in (tmp_path / "tpl").iterdir())
    assert len(written) == len(REGISTRY)
    assert f"{len(REGISTRY)} templates" in capsys.readouterr().out
