"""`gtm sync`'s terminal summary: per-table counts, then the data problems (Rich tables)."""
from __future__ import annotations

from collections import Counter

from rich.console import Group
from rich.markup import escape
from rich.table import Table

from gtm.schemas.tables import PLAN_TABLES
from gtm.sync.refresh import SyncSummary


def render_summary(summary: SyncSummary, lang: str = "zh", max_problems: int = 20) -> Group:
    """Rich renderables (tables) for the CLI: per-table counts, then the data problems."""
    zh = lang != "en"
    t = Table(title=(f"同步 {summary.project}" if zh else f"Sync {summary.project}"))
    heads = (["表", "方式", "读取", "变更", "删除", "记录数", "调用", "问题"] if zh else
             ["Table", "Mode", "Read", "Changed", "Deleted", "Records", "Calls", "Problems"])
    for h in heads:
        t.add_column(h, justify="left" if h in ("表", "方式", "Table", "Mode") else "right")
    by_table = Counter(p.table for p in summary.problems)
    modes = {"full": "全量", "incremental": "增量", "records": "按记录"}
    for r in summary.report.tables:
        spec = PLAN_TABLES[r.table]
        t.add_row(spec.name if zh else spec.en, modes.get(r.mode, r.mode) if zh else r.mode, str(r.read),
                  str(r.changed), str(r.deleted), str(r.total), str(r.calls), str(by_table.get(r.table, 0)))
    rep = summary.report
    t.add_section()
    t.add_row("合计" if zh else "Total", "", str(rep.read), str(rep.changed), str(rep.deleted),
              str(sum(r.total for r in rep.tables)), str(summary.total_calls), str(len(summary.problems)))
    parts = [t]
    calls = Table(title="API 调用" if zh else "API calls")
    calls.add_column("API")
    calls.add_column("次数" if zh else "Calls", justify="right")
    for api, n in sorted(summary.calls.items()):
        calls.add_row(api, str(n))
    if summary.retries:
        calls.add_row("重试" if zh else "retries", str(summary.retries))
    parts.append(calls)
    drift = summary.drift
    if drift is not None and (drift.gaps or drift.changes):
        dt = Table(title="字段变化 / schema drift" if zh else "Schema drift")
        dt.add_column("")
        said = set()
        for c in drift.changes:
            said.add((c.table, c.attr))
            dt.add_row(escape(c.text if zh else c.text_en))
        for g in drift.gaps:
            if (g.table, g.field) not in said:
                dt.add_row(escape(g.describe("zh" if zh else "en")))
        parts.append(dt)
    if summary.problems:
        pt = Table(title=(f"数据问题（{len(summary.problems)}）" if zh else f"Data problems ({len(summary.problems)})"))
        pt.add_column("")
        for p in summary.problems[:max_problems]:
            pt.add_row(escape(p.describe("zh" if zh else "en")))
        if len(summary.problems) > max_problems:
            more = len(summary.problems) - max_problems
            pt.add_row(f"… 另有 {more} 条" if zh else f"… {more} more")
        parts.append(pt)
    return Group(*parts)
