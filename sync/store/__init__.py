"""The state store: one SQLAlchemy database (SQLite file by default, PostgreSQL by URL).

Model modules share one `Base` metadata: `registry` (projects), `mirror` (the Base snapshot),
`ledger` (notifications, escalation state, events, snapshots, job runs). Alembic migrations in
`gtm.sync.store.migrations` create them; `open_store` runs them.
"""
