"""Finding the header and recognising the dataset, whatever the preamble."""

from ingest.header import find_header, header_cells
from ingest.read import Sheet, read_sheets
from ingest.registry import load_registry
from tests.workbooks import write_xlsx

REG = load_registry()


def _sheet(rows):
    return Sheet(name="s", rows=rows)


def test_title_rows_above_the_header_and_sheet_unit():
    rows = [
        ["保亭县什玲镇2013年资金筹措台账", None, None, None],
        ["填报单位：什玲镇人民政府    单位：万元", None, None, None],
        [None, None, None, None],
        ["日期", "资金来源", "来源单位", "金额"],
        ["2013-04-02", "财政", "县财政局", 1.5],
    ]
    m = find_header(_sheet(rows), REG)
    assert m.dataset == "funding"
    assert m.header_rows == (3,) and m.data_start == 4
    assert m.sheet_unit == "万元"


def test_two_row_header_without_merge_information():
    # A CSV keeps no merges: the group label sits above, the real headers below.
    rows = [
        ["走访日期", "帮扶干部信息", None, "农户信息", None, None],
        [None, "干部编号", "干部姓名", "户编号", "户主姓名", "村委会"],
        ["2013-04-02", "C1", "张三", "H1", "李四", "什玲村"],
    ]
    m = find_header(_sheet(rows), REG)
    assert m.dataset == "visits"
    assert m.data_start == 2
    names = {spec.name for _, spec, _ in m.columns}
    assert {
        "visit_date",
        "cadre_code",
        "cadre_name",
        "household_code",
        "head_name",
        "village",
    } <= names


def test_two_row_merged_header_in_xlsx(tmp_path):
    rows = [
        ["标题", None, None, None],
        ["走访日期", "农户信息", None, "走访方式"],
        [None, "户编号", "干部编号", None],
        ["2013-04-02", "H1", "C1", "入户"],
    ]
    path = write_xlsx(
        tmp_path / "v.xlsx", {"走访": rows}, {"走访": [(1, 0, 2, 0), (1, 1, 1, 2), (1, 3, 2, 3)]}
    )
    sheet = read_sheets(path, "xlsx")[0]
    m = find_header(sheet, REG)
    assert m.dataset == "visits" and m.data_start == 3
    assert {spec.name for _, spec, _ in m.columns} == {
        "visit_date",
        "household_code",
        "cadre_code",
        "visit_mode",
    }


def test_aliases_traditional_headers_units_and_stars():
    rows = [["入戶日期*", "干部编号", "农户编号", "走訪方式"], ["2013-04-02", "C1", "H1", "上门"]]
    m = find_header(_sheet(rows), REG)
    assert m.dataset == "visits"
    funding = [["到位日期", "来源类型", "出资单位", "金额（万元）"]]
    m = find_header(_sheet(funding), REG)
    assert m.dataset == "funding"
    assert [unit for _, spec, unit in m.columns if spec.name == "amount_yuan"] == ["万元"]


def test_the_most_specific_dataset_wins():
    # A visits header also names every required column of households.
    rows = [["走访日期", "干部编号", "户编号", "户主姓名", "乡镇", "村委会", "走访方式"]]
    assert find_header(_sheet(rows), REG).dataset == "visits"
    rows = [["户编号", "乡镇", "村委会", "户主姓名", "身份证号"]]
    assert find_header(_sheet(rows), REG).dataset == "households"


def test_a_sheet_matching_no_dataset_is_reported_with_its_header():
    rows = [["填表说明"], ["序号", "商品名称", "单价", "数量"], ["1", "化肥", "120", "3"]]
    assert find_header(_sheet(rows), REG) is None
    assert header_cells(_sheet(rows)) == ["序号", "商品名称", "单价", "数量"]


def test_header_beyond_fifteen_rows_of_preamble_is_not_searched():
    rows = [["说明"]] * 17 + [["走访日期", "干部编号", "户编号"]]
    assert find_header(_sheet(rows), REG) is None


def test_unit_in_a_title_row_cell_of_its_own_applies():
    # 单位：万元 in the last cell of the row just above the header
    rows = [
        ["什玲镇帮扶资金筹措台账", None, None, None, None],
        ["填报单位：什玲镇人民政府", None, None, None, "单位：万元"],
        ["序号", "日期", "资金来源", "来源单位", "金额"],
        [1, "2012-07-10", "县级财政", "县财政局", 4.0],
    ]
    m = find_header(_sheet(rows), REG)
    assert m.header_rows == (2,) and m.sheet_unit == "万元"


def test_what_header_matching_remembers_belongs_to_one_registry():
    # find_header remembers, per registry, which header texts name a column of it: a registry
    # that knows only households must not decide what a full registry recognises afterwards
    visits = [
        ["走访日期", "干部编号", "户编号", "乡镇", "村委会"],
        ["2013-04-02", "C1", "H1", "什玲镇", "什玲村"],
    ]
    only = {"households": REG["households"]}
    assert find_header(_sheet(visits), only) is None
    full = dict(REG)  # a registry find_header has not seen yet
    assert find_header(_sheet(visits), full).dataset == "visits"
    assert find_header(_sheet(visits), only) is None
