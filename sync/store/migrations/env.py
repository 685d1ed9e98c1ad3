"""Alembic environment for the state store.

`gtm.sync.store.open.open_store` builds the alembic config in code and hands over a live
connection (`config.attributes["connection"]`), so no alembic.ini is needed at run time. The
target metadata is `Base.metadata` with every model module imported.
"""
from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from gtm.sync.store.open import load_models

target_metadata = load_models()

config = context.config


def render_item(type_, obj, autogen_context):
    """Render our column types with an import instead of a dotted module path."""
    if type_ == "type" and obj.__class__.__name__ == "UTCDateTime":
        autogen_context.imports.add("from gtm.sync.store.base import UTCDateTime")
        return "UTCDateTime()"
    return False


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTERs go through batch mode
        render_item=render_item,
        compare_type=True,
    )


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_item=render_item)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.",
                                poolclass=pool.NullPool)
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
