"""Several projects in one deployment, end to end: two templates provisioned into two Bases with two
groups, through the real SDK against the sandbox, the store on a real SQLite file (and PostgreSQL).

The product's choice for a person who owns late items in two projects: **one digest card per
project** (each card names its project and lists only that project's items, its buttons carry that
project's slug), never one card mixing projects and never the same card twice. Management gets
the opposite: one portfolio card per person per week covering every project.
"""
from __future__ import annotations

import json
import uuid
from datetime import timedelta
from types import SimpleNamespace

import pytest

from tests.support import two_projects as H
from tests.support.inbox import Inbox, text_of, title_of
from tests.support.runtime import make_runtime, open_test_store
from tests.support.sandboxes import fast_gateway, seeded_sandbox
from tests.support.two_projects import NOW
from tests.support.waiting import wait_until


# -- fixtures: one provisioned sandbox for the module, a fresh store (ledger) per test ---------------
@pytest.fixture(scope="module")
def shared():
    with seeded_sandbox() as sb:
        yield H.build_world(sb, sb.seed)


@pytest.fixture
def fresh(sandbox, seed):
    """A world of its own, for tests that break it (delete a Base, re-key records)."""
    return H.build_world(sandbox, seed)


@pytest.fixture
def store(sqlite_url):
    st = open_test_store(sqlite_url)
    yield st
    st.dispose()


def runtime_for(world: H.World, store):
    """A runtime on `store` with a gateway built now: lark-oapi keeps ONE token cache per process
    (`TokenManager.cache`, replaced by every new Client), so a gateway built for another sandbox
    in between would hand this sandbox a foreign token."""
    world.register(store)
    world.gateway = fast_gateway(world.sandbox)
    return make_runtime(world.sandbox, world.seed, world.gateway, store)


@pytest.fixture
def rt(shared, store):
    return runtime_for(shared, store)


def all_p2p(world: H.World, inbox: Inbox) -> dict[str, list[dict]]:
    return {name: inbox.p2p(oid) for name, oid in world.seed.users.items()
            if name in ("张伟", "李娜", "王芳", "刘洋", "陈静", "杨帆")}


def names_of(p: H.Proj) -> list[str]:
    return list(p.own_tasks) + [p.name]


# -- checks -----------------------------------------------------------------------------------------
def _check_both_and_assert_isolation(world: H.World, runtime) -> None:
    from gtm.bot.checks.check import run_check
    from gtm.sync.store.ledger import NotificationRow
    from sqlalchemy import select

    inbox = Inbox(world.sandbox, world.seed)
    runs = {p.slug: run_check(runtime, p, NOW) for p in runtime.projects()}
    assert {o.status for r in runs.values() for o in r.outcomes} == {"sent"}

    got = all_p2p(world, inbox)
    # nothing of one project in another project's card, for every card anybody received
    for person, msgs in got.items():
        for m in msgs:
            text = text_of(m)
            mine = [p for p in world.projects if p.name in text]
            assert len(mine) == 1, (person, title_of(m))
            other = world.beta if mine[0] is world.alpha else world.alpha
            assert not any(n in text for n in names_of(other)), (person, title_of(m))

    # owns a late task in each project: one digest per project (schedule-slip alerts aside: a late
    # task of hers also threatens a milestone; the loop above checked they name one project only)
    wang = [m for m in got["王芳"] if not title_of(m).startswith("进度影响")]
    assert sorted(title_of(m) for m in wang) == ["待办提醒 · Alpha 新品发布", "待办提醒 · Beta 大客户项目"]
    alpha_card = next(text_of(m) for m in wang if "Alpha" in title_of(m))
    beta_card = next(text_of(m) for m in wang if "Beta" in title_of(m))
    assert "官网产品页上线" in alpha_card and "客户需求调研报告" in beta_card
    assert '"p": "beta"' not in alpha_card.replace('\\"', '"') and '"p": "alpha"' not in beta_card.replace('\\"', '"')

    liu = [title_of(m) for m in got["刘洋"]]  # owner in Alpha, PM of Beta
    assert "待办提醒 · Alpha 新品发布" in liu and any("客户法务对付款条款有异议" in t for t in liu)
    assert not any("物料供应商交付延迟" in t for t in liu)  # Alpha's issue goes to Alpha's PM
    assert [title_of(m) for m in got["陈静"]] == ["待办提醒 · Beta 大客户项目"]  # due soon in Beta only
    assert any("物料供应商交付延迟" in title_of(m) for m in got["张伟"])
    assert not any("客户法务" in title_of(m) for m in got["张伟"])  # not Beta's PM

    with runtime.store.session() as s:
        rows = s.scalars(select(NotificationRow).where(NotificationRow.recipient == world.seed.users["王芳"])).all()
        assert sorted(r.project for r in rows if not r.key.startswith("slip:")) == ["alpha", "beta"]

    # the same instant again, and the periodic check half an hour later: nothing new for anybody
    before = {k: len(v) for k, v in all_p2p(world, inbox).items()}
    for p in runtime.projects():
        again = run_check(runtime, p, NOW)
        assert all(o.status == "skipped" for o in again.outcomes)
        run_check(runtime, p, NOW + timedelta(minutes=30), include_digest=False)
    assert {k: len(v) for k, v in all_p2p(world, inbox).items()} == before


def test_check_tells_each_owner_only_about_their_own_projects_items(shared, rt):
    _check_both_and_assert_isolation(shared, rt)


@pytest.mark.postgres
def test_check_isolation_on_postgres(fresh, pg_url):
    """The same on the real PostgreSQL, in a schema of its own (and a sandbox of its own: Feishu
    drops a second send with the same uuid within an hour, and the uuid is per project+key+person)."""
    from sqlalchemy import text

    from gtm.sync.store.base import Store, make_engine
    from gtm.sync.store.open import load_models

    schema = f"multi_{uuid.uuid4().hex[:8]}"
    admin = make_engine(pg_url)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    st = Store(make_engine(pg_url, connect_args={"options": f"-csearch_path={schema}"}))
    try:
        load_models().create_all(st.engine)
        _check_both_and_assert_isolation(fresh, runtime_for(fresh, st))
    finally:
        st.dispose()
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _rekey(sb, b, table_key: str, old: str, new: str) -> None:
    """Give a record another id inside the sandbox (as if both Bases were copies of one plan)."""
    with sb.world.lock:
        t = sb.bitable.store.bases[b.app_token].tables[b.table_id(table_key)]
        rec = t.records.pop(old)
        rec.record_id = new
        t.records[new] = rec
        t.version += 1


def test_same_record_ids_and_people_in_two_projects_never_suppress_each_other(fresh, store):
    from gtm.bot.checks.check import run_check

    snap = {p.slug: H._snapshot(fresh.sandbox, fresh.gateway, p.binding, NOW) for p in fresh.projects}
    a_task = next(t for t in snap["alpha"].tasks if t.name == "官网产品页上线")
    b_task = next(t for t in snap["beta"].tasks if t.name == "客户需求调研报告")
    _rekey(fresh.sandbox, fresh.beta.binding, "task", b_task.record_id, a_task.record_id)
    rt = runtime_for(fresh, store)
    inbox = Inbox(fresh.sandbox, fresh.seed)
    wang = fresh.seed.users["王芳"]

    runs = {p.slug: run_check(rt, p, NOW) for p in rt.projects()}
    keys = {slug: {n.key for n in r.result.notices if wang in n.recipients and n.key.startswith("overdue:task:")}
            for slug, r in runs.items()}
    assert keys["alpha"] == keys["beta"] and keys["alpha"]  # the very same notice key in both projects
    cards = [m for m in inbox.p2p(wang) if not title_of(m).startswith("进度影响")]  # slip alerts aside
    assert sorted(title_of(m) for m in cards) == ["待办提醒 · Alpha 新品发布", "待办提醒 · Beta 大客户项目"]
    assert "官网产品页上线" in text_of(cards[0]) or "官网产品页上线" in text_of(cards[1])
    before = len(inbox.p2p(wang))
    for p in rt.projects():
        run_check(rt, p, NOW)
    assert len(inbox.p2p(wang)) == before


# -- the bot over the real long connection ---------------------------------------------------------
@pytest.fixture
def bot(shared, rt):
    from gtm.bot.chat.dispatcher import Dispatcher
    from gtm.bot.chat.transports.longconn import LongConnection

    sb, seed = shared.sandbox, shared.seed
    d = Dispatcher(rt, clock=lambda: NOW)
    conn = LongConnection(seed.app_id, seed.app_secret, d.dispatch, domain=sb.url,
                          bot_open_id=d.bot_open_id).start(wait=10)
    yield d
    conn.stop()
    d.close()


def _ask(world: H.World, chat_id: str | None, who: str, text: str) -> dict:
    sb, u = world.sandbox, world.seed.users
    if chat_id is None:
        n = len(sb.control.p2p_messages(u[who], bots_only=True)) if _has_p2p(world, who) else 0
        sb.control.post_message(None, u[who], text, mention_bot=False)
        msgs = wait_until(lambda: len(sb.control.p2p_messages(u[who], bots_only=True)) > n
                          and sb.control.p2p_messages(u[who], bots_only=True), timeout=10,
                          message=f"p2p reply to {text}")
        return msgs[n]
    n = len(sb.control.messages(chat_id, bots_only=True))
    sb.control.post_message(chat_id, u[who], text)
    return sb.control.wait_for_messages(chat_id, n + 1, timeout=10)[n]


def _has_p2p(world: H.World, who: str) -> bool:
    try:
        world.sandbox.control.p2p_messages(world.seed.users[who], bots_only=True)
        return True
    except Exception:  # noqa: BLE001 - no p2p chat yet
        return False


def test_mentions_answer_for_the_groups_project_and_p2p_spans_projects(shared, rt, bot):
    a, b = shared.alpha, shared.beta
    status_a = text_of(_ask(shared, a.chat_id, "王芳", "状态"))
    status_b = text_of(_ask(shared, b.chat_id, "陈静", "状态"))
    assert a.name in status_a and b.name not in status_a
    assert b.name in status_b and a.name not in status_b

    late_b = text_of(_ask(shared, b.chat_id, "杨帆", "逾期"))
    assert "客户需求调研报告" in late_b and "官网产品页上线" not in late_b and "销售 Deck 定稿" not in late_b
    late_a = text_of(_ask(shared, a.chat_id, "张伟", "逾期"))
    assert "官网产品页上线" in late_a and "客户需求调研报告" not in late_a

    mine = _ask(shared, None, "王芳", "我的任务")  # p2p: both projects, grouped by project
    text = text_of(mine)
    assert a.name in text and b.name in text
    assert "官网产品页上线" in text and "客户需求调研报告" in text and "销售 Deck 定稿" not in text

    late_mine = text_of(_ask(shared, None, "王芳", "逾期"))  # p2p: her overdue items in both projects
    assert a.name in late_mine and b.name in late_mine
    assert "官网产品页上线" in late_mine and "客户需求调研报告" in late_mine

    picked = text_of(_ask(shared, None, "王芳", f"状态 {b.name}"))
    assert b.name in picked and a.name not in picked
    # a project named anywhere in the sentence narrows a p2p answer to it, name first or last
    late_b_p2p = text_of(_ask(shared, None, "王芳", f"{b.name} 逾期"))  # that project's overdue items, as in its group
    assert "客户需求调研报告" in late_b_p2p and "官网产品页上线" not in late_b_p2p and a.name not in late_b_p2p
    late_a_p2p = text_of(_ask(shared, None, "陈静", f"逾期 {a.name}"))  # not only 陈静's own: 王芳's and 刘洋's too
    assert "官网产品页上线" in late_a_p2p and "销售 Deck 定稿" in late_a_p2p and "客户需求调研报告" not in late_a_p2p
    mine_a = text_of(_ask(shared, None, "王芳", f"我的任务 {a.name}"))
    assert "官网产品页上线" in mine_a and "客户需求调研报告" not in mine_a

    lone = shared.sandbox.control.create_chat(shared.seed.tenant_key, "闲聊群", [shared.seed.users["王芳"]],
                                              [shared.seed.app_id])["chat_id"]
    hint = text_of(_ask(shared, lone, "王芳", "状态"))
    assert lone.replace("_", "&#95;") in hint and a.name not in hint and b.name not in hint

    from gtm.bot.cli.run import run_projects_link  # the fix the hint asks for

    app = SimpleNamespace(store=rt.store, gateway=rt.gateway)
    assert run_projects_link(app, "alpha", [b.chat_id]) == 2  # Beta's group stays Beta's
    assert run_projects_link(app, "beta", [lone]) == 0
    linked = text_of(_ask(shared, lone, "王芳", "状态"))
    assert b.name in linked and a.name not in linked

    port = text_of(_ask(shared, a.chat_id, "李娜", "全部项目"))  # management sees both from any group
    assert a.name in port and b.name in port
    assert bot.drain(5)


# -- scheduling: own timezone, archive stops the jobs ------------------------------------------------
def test_each_project_runs_at_its_own_time_and_archiving_stops_its_jobs(shared, rt, store):
    from gtm.bot.cli.run import run_projects_archive
    from gtm.bot.service.jobs import check_job, make_jobset
    from gtm.bot.service.scheduler import PlanScheduler, build_schedule

    policy_for = lambda slug: rt.project(slug).policy  # noqa: E731
    jobs = make_jobset(rt)
    specs = {s.id: s for s in build_schedule(rt.projects(), policy_for, jobs)}
    assert {"alpha:check", "alpha:digest", "alpha:report", "beta:check", "beta:digest", "beta:report"} <= set(specs)
    # 09:00 in Shanghai and 09:00 in Tokyo are an hour apart
    a_digest = specs["alpha:digest"].next_fire(NOW + timedelta(days=3))
    b_digest = specs["beta:digest"].next_fire(NOW + timedelta(days=3))
    assert (a_digest.hour, b_digest.hour, a_digest - b_digest) == (9, 9, timedelta(hours=1))

    sched = PlanScheduler(store, rt.projects(), policy_for, jobs)
    sched.start()
    try:
        assert any(j.startswith("beta:") for j in sched.next_runs())
        assert run_projects_archive(SimpleNamespace(store=store), "beta") == 0
        sched.reload(rt.projects())
        ids = set(sched.next_runs())
        assert ids and not any(j.startswith("beta:") for j in ids) and "alpha:check" in ids
        assert not any(s.project == "beta" for s in sched.specs)
    finally:
        sched.shutdown(wait=True)
    assert not any(s.project == "beta" for s in build_schedule(rt.projects(), policy_for, jobs))
    # a job that fires before the reload is skipped, and the Base is untouched
    inbox = Inbox(shared.sandbox, shared.seed)
    assert check_job(rt, "beta", NOW) is None
    assert all(not v for v in all_p2p(shared, inbox).values())
    assert shared.beta.binding.app_token in shared.sandbox.bitable.store.bases
    assert [p.slug for p in rt.projects()] == ["alpha"] and rt.project().slug == "alpha"


# -- one project broken, the other unaffected --------------------------------------------------------
def test_deleted_base_fails_alone_and_its_pm_hears_of_it(fresh, store):
    from gtm.bot.service.jobs import make_jobset
    from gtm.bot.service.scheduler import build_schedule, run_job
    from gtm.sync.store.ledger import job_runs, system_problems

    rt = runtime_for(fresh, store)
    specs = {s.id: s for s in build_schedule(rt.projects(), lambda s: rt.project(s).policy, make_jobset(rt))}
    assert run_job(store, specs["alpha:digest"], NOW) and run_job(store, specs["beta:digest"], NOW)

    fresh.sandbox.bitable.delete_base(fresh.beta.binding.app_token)
    inbox = Inbox(fresh.sandbox, fresh.seed)
    later = NOW + timedelta(hours=1)
    assert run_job(store, specs["beta:check"], later) is False
    assert run_job(store, specs["alpha:check"], later) is True
    assert run_job(store, specs["beta:check"], later + timedelta(minutes=30)) is False

    liu, zhang = fresh.seed.users["刘洋"], fresh.seed.users["张伟"]
    told = inbox.p2p(liu)  # Beta's PM: one card that day, however often the check fails
    assert [title_of(m) for m in told] == ["系统问题"] and fresh.beta.name in text_of(told[0])
    assert not any("系统问题" in title_of(m) for m in inbox.p2p(zhang))
    with store.session() as s:
        assert len(system_problems(s, "beta")) == 2 and system_problems(s, "alpha") == []
        assert [r.ok for r in job_runs(s, "beta", "check")] == [False, False]
        assert [r.ok for r in job_runs(s, "alpha", "check")] == [True]

    monday = NOW + timedelta(days=3, hours=-0.5)  # Monday 09:30, the report time
    assert run_job(store, specs["alpha:report"], monday) is True
    assert run_job(store, specs["beta:report"], monday) is True  # from the last synced data
    a_report = text_of(inbox.group(fresh.alpha.chat_id)[-1])
    b_report = text_of(inbox.group(fresh.beta.chat_id)[-1])
    assert fresh.alpha.name in a_report and "系统问题" not in a_report
    # the group sees what happened in words (no raw Feishu error text), one line with a count
    assert fresh.beta.name in b_report and "系统问题" in b_report and "BaseTokenNotFound" not in b_report
    assert "已不存在" in b_report
    assert b_report.count("job check failed") == 1 and "2 次" in b_report
    with store.session() as s:
        assert system_problems(s, "alpha") == []

    from gtm.bot.checks.posting import run_portfolio

    rows = {r.slug: r for r in run_portfolio(rt, monday, post=False).view.rows}
    assert set(rows) == {"alpha", "beta"}  # still every active project, the broken one flagged
    assert rows["beta"].top_reason.startswith("⚠ 多维表格无法读取") and "⚠" not in rows["alpha"].top_reason


# -- portfolio ---------------------------------------------------------------------------------------
def test_portfolio_one_card_per_manager_per_week_with_every_project(shared, rt):
    from gtm.bot.checks.check import run_check
    from gtm.bot.checks.posting import run_portfolio

    colours = {p.slug: run_check(rt, p, NOW, dry_run=True).result.rag for p in rt.projects()}
    inbox = Inbox(shared.sandbox, shared.seed)
    run = run_portfolio(rt, NOW)
    u = shared.seed.users
    assert set(run.cards) == {u["李娜"], u["杨帆"]}
    card = next(iter(run.cards.values()))
    size = len(json.dumps(card, ensure_ascii=False).encode("utf-8"))
    assert size < 30 * 1024
    text = text_of(card)
    labels = {"red": "红色", "yellow": "黄色", "green": "绿色"}
    for p in shared.projects:
        rag = colours[p.slug]
        row = next(r for r in run.view.rows if r.slug == p.slug)
        assert p.name in text and row.rag.color == rag.color and labels[rag.color] in text
        assert row.top_reason and row.top_reason[:20] in text
    beta = next(r for r in run.view.rows if r.slug == "beta")
    assert beta.overdue_milestones and shared.beta.overdue_milestone in text and beta.management_issues == 1
    assert {colours["alpha"].color, colours["beta"].color} == {"yellow", "red"}

    run_portfolio(rt, NOW)  # twice in the same week: still one card each
    run_portfolio(rt, NOW + timedelta(hours=5))
    assert len(inbox.p2p(u["李娜"])) == 1 and len(inbox.p2p(u["杨帆"])) == 1
    assert inbox.p2p(u["张伟"]) == [] and inbox.p2p(u["王芳"]) == []


# -- the CLI ----------------------------------------------------------------------------------------
def test_cli_projects_project_errors_and_check_all_dry_run(shared, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from gtm.bot.cli.main import main
    from gtm.sync.store.ledger import NotificationRow
    from gtm.sync.store.open import open_store

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    st = open_store(url)  # migrated like production
    shared.register(st)
    st.dispose()
    monkeypatch.chdir(tmp_path)
    from rich.console import Console

    import gtm.bot.cli.run as commands_run

    monkeypatch.setattr(commands_run, "console", Console(width=250))  # no folded table cells
    env = {"GTM_FEISHU_DOMAIN": shared.sandbox.url, "GTM_FEISHU_APP_ID": shared.seed.app_id,
           "GTM_FEISHU_APP_SECRET": shared.seed.app_secret, "GTM_DATABASE_URL": url}
    runner = CliRunner()

    def gtm(*args):
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    out = gtm("projects")
    assert out.exit_code == 0, out.output
    for p in shared.projects:
        assert p.slug in out.output and p.chat_id in out.output and p.binding.app_token in out.output

    out = gtm("check", "--dry-run")
    assert out.exit_code == 2 and "--project" in out.output and "alpha, beta" in out.output
    out = gtm("report", "--project", "gamma", "--print")
    assert out.exit_code == 2 and "gamma" in out.output and "alpha, beta" in out.output

    inbox = Inbox(shared.sandbox, shared.seed)
    out = gtm("check", "--project", "all", "--dry-run", "--as-of", NOW.isoformat())
    assert out.exit_code == 0, out.output
    assert "alpha" in out.output and "beta" in out.output and "试运行" in out.output  # dry run
    assert all(not v for v in all_p2p(shared, inbox).values())
    st = open_test_store(url)
    with st.session() as s:
        assert s.query(NotificationRow).count() == 0
    st.dispose()

    out = gtm("projects", "archive", "beta")
    assert out.exit_code == 0, out.output
    out = gtm("projects")
    assert "archived" in out.output
    out = gtm("check", "--dry-run", "--as-of", NOW.isoformat())  # the only active project now
    assert out.exit_code == 0 and "alpha" in out.output and "beta" not in out.output
    assert shared.beta.binding.app_token in shared.sandbox.bitable.store.bases
