"""Whether a store's schema is at the latest migration, without alembic.

`open_store` asks `at_head(engine)` before it migrates: a database already at head (every start
but the first after an upgrade) is opened without importing alembic (and Mako, which alembic's
package init loads), ~130 modules and ~11 MB that `gtm serve` would otherwise hold for nothing.

The head is read from the migration files themselves (`revision = "…"` / `down_revision = …` in
`migrations/versions/*.py`, the lines alembic's own script template writes); the stored revision
from the `alembic_version` table alembic keeps. Anything this reader cannot be sure of — a file it
cannot parse, several heads, several stored rows, no table — answers "not at head", so alembic
decides (`gtm.sync.store.migrate`); `tests/sync/store/test_revisions.py` pins that the head read
here is alembic's.
"""
from __future__ import annotations

import re
from importlib import resources

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

VERSIONS_PACKAGE = "gtm.sync.store.migrations.versions"
VERSION_TABLE = "alembic_version"
_REVISION = re.compile(r"^revision(?:\s*:[^=]+)?\s*=\s*(['\"])([^'\"]+)\1\s*$", re.MULTILINE)
_DOWN = re.compile(r"^down_revision(?:\s*:[^=]+)?\s*=\s*(.+?)\s*$", re.MULTILINE)
_IDS = re.compile(r"(['\"])([^'\"]+)\1")


def file_revisions() -> dict[str, tuple[str, ...]] | None:
    """revision id → the revisions it follows, from the migration files (None: a file unreadable)."""
    found: dict[str, tuple[str, ...]] = {}
    for entry in resources.files(VERSIONS_PACKAGE).iterdir():
        if not entry.name.endswith(".py") or entry.name == "__init__.py":
            continue
        source = entry.read_text(encoding="utf-8")
        rev, down = _REVISION.findall(source), _DOWN.findall(source)
        if len(rev) != 1 or len(down) != 1:
            return None
        found[rev[0][1]] = tuple(m[1] for m in _IDS.findall(down[0]))
    return found


def head_in_files() -> str | None:
    """The one head of the migration files (None: none, several, or a file this reader cannot parse)."""
    revisions = file_revisions()
    if not revisions:
        return None
    followed = {down for downs in revisions.values() for down in downs}
    heads = [rev for rev in revisions if rev not in followed]
    return heads[0] if len(heads) == 1 else None


def stored_revisions(engine: Engine) -> list[str] | None:
    """The revisions recorded in the database (None: no version table yet)."""
    try:
        with engine.connect() as conn:
            return [row[0] for row in conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))]
    except SQLAlchemyError:
        return None


def at_head(engine: Engine) -> bool:
    """True when the database is certainly at the files' one head (then nothing is to migrate)."""
    head = head_in_files()
    return head is not None and stored_revisions(engine) == [head]
