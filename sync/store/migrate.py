"""alembic's side of the store: migrate, compare, autogenerate.

`open_store` imports this module only when a database is not at the latest revision (a new or
older store); `gtm doctor`, the tests and the developer tool (`python -m gtm.sync.store.migrate
MSG`: autogenerate a revision) import it directly. The migrations are run with a config built in
code (no alembic.ini at run time). Two replicas migrating together do not race: PostgreSQL
serialises the upgrade with an advisory lock, SQLite with a file lock.
"""
from __future__ import annotations

import fcntl
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from gtm.sync.store.base import make_engine
from gtm.sync.store.open import MIGRATIONS_LOCATION, load_models, sqlite_path

MIGRATION_LOCK_KEY = 0x67746D5F6D696772  # "gtm_migr": the advisory lock held while upgrading


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    """An alembic Config pointing at our migrations, built in code."""
    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS_LOCATION)
    cfg.set_main_option("path_separator", "os")
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with open(path, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Run the migrations up to `revision` on `engine`, one process at a time."""
    load_models()
    path = sqlite_path(engine.url.render_as_string(hide_password=False))
    if path is not None:
        with _file_lock(path.with_name(path.name + ".migrate.lock")):
            with engine.begin() as conn:
                command.upgrade(alembic_config(connection=conn), revision)
        return
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
        command.upgrade(alembic_config(connection=conn), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def schema_drift(engine: Engine) -> list:
    """Differences between the migrated database and the models (empty: none). `alembic check`."""
    metadata = load_models()
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, metadata)


def make_revision(message: str, rev_id: str | None = None) -> str | None:
    """Autogenerate a new revision from the models (developer tool; `python -m gtm.sync.store.migrate`).

    Compares the models with a scratch SQLite database upgraded to the current head.
    """
    load_models()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'scratch.db'}"
        engine = make_engine(url)
        try:
            upgrade(engine)
            with engine.begin() as conn:
                script = command.revision(alembic_config(connection=conn), message=message,
                                          autogenerate=True, rev_id=rev_id)
        finally:
            engine.dispose()
    if script is None:
        return None
    return script.path if not isinstance(script, list) else script[0].path


if __name__ == "__main__":  # pragma: no cover - developer tool
    import sys

    print(make_revision(sys.argv[1] if len(sys.argv) > 1 else "schema change"))
