"""The terminal table of what a run sent (`gtm check`, `gtm report`, the demo): one row per message
and recipient, in words a PM reads — the rule's name, the record, the person's name (not an
open_id), and what happened, with the reason only where the result alone does not say it.
`--json` keeps every raw field (`outcome_json`)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from rich.markup import escape
from rich.table import Table

from gtm.bot.catalogue import Word
from gtm.bot.checks.notify import SendOutcome
from gtm.schemas.plan import Person

RULES: dict[str, Word] = {
    "overdue": Word("逾期", "overdue"),
    "due_soon": Word("即将到期", "due soon"),
    "escalation": Word("问题升级", "escalation"),
    "budget": Word("预算超支", "budget overrun"),
    "gate": Word("里程碑门禁", "milestone gate"),
    "data_problem": Word("数据问题", "data problem"),
    "delivery_failed": Word("发送失败", "delivery failed"),
    "system": Word("系统", "system"),
    "slip": Word("进度顺延", "slip"),
    "signoff": Word("里程碑验收", "sign-off"),
    "informed": Word("知会", "informed"),
    "report": Word("周报", "weekly report"),
    "portfolio": Word("项目组合周报", "portfolio report"),
    "monthly": Word("月报", "monthly report"),
}
STATUSES: dict[str, Word] = {
    "sent": Word("已发送", "sent"),
    "skipped": Word("未发送", "skipped"),
    "queued": Word("已排队", "queued"),
    "failed": Word("失败", "failed"),
    "pending": Word("待发送", "pending"),
    "dry_run": Word("试运行", "dry run"),
}
_COLORS = {"sent": "green", "queued": "yellow", "failed": "red", "pending": "yellow", "dry_run": "cyan"}
# reasons that only repeat the result: the status column says it already
_SAID = {"sent": ("已发送 / sent",), "dry_run": ("将发送 / would send",)}


def rule_name(rule: str, lang: str = "zh") -> str:
    """"问题升级", "逾期汇总（逾期 + 即将到期）": a notice kind, or a digest of kinds (`digest:a+b`);
    an unknown rule as it is."""
    pick = (lambda w: w.en) if lang == "en" else (lambda w: w.zh)
    if rule.startswith("digest:"):
        kinds = [pick(RULES[k]) if k in RULES else k for k in rule[len("digest:"):].split("+") if k]
        return (f"digest ({', '.join(kinds)})" if lang == "en" else f"汇总（{'、'.join(kinds)}）") if kinds else \
            ("digest" if lang == "en" else "汇总")
    return pick(RULES[rule]) if rule in RULES else rule


def recipient_name(recipient: str, people: Mapping[str, Person]) -> str:
    """A person's name from the plan (a person who left, or one Feishu sent without a name, is
    marked as such by `Person.label`); a group chat or an unknown id as it is."""
    person = people.get(recipient)
    return person.label() if person is not None else recipient


def outcomes_table(outcomes: Sequence[SendOutcome], title: str, *, people: Mapping[str, Person] | None = None,
                   lang: str = "zh") -> Table:
    """People's text (record names, people's names, error reasons) is data, never markup."""
    t = Table(title=title, show_lines=False)
    for col in ("规则 / rule", "记录 / record", "接收人 / recipient", "结果 / result"):
        t.add_column(col, overflow="fold")
    for o in outcomes:
        st = o.status
        word = STATUSES.get(st)
        shown = (word.en if lang == "en" else word.zh) if word else st
        why = "" if o.why in _SAID.get(st, ()) else o.why
        t.add_row(escape(rule_name(o.rule, lang)), escape(o.record), escape(recipient_name(o.recipient, people or {})),
                  f"[{_COLORS.get(st, 'white')}]{escape(shown)}[/]" + (f" {escape(why)}" if why else ""))
    return t


def outcome_json(o: SendOutcome) -> dict[str, str]:
    return {k: str(getattr(o, k, "") or "") for k in ("rule", "record", "recipient", "action", "status", "why")}
