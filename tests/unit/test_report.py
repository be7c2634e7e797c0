"""run.json keys (an interface) and the Chinese summary for clerks."""

import json

from outreach.outputs.run_report import build_run_json, summary_markdown, write_report

INGEST = {
    "files": {"loaded": 2, "unchanged": 1, "quarantined": 1},
    "rows": {"loaded": 10, "quarantined": 2},
    "sheets_unmatched": 1,
    "file_details": [
        {
            "file": "townships/什玲镇/a.xlsx",
            "provider": "townships",
            "status": "loaded",
            "datasets": ["visits"],
            "rows_loaded": 10,
            "rows_quarantined": 2,
            "sheets_unmatched": ["说明"],
            "unmatched_headers": {"说明": ["序号", "商品名称"]},
            "problem": None,
        },
        {
            "file": "county/b.xlsx",
            "provider": "county",
            "status": "quarantined",
            "datasets": [],
            "rows_loaded": 0,
            "rows_quarantined": 0,
            "sheets_unmatched": [],
            "problem": {"rule_id": "encrypted", "message": "文件已加密"},
        },
    ],
}


def _run(published=True, reasons=()):
    return build_run_json(
        run_id="2014-06-30_x",
        as_of="2014-06-30",
        published=published,
        reasons=list(reasons),
        ingest=INGEST,
        checks={
            "checks": [
                {
                    "rule_id": "visit_unpaired",
                    "severity": "warning",
                    "failures": 3,
                    "source": "dbt_results",
                }
            ],
            "obligations": {"dq_missing_quarterly_visits": 5},
        },
        headlines={"cadres_talked": 186, "quarterly_visit_rate": 0.993},
        headline_labels={
            "cadres_talked": {"label": "约谈干部（人）", "kind": "count"},
            "quarterly_visit_rate": {"label": "季度走访完成率", "kind": "rate"},
        },
        publication=None,
        paths={"warehouse": "w", "published": "p", "report": "r"},
    )


def test_run_json_has_the_interface_keys():
    run = _run()
    assert {
        "as_of",
        "published",
        "files",
        "rows",
        "sheets_unmatched",
        "checks",
        "headlines",
    } <= set(run)
    assert run["files"] == {"loaded": 2, "unchanged": 1, "quarantined": 1}
    assert run["checks"] == [
        {"rule_id": "visit_unpaired", "severity": "warning", "failures": 3, "source": "dbt_results"}
    ]


def test_summary_names_files_reasons_and_unmatched_headers():
    text = summary_markdown(
        _run(published=False, reasons=["check: 错误\nfact_key_not_unique (2 处)"]), INGEST
    )
    assert "是否已发布：否" in text and "  - fact_key_not_unique (2 处)" in text
    assert "约谈干部（人） | 186" in text and "99.30%" in text
    assert "文件已加密" in text and "整份退回" in text
    assert "序号 / 商品名称" in text
    assert "走访干部当日与该户无结对关系" in text


def test_write_report_keeps_latest_in_step(tmp_path):
    write_report(tmp_path, _run(), INGEST)
    second = dict(_run(), run_id="2014-06-30_y")
    write_report(tmp_path, second, INGEST)
    assert json.loads((tmp_path / "latest" / "run.json").read_text())["run_id"] == "2014-06-30_y"
    assert (tmp_path / "2014-06-30_x" / "summary.md").exists()


def test_names_from_senders_cannot_break_the_summary_or_pass_markup_through():
    """A file named with a line break, a pipe, HTML and a Markdown link, a sheet holding a
    phone number: each stays one cell of one table row, as plain text."""
    name = "townships/毛感乡/a\n| 伪造 | 行 |<img src=x onerror=alert(1)>[点此下载新版模板](http://x).xlsx"
    ingest = {
        "file_details": [
            {
                "file": name,
                "provider": "townships",
                "status": "loaded",
                "datasets": ["visits"],
                "rows_loaded": 1,
                "rows_quarantined": 0,
                "sheets_unmatched": ["联系人13800138000"],
                "unmatched_headers": {"联系人13800138000": ["王五", "469029198001010024"]},
                "problem": None,
            }
        ],
        "skipped_paths": [{"path": "townships/x\n伪造.csv", "reason": "vanished"}],
    }
    text = summary_markdown(_run(), ingest)
    rows = [line for line in text.splitlines() if "已入库" in line]
    assert len(rows) == 1 and rows[0].count(" | ") == 6  # one row, its seven cells
    assert "<img" not in text and "&lt;img" in text
    assert "[点此下载新版模板](http" not in text and "\\[点此下载新版模板\\]" in text
    assert "13800138000" not in text and "469029198001010024" not in text
    assert "138****8000" in text and "469029********0024" in text
    assert "- townships/x 伪造.csv：vanished" in text


def test_the_summary_lists_what_intake_received_and_what_needs_the_department():
    run = _run()
    assert run["intake"] == {"objects": {}, "attention": []}
    assert "报送收取" not in summary_markdown(run, INGEST)  # no intake configured: no section
    run["intake"] = {
        "objects": {"landed": 12, "refused": 1, "unknown_sender": 1},
        "attention": [
            {
                "fetched_on": "2014-06-30",
                "channel": "mailbox",
                "sender": "s***@example.com",
                "file": "台账|13800138000.rar",
                "status": "refused",
                "reason": "不接收 .rar 压缩包",
            }
        ],
    }
    text = summary_markdown(run, INGEST)
    assert "## 报送收取（邮箱、共享文件夹）：已收取 12，拒收 1，发件人未登记 1" in text
    assert "台账\\|138****8000.rar" in text  # escaped for the table, the phone masked
