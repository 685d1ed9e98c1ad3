"""Base access: drive permission members, Bitable roles with row rules, acting as people (docs/feishu-api.md §10)."""
from __future__ import annotations

import requests
from lark_oapi.api.drive.v1 import (
    AuthPermissionMemberRequest, BaseMember, CreatePermissionMemberRequest, ListPermissionMemberRequest,
    SubscribeFileRequest)

from gtm.sandbox import permissions
from tests.support.bitable_raw import Tbl, create_base, create_table, raw

FIELDS = [("事项", 1, None, None), ("负责人", 11, None, None), ("状态", 3, None, None)]


def _tbl(lark_client) -> Tbl:
    app_token, _ = create_base(lark_client)
    table_id, fids = create_table(lark_client, app_token, "问题", FIELDS)
    return Tbl(lark_client, app_token, table_id, fids)


def add_member(client, token, member_type, member_id, perm):
    return client.drive.v1.permission_member.create(
        CreatePermissionMemberRequest.builder().token(token).type("bitable").need_notification(False).request_body(
            BaseMember.builder().member_type(member_type).member_id(member_id).perm(perm).type("user").build()).build())


def test_drive_members_grant_view_edit_by_id_chat_and_email(lark_client, sandbox, seed):
    t = _tbl(lark_client)
    wang, liu, chen = seed.users["王芳"], seed.users["刘洋"], seed.users["陈静"]
    assert not permissions.can(sandbox, t.app_token, wang, "view")
    r = add_member(lark_client, t.app_token, "openid", wang, "view")
    assert r.code == 0 and r.data.member.perm == "view"
    assert permissions.can(sandbox, t.app_token, wang, "view") and not permissions.can(sandbox, t.app_token, wang, "edit")
    assert add_member(lark_client, t.app_token, "openid", wang, "edit").code == 0
    assert permissions.can(sandbox, t.app_token, wang, "edit", t.table_id)
    assert add_member(lark_client, t.app_token, "openid", "ou_nobody", "view").code == 1063001
    assert add_member(lark_client, t.app_token, "openid", wang, "owner").code == 1063001
    assert add_member(lark_client, "basNope", "openid", wang, "view").code == 1063005
    # through a chat the person is in, and by email
    assert not permissions.can(sandbox, t.app_token, liu, "view")
    status, body, _ = raw(lark_client, "POST", f"/open-apis/drive/v1/permissions/{t.app_token}/members/batch_create",
                          {"members": [{"member_type": "openchat", "member_id": seed.chat_id, "perm": "view", "type": "chat"},
                                       {"member_type": "email", "member_id": "chenjing@example.com", "perm": "edit"}]},
                          {"type": "bitable"})
    assert body["code"] == 0 and len(body["data"]["members"]) == 2
    assert permissions.can(sandbox, t.app_token, liu, "view") and not permissions.can(sandbox, t.app_token, liu, "edit")
    assert permissions.can(sandbox, t.app_token, chen, "edit")
    lst = lark_client.drive.v1.permission_member.list(
        ListPermissionMemberRequest.builder().token(t.app_token).type("bitable").build())
    assert lst.code == 0 and {m.member_type for m in lst.data.items} == {"openid", "openchat", "email"}
    auth = lark_client.drive.v1.permission_member.auth(
        AuthPermissionMemberRequest.builder().token(t.app_token).type("bitable").action("edit").build())
    assert auth.code == 0 and auth.data.auth_result is True
    # a person without access is refused through the control API with Feishu's JSON
    r = requests.post(f"{sandbox.url}/_sandbox/bitable/bases/{t.app_token}/tables/{t.table_id}/records",
                      json={"open_id": seed.users["杨帆"], "fields": {"事项": "x"}}, timeout=5)
    assert r.status_code == 403 and r.json()["code"] == 1254302


def test_roles_need_plan_and_advanced_switch(lark_client, sandbox):
    t = _tbl(lark_client)
    roles = f"/open-apis/bitable/v1/apps/{t.app_token}/roles"
    assert raw(lark_client, "GET", roles)[1]["code"] == 1254304
    sandbox.world.tenants[sandbox.seed.tenant_key].advanced_permissions = False
    assert raw(lark_client, "PUT", f"/open-apis/bitable/v1/apps/{t.app_token}", {"is_advanced": True})[1]["code"] == 1254306
    assert raw(lark_client, "GET", roles)[0] == 403


def test_role_row_rules_decide_who_edits_which_record(lark_client, sandbox, seed):
    t = _tbl(lark_client)
    liu, wang = seed.users["刘洋"], seed.users["王芳"]
    mine = t.create({"事项": "刘的", "负责人": [{"id": liu}]})["data"]["record"]["record_id"]
    other = t.create({"事项": "王的", "负责人": [{"id": wang}]})["data"]["record"]["record_id"]
    assert raw(lark_client, "PUT", f"/open-apis/bitable/v1/apps/{t.app_token}", {"is_advanced": True})[1]["code"] == 0
    roles = f"/open-apis/bitable/v1/apps/{t.app_token}/roles"
    roles_v2 = f"/open-apis/base/v2/apps/{t.app_token}/roles"

    def role_with(cond):
        return {"role_name": "负责人可编辑", "table_roles": [{"table_name": "问题", "table_perm": 2, "rec_rule": {
            "conjunction": "and", "perm": 2, "other_perm": 1, "conditions": [cond]}, "allow_add_record": False}]}

    # v2 (docs/feishu-api.md §10): a person field takes `contains` with no values; is/isNot or values are refused
    bad = raw(lark_client, "POST", roles_v2, role_with({"field_name": "负责人", "operator": "is",
                                                        "value": ["CurrentUser"]}))[1]
    assert bad["code"] == 1254001 and "contains" in bad["msg"]
    bad = raw(lark_client, "POST", roles_v2, role_with({"field_name": "负责人", "operator": "contains",
                                                        "value": [liu]}))[1]
    assert bad["code"] == 1254001
    created = raw(lark_client, "POST", roles_v2, role_with({"field_name": "负责人", "operator": "contains"}))[1]
    assert created["code"] == 0, created
    role_id = created["data"]["role"]["role_id"]
    assert created["data"]["role"]["table_roles"][0]["table_id"] == t.table_id
    m = raw(lark_client, "POST", f"{roles}/{role_id}/members", {"member_id": liu}, {"member_id_type": "open_id"})[1]
    assert m["code"] == 0
    members = raw(lark_client, "GET", f"{roles}/{role_id}/members")[1]["data"]["items"]
    assert members[0]["open_id"] == liu and members[0]["member_name"] == "刘洋"
    assert [r["role_name"] for r in raw(lark_client, "GET", roles)[1]["data"]["items"]] == ["负责人可编辑"]

    events = []
    sandbox.emit_event = lambda app_id, et, ev: events.append((app_id, et, ev))
    sub = lark_client.drive.v1.file.subscribe(
        SubscribeFileRequest.builder().file_token(t.app_token).file_type("bitable").build())
    assert sub.code == 0

    out = sandbox.bitable.act_update(liu, t.app_token, t.table_id, mine, {"状态": "处理中"})
    assert out["fields"]["状态"] == "处理中" and out["last_modified_by"]["id"] == liu
    assert events and events[0][1] == "drive.file.bitable_record_changed_v1"
    ev = events[0][2]
    assert ev["file_token"] == t.app_token and ev["operator_id"]["open_id"] == liu
    assert ev["action_list"][0]["action"] == "record_edited" and ev["action_list"][0]["record_id"] == mine
    assert ev["action_list"][0]["after_value"][0]["field_value"] == '"处理中"'
    # other people's rows: readable (other_perm 1), not editable; adding is off for the role
    assert sandbox.bitable.can(t.app_token, liu, "view", t.table_id, other)
    r = requests.put(f"{sandbox.url}/_sandbox/bitable/bases/{t.app_token}/tables/{t.table_id}/records/{other}",
                     json={"open_id": liu, "fields": {"状态": "x"}}, timeout=5)
    assert r.status_code == 403 and r.json()["code"] == 1254302
    r = requests.post(f"{sandbox.url}/_sandbox/bitable/bases/{t.app_token}/tables/{t.table_id}/records",
                      json={"open_id": liu, "fields": {"事项": "新"}}, timeout=5)
    assert r.json()["code"] == 1254302
    # an editor without a custom role uses the built-in edit role; deleting emits record_deleted
    sandbox.bitable.add_member(t.app_token, "openid", wang, "edit")
    sandbox.bitable.act_delete(wang, t.app_token, t.table_id, other)
    assert events[-1][2]["action_list"][0]["action"] == "record_deleted"
    added = requests.post(f"{sandbox.url}/_sandbox/bitable/bases/{t.app_token}/tables/{t.table_id}/records",
                          json={"open_id": wang, "fields": {"事项": "王新建"}}, timeout=5).json()
    assert added["code"] == 0 and events[-1][2]["action_list"][0]["action"] == "record_added"
    # modified time can be set for tests; the change is visible in search
    requests.post(f"{sandbox.url}/_sandbox/bitable/bases/{t.app_token}/tables/{t.table_id}/records/{mine}/modified_time",
                  json={"ms": 1_700_000_000_000}, timeout=5)
    got = t.call("POST", "/records/batch_get", {"record_ids": [mine], "automatic_fields": True})[1]["data"]["records"][0]
    assert got["last_modified_time"] == 1_700_000_000_000
    # removing the member from the role takes the row rules away (falls back to no access)
    assert raw(lark_client, "DELETE", f"{roles}/{role_id}/members/{liu}", query={"member_id_type": "open_id"})[1]["code"] == 0
    assert not sandbox.bitable.can(t.app_token, liu, "view", t.table_id)
    assert raw(lark_client, "DELETE", f"{roles}/{role_id}")[1]["code"] == 0


def test_a_literal_current_user_value_matches_nobody(lark_client, sandbox, seed):
    """The v1 rule the code used to write ("负责人 is CurrentUser") is not the platform's "current
    member": the sandbox treats the value as plain text, so the owner cannot edit their own row."""
    t = _tbl(lark_client)
    liu = seed.users["刘洋"]
    mine = t.create({"事项": "刘的", "负责人": [{"id": liu}]})["data"]["record"]["record_id"]
    assert raw(lark_client, "PUT", f"/open-apis/bitable/v1/apps/{t.app_token}", {"is_advanced": True})[1]["code"] == 0
    roles = f"/open-apis/bitable/v1/apps/{t.app_token}/roles"
    role = {"role_name": "旧规则", "table_roles": [{"table_name": "问题", "table_perm": 2, "rec_rule": {
        "conjunction": "and", "other_perm": 1,
        "conditions": [{"field_name": "负责人", "operator": "is", "value": ["CurrentUser"]}]}}]}
    created = raw(lark_client, "POST", roles, role)[1]
    assert created["code"] == 0
    role_id = created["data"]["role"]["role_id"]
    assert raw(lark_client, "POST", f"{roles}/{role_id}/members", {"member_id": liu},
               {"member_id_type": "open_id"})[1]["code"] == 0
    assert sandbox.bitable.can(t.app_token, liu, "view", t.table_id, mine)
    assert not sandbox.bitable.can(t.app_token, liu, "edit", t.table_id, mine)
