"""Drift findings: what differs between the table specs and the Base, said for people.

Every finding names the table and field in Chinese with an English variant and says what to do.
"""
from __future__ import annotations

from dataclasses import dataclass

from gtm.schemas.fields import FieldSpec, FieldType, TableSpec

TYPE_NAMES: dict[int, tuple[str, str]] = {
    1: ("文本", "Text"), 2: ("数字", "Number"), 3: ("单选", "Single select"),
    4: ("多选", "Multi select"), 5: ("日期", "Date"), 7: ("复选框", "Checkbox"),
    11: ("人员", "Person"), 13: ("电话号码", "Phone"), 15: ("超链接", "Link (URL)"),
    17: ("附件", "Attachment"), 18: ("单向关联", "One-way link"), 19: ("查找引用", "Lookup"),
    20: ("公式", "Formula"), 21: ("双向关联", "Two-way link"), 22: ("地理位置", "Location"),
    23: ("群组", "Group"), 1001: ("创建时间", "Created time"), 1002: ("最后更新时间", "Modified time"),
    1003: ("创建人", "Created by"), 1004: ("修改人", "Modified by"), 1005: ("自动编号", "Auto number"),
}


def type_name(t: int | FieldType | None, lang: str = "zh") -> str:
    zh, en = TYPE_NAMES.get(int(t or 0), (f"类型 {t}", f"type {t}"))
    return en if lang == "en" else zh


@dataclass
class Finding:
    """One difference. `fixable`: `gtm init --repair` can fix it; `fixed`: this run fixed it."""

    kind: str  # table_missing | table_rebound | field_missing | field_rebound | field_renamed |
    #            field_type_changed | options_changed | view_missing | table_not_empty
    severity: str  # info | warning | error
    table: str  # table key
    table_name: str
    table_en: str
    message: str
    message_en: str
    action: str
    action_en: str
    field: str = ""  # field attr
    field_name: str = ""
    field_en: str = ""
    fixable: bool = False
    fixed: bool = False

    def describe(self, lang: str = "zh") -> str:
        if lang == "en":
            state = " (fixed)" if self.fixed else ""
            return f"{self.message_en}{state}. What to do: {self.action_en}"
        state = "（已修复）" if self.fixed else ""
        return f"{self.message}{state}。建议：{self.action}"


def _where(spec: TableSpec, f: FieldSpec | None) -> tuple[str, str]:
    if f is None:
        return f"表「{spec.name}」", f"table “{spec.en}” ({spec.name})"
    return (f"表「{spec.name}」的字段「{f.name}」",
            f"field “{f.en}” ({f.name}) of table “{spec.en}” ({spec.name})")


def _base(kind: str, severity: str, spec: TableSpec, f: FieldSpec | None, zh: str, en: str,
          act: str, act_en: str, fixable: bool = False) -> Finding:
    return Finding(kind, severity, spec.key, spec.name, spec.en, zh, en, act, act_en,
                   field=f.attr if f else "", field_name=f.name if f else "", field_en=f.en if f else "",
                   fixable=fixable)


def table_missing(spec: TableSpec, table_id: str) -> Finding:
    w, we = _where(spec, None)
    return _base("table_missing", "error", spec, None, f"{w}已被删除（原 ID {table_id}）",
                 f"The {we} was deleted (was {table_id})",
                 "运行 `gtm init --repair` 重建该表（新表为空；旧数据可从飞书回收站恢复）",
                 "run `gtm init --repair` to recreate it (empty; restore old rows from the Feishu recycle bin)",
                 fixable=True)


def table_rebound(spec: TableSpec, old: str, new: str) -> Finding:
    w, we = _where(spec, None)
    return _base("table_rebound", "info", spec, None, f"{w}的 ID 由 {old} 变为 {new}（按名称重新找到）",
                 f"The {we} changed id from {old} to {new} (found again by name)",
                 "无需处理，已改用新表", "nothing; the service now uses the new table")


def table_not_empty(spec: TableSpec, count: int) -> Finding:
    w, we = _where(spec, None)
    return _base("table_not_empty", "info", spec, None, f"{w}已有 {count}+ 行数据，未写入模板行",
                 f"The {we} already holds {count}+ rows; template rows were not added",
                 "无需处理；如需模板内容，请手动补充", "nothing; add template rows by hand if you want them")


def field_missing(spec: TableSpec, f: FieldSpec, field_id: str) -> Finding:
    w, we = _where(spec, f)
    return _base("field_missing", "error", spec, f, f"{w}已被删除（原 ID {field_id}）",
                 f"The {we} was deleted (was {field_id})",
                 f"运行 `gtm init --repair` 重新创建字段「{f.name}」（原字段中的数据无法恢复）",
                 f"run `gtm init --repair` to recreate “{f.name}” (the old cells cannot be restored)",
                 fixable=True)


def field_rebound(spec: TableSpec, f: FieldSpec, old: str, new: str) -> Finding:
    w, we = _where(spec, f)
    return _base("field_rebound", "info", spec, f, f"{w}的 ID 由 {old} 变为 {new}（按名称重新找到）",
                 f"The {we} changed id from {old} to {new} (found again by name)",
                 "无需处理，已改用该字段", "nothing; the service now uses that field")


def field_renamed(spec: TableSpec, f: FieldSpec, new_name: str) -> Finding:
    w, we = _where(spec, f)
    return _base("field_renamed", "warning", spec, f, f"{w}被改名为「{new_name}」",
                 f"The {we} was renamed to “{new_name}”",
                 f"无需立即处理：同步已按新名称「{new_name}」继续工作；如需统一命名，请在飞书中改回「{f.name}」",
                 f"nothing urgent: sync keeps working with the new name “{new_name}”; rename it back "
                 f"to “{f.name}” in Feishu to keep the standard layout")


def field_old_name(spec: TableSpec, f: FieldSpec, old_name: str) -> Finding:
    w, we = _where(spec, f)
    return _base("field_old_name", "info", spec, f, f"{w}沿用旧列名「{old_name}」",
                 f"The {we} keeps its earlier name “{old_name}”",
                 f"无需处理：同步按「{old_name}」继续工作；想用模板的新列名，可在飞书中把它改为「{f.name}」",
                 f"nothing to do: sync keeps working with “{old_name}”; rename it to “{f.name}” in Feishu "
                 f"to use the template's current name")


def field_type_changed(spec: TableSpec, f: FieldSpec, actual_type: int, actual_name: str) -> Finding:
    w, we = _where(spec, f)
    shown = f"（现名「{actual_name}」）" if actual_name != f.name else ""
    shown_en = f" (now named “{actual_name}”)" if actual_name != f.name else ""
    return _base("field_type_changed", "error", spec, f,
                 f"{w}{shown}的类型被改为「{type_name(actual_type)}」，应为「{type_name(f.type)}」",
                 f"The {we}{shown_en} was changed to type {type_name(actual_type, 'en')}; "
                 f"it must be {type_name(f.type, 'en')}",
                 f"在飞书中把该字段类型改回「{type_name(f.type)}」，或运行 `gtm init --repair`：原字段改名为"
                 f"「{aside_name(f, actual_type)}」保留数据，并新建「{type_name(f.type)}」类型的「{f.name}」"
                 f"（服务不会覆盖字段类型；在此之前该字段的值无法读取）",
                 f"change the field type back to {type_name(f.type, 'en')} in Feishu, or run `gtm init --repair`: "
                 f"the field is renamed to “{aside_name(f, actual_type)}” (data kept) and a new "
                 f"{type_name(f.type, 'en')} field “{f.name}” is created (the service never overwrites a field "
                 f"type; until then its values cannot be read)", fixable=True)


def aside_name(f: FieldSpec, actual_type: int, taken: set[str] | None = None) -> str:
    """The name a retyped field is set aside under by `gtm init --repair` (unique in its table)."""
    base = f"{f.name}（旧·{type_name(actual_type)}）"
    name, n = base, 2
    while taken and name in taken:
        name, n = f"{base}{n}", n + 1
    return name


def options_changed(spec: TableSpec, f: FieldSpec, missing: list[str], extra: list[str]) -> Finding:
    w, we = _where(spec, f)
    more = f"（另有你添加的选项：{'、'.join(extra)}，会保留）" if extra else ""
    more_en = f" (your extra options {', '.join(extra)} are kept)" if extra else ""
    return _base("options_changed", "warning", spec, f, f"{w}缺少选项：{'、'.join(missing)}{more}",
                 f"The {we} lacks the options {', '.join(missing)}{more_en}",
                 "运行 `gtm init --repair` 补回缺少的选项（保留现有选项）",
                 "run `gtm init --repair` to add the missing options back (existing options are kept)",
                 fixable=True)


def view_missing(spec: TableSpec, view_name: str, view_en: str) -> Finding:
    w, we = _where(spec, None)
    return _base("view_missing", "warning", spec, None, f"{w}的视图「{view_name}」已被删除",
                 f"The view “{view_en}” ({view_name}) of {we} was deleted",
                 "运行 `gtm init --repair` 重建该视图", "run `gtm init --repair` to recreate the view",
                 fixable=True)
