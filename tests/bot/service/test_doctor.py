"""`gtm doctor` against the sandbox: all green on a healthy setup; a withdrawn scope is named."""
from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from lark_oapi.api.bitable.v1 import CreateAppRequest, ReqApp
from rich.console import Console

from gtm.bot.cli.doctor import MISSING, OK, WARN, Doctor, run_doctor
from gtm.sync.access import grant_access
from gtm.sync.store.registry import ProjectRow

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # holiday data for 2026 ships
ALL_SCOPES = ["bitable:app", "drive:drive", "im:message", "im:chat:readonly", "contact:user.base:readonly",
              "contact:user.id:readonly", "im:message.group_at_msg:readonly", "im:message.p2p_msg:readonly",
              "docs:event:subscribe", "application:application:self_manage"]


@pytest.fixture
def project(app_ctx, seed):
    """A real Base in the sandbox, shared with the project group, registered as a project."""
    gw = app_ctx.gateway
    req = CreateAppRequest.builder().request_body(ReqApp.builder().name("医生检查").build()).build()
    base = gw.call("bitable.app.create", lambda: gw.client.bitable.v1.app.create(req), family="bitable.app")
    token = base.app.app_token
    grant_access(gw, token, chat_ids=[seed.chat_id])
    with app_ctx.store.session() as s:
        s.add(ProjectRow(slug="launch", name="新品发布", base_token=token, chat_ids=[seed.chat_id]))
    return token


def render(app) -> tuple[int, str]:
    buf = io.StringIO()
    code = run_doctor(app, now=NOW, console=Console(file=buf, width=240, color_system=None))
    return code, buf.getvalue()


def test_doctor_passes_every_check_against_a_healthy_sandbox(app_ctx, project, sandbox, seed):
    sandbox.world.apps[seed.app_id].scopes = list(ALL_SCOPES)  # exactly the documented scopes
    mark = sandbox.journal.mark()
    findings = Doctor(app_ctx, now=NOW).run()
    bad = [(f.check, f.status, f.detail) for f in findings if f.status not in (OK,)]
    assert bad == [], bad
    checks = " ".join(f.check for f in findings)
    for expected in ("租户令牌", "多维表格", "协作者", "项目群", "群成员", "通讯录", "谁能看到表格", "长连接",
                     "数据库", "节假日日历", "发消息权限"):
        assert expected in checks
    # doctor only reads: no write reached the sandbox (the ws endpoint lookup is a read-only POST)
    assert [e for e in sandbox.journal.since(mark) if e["write"]] == []
    code, out = render(app_ctx)
    assert code == 0 and "all checks passed" in out


@pytest.mark.parametrize("withdrawn,check", [("bitable:app", "多维表格"), ("drive:drive", "协作者"),
                                             ("im:chat:readonly", "项目群"), ("im:message", "发消息权限"),
                                             ("contact:user.base:readonly", "通讯录")])
def test_doctor_names_the_missing_scope_and_where_to_grant_it(app_ctx, project, sandbox, seed, withdrawn, check):
    sandbox.world.apps[seed.app_id].scopes = [s for s in ALL_SCOPES if s != withdrawn]
    findings = Doctor(app_ctx, now=NOW).run()
    missing = [f for f in findings if f.status == MISSING]
    assert missing and all(withdrawn in f.fix or withdrawn in f.detail for f in missing), missing
    hit = next(f for f in missing if check in f.check)
    assert "99991672" in hit.detail
    assert f"权限管理 → API 权限 → 开通 {withdrawn}" in hit.fix
    code, out = render(app_ctx)
    assert code == 1 and withdrawn in out


def test_doctor_reports_bad_credentials_and_a_bot_missing_from_the_group(make_app, project, sandbox, seed):
    from pydantic import SecretStr

    bad = make_app(feishu_app_secret=SecretStr("wrong"))
    findings = Doctor(bad, now=NOW).run()
    token = next(f for f in findings if "租户令牌" in f.check)
    assert token.status == MISSING and "99991543" in token.detail and "App Secret" in token.fix
    assert run_doctor(bad, now=NOW, console=Console(file=io.StringIO())) == 1

    good = make_app()
    sandbox.world.chats[seed.chat_id].bots.remove(seed.app_id)
    chat = next(f for f in Doctor(good, now=NOW).run() if "项目群" in f.check)
    assert chat.status == MISSING and "添加机器人" in chat.fix


def test_doctor_checks_the_live_configuration_against_the_settings_table(make_app, project, seed):
    """Issue 17: every setting within its range (docs/SETTINGS.md); a stored per-project policy
    override out of range, and webhook mode without an Encrypt Key, are named with what to do."""
    app = make_app(transport="webhook", feishu_verification_token="vt")
    with app.store.session() as s:
        row = s.get(ProjectRow, "launch")
        row.policy_overrides = {"check_interval_minutes": 0, "budget_overrun_ratio": "nan", "quiet_start": "25:00",
                                "no_such_knob": 1}
    code, out = render(app)
    assert code == 1
    assert "GTM_FEISHU_ENCRYPT_KEY" in out
    for key in ("check_interval_minutes", "budget_overrun_ratio", "quiet_start", "no_such_knob"):
        line = next(x for x in out.splitlines() if f"项目 launch 策略 / project policy {key}" in x)
        assert "missing" in line
    assert "all 49 within their ranges (docs/SETTINGS.md)" in out


def test_settings_table_lists_every_setting_and_docs_match():
    from pathlib import Path

    from gtm.schemas.settings import Policy, Settings
    from gtm.schemas.settings_table import SETTINGS, markdown

    attrs = {s.attr for s in SETTINGS}
    expected = {n for n in Settings.model_fields if n != "policy"} | {f"policy.{n}" for n in Policy.model_fields}
    assert attrs == expected, attrs ^ expected
    doc = (Path(__file__).resolve().parents[3] / "docs" / "SETTINGS.md").read_text(encoding="utf-8")
    assert doc == markdown(), "regenerate: python -m gtm.schemas.settings_table > docs/SETTINGS.md"
    # every default is within its own range
    from gtm.schemas.settings_table import check_live

    assert [(s.env, why) for s, _, why in check_live(Settings(_env_file=None)) if why] == []


def test_doctor_labels_each_project_block_and_counts_warnings(app_ctx, project, sandbox, seed):
    import json as _json

    from gtm.bot.cli.doctor import WARN, Finding, ending, findings_json

    sandbox.world.apps[seed.app_id].scopes = list(ALL_SCOPES)
    findings = Doctor(app_ctx, now=NOW).run()
    assert {f.project for f in findings} == {"", "launch"}  # the project's checks form its block
    code, out = render(app_ctx)
    assert "项目 / project: launch" in out and "部署 / deployment" in out
    warned = findings + [Finding("节假日日历 / calendar", WARN, "2027 无数据")]
    n = sum(1 for f in warned if f.status == WARN)
    assert "all checks passed" not in ending(warned) and f"{n} 个警告" in ending(warned)
    data = findings_json(warned)
    assert data["warnings"] == n and data["missing"] == 0
    assert _json.loads(_json.dumps(data))["findings"][0]["check"]


def test_doctor_reads_back_the_subscribed_events_and_card_callback(app_ctx, project, sandbox, seed):
    app = sandbox.world.apps[seed.app_id]
    app.scopes = list(ALL_SCOPES)
    found = {f.check: f for f in Doctor(app_ctx, now=NOW).run()}
    for name in ("im.message.receive_v1", "drive.file.bitable_record_changed_v1", "card.action.trigger"):
        assert found[f"订阅 / subscribed: {name}"].status == OK

    app.events = ["im.message.receive_v1"]
    app.callbacks = []
    findings = Doctor(app_ctx, now=NOW).run()
    by = {f.check: f for f in findings}
    assert by["订阅 / subscribed: card.action.trigger"].status == MISSING
    assert "回调配置" in by["订阅 / subscribed: card.action.trigger"].fix
    record = by["订阅 / subscribed: drive.file.bitable_record_changed_v1"]
    assert record.status == WARN and "polling" in record.detail
    code, out = render(app_ctx)
    assert code == 1 and "1 个警告 / 1 warnings" in out and "all checks passed" not in out


def test_doctor_says_it_cannot_tell_without_the_self_manage_scope(app_ctx, project, sandbox, seed):
    sandbox.world.apps[seed.app_id].scopes = [s for s in ALL_SCOPES if s != "application:application:self_manage"]
    findings = Doctor(app_ctx, now=NOW).run()
    sub = next(f for f in findings if "事件与回调订阅" in f.check)
    assert sub.status == WARN and "cannot" in sub.detail
    assert "application:application:self_manage" in sub.fix and "card.action.trigger" in sub.fix
    assert not any(f.status == MISSING for f in findings)
    code, out = render(app_ctx)
    assert code == 0 and "1 个警告 / 1 warnings" in out and "all checks passed" not in out


def test_doctor_shows_the_holiday_source_of_each_year(app_ctx):
    """Issue #16.9: 2027 comes from the holidays package (chinesecalendar has none), said per year."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from gtm.bot.cli.doctor import OK, Doctor

    doc = Doctor(app_ctx, now=datetime(2026, 11, 20, 10, tzinfo=ZoneInfo("Asia/Shanghai")))
    doc.check_time()
    [cal] = [f for f in doc.findings if f.check.startswith("节假日日历")]
    assert cal.status == OK and "2026: chinesecalendar, 2027: holidays" in cal.detail
    assert "EXTRA_WORKDAYS" in cal.detail
