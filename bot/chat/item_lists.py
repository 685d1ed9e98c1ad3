"""Item lists: my tasks, overdue, due this or next week, a lookup by task ID — grouped by project,
cut at `LIST_CAP` rows with the rest counted.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from gtm.bot.cards import views as V
from gtm.bot.rules import local_date
from gtm.bot.rules import queries as Q
from gtm.bot.cards.render import Clip
from gtm.bot.chat.context import AskContext, ProjectData, as_of, now_of

LIST_CAP = 60  # rows a list answer keeps before "还有 N 项" (the renderer may cut further)


def item_list(kind: str, ctx: AskContext, pick: Callable[[Q.ItemIndex], list[Q.OpenItem]],
               projects: list[ProjectData]) -> V.ItemListView:
    """`pick` chooses a project's items from its index, already in `by_due` order; only the
    rows the card keeps (LIST_CAP) become view rows, the rest are counted."""
    now = now_of(ctx)
    day = local_date(now, ctx.policy)
    titles = {"my_tasks": ("我的任务", "My tasks"), "overdue": ("逾期事项", "Overdue items"),
              "this_week": ("本周到期", "Due this week"), "next_week": ("下周到期", "Due next week"),
              "lookup": ("查找结果", "Found")}
    groups, total = [], 0
    for p in projects:
        items = pick(p.items())
        extra: list[V.ItemRow] = []
        if kind == "my_tasks":  # also the asker's open issues (after the dated items)
            for i in Q.open_issues(p.snapshot):
                if i.owner and i.owner.open_id == ctx.asker:
                    extra.append(V.ItemRow(project=p.name, table="issue", record_id=i.record_id,
                                           name=i.issue, owner_id=ctx.asker, owner_name=i.owner.label(),
                                           status=V.status_label(i.status)))
        n = len(items) + len(extra)
        if n:
            total += n
            shown = [V.item_row(it, day, p.name) for it in items[:LIST_CAP]]
            shown += extra[:LIST_CAP - len(shown)]
            rows = Clip(items=shown, more=n - len(shown)) if n > LIST_CAP else Clip.of(shown)
            groups.append(V.ItemGroup(project=p.name if len(projects) > 1 else "", rows=rows))
    zh, en = titles[kind]
    gaps = [g for p in projects for g in p.snapshot.blind if (g.table, g.field) in ITEM_FIELDS]
    return V.ItemListView(kind=kind, title=zh, title_en=en, groups=groups, total=total,
                          project_name=projects[0].name if len(projects) == 1 else "",
                          as_of=as_of(ctx), blind=[g.describe("zh") for g in gaps],
                          blind_en=[g.describe("en") for g in gaps])


# the fields item lists (my tasks / overdue / this week) are judged by
ITEM_FIELDS = frozenset({("task", "planned_end"), ("task", "status"), ("deliverable", "due_date"),
                         ("deliverable", "status"), ("milestone", "target_date"), ("milestone", "status")})


MY_TASKS_DAYS = 14  # 我的任务 shows what is overdue and what is due in the next two weeks


def my_tasks_view(ctx: AskContext, scope: list[ProjectData], everything: bool = False) -> V.ItemListView:
    """The asker's overdue items and those due in the next `MY_TASKS_DAYS` days (plus open
    issues they own); the rest is counted as "还有 N 项" with a button showing all of them."""
    day = local_date(now_of(ctx), ctx.policy)
    horizon = (day + timedelta(days=MY_TASKS_DAYS)).isoformat()
    if everything:
        view = item_list("my_tasks", ctx, lambda ix: ix.owned_by(ctx.asker).items, scope)
        view.title, view.title_en = "我的全部任务", "All my tasks"
        return view
    view = item_list("my_tasks", ctx, lambda ix: ix.owned_by(ctx.asker).before(horizon + "~"), scope)
    later = sum(len(p.items().owned_by(ctx.asker).items) - len(p.items().owned_by(ctx.asker).before(horizon + "~"))
                for p in scope)
    view.later = later
    if later:
        view.more_button = V.HelpChoice(zh="查看全部", en="Show all", value={"a": "ask", "q": "我的全部任务"})
    return view
