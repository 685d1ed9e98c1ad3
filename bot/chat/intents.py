"""The command registry: every command the bot understands is one `Intent` entry in `INTENTS`.

One entry = one command: its name, its display words (zh, en), its help text (zh, en), its view
function `(Command, AskContext) -> (template name, view-model)`, more command `words` (matched at
the start of a message: "状态 星河"), `synonyms` (matched anywhere: "我有哪些任务", "what's
overdue"), an `example` shown in help instead of the word, `needs_check` (False when the answer
never reads the rules' result, so the rules are skipped) and `listed` (shown in help and offered
as a suggestion). The order of `INTENTS` is the order of the help card.

To add a command: write its view function (in `gtm.bot.chat.handlers`; `scope.on_project` for an
answer about one project; a new template under bot/cards/templates if no existing card fits) and
add one `Intent(...)` to `INTENTS`. The parser (`gtm.bot.chat.parse`), help and the suggestions
for an unknown question all read this table; nothing else changes. `register` adds an entry at
run time (tests, extensions).

Help and the answer to an unknown question read the table itself, so they live here.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from gtm.bot.cards import views as V
from gtm.bot.chat.command import Answer, Command, Intent
from gtm.bot.chat.context import AskContext, now_of
from gtm.bot.chat.handlers import (
    answer_critical_path,
    answer_data_problems,
    answer_dependencies,
    answer_due,
    answer_issues,
    answer_milestone,
    answer_my_tasks,
    answer_overdue,
    answer_portfolio,
    answer_report,
    answer_risks,
    answer_status,
    answer_task,
    answer_workload,
)
from gtm.bot.chat.project_views import milestone_view
from gtm.bot.chat.text import normalise
from gtm.bot.chat.updates import answer_update, named_update
from gtm.schemas.tables import table


def registry() -> dict[str, Intent]:
    """Every intent by name, in help order."""
    return _REGISTRY


def register(intent: Intent) -> Intent:
    """Add (or replace) an intent at run time; returns it."""
    _REGISTRY[intent.name] = intent
    return intent


def intent(name: str) -> Intent:
    return _REGISTRY[name]


def display(name: str, locale: str = "") -> str:
    """How an intent is named to people: "状态" (zh), "status" (en), or both when no locale."""
    it = intent(name)
    if locale:
        return it.display(locale)
    return f"{it.zh} / {it.en}"


def help_view(ctx: AskContext, unknown: str = "", suggested: list[str] | None = None) -> V.HelpView:
    """Every listed intent with its help text; for an unknown question, the question as typed
    and the nearest intents as buttons."""
    intents = registry()
    own = _own_ids(ctx)
    cmds = [V.HelpCommand(zh=own(it.example) or it.zh, en=own(it.example) or it.en, what=own(it.help_zh),
                          what_en=own(it.help_en)) for it in intents.values() if it.listed]
    choices = [V.HelpChoice(zh=intents[n].zh, en=intents[n].en, value={"a": "ask", "q": intents[n].zh})
               for n in (suggested or []) if n in intents][:3]
    return V.HelpView(project_name=ctx.project_name, unknown=unknown, suggestions=[c.zh for c in choices],
                      choices=choices, commands=cmds)


_PLAIN_ID = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,11}")
_GTM_CODE = re.compile(r"(?<![A-Za-z0-9])M3(?![0-9])")


def _own_ids(ctx: AskContext) -> Callable[[str], str]:
    """The help's examples in the plan's own IDs: a sales plan's "S1-01" / "S1", a campaign's
    "M001" / "MS1" instead of the gtm template's "T-301" / "M3" (which that plan does not have)."""
    snap = ctx.snapshot
    # people's text is data: only an ID of plain letters, digits and dashes becomes an example
    task = next((t.task_id for t in snap.tasks if _PLAIN_ID.fullmatch(t.task_id)), "") if snap else ""
    code = next((m.code for m in snap.milestones if _PLAIN_ID.fullmatch(m.code)), "") if snap else ""

    def own(text: str) -> str:
        if task:
            text = text.replace("T-301", task)
        if code:
            text = _GTM_CODE.sub(lambda _: code, text)
        return text

    return own


def answer_help(cmd: Command, ctx: AskContext) -> Answer:
    return "help", help_view(ctx)


def answer_unknown(cmd: Command, ctx: AskContext) -> Answer:
    """No intent matched: a task named with an update ("渠道培训 完成"), a bare milestone name,
    else help with the nearest intents as buttons."""
    if ctx.snapshot is None and ctx.chat_type != "p2p":
        return "not_linked", V.NotLinkedView(chat_id=ctx.chat_id)
    cur = ctx.current()
    if cur is not None and named_update(cmd.text, cur):  # a task by name (the router cannot know names)
        return answer_update(cmd, ctx)
    if cur:  # a bare milestone name the parser could not know
        for m in cur.snapshot.milestones:
            if cmd.text and (cmd.text in (normalise(m.name), normalise(m.label))):
                return "milestone", milestone_view(cur, m.code or m.name, now_of(ctx), ctx.policy)
    return "help", help_view(ctx, cmd.original or cmd.text, cmd.suggested)


INTENTS: tuple[Intent, ...] = (
    Intent(
        "status", "状态", "status", "项目状态（红黄绿）及原因、里程碑进度", "RAG status with reasons and milestone progress",
        answer_status, words=("项目状态", "st", "state"),
        synonyms=("进展", "进度", "怎么样", "情况", table("project").field("rag").name, "how are we", "how is it going", "progress")),
    Intent(
        "milestone", "里程碑", "milestone", "里程碑详情：如「M3」或里程碑名称", "Milestone detail: e.g. “M3” or its name",
        answer_milestone, words=("ms",), example="M3", needs_check=False),
    Intent(
        "my_tasks", "我的任务", "my tasks", "我负责的逾期和两周内到期的事项", "My overdue items and those due within two weeks",
        answer_my_tasks, words=("我的", "我的待办", "mytasks", "my task", "mine", "todo"),
        synonyms=("我有哪些任务", "我有什么任务", "我的事项", "我负责", "我要做", "my items", "my todo", "assigned to me"),
        needs_check=False),
    Intent(
        "my_tasks_all", "我的全部任务", "all my tasks", "我负责的全部未完成事项", "All my open items",
        answer_my_tasks, synonyms=("全部我的任务", "我的所有任务"), needs_check=False, listed=False),
    Intent(
        "overdue", "逾期", "overdue", "逾期事项", "Overdue items",
        answer_overdue, words=("延期", "过期", "逾期任务", "late"),
        synonyms=("晚了", "拖期", "超期", "逾期了", "behind schedule", "past due", "late items"), needs_check=False),
    Intent(
        "this_week", "本周", "this week", "本周到期事项（「下周」看下周）", "Items due this week (“next week” for the next)",
        answer_due, words=("本周到期", "这周", "本周任务", "week", "due this week", "下周", "下周到期", "next week"),
        synonyms=("到期", "快到期", "即将到期", "due soon", "due", "deadline", "deadlines"), needs_check=False),
    Intent(
        "risks", "风险", "risks", "主要风险与热力图", "Top risks and heat map",
        answer_risks, words=("risk", "风险列表"), synonyms=("风险", "risk"), needs_check=False),
    Intent(
        "dependencies", "依赖", "dependencies", table("dependency").name + "项", "Dependencies",
        answer_dependencies, words=("dependency", "deps", table("dependency").field("item").name),
        synonyms=("依赖",), needs_check=False),
    Intent(
        "issues", "问题", "issues", "未解决问题及升级级别", "Open issues with escalation level",
        answer_issues, words=("issue", "问题列表"), synonyms=("未解决", "卡住", "blockers")),
    Intent(
        "report", "周报", "report", "立即生成周报", "The weekly report, now",
        answer_report, words=("weekly report", "weekly", "报告"),
        synonyms=("本周周报", "这周周报", "周报告", "汇报", "weekly report", "status report")),
    Intent(
        "data_problems", "数据问题", "data problems", "表格中需要修正的数据（空、无法识别或矛盾）", "Cells to fix: empty, unreadable or contradictory",
        answer_data_problems, words=("data problem", "数据", "data", "problems"), synonyms=("数据有问题", "bad data")),
    Intent(
        "portfolio", "全部项目", "portfolio", "我参与的全部项目", "All my projects",
        answer_portfolio, words=("所有项目", "项目列表", "all projects", "projects"),
        synonyms=("哪些项目", "我的项目", "my projects")),
    Intent(
        "critical_path", "关键路径", "critical path", "关键路径：各里程碑的预计完成与决定它的任务链",
        "Critical path: forecast per milestone and the chain deciding it",
        answer_critical_path, words=("关键链", "critical", "cp", "criticalpath"),
        synonyms=("关键路径", "critical path", "会不会延期", "影响里程碑"), needs_check=False),
    Intent(
        "task", "任务编号", "task id", "按任务编号查找：如「T-301」", "Find by task ID: e.g. “T-301”",
        answer_task, example="T-301", needs_check=False),
    Intent(
        "workload", "负载", "workload", "每人未来两周的未完成事项，超负荷的人标红", "Open items per person for the next two "
        "weeks; over-allocated people flagged", answer_workload, words=("工作量", "负荷", "load", "capacity"),
        synonyms=("谁太忙", "谁忙", "超负荷", "who is busy", "over-allocated"), needs_check=False),
    Intent(
        "update", "更新", "update", "在群里更新计划（确认后写入）：「T-301 80%」「T-301 完成」「M3 延期到 12-20 因为设计稿」",
        "Update the plan from chat (written after you confirm): “T-301 80%”, “T-301 done”, “push T-301 to friday”",
        answer_update, example="T-301 80%", needs_check=False),
    Intent(
        "help", "帮助", "help", "显示本帮助", "This help",
        answer_help, words=("?", "菜单", "命令", "h", "menu", "commands"),
        synonyms=("怎么用", "能做什么", "what can you do", "how to use"), needs_check=False),
)

_REGISTRY: dict[str, Intent] = {it.name: it for it in INTENTS}
