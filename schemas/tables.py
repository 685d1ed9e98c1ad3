"""The plan's tables, declared once. Chinese field names are the contract with the users' Base.

No other module spells a Chinese field or table name: they look fields up by `attr` here.
"""
from __future__ import annotations

from dataclasses import dataclass, field as dataclass_field, replace

from gtm.schemas.fields import (
    FieldSpec as F,
    Kind,
    Kind as K,
    Option as O,
    TableRegistry,
    TableSpec,
    ViewFilter as VF,
    ViewSpec as V,
    ViewType,
    Writer as W,
)

# --- option sets (status vocabularies come from the seeds) ---------------------------------
LEVEL3 = (O("高", 0, "High"), O("中", 1, "Medium"), O("低", 2, "Low"))
MILESTONE_STATUS = (O("未开始", 0, "Not started"), O("进行中", 1, "In progress"),
                    O("完成", 2, "Done"), O("延期", 3, "Overdue"))
DELIVERABLE_STATUS = MILESTONE_STATUS
TASK_STATUS = (O("未开始", 0, "Not started"), O("进行中", 1, "In progress"),
               O("已完成", 2, "Done"), O("延期", 3, "Overdue"), O("阻塞", 4, "Blocked"))
RISK_STATUS = (O("开放", 0, "Open"), O("应对中", 1, "Mitigating"), O("已关闭", 2, "Closed"))
DEPENDENCY_STATUS = (O("已确认", 2, "Confirmed"), O("待确认", 3, "Pending"))
ISSUE_STATUS = (O("待处理", 0, "Open"), O("处理中", 1, "In progress"), O("已解决", 2, "Resolved"))
ESCALATION_LEVEL = (O("团队", 0, "Team"), O("项目经理", 1, "Project manager"),
                    O("管理层", 2, "Management"))
SIGNOFF = (O("待验收", 0, "Awaiting sign-off"), O("已通过", 2, "Approved"), O("已退回", 3, "Sent back"))
RAG = (O("绿色", 2, "Green"), O("黄色", 1, "Yellow"), O("红色", 3, "Red"))
# docs/seeds/003 §2.2, §3: the roles its 负责人 column names (经理, 设计师 …) plus 财务/产品 from its text
OWNER_ROLE = (O("经理", 0, "Manager"), O("设计师", 1, "Designer"), O("技术", 2, "Engineering"),
              O("财务", 3, "Finance"), O("运营", 4, "Operations"), O("媒介", 5, "Media"),
              O("产品", 6, "Product"), O("总监", 7, "Director"), O("主播", 8, "Host"),
              O("数据", 9, "Data"))
TASK_TAGS = (O("新增-紧急", 3, "Added – urgent"),)  # docs/seeds/003 §4.3: emergency tasks added mid-flight
GTM_TYPE = (O("新产品发布", 0, "New product launch"), O("新功能发布", 1, "New feature launch"),
            O("新市场进入", 2, "New market entry"), O("重新定位", 3, "Repositioning"),
            O("其他", 4, "Other"))

MODIFIED = F("modified_at", "最后修改时间", K.MODIFIED_TIME, writer=W.SERVICE, en="Last modified",
             description="Feishu keeps this; the service reads only records changed since its last sync.")

# The approved plan (`gtm baseline set`): postponing moves 计划结束/目标日期, never these.
BASELINE_END = F("baseline_end", "基线结束", K.DATE, writer=W.SERVICE, en="Baseline end",
                 description="已批准计划的结束日期（gtm baseline set 写入）；延期不会改动它。")
BASELINE_VARIANCE = F("baseline_variance", "基线偏差", K.INTEGER, writer=W.SERVICE,
                      en="Baseline variance (days)",
                      description="计划结束（完成后为实际结束）减去基线结束，单位天。")

OVERDUE_FILTER = lambda end_attr, done: (  # noqa: E731 - small view-filter helper
    VF(end_attr, "isLess", ("Today",)), VF("status", "isNot", (done,)))

PROJECT = TableSpec("project", "项目", en="Project", single_row=True, fields=(
    F("name", "项目名称", K.TEXT, required=True, en="Project"),
    F("gtm_type", "GTM类型", K.SELECT, GTM_TYPE, en="GTM type"),
    F("pm", "项目负责人", K.USER, en="Project manager"),
    F("management", "管理层", K.USERS, en="Management"),
    F("core_team", "核心团队", K.USERS, en="Core team"),
    F("start_date", "启动日期", K.DATE, en="Start date"),
    F("launch_date", "目标发布日期", K.DATE, en="Target launch date"),
    F("budget", "预算", K.CURRENCY, en="Budget"),
    F("spent", "实际花费", K.CURRENCY, en="Actual spend"),
    F("goal", "主要目标", K.TEXT, en="Main goal"),
    F("chat", "项目群", K.GROUP_CHAT, en="Project group"),
    F("rag", "整体状态", K.SELECT, RAG, writer=W.SERVICE, en="Overall status"),
    F("rag_reason", "状态说明", K.TEXT, writer=W.SERVICE, en="Status explanation"),
    # docs/seeds/002 §2.1 (sales): the customer, the opportunity assessment and the contract
    F("customer", "客户", K.TEXT, en="Customer"),
    F("customer_contact", "客户接口人", K.TEXT, en="Customer contact"),
    F("feasibility", "可行性评分", K.INTEGER, en="Feasibility score (1–5)",
      description="《项目机会评估报告》的可行性评分，1–5 分 / feasibility score from the opportunity assessment, 1–5"),
    F("contract_amount", "合同金额", K.CURRENCY, en="Contract amount"),
    F("success_criteria", "成功标准", K.TEXT, en="Success criteria"),
    MODIFIED,
), views=(V("项目信息", en="Project"),))

MILESTONE = TableSpec("milestone", "里程碑", en="Milestones", fields=(
    F("code", "编号", K.TEXT, required=True, en="ID"),
    F("name", "名称", K.TEXT, required=True, en="Name"),
    F("phase", "阶段", K.SELECT, en="Phase"),
    F("owner", "负责人", K.USER, en="Owner"),
    F("target_date", "目标日期", K.DATE, en="Target date"),
    F("actual_date", "实际日期", K.DATE, en="Actual date"),
    F("status", "状态", K.SELECT, MILESTONE_STATUS, writer=W.SHARED, en="Status"),
    F("variance_days", "偏差(天)", K.INTEGER, writer=W.SERVICE, en="Variance (days)"),
    F("note", "备注", K.TEXT, en="Note"),
    BASELINE_END,
    BASELINE_VARIANCE,
    F("approver", "审批人", K.USERS, en="Accountable (A)",
      description="验收里程碑的人（最多一位）；退出标准全部满足后机器人请其通过或退回。"),
    F("informed", "知会人", K.USERS, en="Informed (I)"),
    F("informed_depts", "知会部门", K.TEXT, en="Informed departments (I)"),
    F("signoff", "验收", K.SELECT, SIGNOFF, writer=W.SHARED, en="Sign-off"),
    F("signoff_note", "验收意见", K.TEXT, en="Sign-off note"),
    MODIFIED,
), views=(V("全部里程碑", en="All milestones"),
          V("里程碑看板", ViewType.KANBAN, en="Milestone board"),
          V("里程碑甘特", ViewType.GANTT, en="Milestone timeline"),
          V("逾期", filters=OVERDUE_FILTER("target_date", "完成"), en="Overdue")))

DELIVERABLE = TableSpec("deliverable", "交付物", en="Deliverables", fields=(
    F("name", "名称", K.TEXT, required=True, en="Deliverable"),
    F("milestone", "里程碑", K.LINK, link_table="milestone", en="Milestone"),
    F("standard", "完成标准", K.TEXT, en="Completion standard"),
    F("owner", "负责人", K.USER, en="Owner"),
    F("due_date", "截止日期", K.DATE, en="Due date"),
    F("status", "状态", K.SELECT, DELIVERABLE_STATUS, writer=W.SHARED, en="Status"),
    F("done_date", "完成日期", K.DATE, en="Completed on"),
    F("phase", "阶段", K.SELECT, en="Phase"),
    MODIFIED,
), views=(V("全部交付物", en="All deliverables"),
          V("逾期", filters=OVERDUE_FILTER("due_date", "完成"), en="Overdue"),
          V("本周到期", filters=(VF("due_date", "is", ("CurrentWeek",)),), en="Due this week")))

EXIT_CRITERION = TableSpec("exit_criterion", "退出标准", en="Exit criteria", fields=(
    F("criterion", "标准", K.TEXT, required=True, en="Criterion"),
    F("milestone", "里程碑", K.LINK, link_table="milestone", en="Milestone"),
    F("met", "已满足", K.CHECKBOX, en="Met"),
    F("evidence", "证据", K.URL, en="Evidence"),
    MODIFIED,
), views=(V("全部退出标准", en="All exit criteria"),
          V("未满足", filters=(VF("met", "is", ("false",)),), en="Unmet")))

TASK = TableSpec("task", "任务", en="Tasks", fields=(
    F("task_id", "任务ID", K.TEXT, required=True, en="Task ID"),
    F("name", "任务名称", K.TEXT, required=True, en="Task"),
    F("phase", "阶段", K.SELECT, en="Phase"),
    F("milestone", "里程碑", K.LINK, link_table="milestone", en="Milestone"),
    F("owner", "负责人", K.USER, en="Responsible (R)"),
    F("approver", "审批人", K.USERS, en="Accountable (A)"),
    F("consulted", "咨询人", K.USERS, en="Consulted (C)"),
    F("informed", "知会人", K.USERS, en="Informed (I)"),
    F("planned_start", "计划开始", K.DATE, en="Planned start"),
    F("planned_end", "计划结束", K.DATE, en="Planned end"),
    F("actual_start", "实际开始", K.DATE, en="Actual start"),
    F("actual_end", "实际结束", K.DATE, en="Actual end"),
    F("progress", "进度", K.PROGRESS, en="Progress"),
    F("status", "状态", K.SELECT, TASK_STATUS, writer=W.SHARED, en="Status"),
    F("risk_note", "风险/问题", K.TEXT, en="Risk / issue"),
    F("note", "备注", K.TEXT, en="Note"),
    F("predecessors", "前置任务", K.LINK, link_table="task", en="Predecessors"),
    F("variance_days", "偏差(天)", K.INTEGER, writer=W.SERVICE, en="Variance (days)"),
    F("description", "说明", K.TEXT, en="Description"),
    F("parent", "上级任务", K.LINK, link_table="task", en="Parent task (WBS)"),
    F("owner_role", "负责人角色", K.SELECT, OWNER_ROLE, en="Owner role"),
    F("approver_role", "审批角色", K.TEXT, en="Accountable role"),
    F("consulted_role", "咨询角色", K.TEXT, en="Consulted role"),
    F("informed_role", "知会角色", K.TEXT, en="Informed role"),
    F("tags", "标签", K.MULTI_SELECT, TASK_TAGS, en="Tags"),
    BASELINE_END,
    BASELINE_VARIANCE,
    MODIFIED,
), views=(V("全部任务", en="All tasks"),
          V("任务看板", ViewType.KANBAN, en="Task board"),
          V("任务甘特", ViewType.GANTT, en="Task timeline"),
          V("逾期", filters=OVERDUE_FILTER("planned_end", "已完成"), en="Overdue"),
          V("本周到期", filters=(VF("planned_end", "is", ("CurrentWeek",)),), en="Due this week"),
          V("阻塞", filters=(VF("status", "is", ("阻塞",)),), en="Blocked")))

RISK = TableSpec("risk", "风险", en="Risks", fields=(
    F("risk", "风险", K.TEXT, required=True, en="Risk"),
    F("likelihood", "可能性", K.SELECT, LEVEL3, en="Likelihood"),
    F("impact", "影响", K.SELECT, LEVEL3, en="Impact"),
    F("score", "风险评分", K.INTEGER, writer=W.SERVICE, en="Score"),
    F("mitigation", "应对措施", K.TEXT, en="Mitigation"),
    F("owner", "负责人", K.USER, en="Owner"),
    F("status", "状态", K.SELECT, RISK_STATUS, en="Status"),
    F("identified_on", "识别日期", K.DATE, en="Identified on"),
    F("level", "风险等级", K.SELECT, LEVEL3, en="Risk level"),
    MODIFIED,
), views=(V("全部风险", en="All risks"),
          V("高风险", filters=(VF("score", "isGreaterEqual", ("6",)),), en="High risks")))

DEPENDENCY = TableSpec("dependency", "依赖", en="Dependencies", fields=(
    F("item", "依赖项", K.TEXT, required=True, en="Dependency"),
    F("party", "依赖方", K.TEXT, en="Depends on"),
    F("milestones", "影响的里程碑", K.LINK, link_table="milestone", en="Milestones affected"),
    F("status", "状态", K.SELECT, DEPENDENCY_STATUS, en="Status"),
    F("risk_level", "风险等级", K.SELECT, LEVEL3, en="Risk level"),
    F("mitigation", "应对措施", K.TEXT, en="Mitigation"),
    F("owner", "负责人", K.USER, en="Owner"),
    F("needed_by", "需要日期", K.DATE, en="Needed by"),
    MODIFIED,
), views=(V("全部依赖", en="All dependencies"),
          V("待确认", filters=(VF("status", "is", ("待确认",)),), en="Pending")))

ISSUE = TableSpec("issue", "问题", en="Issues", fields=(
    F("issue", "问题", K.TEXT, required=True, en="Issue"),
    F("raised_at", "提出日期", K.DATETIME, en="Raised at"),
    F("owner", "负责人", K.USER, en="Owner"),
    F("severity", "严重程度", K.SELECT, LEVEL3, en="Severity"),
    F("status", "状态", K.SELECT, ISSUE_STATUS, en="Status"),
    F("resolved_at", "解决日期", K.DATETIME, en="Resolved at"),
    F("tasks", "关联任务", K.LINK, link_table="task", en="Related tasks"),
    F("level", "升级级别", K.SELECT, ESCALATION_LEVEL, writer=W.SERVICE, en="Escalation level"),
    MODIFIED,
), views=(V("全部问题", en="All issues"),
          V("未解决", filters=(VF("status", "isNot", ("已解决",)),), en="Unresolved")))

METRIC = TableSpec("metric", "指标", en="Metrics", fields=(
    F("metric", "指标", K.TEXT, required=True, en="Metric"),
    F("target", "目标值", K.TEXT, en="Target"),
    F("current", "当前值", K.TEXT, en="Current"),
    F("method", "衡量方式", K.TEXT, en="How measured"),
    F("updated_on", "更新日期", K.DATE, en="Updated on"),
    MODIFIED,
), views=(V("全部指标", en="All metrics"),))

REPORT = TableSpec("report", "周报", en="Weekly reports", fields=(
    F("week", "周次", K.TEXT, required=True, writer=W.SERVICE, en="Week"),
    F("rag", "整体状态", K.SELECT, RAG, writer=W.SERVICE, en="Overall status"),
    F("summary", "摘要", K.TEXT, writer=W.SERVICE, en="Summary"),
    F("sent_at", "发送时间", K.DATETIME, writer=W.SERVICE, en="Sent at"),
    MODIFIED,
), views=(V("全部周报", en="All reports"),))

COMMUNICATION = TableSpec("communication", "沟通计划", en="Communication plan", fields=(
    F("meeting", "会议/沟通", K.TEXT, required=True, en="Meeting / communication"),
    F("frequency", "频率", K.TEXT, en="Frequency"),
    F("participants", "参与者", K.TEXT, en="Participants"),
    F("purpose", "目的", K.TEXT, en="Purpose"),
    F("form", "形式", K.TEXT, en="Form"),
    MODIFIED,
), views=(V("沟通计划", en="Communication plan"),))

PAYMENT = TableSpec("payment", "回款", en="Payments", fields=(  # docs/seeds/002 §2.5: 《回款跟踪表》
    F("item", "款项", K.TEXT, required=True, en="Payment"),
    F("amount", "金额", K.CURRENCY, en="Amount"),
    F("due_date", "应收日期", K.DATE, en="Due date"),
    F("received", "实收金额", K.CURRENCY, en="Received"),
    F("received_on", "到账日期", K.DATE, en="Received on"),
    F("note", "备注", K.TEXT, en="Note"),
    MODIFIED,
), views=(V("回款跟踪表", en="Payment tracking"),))

# Order matters: a linked table is created before the tables that link to it.
# PLAN_TABLES holds every table and field any template uses (the record codec reads with it);
# `tables_for(template)` is the subset a template's Base gets, under that template's names.
PLAN_TABLES = TableRegistry((PROJECT, MILESTONE, DELIVERABLE, EXIT_CRITERION, TASK, RISK,
                             DEPENDENCY, ISSUE, METRIC, REPORT, COMMUNICATION, PAYMENT))

# -- per-template layout ------------------------------------------------------------------
# Fields only some templates carry (table key -> attrs); every other field is in every template.
_OPTIONAL = {
    "project": ("gtm_type", "customer", "customer_contact", "feasibility", "contract_amount",
                "success_criteria"),
    "deliverable": ("phase",),
    "task": ("description", "parent", "owner_role", "approver_role", "consulted_role",
             "informed_role", "tags"),
    "risk": ("level",),
}
_OPTIONAL_TABLES = ("payment",)


@dataclass(frozen=True)
class TemplateLayout:
    """How one template's Base differs from the common layout: which optional tables and fields it
    has, the Feishu names it gives fields (seed wording; the common names stay aliases so a Base
    made by an older release is still found), field order in a table, and its money unit."""

    tables: tuple[str, ...] = ()  # optional tables it has
    fields: dict[str, tuple[str, ...]] = dataclass_field(default_factory=dict)  # optional fields it has
    names: dict[str, dict[str, str]] = dataclass_field(default_factory=dict)  # table -> attr -> name
    order: dict[str, tuple[str, ...]] = dataclass_field(default_factory=dict)  # table -> attrs first
    currency: str = "CNY"


TEMPLATE_LAYOUTS: dict[str, TemplateLayout] = {
    # docs/seeds/000 §3.1: GTM类型 in the project sheet, budget in "$"
    "gtm": TemplateLayout(fields={"project": ("gtm_type",)}, currency="USD"),
    # docs/seeds/002: customer fields, the risk register's 风险等级/应对措施/责任人, WBS parent link,
    # a step description, 《回款跟踪表》; key date 验收日期
    "sales": TemplateLayout(
        tables=("payment",),
        fields={"project": ("customer", "customer_contact", "feasibility", "contract_amount",
                            "success_criteria"),
                "task": ("description", "parent"), "risk": ("level",)},
        names={"project": {"launch_date": "验收日期"}, "risk": {"owner": "责任人"}},
        order={"risk": ("risk", "level", "mitigation", "owner")}),
    # docs/seeds/003 §3: the schedule's header word for word, owner roles, RACI roles, the 新增-紧急 tag
    "campaign": TemplateLayout(
        fields={"deliverable": ("phase",),
                "task": ("owner_role", "approver_role", "consulted_role", "informed_role", "tags")},
        names={"project": {"launch_date": "活动日期"},
               "task": {"phase": "所属阶段", "planned_start": "计划开始时间", "planned_end": "计划结束时间",
                        "actual_start": "实际开始时间", "actual_end": "实际结束时间", "progress": "进度(%)",
                        "status": "当前状态"}},
        order={"task": ("task_id", "name", "phase", "owner", "owner_role", "planned_start", "planned_end",
                        "actual_start", "actual_end", "progress", "status", "risk_note", "note")}),
}

_REGISTRIES: dict[str, TableRegistry] = {}


def tables_for(template: str) -> TableRegistry:
    """The tables (and fields, names, order) a Base of `template` gets."""
    reg = _REGISTRIES.get(template)
    if reg is not None:
        return reg
    lay = TEMPLATE_LAYOUTS.get(template, TemplateLayout())
    out = []
    for spec in PLAN_TABLES:
        if spec.key in _OPTIONAL_TABLES and spec.key not in lay.tables:
            continue
        skip = set(_OPTIONAL.get(spec.key, ())) - set(lay.fields.get(spec.key, ()))
        names = lay.names.get(spec.key, {})
        fields = []
        for f in spec.fields:
            if f.attr in skip:
                continue
            if f.attr in names and names[f.attr] != f.name:
                f = replace(f, name=names[f.attr], aliases=(*f.aliases, f.name))
            if f.kind is Kind.CURRENCY:
                f = replace(f, currency=lay.currency)
            fields.append(f)
        first = [a for a in lay.order.get(spec.key, ()) if a not in skip]
        fields.sort(key=lambda f: first.index(f.attr) if f.attr in first else len(first))
        if fields[0].attr != spec.primary.attr:
            raise ValueError(f"template {template}: table {spec.key} must keep its primary field first")
        out.append(replace(spec, fields=tuple(fields)))
    reg = _REGISTRIES[template] = TableRegistry(tuple(out))
    return reg


def table(key: str) -> TableSpec:
    """The spec of one plan table by its key (`task`, `issue` …)."""
    return PLAN_TABLES[key]
