"""The run report: ``reports/<run id>/run.json`` (an interface), a Chinese summary per provider
and file (``summary.md``), and ``reports/latest/`` pointing at the newest run."""

from __future__ import annotations

import html
import json
import re
import shutil
from collections import defaultdict
from pathlib import Path

from ingest.discover import PROVIDER_NAMES
from ingest.pii import mask_text
from outreach.intake.ledger import INTAKE_STATUS_LABELS
from outreach.outputs.figures import OBLIGATION_LABELS, RULE_LABELS, format_figure

STATUS_LABELS = {"loaded": "已入库", "unchanged": "未变化（已入库过）", "quarantined": "整份退回"}


def build_run_json(
    *,
    run_id: str,
    as_of: str,
    published: bool,
    reasons: list[str],
    ingest: dict,
    checks: dict | None,
    headlines: dict[str, float] | None,
    publication: dict | None,
    paths: dict[str, str],
    warehouse: dict | None = None,
    late_reports: list[dict] | None = None,
    intake: dict | None = None,
    build: dict | None = None,
    up_to_date: bool = False,
    timings: dict | None = None,
    failures: list[dict] | None = None,
    headline_labels: dict[str, dict[str, str]] | None = None,
) -> dict:
    """``published``: this run published a new warehouse. ``up_to_date``: it did not need to:
    the gate found nothing changed since the run in ``build["reuses_run"]`` published, whose
    warehouse stays (build, check and publish were skipped). ``timings``: seconds per stage.
    ``failures``: what failed (``stage``, ``task`` when known, ``error``, ``file``), of which
    ``reasons`` is the one-line form."""
    check_rows = [
        {
            "rule_id": c["rule_id"],
            "severity": c["severity"],
            "failures": c["failures"],
            "source": c["source"],
        }
        for c in (checks or {}).get("checks", [])
    ]
    return {
        "run_id": run_id,
        "as_of": as_of,
        "published": published,
        "reasons": reasons,
        "failures": failures or [],
        "files": ingest.get("files", {}),
        "rows": ingest.get("rows", {}),
        "sheets_unmatched": ingest.get("sheets_unmatched", 0),
        "checks": check_rows,
        "obligations": (checks or {}).get("obligations", {}),
        "headlines": headlines or {},
        # metric -> {label, kind}, as marts.rpt_headlines names and prints each figure
        "headline_labels": headline_labels or {},
        "publication": publication,
        "warehouse": warehouse or {},
        "late_reports": late_reports or [],
        # marts.fct_submissions: what intake received, and what the department must look at
        "intake": intake or {"objects": {}, "attention": []},
        "paths": paths,
        "up_to_date": up_to_date,
        "build": build or {},
        "timings": timings or {},
    }


def headline_lines(run: dict) -> list[tuple[str, str, str]]:
    """(metric, label, printed value) of each headline figure of a run, in the warehouse's
    order and with its labels (``headline_labels``, from ``marts.rpt_headlines``)."""
    labels = run.get("headline_labels") or {}
    order = list(labels) + sorted(m for m in run["headlines"] if m not in labels)
    return [
        (
            metric,
            labels.get(metric, {}).get("label", metric),
            format_figure(labels.get(metric, {}).get("kind"), run["headlines"][metric]),
        )
        for metric in order
        if metric in run["headlines"]
    ]


def _published_text(run: dict) -> str:
    if run["published"]:
        return "是"
    if run.get("up_to_date"):
        reused = (run.get("build") or {}).get("reuses_run") or ""
        return (
            f"无需重新发布：自运行 {reused} 发布以来没有新的或改动的文件，统计截止日期与程序均未变化，"
            "未重新构建和检查，已发布的数据仓库保持不变（以下检查结果为该次运行的结果）"
        )
    return "否"


# What Markdown would read as a link, an image, code, a table's column, strike-through or a
# formula (HTML is escaped as entities first; emphasis is harmless and left as it is).
_MARKDOWN = re.compile(r"([\\`\[\]|~$])")


def md(text: object) -> str:
    """Text from a sender (a file or sheet name, a header, a message quoting one) as one line of
    plain text in Markdown: IDs and phones masked, line breaks and tabs as spaces, HTML as
    entities, Markdown's markup characters escaped, so a name can neither break a table nor
    pass a tag or a link through."""
    text = " ".join(mask_text(str(text)).split())
    return _MARKDOWN.sub(r"\\\1", html.escape(text, quote=False))


def _problem_note(problem: dict | None) -> str:
    """Why a file was returned whole: its rule id and message, and the exception behind it
    where the loader has one (``parser_error``, ``corrupt``: for whoever runs the loader)."""
    if not problem:
        return ""
    note = f"{problem['message']}（{problem['rule_id']}）"
    return md(note + (f"；技术信息：{problem['detail']}" if problem.get("detail") else ""))


def summary_markdown(run: dict, ingest: dict) -> str:
    lines = [
        f"# 数据仓库运行报告 {run['run_id']}",
        "",
        f"- 统计截止日期：{run['as_of']}",
        f"- 是否已发布：{_published_text(run)}",
    ]
    if run["reasons"]:
        lines.append("- 未发布原因：")
        lines += [
            f"  - {md(line)}"
            for reason in run["reasons"]
            for line in reason.splitlines()
            if line.strip()
        ]
    files, rows = run["files"], run["rows"]
    lines += [
        f"- 文件：新入库 {files.get('loaded', 0)} 份，未变化 {files.get('unchanged', 0)} 份，整份退回 {files.get('quarantined', 0)} 份",
        f"- 本次数据行：入库 {rows.get('loaded', 0)} 行，退回 {rows.get('quarantined', 0)} 行；无法识别的工作表 {run['sheets_unmatched']} 个",
        f"- 仓库累计：入库 {run['warehouse'].get('rows_loaded', 0)} 行，退回 {run['warehouse'].get('rows_quarantined', 0)} 行，"
        f"无法识别的工作表 {run['warehouse'].get('sheets_unmatched', 0)} 个",
        "",
        "## 主要指标",
        "",
        "| 指标 | 数值 |",
        "|---|---|",
    ]
    for _, label, shown in headline_lines(run):
        lines.append(f"| {label} | {shown} |")
    lines += ["", "## 履职提醒（不影响发布）", "", "| 项目 | 条数 |", "|---|---|"]
    for table, label in OBLIGATION_LABELS.items():
        lines.append(f"| {label} | {run['obligations'].get(table, 0)} |")
    late = run.get("late_reports") or []
    lines += ["", f"## 走访记录迟报、未报（应在季度结束后规定天数内报送）：{len(late)} 起", ""]
    if late:
        lines += ["| 乡镇 | 季度 | 情况 | 季度结束后天数 | 到达日期 |", "|---|---|---|---|---|"]
        lines += [
            f"| {r['township']} | {r['quarter']} | {r['status']} | {'' if r['days_after_quarter_end'] is None else r['days_after_quarter_end']} | {r['arrived_on'] or ''} |"
            for r in late
        ]
    intake = run.get("intake") or {}
    if intake.get("objects"):
        counts = "，".join(
            f"{INTAKE_STATUS_LABELS.get(k, k)} {v}" for k, v in sorted(intake["objects"].items())
        )
        lines += ["", f"## 报送收取（邮箱、共享文件夹）：{counts}", ""]
        if intake.get("attention"):
            lines += ["| 日期 | 渠道 | 发件人 | 文件 | 结果 | 原因 |", "|---|---|---|---|---|---|"]
            lines += [
                "| "
                + " | ".join(
                    md(a[k] or "")
                    for k in ("fetched_on", "channel", "sender", "file", "status", "reason")
                )
                + " |"
                for a in intake["attention"]
            ]
    failed = [c for c in run["checks"] if c["failures"]]
    lines += ["", "## 数据质量检查", "", "| 规则 | 说明 | 级别 | 问题数 |", "|---|---|---|---|"]
    for c in sorted(failed, key=lambda c: (c["severity"], c["rule_id"])):
        level = "错误（阻止发布）" if c["severity"] == "error" else "提醒"
        lines.append(
            f"| {c['rule_id']} | {RULE_LABELS.get(c['rule_id'], '')} | {level} | {c['failures']} |"
        )
    if not failed:
        lines.append("| 全部通过 | — | — | 0 |")
    by_provider: dict[str, list[dict]] = defaultdict(list)
    for f in ingest.get("file_details", []):
        by_provider[f["provider"] or "unknown"].append(f)
    lines += ["", "## 各报送单位文件明细"]
    for provider in sorted(by_provider):
        lines += [
            "",
            f"### {PROVIDER_NAMES.get(provider, '目录不明')}（{provider}）",
            "",
            "| 文件 | 状态 | 数据集 | 入库行 | 退回行 | 无法识别的工作表 | 说明 |",
            "|---|---|---|---|---|---|---|",
        ]
        for f in by_provider[provider]:
            note = _problem_note(f.get("problem"))
            lines.append(
                f"| {md(f['file'])} | {STATUS_LABELS.get(f['status'], f['status'])} | {'、'.join(f['datasets'])} "
                f"| {f['rows_loaded']} | {f['rows_quarantined']} | {md('、'.join(f['sheets_unmatched']))} | {note} |"
            )
    unmatched = [
        (f["file"], sheet, header)
        for f in ingest.get("file_details", [])
        for sheet, header in (f.get("unmatched_headers") or {}).items()
    ]
    if unmatched:
        lines += [
            "",
            "## 无法识别的工作表（表头与任何模板都不符，请按模板表头重新填报）",
            "",
            "| 文件 | 工作表 | 表头 |",
            "|---|---|---|",
        ]
        lines += [
            f"| {md(rel)} | {md(sheet)} | {md(' / '.join(header))} |"
            for rel, sheet, header in unmatched
        ]
    skipped = ingest.get("skipped_paths", [])
    if skipped:
        lines += ["", "## 跳过的路径", ""] + [f"- {md(s['path'])}：{s['reason']}" for s in skipped]
    return "\n".join(lines) + "\n"


def write_report(reports_dir: Path, run: dict, ingest: dict) -> Path:
    run_dir = reports_dir / run["run_id"]
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "run.json").write_text(
        json.dumps(run, ensure_ascii=False, indent=2, default=str), encoding="utf-8"
    )
    (run_dir / "summary.md").write_text(summary_markdown(run, ingest), encoding="utf-8")
    latest = reports_dir / "latest"
    tmp = reports_dir / f".latest.{run['run_id']}"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(run_dir, tmp)
    if latest.exists():
        old = reports_dir / f".latest.old.{run['run_id']}"
        latest.rename(old)
        tmp.rename(latest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(latest)
    return run_dir
