"""`open_store` skips alembic on a store already at head, and only then (the head read from the
migration files is alembic's own; anything behind, ahead or unknown still goes through alembic)."""
from __future__ import annotations

import subprocess
import sys

import pytest
from alembic import command
from sqlalchemy import text

from gtm.sync.store.base import make_engine
from gtm.sync.store.migrate import alembic_config, current_revision, head_revision, upgrade
from gtm.sync.store.open import open_store
from gtm.sync.store.revisions import at_head, file_revisions, head_in_files, stored_revisions


def test_the_files_head_is_alembics_head():
    assert head_in_files() == head_revision() is not None
    revisions = file_revisions()
    assert revisions is not None and revisions["0001_initial"] == ()
    assert revisions["0002_leases_and_claims"] == ("0001_initial",)


def test_at_head_only_when_the_stored_revision_is_the_head(store_url):
    engine = make_engine(store_url)
    try:
        assert stored_revisions(engine) is None and not at_head(engine)  # nothing migrated yet
        upgrade(engine, "0001_initial")
        assert stored_revisions(engine) == ["0001_initial"] and not at_head(engine)
        upgrade(engine)
        assert at_head(engine)
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_a_newer_release'"))
        assert not at_head(engine)
    finally:
        engine.dispose()


def test_a_store_from_a_newer_release_still_meets_alembic(store_url):
    """Not at head and unknown to these files: alembic's own refusal, as before the shortcut."""
    open_store(store_url).dispose()
    engine = make_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_from_a_newer_release'"))
    engine.dispose()
    with pytest.raises(Exception, match="9999_from_a_newer_release"):
        open_store(store_url)


PROBE = """
import sys
from gtm.sync.store.open import open_store
open_store(sys.argv[1]).dispose()
print("ALEMBIC", "alembic" in sys.modules, "mako" in sys.modules)
"""


def _opens_with_alembic(url: str) -> bool:
    out = subprocess.run([sys.executable, "-c", PROBE, url], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    words = out.stdout.split()
    return words[words.index("ALEMBIC") + 1] == "True" or words[words.index("ALEMBIC") + 2] == "True"


def test_a_store_at_head_opens_without_alembic_and_a_store_behind_migrates(sqlite_url):
    command.upgrade(alembic_config(sqlite_url), "0001_initial")
    assert _opens_with_alembic(sqlite_url)  # behind: alembic migrates it
    engine = make_engine(sqlite_url)
    assert current_revision(engine) == head_revision()
    engine.dispose()
    assert not _opens_with_alembic(sqlite_url)  # at head: alembic and Mako never loaded
