"""Creating one record the service owns (the 周报 archive row), idempotently.

`client_token` is derived from a stable key, so a retried or repeated call never adds a second row.
"""
from __future__ import annotations

import uuid
from typing import Any

from gtm.schemas.tables import PLAN_TABLES
from gtm.sync.records import encode_fields

NAMESPACE = uuid.UUID("6f1c3c52-7d0e-4d55-9a0b-3f5a8f0b2d11")


def create_record(mirror, table_key: str, values: dict[str, Any], *, key: str) -> str:
    """Create a row from attr-keyed values; returns its record id and folds it into the mirror."""
    binding = mirror.binding
    spec = PLAN_TABLES[table_key]
    fields = encode_fields(spec, values, binding.tz, binding)
    token = str(uuid.uuid5(NAMESPACE, f"{binding.slug}:{binding.app_token}:{table_key}:{key}"))
    table_id = binding.table_id(table_key)
    record = mirror.gw.bitable.create_record(binding.app_token, table_id, fields, client_token=token,
                                             context=spec.name)
    record_id = record["record_id"]
    mirror.refresh_records(table_key, [record_id])
    return record_id
