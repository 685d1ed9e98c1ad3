"""Notice cards for the ledger/sender (`gtm.bot.checks.notify.CardFactory`) and their post-click state.

- `digest`: one card per recipient with every overdue / due-soon item and, per item, 完成 /
  进度 / 延期到… (date picker + reason in a form).
- `single`: escalation (确认 / 稍后提醒 / 已解决), budget change request, milestone gate,
  delivery failure, system and data-problem alerts.
- `after_action(card, action, …)`: the same card updated in place after a click (the item shows
  "✅ 已完成 · 张三" and loses its buttons; an escalation shows "已确认，暂停提醒至 …").

Button values are the compact models of `gtm.bot.cards.button_values`; `p` is the project slug the
caller passes (`project_slug=`), or the project name when it did not.
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from gtm.bot.cards import views as V
from gtm.bot.cards.button_values import (
    Ack,
    Action,
    Postpone,
    Progress,
    Resolve,
    Signoff,
    Snooze,
    TaskDone,
)
from gtm.bot.cards.render import Clip, check_card, render, render_element
from gtm.schemas.decisions import Notice
from gtm.schemas.money import format_money

DONE_TABLES = ("task", "deliverable", "milestone")
DIGEST_CAP = 25  # items with controls per card before "还有 N 项" (the renderer may cut more)


def _p(slug: str) -> str:
    return (slug or "default")[:64]


class NoticeCards:
    """Implements `gtm.bot.checks.notify.CardFactory`. `slug_of` maps a project name to its slug."""

    def __init__(self, slug_of: Callable[[str], str] | Mapping[str, str] | None = None) -> None:
        if isinstance(slug_of, Mapping):
            mapping = dict(slug_of)
            self.slug_of: Callable[[str], str] = lambda name: mapping.get(name, name)
        else:
            self.slug_of = slug_of or (lambda name: name)

    # -- digest ---------------------------------------------------------------------------
    def digest_view(self, project_name: str, recipient: str, notices: list[Notice],
                    project_slug: str = "", states: Mapping[str, tuple[str, str]] | None = None) -> V.DigestView:
        slug = _p(project_slug or self.slug_of(project_name))
        states = states or {}
        over, soon = [], []
        for idx, n in enumerate(sorted(notices, key=lambda n: (n.kind != "overdue", n.data.get("planned", ""), n.key))):
            rec = n.record
            table, rid = (rec.table, rec.record_id) if rec else ("", "")
            item = V.DigestItem(kind=n.kind, table=table, record_id=rid,
                                label=(rec.label if rec else "") or n.title, text=n.text, text_en=n.text_en,
                                due=str(n.data.get("planned", "") or (n.due.date().isoformat() if n.due else "")),
                                idx=idx)
            if rid and table in DONE_TABLES:
                item.done_value = TaskDone(p=slug, t=table, r=rid).value()
                item.postpone_value = Postpone(p=slug, t=table, r=rid, f=str(idx)).value()
                if table == "task":
                    item.progress_value = Progress(p=slug, t=table, r=rid, f=str(idx)).value()
            if rid in states:
                item.state, item.state_en = states[rid]
            (over if n.kind == "overdue" else soon).append(item)
        return V.DigestView(project_name=project_name, recipient=recipient,
                            overdue=Clip.of(over, DIGEST_CAP), due_soon=Clip.of(soon, DIGEST_CAP))

    def digest(self, project_name: str, recipient: str, notices: list[Notice], locale: str = "zh",
               project_slug: str = "") -> dict:
        return render("digest", self.digest_view(project_name, recipient, notices, project_slug), locale)

    # -- single notices -------------------------------------------------------------------
    def single_view(self, project_name: str, notice: Notice, project_slug: str = "",
                    state: tuple[str, str] | None = None):
        """(template name, view) for one notice."""
        slug = _p(project_slug or self.slug_of(project_name))
        n = notice
        rec = n.record
        if n.kind in ("overdue", "due_soon"):
            states = {rec.record_id: state} if (rec and state) else None
            return "digest", self.digest_view(project_name, "", [n], project_slug or slug, states)
        if n.kind == "escalation":
            lvl = max(0, min(2, n.level or 1))
            buttons, snooze = [], None
            if rec:
                buttons = [V.ActionButton(text="确认", text_en="Acknowledge", kind="primary",
                                          value=Ack(p=slug, t=rec.table, r=rec.record_id, l=n.level).value()),
                           V.ActionButton(text="4 小时后提醒", text_en="Remind in 4 h", kind="default",
                                          value=Snooze(p=slug, t=rec.table, r=rec.record_id, l=n.level, h=4).value()),
                           V.ActionButton(text="明天提醒", text_en="Remind tomorrow", kind="default",
                                          value=Snooze(p=slug, t=rec.table, r=rec.record_id, l=n.level, h=24).value()),
                           V.ActionButton(text="已解决", text_en="Resolved", kind="default",
                                          value=Resolve(p=slug, t=rec.table, r=rec.record_id).value())]
            return "escalation", V.EscalationView(
                project_name=project_name, title=n.title or "升级提醒",
                title_en=f"Escalated to {V.LEVEL_LABEL[lvl].en}" + (f": {rec.label}" if rec else ""),
                text=n.text, text_en=n.text_en, record_label=rec.label if rec else "", level=lvl,
                level_label=V.LEVEL_LABEL[lvl], buttons=buttons, snooze_value=snooze,
                state=state[0] if state else "", state_en=state[1] if state else "")
        if n.kind == "signoff" and rec:
            return "signoff", V.SignoffView(
                project_name=project_name, title=n.title, title_en=f"Sign-off: {rec.label}", text=n.text,
                text_en=n.text_en, criteria=[str(c) for c in n.data.get("criteria", [])][:20],
                approve_value=Signoff(p=slug, t=rec.table, r=rec.record_id, ok=1, f="0").value(),
                reject_value=Signoff(p=slug, t=rec.table, r=rec.record_id, ok=0, f="0").value(),
                state=state[0] if state else "", state_en=state[1] if state else "")
        titles = {"budget": ("预算超支", "Budget overrun", "red"),
                  "gate": ("里程碑验收未通过", "Milestone gate not met", "orange"),
                  "data_problem": ("数据问题", "Data problem", "yellow"),
                  "delivery_failed": ("消息未送达", "Message not delivered", "red"),
                  "system": ("系统问题", "System problem", "red"),
                  "slip": ("进度影响", "Schedule slip", "orange"),
                  "informed": ("知会", "For your information", "blue")}
        zh, en, color = titles.get(n.kind, ("提醒", "Notice", "blue"))
        lines: list[V.ReportLine] = []
        if n.kind == "budget" and n.data.get("budget"):
            unit = n.data.get("currency") or "CNY"
            b, s = format_money(n.data["budget"], unit), format_money(n.data.get("spent", 0), unit)
            r = n.data.get("ratio", 0)
            lines.append(V.ReportLine(text=f"预算 {b} · 实际 {s} · 超支 {r:.1%}",
                                      text_en=f"Budget {b} · spent {s} · over by {r:.1%}"))
            lines.append(V.ReportLine(text="请提交《变更申请》：说明原因及补救措施",
                                      text_en="Submit a change request: why, and how it will be recovered"))
        for k in ("recipient", "error", "code", "detail", "fix"):
            if n.data.get(k) and n.kind in ("delivery_failed", "system"):
                lines.append(V.ReportLine(text=f"{k}: {n.data[k]}", text_en=f"{k}: {n.data[k]}"))
        buttons = []
        if rec and n.kind in ("budget", "gate", "data_problem", "slip"):
            buttons.append(V.ActionButton(text="知道了", text_en="Got it", kind="primary",
                                          value=Ack(p=slug, t=rec.table, r=rec.record_id).value()))
        return "alert", V.AlertView(kind=n.kind, project_name=project_name, title=n.title or zh,
                                    title_en=en + (f": {rec.label}" if rec and rec.label else ""),
                                    header_color=color, text=n.text or n.title, text_en=n.text_en,
                                    lines=Clip.of(lines, 20), buttons=buttons,
                                    state=state[0] if state else "", state_en=state[1] if state else "")

    def single(self, project_name: str, notice: Notice, locale: str = "zh", project_slug: str = "",
               state: tuple[str, str] | None = None) -> dict:
        name, view = self.single_view(project_name, notice, project_slug, state)
        return render(name, view, locale)


# ---- post-click state ----------------------------------------------------------------------
def outcome_text(action: Action, who: str = "", when: datetime | None = None) -> tuple[str, str]:
    """(zh, en) line shown in place of the buttons after `action` succeeded."""
    by = f" · {who}" if who else ""
    a = action.a
    if a == "task_done":
        return f"✅ 已完成{by}", f"✅ Done{by}"
    if a == "progress":
        return f"📈 进度已更新为 {action.pct}%{by}", f"📈 Progress set to {action.pct}%{by}"
    if a == "postpone":
        why = f"（{action.reason}）" if action.reason else ""
        why_en = f" ({action.reason})" if action.reason else ""
        return f"📅 已延期到 {action.new_date}{why}{by}", f"📅 Postponed to {action.new_date}{why_en}{by}"
    if a == "ack":
        until = f"，暂停提醒至 {when:%Y-%m-%d %H:%M}" if when else ""
        until_en = f", reminders paused until {when:%Y-%m-%d %H:%M}" if when else ""
        return f"👌 已确认{until}{by}", f"👌 Acknowledged{until_en}{by}"
    if a == "snooze":
        until = f" {when:%Y-%m-%d %H:%M}" if when else (f" {action.h} 小时后" if action.h else "")
        until_en = f" {when:%Y-%m-%d %H:%M}" if when else (f" in {action.h} h" if action.h else "")
        return f"⏰ 稍后提醒：{until.strip()}{by}", f"⏰ Will remind{until_en}{by}"
    if a == "resolve":
        return f"✅ 已解决{by}", f"✅ Resolved{by}"
    if a == "cancel":
        return f"已取消，未做修改{by}", f"Cancelled, nothing changed{by}"
    if a == "signoff":
        if action.ok:
            return f"✅ 已通过验收{by}", f"✅ Signed off{by}"
        return f"↩️ 已退回：{action.note}{by}", f"↩️ Sent back: {action.note}{by}"
    return f"已处理{by}", f"Handled{by}"


class Outcome(BaseModel):
    """The line that replaces a record's controls after a click (`templates/_outcome.json.j2`)."""

    zh: str
    en: str


def _targets(el: Any, table: str, record_id: str) -> bool:
    """Whether an element (or anything inside it) calls back about this record."""
    if isinstance(el, dict):
        for b in el.get("behaviors") or []:
            val = b.get("value") if isinstance(b, dict) else None
            if isinstance(val, dict) and val.get("r") == record_id and val.get("t") == table:
                return True
        return any(_targets(v, table, record_id) for k, v in el.items() if k in ("elements", "columns"))
    if isinstance(el, list):
        return any(_targets(x, table, record_id) for x in el)
    return False


def after_action(card: dict, action: Action, who: str = "", when: datetime | None = None,
                 locale: str = "zh", outcome: tuple[str, str] | None = None) -> dict:
    """The card updated in place after a successful click: the controls for that record are
    replaced by one line saying what happened. Other items keep their buttons."""
    zh, en = outcome or outcome_text(action, who, when)
    line = render_element("outcome", Outcome(zh=zh, en=en), locale)
    text = line["content"]
    new = copy.deepcopy(card)
    elements = new.get("body", {}).get("elements", [])
    out, placed = [], False
    for el in elements:
        if _targets(el, action.t, action.r):
            if not placed:
                out.append(dict(line))
                placed = True
            continue
        out.append(el)
    if not placed:  # nothing clickable left for this record (clicked twice): append the line once
        if not any(isinstance(e, dict) and e.get("content") == text for e in out):
            out.append(dict(line))
    new["body"]["elements"] = out
    header = new.get("header")
    if header and action.a in ("resolve", "ack") and not any(_targets(e, "", "") for e in out):
        still = any(isinstance(e, dict) and e.get("tag") in ("column_set", "form") for e in out)
        if not still:
            header["template"] = "green"
    check_card(new)
    return new
