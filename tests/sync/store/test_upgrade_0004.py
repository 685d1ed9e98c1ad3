"""A store made by the previous release (revision 0004) upgrades in place to the shared change log:
its mirror rows are kept, the first snapshot decodes the table (no log for the old versions), and
changes after the upgrade are logged for the other replicas."""
from __future__ import annotations

from alembic import command
from sqlalchemy import select, text

from gtm.sync.binding import BaseBinding
from gtm.sync.mirror import Mirror
from gtm.sync.reader import ReadResult
from gtm.sync.store.base import make_engine
from gtm.sync.store.migrate import alembic_config, current_revision, head_revision
from gtm.sync.store.mirror import MirrorChange
from gtm.sync.store.open import open_store

B = BaseBinding("up", "basU", table_ids={"task": "tblT"})


def test_0004_store_upgrades_and_keeps_its_mirror(store_url):
    command.upgrade(alembic_config(store_url), "0004_rate_slots")
    eng = make_engine(store_url)
    with eng.begin() as c:
        for i in range(3):
            c.execute(text("INSERT INTO mirror_records (project, table_key, record_id, fields, modified_ms) "
                           "VALUES ('up', 'task', :rid, :fields, 1)"),
                      {"rid": f"rec{i}", "fields": '{"任务ID": [{"type": "text", "text": "T%d"}], '
                                                   '"任务名称": [{"type": "text", "text": "旧任务"}]}' % i})
        c.execute(text("INSERT INTO mirror_tables (project, table_key, table_id, version, record_count, last_calls) "
                       "VALUES ('up', 'task', 'tblT', 7, 3, 0)"))
    eng.dispose()
    store = open_store(store_url)
    try:
        assert current_revision(store.engine) == head_revision()
        reader = Mirror(store, None, B)
        assert [t.task_id for t in reader.snapshot().tasks] == ["T0", "T1", "T2"]
        Mirror(store, None, B).merge_read("task", ReadResult(records=[{
            "record_id": "rec1", "last_modified_time": 2,
            "fields": {"任务ID": [{"type": "text", "text": "T1"}], "任务名称": [{"type": "text", "text": "改过"}]}}]))
        with store.session() as s:
            assert s.execute(select(MirrorChange.version, MirrorChange.record_ids)).all() == [(8, ["rec1"])]
        assert [t.name for t in reader.snapshot().tasks] == ["旧任务", "改过", "旧任务"]
    finally:
        store.dispose()
