"""Card JSON 2.0 validation (docs/feishu-api.md §7): what we send is accepted, mistakes are named."""
from __future__ import annotations

import copy
import json

import pytest
from lark_oapi.api.im.v1 import CreateMessageRequest, CreateMessageRequestBody

from gtm.sandbox.cards import CardError, validate_card

USERS = {"ou_a", "ou_b"}


def full_card() -> dict:
    return {
        "schema": "2.0",
        "config": {"update_multi": True, "width_mode": "fill", "summary": {"content": "周报"}},
        "header": {"title": {"tag": "plain_text", "content": "Sprint 42"}, "subtitle": {"tag": "plain_text", "content": "x"},
                   "template": "green",
                   "text_tag_list": [{"tag": "text_tag", "text": {"tag": "plain_text", "content": "OK"}, "color": "green"}]},
        "body": {"elements": [
            {"tag": "markdown", "content": "**负责人** <at id=ou_a></at> <font color=red>逾期</font>\n- 一\n- 二",
             "element_id": "md_1"},
            {"tag": "div", "text": {"tag": "lark_md", "content": "说明"}},
            {"tag": "hr"},
            {"tag": "column_set", "flex_mode": "bisect", "columns": [
                {"tag": "column", "width": "weighted", "weight": 1,
                 "elements": [{"tag": "markdown", "content": "完成 **12**"}]},
                {"tag": "column", "width": "weighted", "weight": 2,
                 "elements": [{"tag": "column_set", "columns": [{"tag": "column", "elements": [
                     {"tag": "person", "user_id": "ou_b", "size": "small", "show_avatar": True, "show_name": True,
                      "style": "normal"}]}]}]}]},
            {"tag": "table", "page_size": 5, "row_height": "low",
             "columns": [{"name": "task", "display_name": "任务", "data_type": "text"},
                         {"name": "owner", "display_name": "负责人", "data_type": "persons"},
                         {"name": "state", "display_name": "状态", "data_type": "options"},
                         {"name": "pct", "display_name": "进度", "data_type": "number",
                          "format": {"symbol": "%", "precision": 0}},
                         {"name": "due", "display_name": "截止", "data_type": "date", "date_format": "YYYY/MM/DD"},
                         {"name": "note", "display_name": "备注", "data_type": "lark_md"}],
             "rows": [{"task": "API", "owner": ["ou_a"], "state": [{"text": "完成", "color": "green"}], "pct": 100,
                       "due": 1764547200000, "note": "**ok**"}]},
            {"tag": "chart", "aspect_ratio": "16:9", "color_theme": "brand", "height": "240px",
             "chart_spec": {"type": "bar", "data": {"values": [{"d": "周一", "v": 3}]}, "xField": "d", "yField": "v"}},
            {"tag": "person_list", "persons": [{"id": "ou_a"}, {"id": "ou_b"}], "show_name": True},
            {"tag": "collapsible_panel", "expanded": False,
             "header": {"title": {"tag": "plain_text", "content": "详情"}},
             "elements": [{"tag": "markdown", "content": "更多"}]},
            {"tag": "form", "name": "postpone", "elements": [
                {"tag": "date_picker", "name": "new_date", "initial_date": "2026-12-01",
                 "placeholder": {"tag": "plain_text", "content": "新日期"}},
                {"tag": "input", "name": "reason", "placeholder": {"tag": "plain_text", "content": "原因"}},
                {"tag": "button", "name": "go", "form_action_type": "submit", "type": "primary",
                 "text": {"tag": "plain_text", "content": "延期"},
                 "behaviors": [{"type": "callback", "value": {"action": "postpone"}}]}]},
            {"tag": "button", "text": {"tag": "plain_text", "content": "确认"}, "type": "primary_filled", "size": "medium",
             "width": "fill", "behaviors": [{"type": "callback", "value": {"action": "ack", "id": 1}}]},
        ]},
    }


def check(card):
    validate_card(card, lambda uid: uid in USERS)


def test_the_full_card_we_send_is_accepted():
    check(full_card())


def mutate(fn):
    c = full_card()
    fn(c)
    return c


E = lambda c: c["body"]["elements"]  # noqa: E731

BAD = [
    ("schema 1.0", lambda c: c.pop("schema"), 200621),
    ("unknown top key", lambda c: c.update(i18n_elements={}), 200621),
    ("unknown element attr", lambda c: E(c)[0].update(colour="red"), 200621),
    ("unknown tag", lambda c: E(c).append({"tag": "marquee"}), 200621),
    ("bad template", lambda c: c["header"].update(template="pink"), 200621),
    ("title must be plain_text", lambda c: c["header"]["title"].update(tag="lark_md"), 200621),
    ("bad element_id", lambda c: E(c)[1].update(element_id="1abc"), 200621),
    ("duplicate element_id", lambda c: E(c)[1].update(element_id="md_1"), 200621),
    ("long element_id", lambda c: E(c)[1].update(element_id="a" * 21), 200621),
    ("weight > 5", lambda c: E(c)[3]["columns"][0].update(weight=6), 200621),
    ("table in a column", lambda c: E(c)[3]["columns"][0]["elements"].append(copy.deepcopy(E(c)[4])), 200621),
    ("page_size 11", lambda c: E(c)[4].update(page_size=11), 200621),
    ("bad data_type", lambda c: E(c)[4]["columns"][0].update(data_type="plain_text"), 200621),
    ("row key not a column", lambda c: E(c)[4]["rows"][0].update(extra=1), 200914),
    ("number cell string", lambda c: E(c)[4]["rows"][0].update(pct="100"), 200914),
    ("options cell shape", lambda c: E(c)[4]["rows"][0].update(state=["完成"]), 200914),
    ("unknown person in table", lambda c: E(c)[4]["rows"][0].update(owner=["ou_zzz"]), 100290),
    ("six tables", lambda c: E(c).extend(copy.deepcopy(E(c)[4]) for _ in range(5)), 200621),
    ("chart without type", lambda c: E(c)[5]["chart_spec"].pop("type"), 200550),
    ("chart without data", lambda c: E(c)[5]["chart_spec"].pop("data"), 200550),
    ("chart ratio", lambda c: E(c)[5].update(aspect_ratio="3:2"), 200550),
    ("chart height", lambda c: E(c)[5].update(height="1000px"), 200550),
    ("six charts", lambda c: E(c).extend(copy.deepcopy(E(c)[5]) for _ in range(5)), 200550),
    ("person unknown", lambda c: E(c)[3]["columns"][1]["elements"][0]["columns"][0]["elements"][0].update(user_id="ou_x"), 100290),
    ("at unknown", lambda c: E(c)[0].update(content="<at id=ou_nobody></at>"), 100290),
    ("person_list unknown", lambda c: E(c)[6]["persons"].append({"id": "ou_q"}), 100290),
    ("button bad type", lambda c: E(c)[9].update(type="shiny"), 200621),
    ("button narrow", lambda c: E(c)[9].update(width="50px"), 200621),
    ("behavior type", lambda c: E(c)[9]["behaviors"][0].update(type="teleport"), 200621),
    ("submit outside form", lambda c: E(c)[9].update(form_action_type="submit", name="x"), 200621),
    ("unnamed picker in form", lambda c: E(c)[8]["elements"][0].pop("name"), 200621),
    ("form in column", lambda c: E(c)[3]["columns"][0]["elements"].append({"tag": "form", "name": "f", "elements": []}), 200621),
]


@pytest.mark.parametrize("name,fn,sub", BAD, ids=[b[0] for b in BAD])
def test_mistakes_are_rejected_with_the_right_subcode(name, fn, sub):
    with pytest.raises(CardError) as exc:
        check(mutate(fn))
    assert exc.value.sub_code == sub


def test_person_list_may_drop_invalid_ids():
    c = full_card()
    E(c)[6].update(drop_invalid_user_id=True)
    E(c)[6]["persons"].append({"id": "ou_ghost"})
    check(c)


def test_nesting_deeper_than_five_is_rejected():
    inner = {"tag": "markdown", "content": "x"}
    for _ in range(6):
        inner = {"tag": "column_set", "columns": [{"tag": "column", "elements": [inner]}]}
    with pytest.raises(CardError):
        check({"schema": "2.0", "body": {"elements": [inner]}})


def test_full_card_goes_through_the_sdk(lark_client, sandbox, seed):
    c = json.loads(json.dumps(full_card()).replace("ou_a", seed.users["pm"]).replace("ou_b", seed.users["management"]))
    r = lark_client.im.v1.message.create(CreateMessageRequest.builder().receive_id_type("chat_id").request_body(
        CreateMessageRequestBody.builder().receive_id(seed.chat_id).msg_type("interactive")
        .content(json.dumps(c, ensure_ascii=False)).build()).build())
    assert r.code == 0, r.msg
    assert sandbox.control.messages(seed.chat_id)[0]["card"]["header"]["template"] == "green"
