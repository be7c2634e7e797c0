"""The loader's shortcuts (issue 7) decide exactly what the slow ways decided.

- the guard's cell-bomb scan reads a block with a simpler pattern when every cell tag is written
  reference first, and must still find a far cell written any other way;
- the contract and gazetteer YAML are read with libyaml's loader: the same documents as PyYAML's;
- zhconv is imported without pkg_resources, and pkg_resources stays importable afterwards;
- ``text.clean`` skips zhconv's scan only for texts that zhconv would give back unchanged.
"""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import guard, text
from ingest.registry import REGISTRY_PATH, SAFE_LOADER
from outreach.settings import DEFAULT_GAZETTEER
from tests.hostile import _inline_row, _xlsx_bytes, good_rows_xml

FAR = "XFD1048576"


@pytest.mark.parametrize(
    "cell",
    [
        f'<c r="{FAR}" t="inlineStr"><is><t>x</t></is></c>',  # reference first: the quick pattern
        f'<c s="1" r="{FAR}"><v>1</v></c>',  # another attribute before it
        f'<c\tr="{FAR}"><v>1</v></c>',  # a tab, not a space
        f'<c\nr="{FAR}"><v>1</v></c>',
        f'<x:c r="{FAR}"><x:v>1</x:v></x:c>',  # a namespace prefix
        f'<c r="bad" xr="{FAR}"><v>1</v></c>',  # a malformed reference, then one in another attribute
    ],
)
def test_a_far_cell_is_a_cell_bomb_however_its_tag_is_written(tmp_path, cell):
    rows = good_rows_xml() + f'<row r="1048576">{cell}</row>'
    path = tmp_path / "bomb.xlsx"
    path.write_bytes(_xlsx_bytes(rows))
    finding = guard.inspect(path, "xlsx", path.stat().st_size)
    assert finding is not None and finding.rule_id == "cell_bomb"
    assert "1048576 行 × 16384 列" in finding.message


def test_a_big_ordinary_sheet_passes_and_its_far_corner_is_measured(tmp_path):
    rows = "".join(_inline_row(r, ["a", "b", "c"]) for r in range(1, 3001))
    path = tmp_path / "ok.xlsx"
    path.write_bytes(_xlsx_bytes(rows))
    assert guard.inspect(path, "xlsx", path.stat().st_size) is None
    sheet = zipfile.ZipFile(io.BytesIO(path.read_bytes())).read("xl/worksheets/sheet1.xml")
    assert guard._furthest_cell(sheet) == (3000, 3)
    mixed = sheet.replace(b'<c r="C7"', b'<c s="0" r="C7"').replace(
        b'<c r="B3000"', b'<c r="D4000"'
    )
    assert guard._furthest_cell(mixed) == (4000, 4)


@pytest.mark.skipif(SAFE_LOADER is yaml.SafeLoader, reason="PyYAML built without libyaml")
@pytest.mark.parametrize("path", [REGISTRY_PATH, DEFAULT_GAZETTEER])
def test_libyaml_reads_the_contract_as_pyyaml_does(path):
    text = path.read_text(encoding="utf-8")
    assert yaml.load(text, Loader=SAFE_LOADER) == yaml.safe_load(text)


def test_zhconv_is_imported_without_pkg_resources_which_stays_importable():
    code = (
        "import sys\n"
        "from ingest.text import clean\n"
        "assert 'pkg_resources' not in sys.modules, 'zhconv pulled in pkg_resources'\n"
        "assert clean('保亭縣　什玲鎮') == '保亭县 什玲镇'\n"
        "import pkg_resources\n"  # nothing was left blocked
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def _clean_without_shortcut(value: str) -> str:
    """``text.clean`` as it was: zhconv on every text."""
    import re
    import unicodedata

    import zhconv

    text = zhconv.convert(unicodedata.normalize("NFKC", value), "zh-cn")
    return re.sub(r"\s+", " ", text).strip()


_ZH_WORDS = sorted(__import__("zhconv").zhconv.getdict("zh-cn"))[::7]  # a seventh of the table


@settings(max_examples=400, deadline=None)
@given(
    parts=st.lists(
        st.one_of(
            st.sampled_from(_ZH_WORDS),  # words the table converts (or keeps)
            st.text(max_size=4),  # anything else, ASCII and full-width included
            st.sampled_from(["16", "A", "B肝", "IP", "乾隆", "什玲鎮", "　", "合計"]),
        ),
        max_size=6,
    )
)
def test_clean_skips_zhconv_only_where_zhconv_changes_nothing(parts):
    value = "".join(parts)
    assert text.clean.__wrapped__(value) == _clean_without_shortcut(value)
