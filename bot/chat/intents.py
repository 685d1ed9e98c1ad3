"""The commands the bot understands: one `Intent` per command (words, synonyms, help, handler).

To add a command, add one `register(Intent(...))` here with a handler `(Command, AskContext) ->
(template name, view-model)` (see `gtm.bot.chat.answers.on_project` for answers about one project).
Words are matched at the start of a message ("状态 星河"); synonyms anywhere in it ("我有哪
些任务", "what's overdue"). The order here is the order of the help card.
"""
from __future__ import annotations

from gtm.bot.chat import updates as CU
from gtm.bot.chat import answers as H
from gtm.bot.chat.parse import Intent, register
from gtm.schemas.tables import table

register(Intent(
    "status", "状态", "status", "项目状态（红黄绿）及原因、里程碑进度", "RAG status with reasons and milestone progress",
    H.answer_status, words=("项目状态", "st", "state"),
    synonyms=("进展", "进度", "怎么样", "情况", table("project").field("rag").name, "how are we", "how is it going", "progress")))
register(Intent(
    "milestone", "里程碑", "milestone", "里程碑详情：如「M3」或里程碑名称", "Milestone detail: e.g. “M3” or its name",
    H.answer_milestone, words=("ms",), example="M3", needs_check=False))
register(Intent(
    "my_tasks", "我的任务", "my tasks", "我负责的逾期和两周内到期的事项", "My overdue items and those due within two weeks",
    H.answer_my_tasks, words=("我的", "我的待办", "mytasks", "my task", "mine", "todo"),
    synonyms=("我有哪些任务", "我有什么任务", "我的事项", "我负责", "我要做", "my items", "my todo", "assigned to me"),
    needs_check=False))
register(Intent(
    "my_tasks_all", "我的全部任务", "all my tasks", "我负责的全部未完成事项", "All my open items",
    H.answer_my_tasks, synonyms=("全部我的任务", "我的所有任务"), needs_check=False, listed=False))
register(Intent(
    "overdue", "逾期", "overdue", "逾期事项", "Overdue items",
    H.answer_overdue, words=("延期", "过期", "逾期任务", "late"),
    synonyms=("晚了", "拖期", "超期", "逾期了", "behind schedule", "past due", "late items"), needs_check=False))
register(Intent(
    "this_week", "本周", "this week", "本周到期事项（「下周」看下周）", "Items due this week (“next week” for the next)",
    H.answer_due, words=("本周到期", "这周", "本周任务", "week", "due this week", "下周", "下周到期", "next week"),
    synonyms=("到期", "快到期", "即将到期", "due soon", "due", "deadline", "deadlines"), needs_check=False))
register(Intent(
    "risks", "风险", "risks", "主要风险与热力图", "Top risks and heat map",
    H.answer_risks, words=("risk", "风险列表"), synonyms=("风险", "risk"), needs_check=False))
register(Intent(
    "dependencies", "依赖", "dependencies", table("dependency").name + "项", "Dependencies",
    H.answer_dependencies, words=("dependency", "deps", table("dependency").field("item").name),
    synonyms=("依赖",), needs_check=False))
register(Intent(
    "issues", "问题", "issues", "未解决问题及升级级别", "Open issues with escalation level",
    H.answer_issues, words=("issue", "问题列表"), synonyms=("未解决", "卡住", "blockers")))
register(Intent(
    "report", "周报", "report", "立即生成周报", "The weekly report, now",
    H.answer_report, words=("weekly report", "weekly", "报告"),
    synonyms=("本周周报", "这周周报", "周报告", "汇报", "weekly report", "status report")))
register(Intent(
    "data_problems", "数据问题", "data problems", "表格中无法识别的数据", "Cells the bot cannot read",
    H.answer_data_problems, words=("data problem", "数据", "data", "problems"), synonyms=("数据有问题", "bad data")))
register(Intent(
    "portfolio", "全部项目", "portfolio", "我参与的全部项目", "All my projects",
    H.answer_portfolio, words=("所有项目", "项目列表", "all projects", "projects"),
    synonyms=("哪些项目", "我的项目", "my projects")))
register(Intent(
    "critical_path", "关键路径", "critical path", "关键路径：各里程碑的预计完成与决定它的任务链",
    "Critical path: forecast per milestone and the chain deciding it",
    H.answer_critical_path, words=("关键链", "critical", "cp", "criticalpath"),
    synonyms=("关键路径", "critical path", "会不会延期", "影响里程碑"), needs_check=False))
register(Intent(
    "task", "任务编号", "task id", "按任务编号查找：如「T-301」", "Find by task ID: e.g. “T-301”",
    H.answer_task, example="T-301", needs_check=False))
register(Intent(
    "workload", "负载", "workload", "每人未来两周的未完成事项，超负荷的人标红", "Open items per person for the next two "
    "weeks; over-allocated people flagged", H.answer_workload, words=("工作量", "负荷", "load", "capacity"),
    synonyms=("谁太忙", "谁忙", "超负荷", "who is busy", "over-allocated"), needs_check=False))
register(Intent(
    "update", "更新", "update", "在群里更新计划（确认后写入）：「T-301 80%」「T-301 完成」「M3 延期到 12-20 因为设计稿」",
    "Update the plan from chat (written after you confirm): “T-301 80%”, “T-301 done”, “push T-301 to friday”",
    CU.answer_update, example="T-301 80%", needs_check=False))
register(Intent(
    "help", "帮助", "help", "显示本帮助", "This help",
    H.answer_help, words=("?", "菜单", "命令", "h", "menu", "commands"),
    synonyms=("怎么用", "能做什么", "what can you do", "how to use"), needs_check=False))
