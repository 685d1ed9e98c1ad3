"""Fixtures for the end-to-end bot tests: store on a real SQLite file, runtime, a linked project."""
from __future__ import annotations

from datetime import timedelta

import pytest

from gtm.schemas.plan import Person
from tests.support.plans import NOW, create_plan, task
from tests.support.runtime import make_runtime, open_test_store


@pytest.fixture
def store(sqlite_url):
    st = open_test_store(sqlite_url)
    yield st
    st.dispose()


@pytest.fixture
def runtime(sandbox, seed, gateway, store):
    return make_runtime(sandbox, seed, gateway, store)


@pytest.fixture
def plan(runtime, seed):
    """Project A, bound to the seed group: PM 张伟, management 李娜, two tasks and an issue."""
    u = seed.users
    today = NOW.date()
    return create_plan(
        runtime, slug="alpha", name="Alpha 发布", chat_ids=[seed.chat_id], pm=u["pm"], management=[u["management"]],
        tasks=[task("T1", "准备发布会物料", u["王芳"], today - timedelta(days=3)),
               task("T2", "渠道培训", u["刘洋"], today + timedelta(days=10), status="未开始", progress=0.0)],
        issues=[{"issue": "物料供应商延迟", "owner": Person(open_id=u["陈静"]), "status": "待处理",
                 "severity": "高", "raised_at": NOW - timedelta(days=5)}])
