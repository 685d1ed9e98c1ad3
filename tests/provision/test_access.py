"""Access to the Base: the group and the PM get in, nothing is revoked, strict roles work."""
from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from gtm.sandbox.errors import ApiError
from gtm.schemas.tables import table
from gtm.sync.access import MANAGER_ROLE, MEMBER_ROLE, apply_strict_permissions, check_access, grant_access, list_members
from gtm.sync.records import encode_fields

TZ = ZoneInfo("Asia/Shanghai")


def _perm_writes(entries):
    return [e for e in entries if e["write"] and ("/permissions/" in e["path"] or "/roles" in e["path"])]


def _members(gateway, token):
    return {(m["member_type"], m["member_id"]): m["perm"] for m in list_members(gateway, token)}


def test_grant_group_and_pm_then_nothing_more(sandbox, seed, gateway, provisioned, writes):
    token = provisioned.binding.app_token
    problems = check_access(gateway, token, seed.users["pm"], [seed.chat_id])
    assert len(problems) == 2 and seed.chat_id in problems[1] and "项目负责人" in problems[0]
    rep = grant_access(gateway, token, chat_ids=[seed.chat_id], pm_open_id=seed.users["pm"],
                       admins=["lina@example.com"])
    assert rep.ok and rep.writes == 3
    m = _members(gateway, token)
    assert m[("openchat", seed.chat_id)] == "edit"
    assert m[("openid", seed.users["pm"])] == "full_access"
    assert m[("openid", seed.users["management"])] == "full_access"  # the email was resolved
    assert sandbox.bitable.can(token, seed.users["刘洋"], "edit")  # a group member can now edit
    assert check_access(gateway, token, seed.users["pm"], [seed.chat_id]) == []
    mark = sandbox.journal.mark()
    again = grant_access(gateway, token, chat_ids=[seed.chat_id], pm_open_id=seed.users["pm"],
                         admins=["lina@example.com"], group_perm="view")
    assert again.writes == 0 and len(again.already) == 3 and _perm_writes(writes(mark)) == []
    assert _members(gateway, token)[("openchat", seed.chat_id)] == "edit"  # never downgraded


def test_unknown_people_are_reported_and_the_rest_succeeds(seed, gateway, provisioned):
    token = provisioned.binding.app_token
    rep = grant_access(gateway, token, chat_ids=[seed.chat_id], pm_open_id=seed.users["pm"],
                       admins=["nobody@example.com", "ou_does_not_exist", seed.users["management"]])
    assert len(rep.not_found) == 2
    assert "nobody@example.com" in rep.not_found[0] and "找不到" in rep.not_found[0]
    assert "ou_does_not_exist" in rep.not_found[1]
    m = _members(gateway, token)
    assert {("openchat", seed.chat_id), ("openid", seed.users["pm"]), ("openid", seed.users["management"])} <= set(m)




def test_strict_mode_members_edit_only_their_rows(sandbox, seed, gateway, provisioned):
    b = provisioned.binding
    rep = apply_strict_permissions(gateway, b, chat_ids=[seed.chat_id], pm_open_id=seed.users["pm"],
                                   admins=[seed.users["management"]])
    assert rep.strict and set(rep.roles_created) == {MEMBER_ROLE, MANAGER_ROLE} and not rep.fallback
    wang, liu, pm = seed.users["王芳"], seed.users["刘洋"], seed.users["pm"]
    tid = b.table_ids["task"]
    owner = b.field_name("task", "owner")
    mine = sandbox.bitable.act_create(pm, b.app_token, tid, encode_fields(
        table("task"), {"task_id": "T1", "name": "王芳的任务", "owner": wang}, TZ, b))["record_id"]
    theirs = sandbox.bitable.act_create(pm, b.app_token, tid, encode_fields(
        table("task"), {"task_id": "T2", "name": "刘洋的任务", "owner": liu}, TZ, b))["record_id"]
    note = b.field_name("task", "note")
    sandbox.bitable.act_update(wang, b.app_token, tid, mine, {note: "我更新了自己的任务"})
    with pytest.raises(ApiError) as err:
        sandbox.bitable.act_update(wang, b.app_token, tid, theirs, {note: "改别人的"})
    assert err.value.code == 1254302
    assert sandbox.bitable.can(b.app_token, wang, "view", tid, theirs)  # but may read it
    sandbox.bitable.act_update(pm, b.app_token, tid, theirs, {note: "项目经理可以改"})  # manager role
    assert owner  # the rule is on the owner field
    again = apply_strict_permissions(gateway, b, chat_ids=[seed.chat_id], pm_open_id=seed.users["pm"],
                                     admins=[seed.users["management"]])
    assert again.roles_created == [] and again.role_members_added == 0
    assert again.writes == 0  # advanced permissions are already on: a re-run writes nothing


def test_plan_without_advanced_permissions_falls_back(sandbox, seed, gateway, provisioned):
    sandbox.world.tenants[seed.tenant_key].advanced_permissions = False
    b = provisioned.binding
    rep = apply_strict_permissions(gateway, b, chat_ids=[seed.chat_id], pm_open_id=seed.users["pm"])
    assert not rep.strict and "1254306" in rep.fallback and "默认授权" in rep.fallback
    m = _members(gateway, b.app_token)
    assert m[("openchat", seed.chat_id)] == "edit" and m[("openid", seed.users["pm"])] == "full_access"
