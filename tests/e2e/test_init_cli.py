"""`gtm init` end to end through the CLI: click's CliRunner on `gtm.bot.cli.main` (in-process), the
real settings/store/gateway stack, lark-oapi over HTTP to the sandbox, a real SQLite file.

Assertions are on what a user would see (exit code, output) and on the sandbox: API state read back
through the SDK, the journal's `write` flags, and permission checks of people acting in the Base
(`sandbox.bitable.act_update` is permission-checked like Feishu). Function-level provisioning
behaviour is in tests/provision; this file proves the command wires it together.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner
from lark_oapi.api.bitable.v1 import (
    AppTableField,
    BatchCreateAppTableRecordRequest,
    BatchCreateAppTableRecordRequestBody,
    CreateAppRequest,
    CreateAppTableRequest,
    CreateAppTableRequestBody,
    DeleteAppTableFieldRequest,
    ListAppTableFieldRequest,
    ListAppTableRecordRequest,
    ListAppTableRequest,
    ReqApp,
    UpdateAppTableFieldRequest,
)
from lark_oapi.api.drive.v1 import ListPermissionMemberRequest

import gtm.sync.feishu.ratelimit as ratelimit_module
from gtm.bot.cli.main import main
from gtm.sandbox.errors import ApiError
from gtm.schemas.templates import get_template
from tests.support.runtime import cli_env

# The only POST the sandbox journal flags as a write although it only reads: the email → open_id
# lookup behind `--admin <email>` (contact batch_get_id changes nothing in Feishu).
READ_ONLY_LOOKUPS = ("/contact/v3/users/batch_get_id",)
URL_RE = re.compile(r"https://sandbox\.feishu\.cn/base/(\w+)")


@dataclass
class Run:
    code: int
    out: str
    journal: list[dict[str, Any]]

    @property
    def writes(self) -> list[dict[str, Any]]:
        return [e for e in self.journal if e["write"] and not e["path"].endswith(READ_ONLY_LOOKUPS)]

    @property
    def permission_writes(self) -> list[dict[str, Any]]:
        return [e for e in self.journal if e["method"] != "GET"
                and ("/permissions/" in e["path"] or "/roles" in e["path"] or re.search(r"/apps/\w+$", e["path"]))]

    @property
    def token(self) -> str:
        m = URL_RE.search(self.out)
        assert m, f"no Base URL in the output:\n{self.out}"
        return m.group(1)


@pytest.fixture(autouse=True)
def _open_rate_limits(monkeypatch):
    """The gateway's client-side limiter would spread a new Base's ~100 schema writes over ~10 s;
    open it up (as tests/provision does). Everything else is the real stack."""
    for k, v in list(ratelimit_module.DEFAULT_RATES.items()):
        monkeypatch.setitem(ratelimit_module.DEFAULT_RATES, k, v * 1000)


@pytest.fixture
def gtm(sandbox, seed, tmp_path, monkeypatch):
    """`gtm("init", "--project", …, GTM_BASE_PERMISSION="view")` → Run (exit code, output, journal)."""
    env = cli_env(sandbox, seed, tmp_path, monkeypatch)
    runner = CliRunner()

    def run(*args: str, **extra_env: str) -> Run:
        mark = sandbox.journal.mark()
        res = runner.invoke(main, list(args), env={**env, **extra_env}, catch_exceptions=False)
        return Run(res.exit_code, res.output, sandbox.journal.since(mark))

    return run


# -- reading the sandbox back through the SDK -------------------------------------------------
def _data(resp):
    assert resp.success(), f"{resp.code} {resp.msg}"
    return resp.data


def members(lark_client, token: str) -> dict[tuple[str, str], str]:
    req = ListPermissionMemberRequest.builder().token(token).type("bitable").build()
    items = _data(lark_client.drive.v1.permission_member.list(req)).items or []
    return {(m.member_type, m.member_id): m.perm for m in items}


def tables(lark_client, token: str) -> dict[str, str]:
    req = ListAppTableRequest.builder().app_token(token).page_size(100).build()
    return {t.name: t.table_id for t in _data(lark_client.bitable.v1.app_table.list(req)).items or []}


def fields(lark_client, token: str, table_id: str) -> dict[str, str]:
    req = ListAppTableFieldRequest.builder().app_token(token).table_id(table_id).page_size(100).build()
    return {f.field_name: f.field_id for f in _data(lark_client.bitable.v1.app_table_field.list(req)).items or []}


def records(lark_client, token: str, table_id: str) -> dict[str, dict[str, Any]]:
    req = ListAppTableRecordRequest.builder().app_token(token).table_id(table_id).page_size(500).build()
    return {r.record_id: r.fields for r in _data(lark_client.bitable.v1.app_table_record.list(req)).items or []}


def text(v: Any) -> str:
    if isinstance(v, list):
        return "".join(s.get("text", "") if isinstance(s, dict) else str(s) for s in v)
    return "" if v is None else str(v)


def ids(v: Any) -> list[str]:
    return [x.get("id") for x in v or []]


def rows(lark_client, token: str, table_name: str) -> list[dict[str, Any]]:
    return list(records(lark_client, token, tables(lark_client, token)[table_name]).values())


def init_args(seed, project: str = "launch", *more: str) -> list[str]:
    return ["init", "--project", project, "--chat", seed.chat_id, "--pm", seed.users["pm"], *more]


# -- 1, 2: a new project on an empty tenant, then the same command again ----------------------
def test_init_creates_shares_and_fills_then_second_run_writes_nothing(gtm, sandbox, seed, lark_client):
    u = seed.users
    first = gtm(*init_args(seed, "launch", "--template", "gtm", "--admin", "lina@example.com"))
    assert first.code == 0, first.out
    token = first.token
    assert "项目 launch 已就绪" in first.out and f"https://sandbox.feishu.cn/base/{token}" in first.out
    has_access = next(line for line in first.out.splitlines() if line.startswith("可访问 / has access:"))
    for who in (f"项目群 {seed.chat_id}（可编辑 / edit", f"项目负责人 {u['pm']}（可管理 / full_access",
                "管理员 lina@example.com（可管理 / full_access"):
        assert who in has_access
    assert members(lark_client, token) == {("openchat", seed.chat_id): "edit", ("openid", u["pm"]): "full_access",
                                           ("openid", u["management"]): "full_access"}
    assert sandbox.bitable.can(token, u["刘洋"], "edit")  # a group member can now work in the Base
    assert not sandbox.bitable.can(token, "ou_outsider", "view")

    project = rows(lark_client, token, "项目")
    assert len(project) == 1
    assert ids(project[0]["项目负责人"]) == [u["pm"]] and ids(project[0]["项目群"]) == [seed.chat_id]
    codes = sorted(text(r.get("编号")) for r in rows(lark_client, token, "里程碑"))
    assert codes == [f"M{i}" for i in range(1, 10)]
    assert len(rows(lark_client, token, "任务")) == len(get_template("gtm").tasks)
    assert {e["path"] for e in first.permission_writes} == {f"/open-apis/drive/v1/permissions/{token}/members"}

    second = gtm(*init_args(seed, "launch", "--template", "gtm", "--admin", "lina@example.com"))
    assert second.code == 0, second.out
    assert second.writes == [], [(e["method"], e["path"]) for e in second.writes]
    assert second.permission_writes == []
    assert second.token == token and "新建 / created: 无 / nothing" in second.out
    assert "新授权" not in second.out and "项目负责人 ou_sandbox_pm（可管理 / full_access）" in second.out

    third = gtm("init", "--project", "launch", "--repair")  # only the registered group is given this time
    assert third.code == 0, third.out
    assert third.permission_writes == []
    has_access = next(line for line in third.out.splitlines() if line.startswith("可访问 / has access:"))
    assert has_access.endswith("；另有 2 个协作者 / 2 other collaborator(s)"), has_access  # the PM and the admin


def test_group_permission_view_from_settings_and_sales_template(gtm, sandbox, seed, lark_client):
    run = gtm(*init_args(seed, "sales-q3", "--template", "sales"), GTM_BASE_PERMISSION="view")
    assert run.code == 0, run.out
    token = run.token
    assert members(lark_client, token)[("openchat", seed.chat_id)] == "view"
    assert "项目群 oc_sandbox_launch_group（可查看 / view" in run.out
    liu = seed.users["刘洋"]
    assert sandbox.bitable.can(token, liu, "view") and not sandbox.bitable.can(token, liu, "edit")
    tmpl = get_template("sales")
    assert sorted(text(r.get("编号")) for r in rows(lark_client, token, "里程碑")) == sorted(
        m.code for m in tmpl.milestones)
    assert sorted(text(r.get("任务ID")) for r in rows(lark_client, token, "任务")) == sorted(
        t.task_id for t in tmpl.tasks)
    assert text(rows(lark_client, token, "项目")[0].get("项目名称")) == tmpl.name


def test_campaign_template_with_pm_given_by_email(gtm, seed, lark_client):
    run = gtm("init", "--project", "campaign", "--template", "campaign", "--name", "双十一活动",
              "--chat", seed.chat_id, "--pm", "zhangwei@example.com", "--start", "2026-10-01")
    assert run.code == 0, run.out
    token = run.token
    tmpl = get_template("campaign")
    assert sorted(text(r.get("编号")) for r in rows(lark_client, token, "里程碑")) == ["MS1", "MS2"]
    assert len(rows(lark_client, token, "任务")) == len(tmpl.tasks)
    project = rows(lark_client, token, "项目")[0]
    assert ids(project["项目负责人"]) == [seed.users["pm"]]  # the email was resolved to the PM's open_id
    assert text(project.get("项目名称")) == "双十一活动"
    assert members(lark_client, token)[("openid", seed.users["pm"])] == "full_access"
    assert f"项目负责人 {seed.users['pm']}（可管理" in run.out


# -- 3: dry run ---------------------------------------------------------------------------------
def test_dry_run_on_a_new_slug_changes_nothing(gtm, sandbox, seed, tmp_path):
    run = gtm(*init_args(seed, "next-launch", "--dry-run", "--admin", "lina@example.com"))
    assert run.code == 0, run.out
    assert [e for e in run.journal if e["write"]] == []  # not even an email lookup
    assert sandbox.bitable.store.bases == {}
    assert "试运行，不做任何修改 / dry run" in run.out and "新建多维表格 / a new Base" in run.out
    for step in ("创建多维表格「GTM 里程碑规划」", "创建表「任务」", "创建视图 任务/逾期", "写入模板行：里程碑"):
        assert step in run.out
    assert f"would grant (skipping existing): 项目群 {seed.chat_id}（可编辑 / edit）" in run.out
    assert "管理员 lina@example.com" in run.out
    listed = gtm("projects")
    assert listed.code == 0 and "next-launch" not in listed.out  # nothing registered either


# -- 4: someone unknown ---------------------------------------------------------------------------
def test_unknown_admin_is_named_and_the_rest_is_kept(gtm, sandbox, seed, lark_client):
    # check before create: the unknown admin is named and nothing is made
    run = gtm(*init_args(seed, "launch", "--admin", "nobody@example.com"))
    assert run.code == 2, run.out
    line = next(x for x in run.out.splitlines() if "nobody@example.com" in x)
    assert "找不到管理员 nobody@example.com" in line and "not found" in line
    assert run.writes == [] and "nothing was created" in run.out
    first = gtm(*init_args(seed, "launch"))  # without the typo
    assert first.code == 0, first.out
    token = first.token
    assert members(lark_client, token) == {("openchat", seed.chat_id): "edit",
                                           ("openid", seed.users["pm"]): "full_access"}
    again = gtm(*init_args(seed, "launch"))  # registered project, clean exit
    assert again.code == 0 and again.token == token and again.writes == []

    sandbox.bitable.delete_base(token)  # somebody deletes the Base in Feishu
    gone = gtm(*init_args(seed, "launch"))
    assert gone.code == 1 and gone.writes == []  # no silent new Base
    assert f"多维表格 {token} 不存在" in gone.out and "--base <app_token>" in gone.out


# -- 5: strict permissions ------------------------------------------------------------------------
def _task_rows(lark_client, token):
    tid = tables(lark_client, token)["任务"]
    return tid, sorted(records(lark_client, token, tid).items(), key=lambda kv: text(kv[1].get("任务ID")))


def test_strict_members_edit_only_their_own_rows(gtm, sandbox, seed, lark_client):
    u = seed.users
    run = gtm(*init_args(seed, "launch", "--permissions", "strict", "--admin", u["management"]))
    assert run.code == 0, run.out
    assert "高级权限已启用" in run.out and "已创建角色「计划成员（仅编辑自己负责的行）」" in run.out
    token = run.token
    tid, tasks = _task_rows(lark_client, token)
    (mine, _), (theirs, theirs_before) = tasks[0], tasks[1]
    wang, liu = u["王芳"], u["刘洋"]
    # the PM (manager role) assigns two template tasks
    sandbox.bitable.act_update(u["pm"], token, tid, mine, {"负责人": [{"id": wang}]})
    sandbox.bitable.act_update(u["pm"], token, tid, theirs, {"负责人": [{"id": liu}]})
    sandbox.bitable.act_update(wang, token, tid, mine, {"备注": "物料已下单"})
    with pytest.raises(ApiError) as refused:
        sandbox.bitable.act_update(wang, token, tid, theirs, {"备注": "改别人的任务"})
    assert refused.value.code == 1254302
    assert text(records(lark_client, token, tid)[mine]["备注"]) == "物料已下单"
    assert records(lark_client, token, tid)[theirs].get("备注") == theirs_before.get("备注")
    sandbox.bitable.act_update(u["management"], token, tid, theirs, {"备注": "管理层可以改"})

    again = gtm(*init_args(seed, "launch", "--permissions", "strict", "--admin", u["management"]))
    assert again.code == 0 and "已创建角色" not in again.out
    assert again.permission_writes == []  # advanced permissions already on: the re-run writes nothing


def test_strict_on_a_plan_without_advanced_permissions_falls_back(gtm, sandbox, seed, lark_client):
    sandbox.world.tenants[seed.tenant_key].advanced_permissions = False
    run = gtm(*init_args(seed, "launch", "--permissions", "strict"))
    assert run.code == 0, run.out
    assert "当前飞书版本不支持高级权限" in run.out and "plan does not allow advanced permissions" in run.out
    assert "高级权限已启用" not in run.out
    token = run.token
    assert members(lark_client, token) == {("openchat", seed.chat_id): "edit",
                                           ("openid", seed.users["pm"]): "full_access"}
    tid, tasks = _task_rows(lark_client, token)
    sandbox.bitable.act_update(seed.users["王芳"], token, tid, tasks[1][0], {"备注": "默认授权：群成员可编辑"})


def test_campaign_defaults_to_strict_owners_edit_their_rows(gtm, sandbox, seed, lark_client):
    """docs/seeds/003 §2.4: "负责人可编辑，成员仅查看" — the campaign template turns strict mode on by itself."""
    u = seed.users
    run = gtm(*init_args(seed, "campaign", "--template", "campaign"))
    assert run.code == 0, run.out
    assert "高级权限已启用" in run.out
    assert any(e["path"].startswith("/open-apis/base/v2/apps/") and e["path"].endswith("/roles")
               for e in run.permission_writes)  # the v2 roles API (docs/feishu-api.md §10)
    token = run.token
    tid, tasks = _task_rows(lark_client, token)
    (mine, _), (theirs, _) = tasks[0], tasks[1]
    wang = u["王芳"]
    sandbox.bitable.act_update(u["pm"], token, tid, mine, {"负责人": [{"id": wang}]})
    sandbox.bitable.act_update(wang, token, tid, mine, {"备注": "主视觉已出第一稿"})
    with pytest.raises(ApiError):
        sandbox.bitable.act_update(wang, token, tid, theirs, {"备注": "改别人的任务"})
    assert sandbox.bitable.can(token, wang, "view", tid, theirs)  # members view everything
    again = gtm(*init_args(seed, "campaign"))  # no --template: the project's own template, strict again
    assert again.code == 0 and again.writes == [], [(e["method"], e["path"]) for e in again.writes]
    opted_out = gtm(*init_args(seed, "campaign2", "--template", "campaign", "--permissions", "default", "--move"))
    assert opted_out.code == 0 and "高级权限已启用" not in opted_out.out


def test_campaign_strict_default_falls_back_with_a_clear_message(gtm, sandbox, seed):
    sandbox.world.tenants[seed.tenant_key].advanced_permissions = False
    run = gtm(*init_args(seed, "campaign", "--template", "campaign"))
    assert run.code == 0, run.out
    line = next(x for x in run.out.splitlines() if "默认授权" in x)
    assert "当前飞书版本不支持高级权限" in line and "members can still edit every row" in line


def test_campaign_example_is_the_seeds_618_plan(gtm, seed, lark_client):
    run = gtm(*init_args(seed, "demo618", "--template", "campaign", "--example", "--name", "品牌618周年庆"))
    assert run.code == 0, run.out
    tasks = {text(r.get("任务ID")): r for r in rows(lark_client, run.token, "任务")}
    assert sorted(tasks) == ["C001", "E001", "E002", "M001", "M002", "M003", "P001", "P002"]
    m003 = tasks["M003"]
    assert text(m003["当前状态"]) == "已完成" and m003["进度(%)"] == 1
    assert text(m003["风险/问题"]) == "延期1天(服务器调试)" and text(m003["备注"]) == "已通过测试"
    # no --start: the seed's own dates (计划 2024-05-05 → 05-12, 实际 → 05-13)
    from datetime import datetime
    from zoneinfo import ZoneInfo
    day = lambda ms: datetime.fromtimestamp(ms / 1000, ZoneInfo("Asia/Shanghai")).date().isoformat()  # noqa: E731
    assert (day(m003["计划开始时间"]), day(m003["计划结束时间"]), day(m003["实际结束时间"])) == (
        "2024-05-05", "2024-05-12", "2024-05-13")
    bad = gtm(*init_args(seed, "g", "--template", "gtm", "--example", "--move"))
    assert bad.code == 2 and "only campaign has one" in bad.out and bad.writes == []


# -- 6: drift ------------------------------------------------------------------------------------
def test_drift_is_named_then_repaired_keeping_user_rows(gtm, sandbox, seed, lark_client):
    first = gtm(*init_args(seed))
    assert first.code == 0, first.out
    token = first.token
    tid = tables(lark_client, token)["任务"]
    typed = sandbox.bitable.act_create(seed.users["王芳"], token, tid, {
        "任务ID": "U-1", "任务名称": "用户自己加的任务", "备注": "先联系供应商", "进度": 0.3,
        "风险/问题": "供应商可能延迟"})["record_id"]
    before = records(lark_client, token, tid)
    f = fields(lark_client, token, tid)
    rename = (UpdateAppTableFieldRequest.builder().app_token(token).table_id(tid).field_id(f["备注"])
              .request_body(AppTableField({"field_name": "说明", "type": 1})).build())
    _data(lark_client.bitable.v1.app_table_field.update(rename))
    delete = (DeleteAppTableFieldRequest.builder().app_token(token).table_id(tid)
              .field_id(f["风险/问题"]).build())
    _data(lark_client.bitable.v1.app_table_field.delete(delete))

    drift = gtm(*init_args(seed))
    assert drift.code == 1, drift.out
    assert drift.writes == []
    assert "表「任务」的字段「风险/问题」已被删除" in drift.out
    assert "运行 `gtm init --repair` 重新创建字段「风险/问题」" in drift.out
    assert "表「任务」的字段「备注」被改名为「说明」" in drift.out
    assert "gtm init --repair" in drift.out.splitlines()[-1]

    dry = gtm(*init_args(seed, "launch", "--repair", "--dry-run"))
    assert dry.code == 0 and [e for e in dry.journal if e["write"]] == []
    assert "创建字段 任务.风险/问题" in dry.out

    repaired = gtm(*init_args(seed, "launch", "--repair"))
    assert repaired.code == 0, repaired.out
    assert "风险/问题」已被删除（原 ID" in repaired.out and "（已修复）" in repaired.out
    assert [e["method"] + " " + e["path"] for e in repaired.writes] == [
        f"POST /open-apis/bitable/v1/apps/{token}/tables/{tid}/fields"]
    now_fields = fields(lark_client, token, tid)
    assert "风险/问题" in now_fields and "说明" in now_fields and "备注" not in now_fields  # rename followed
    after = records(lark_client, token, tid)
    assert set(after) == set(before)  # no row lost
    row = after[typed]
    assert text(row["任务名称"]) == "用户自己加的任务" and text(row["说明"]) == "先联系供应商"
    assert row["进度"] == 0.3 and "风险/问题" not in row  # the user deleted that column's cells

    settled = gtm(*init_args(seed))
    assert settled.code == 0 and settled.writes == []
    assert "被改名为「说明」" in settled.out  # still reported, but not a failure


# -- 7: adopting an existing Base ----------------------------------------------------------------
def test_adopt_existing_base_keeps_everything_of_the_user(gtm, seed, lark_client):
    app = _data(lark_client.bitable.v1.app.create(
        CreateAppRequest.builder().request_body(ReqApp({"name": "市场部的表"})).build())).app
    token = app.app_token

    def table_with_rows(name: str, cols: list[dict], values: list[dict]) -> str:
        body = CreateAppTableRequestBody({"table": {"name": name, "fields": cols}})
        tid = _data(lark_client.bitable.v1.app_table.create(
            CreateAppTableRequest.builder().app_token(token).request_body(body).build())).table_id
        req = (BatchCreateAppTableRecordRequest.builder().app_token(token).table_id(tid)
               .request_body(BatchCreateAppTableRecordRequestBody({"records": [{"fields": v} for v in values]}))
               .build())
        _data(lark_client.bitable.v1.app_table_record.batch_create(req))
        return tid

    customers = table_with_rows("客户名单", [{"field_name": "客户", "type": 1}, {"field_name": "城市", "type": 1}],
                                [{"客户": "华东经销商", "城市": "上海"}, {"客户": "华南经销商", "城市": "广州"}])
    own_tasks = table_with_rows("任务", [{"field_name": "任务名称", "type": 1}, {"field_name": "我的列", "type": 1}],
                                [{"任务名称": "已有任务", "我的列": "保留我"}])
    before = {name: records(lark_client, token, tid) for name, tid in tables(lark_client, token).items()}

    run = gtm(*init_args(seed, "adopted", "--base", token))
    assert run.code == 0, run.out
    assert run.token == token
    assert "表「任务」已有 1+ 行数据，未写入模板行" in run.out
    assert not [e for e in run.writes if e["method"] == "DELETE" or "batch_delete" in e["path"]]
    now = tables(lark_client, token)
    assert set(before) <= set(now) and {"项目", "里程碑", "问题"} <= set(now)
    for name, recs in before.items():  # every table, row and value of the user is still there
        after = records(lark_client, token, now[name])
        assert set(after) == set(recs)
        for rid, vals in recs.items():
            assert {k: after[rid].get(k) for k in vals} == vals
    assert {"我的列", "任务名称", "任务ID", "负责人", "状态"} <= set(fields(lark_client, token, own_tasks))
    assert len(records(lark_client, token, customers)) == 2
    assert len(rows(lark_client, token, "里程碑")) == 9  # new tables get the template rows


# -- the command line itself ---------------------------------------------------------------------
def test_help_and_bad_input(gtm, sandbox, seed):
    helped = CliRunner().invoke(main, ["init", "--help"])
    assert helped.exit_code == 0
    for opt in ("--project", "--template", "--name", "--base", "--start", "--chat", "--pm", "--admin",
                "--permissions", "--dry-run", "--repair", "GTM_BASE_PERMISSION", "Exit code"):
        assert opt in helped.output
    bad = gtm("init", "--project", "Launch 2027")
    assert bad.code == 2 and "--project 'Launch 2027'" in bad.out and bad.journal == []
    bad_start = gtm("init", "--project", "x", "--start", "next monday")
    assert bad_start.code == 2 and "YYYY-MM-DD" in bad_start.out and bad_start.journal == []


@pytest.mark.parametrize("start, why", [
    ("1900-01-01", "between 2000 and 2100"),  # used to make a plan whose every date was a data problem
    ("9999-12-01", "between 2000 and 2100"),  # used to end in "unexpected OverflowError", exit 1
    ("2026-13-01", "no such day"),
    ("2026-02-30", "no such day"),  # in the YYYY-MM-DD form, yet no such day
    ("2100-12-01", "would end after 2100"),  # the gtm plan runs 168 days
])
def test_implausible_start_is_refused_naming_it_and_creating_nothing(gtm, seed, start, why):
    run = gtm(*init_args(seed, "old", "--start", start))
    assert run.code == 2, run.out
    assert "--start" in run.out and start in run.out and why in run.out and "e.g. --start 2026-11-23" in run.out
    assert run.writes == [] and "Traceback" not in run.out and "unexpected" not in run.out


# -- issue 17, cases 5 and 6: check before create; a chat belongs to one project ------------------
def test_unknown_chat_or_pm_creates_nothing(gtm, seed):
    """Case 6: `--chat oc_doesnotexist` used to create the Base (112 records) and then fail."""
    run = gtm("init", "--project", "launch", "--chat", "oc_doesnotexist", "--pm", seed.users["pm"])
    assert run.code == 2, run.out
    assert "oc_doesnotexist" in run.out and "nothing was created" in run.out
    assert run.writes == [] and "已就绪" not in run.out and "Traceback" not in run.out
    run = gtm("init", "--project", "launch", "--chat", seed.chat_id, "--pm", "ou_nobody_here_000")
    assert run.code == 2 and "ou_nobody_here_000" in run.out and run.writes == []
    run = gtm("init", "--project", "launch", "--chat", "not-a-chat")
    assert run.code == 2 and "oc_" in run.out and run.writes == []


def test_a_chat_of_another_project_is_refused_unless_moved(gtm, sandbox, seed, tmp_path):
    """Case 5: binding a chat that another project already uses."""
    assert gtm(*init_args(seed, "alpha")).code == 0
    run = gtm(*init_args(seed, "beta"))
    assert run.code == 2, run.out
    assert "alpha" in run.out and "--move" in run.out and run.writes == []
    link = gtm("projects", "link", "alpha", "--chat", "oc_doesnotexist")
    assert link.code == 2 and "oc_doesnotexist" in link.out
    moved = gtm(*init_args(seed, "beta"), "--move")
    assert moved.code == 0, moved.out
    from gtm.sync.store.open import open_store
    from gtm.sync.store.registry import get_project

    store = open_store(f"sqlite:///{tmp_path / 'gtm.db'}")
    try:
        with store.session() as s:
            assert get_project(s, "beta").chat_ids == [seed.chat_id]
            assert seed.chat_id not in (get_project(s, "alpha").chat_ids or [])
    finally:
        store.dispose()


def test_a_base_that_is_gone_is_one_clear_line_with_the_way_out(gtm):
    """The CLI's one boundary explains `BaseMissing`: the token, and how to adopt another Base or start anew."""
    run = gtm("init", "--project", "gone", "--base", "bascnGone000")
    assert run.code == 1, run.out
    assert "bascnGone000" in run.out and "--base <app_token>" in run.out and "Traceback" not in run.out
    assert "日志编号" not in run.out  # fully explained: no log id to look up
    assert run.writes == []
