"""Open the state store and bring its schema to the latest migration.

`open_store(url)` works for `sqlite:///path` and `postgresql://…`; it runs `alembic upgrade head`
with a config built in code (no alembic.ini at run time). Two replicas starting together do not
race: PostgreSQL serialises the upgrade with an advisory lock, SQLite with a file lock.
"""
from __future__ import annotations

import fcntl
import importlib
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import unquote

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from gtm.sync.store.base import Base, Store, make_engine

# alembic resolves "package:folder" through importlib.resources (works from an installed wheel)
MIGRATIONS_LOCATION = "gtm.sync.store:migrations"
# every module that declares models on Base; a missing optional module is skipped
MODEL_MODULES = ("gtm.sync.store.registry", "gtm.sync.store.ledger", "gtm.sync.store.mirror",
                 "gtm.sync.store.ratelimit", "gtm.sync.store.cells")
MIGRATION_LOCK_KEY = 0x67746D5F6D696772  # "gtm_migr": the advisory lock held while upgrading


def load_models() -> MetaData:
    """Import every model module so `Base.metadata` is complete, and return it."""
    for name in MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return Base.metadata


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


def sqlite_path(url: str) -> Path | None:
    """The database file of a sqlite URL (None for in-memory databases and other backends)."""
    if not url.startswith("sqlite"):
        return None
    rest = url.split(":///", 1)[1] if ":///" in url else ""
    rest = rest.split("?", 1)[0]
    rest = unquote(rest)
    rest = rest[len("file:"):] if rest.startswith("file:") else rest  # a SQLite URI filename
    if not rest or rest == ":memory:":
        return None
    return Path(rest)


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


URL_EXAMPLE = "e.g. GTM_DATABASE_URL=sqlite:///gtm.db or postgresql://gtm@db.internal:5432/gtm"


class StoreOpenError(Exception):
    """The store cannot be opened; the message is one or two lines naming GTM_DATABASE_URL."""


def _shown(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url[:80]


def check_database_url(url: str) -> None:
    """Refuse a URL that is not sqlite or postgresql, or a SQLite file in a missing folder."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreOpenError(f"GTM_DATABASE_URL {url[:80]!r} is not a database URL; {URL_EXAMPLE}") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise StoreOpenError(f"GTM_DATABASE_URL {_shown(url)!r}: {backend} is not supported (only SQLite and "
                             f"PostgreSQL); {URL_EXAMPLE}")
    path = sqlite_path(url)
    if path is not None and not path.parent.is_dir():
        raise StoreOpenError(f"GTM_DATABASE_URL {url!r}: the folder {path.parent} does not exist; create it "
                             f"(mkdir -p {path.parent}) or point at an existing one, {URL_EXAMPLE}")


def describe_store_error(exc: BaseException, url: str = "") -> str:
    """One or two lines for an error opening or using the store (no SQL, no password)."""
    where = f"GTM_DATABASE_URL {_shown(url)!r}" if url else "the database"
    text = " ".join(str(getattr(exc, "orig", None) or exc).split())
    low = text.lower()
    if "file is not a database" in low or "malformed" in low:
        return (f"{where}: the SQLite file is damaged or not a database; move it aside and restore a "
                f"backup (the Base in Feishu is the source of truth: `gtm sync --full` re-reads it)")
    if "readonly" in low or "read-only" in low or "permission denied" in low:
        return f"{where}: the database (or its folder) is read-only; give the service write access to it"
    if "unable to open database file" in low:
        return f"{where}: cannot open the SQLite file; check that its folder exists and is writable"
    if "does not exist" in low and "database" in low:
        return (f"{where}: the PostgreSQL database does not exist; create it (createdb NAME) or fix the "
                f"name in the URL")
    if "password authentication failed" in low or "role" in low and "does not exist" in low:
        return f"{where}: PostgreSQL refused the user or password in the URL"
    if any(k in low for k in ("connection refused", "could not connect", "timeout", "timed out",
                              "name or service not known", "could not translate host", "no route")):
        return f"{where}: PostgreSQL is unreachable (is it running, and is host:port right?)"
    return f"{where}: {exc.__class__.__name__}: {text[:200]}"


def open_store(url: str, *, migrate: bool = True, **engine_kw) -> Store:
    """A `Store` for `url` with its schema at the latest revision.

    Raises StoreOpenError (one or two lines naming GTM_DATABASE_URL) for an unsupported URL, a
    missing SQLite folder (never created silently), an unreachable or missing PostgreSQL
    database, a damaged SQLite file or a read-only database.
    """
    check_database_url(url)
    try:
        store = Store(make_engine(url, **engine_kw))
    except (SQLAlchemyError, ImportError) as exc:
        raise StoreOpenError(describe_store_error(exc, url)) from exc
    if migrate:
        try:
            upgrade(store.engine)
        except (SQLAlchemyError, OSError) as exc:
            store.dispose()
            raise StoreOpenError(describe_store_error(exc, url)) from exc
        except Exception:
            store.dispose()
            raise
    return store


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
    """Autogenerate a new revision from the models (developer tool; `python -m gtm.sync.store.open`).

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
