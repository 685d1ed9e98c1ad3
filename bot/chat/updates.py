"""Plan updates typed in chat → a confirm card (确认 / 取消). Nothing is written here.

`answer_update` (the `update` intent) reads the message with `gtm.bot.chat.update_parse.parse_update`,
checks that the asker may change the record (owner, PM or management — `permissions.may_act`,
the rule the card buttons use) and answers with a confirm card. Its 确认 button carries the same
action value as the notice cards' buttons (`task_done`, `progress` with `pct`, `postpone` with
`new_date`/`reason`), so the click goes through `gtm.bot.chat.actions` — ownership re-checked against
the record as the Base holds it then, idempotent, written with `write_user_action`.
"""
from __future__ import annotations

from typing import Any

from gtm.bot.cards import views as V
from gtm.bot.rules import local_date
from gtm.bot.cards.button_values import Cancel, Postpone, Progress, TaskDone
from gtm.bot.chat.command import Answer, Command
from gtm.bot.chat.context import AskContext, ProjectData, now_of
from gtm.bot.chat.permissions import find_row, may_act
from gtm.bot.chat.scope import message, on_project
from gtm.bot.chat.update_parse import (
    Update,
    UpdateProblem,
    has_marker,
    is_question,
    parse_update,
)


def named_update(norm: str, p: ProjectData | None) -> bool:
    """"渠道培训 完成": a task named in the text plus an update marker (the router cannot know names)."""
    if p is None or not norm or is_question(norm):
        return False
    for t in p.snapshot.tasks:
        name = t.name.strip().lower()
        if len(name) >= 2 and name in norm and has_marker(norm.replace(name, " ")):
            return True
    return False


def _question(u: Update) -> tuple[str, str]:
    if u.kind == "progress":
        return f"把「{u.label}」的进度改为 {u.pct}%？", f"Set the progress of “{u.label}” to {u.pct}%?"
    if u.kind == "done":
        return f"把「{u.label}」标记为完成？", f"Mark “{u.label}” as done?"
    d = u.new_date.isoformat() if u.new_date else ""
    why = f"（原因：{u.reason}）" if u.reason else ""
    why_en = f" (reason: {u.reason})" if u.reason else ""
    return f"把「{u.label}」延期到 {d}{why}？", f"Move “{u.label}” to {d}{why_en}?"


def _value(slug: str, u: Update) -> dict[str, Any]:
    if u.kind == "progress":
        return {**Progress(p=slug, t=u.table, r=u.record_id).value(), "pct": u.pct}
    if u.kind == "done":
        return TaskDone(p=slug, t=u.table, r=u.record_id).value()
    assert u.new_date is not None
    return {**Postpone(p=slug, t=u.table, r=u.record_id).value(), "new_date": u.new_date.isoformat(),
            "reason": u.reason[:200]}


@on_project
def answer_update(p: ProjectData, cmd: Command, ctx: AskContext) -> Answer:
    now = now_of(ctx)
    got = parse_update(cmd.text, p.snapshot, local_date(now, ctx.policy))
    if isinstance(got, UpdateProblem):
        return "message", message("没能识别这条更新", "Could not read this update", got.text, got.text_en,
                                   color="orange")
    row = find_row(p.snapshot, got.table, got.record_id)
    if row is None or not may_act(p.snapshot, row, ctx.asker):
        return "message", message("没有权限", "Not allowed",
                                   f"只有负责人、项目经理或管理层可以修改「{got.label}」。",
                                   f"Only the owner, the project manager or management may change “{got.label}”.",
                                   color="red")
    zh, en = _question(got)
    lines: list[V.ReportLine] = []
    if got.table == "task":
        end = getattr(row, "planned_end", None)
        prog = getattr(row, "progress", None)
        lines.append(V.ReportLine(
            text=f"当前：{row.status or '—'} · 进度 {round((prog or 0) * 100)}% · 计划结束 {V.iso(end) or '—'}",
            text_en=f"Now: {V.status_label(row.status).en} · progress {round((prog or 0) * 100)}% · "
                    f"planned end {V.iso(end) or '—'}"))
    else:
        tgt = getattr(row, "target_date", None)
        lines.append(V.ReportLine(text=f"当前：{row.status or '—'} · 目标日期 {V.iso(tgt) or '—'}",
                                  text_en=f"Now: {V.status_label(row.status).en} · target {V.iso(tgt) or '—'}"))
    if got.kind == "postpone":
        lines.append(V.ReportLine(text="基线不会改变；延期会通知受影响的负责人",
                                  text_en="The baseline stays; owners downstream are told of the slip"))
    slug = p.slug or ctx.project_slug
    return "confirm", V.ConfirmView(project_name=p.name, question=zh, question_en=en, lines=lines,
                                    confirm_value=_value(slug, got),
                                    cancel_value=Cancel(p=slug, t=got.table, r=got.record_id).value())
