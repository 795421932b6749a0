"""The model registry's rows: which models exist, their status, and what they were trained on.

The model files themselves live under the data directory (`slt.model.registry` writes them);
a row names its file and the file's sha256 so a swapped or truncated file is noticed. Status
changes that promote a champion demote the previous champion in the same transaction, so
there is never more than one. `meta` is canonical JSON text (see `slt.storage.runs.dumps`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import RowMapping, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from slt.storage.engine import StorageError
from slt.storage.runs import dumps
from slt.storage.schema import models

CHAMPION = "champion"
RETIRED = "retired"


class ModelExistsError(StorageError):
    """A model with this id is already registered."""


class ModelRowNotFoundError(StorageError):
    """No model row with this id."""


@dataclass(frozen=True, slots=True)
class ModelRow:
    """One registered model. Times are int UTC ms."""

    model_id: str
    created_ms: int
    status: str
    parent_id: str | None
    schema_version: int
    schema_hash: str
    interval: str
    train_first_ms: int
    train_last_ms: int
    data_fingerprint: str
    label_horizon: int
    file_name: str
    file_sha256: str
    meta: dict[str, Any]


_COLUMNS = tuple(c.name for c in models.columns)


class ModelStore:
    """Async access to the `models` table."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add(self, row: ModelRow) -> None:
        """Register a model; `ModelExistsError` if its id is taken. A champion row demotes
        the current champion in the same transaction."""
        values = {name: getattr(row, name) for name in _COLUMNS}
        values["meta"] = dumps(dict(row.meta))
        try:
            async with self.engine.begin() as conn:
                if row.status == CHAMPION:
                    await conn.execute(
                        update(models).where(models.c.status == CHAMPION).values(status=RETIRED)
                    )
                await conn.execute(insert(models), [values])
        except IntegrityError:
            if await self.get(row.model_id) is not None:
                raise ModelExistsError(
                    f"model {row.model_id!r} is already registered; train a new one"
                ) from None
            raise

    async def get(self, model_id: str) -> ModelRow | None:
        async with self.engine.connect() as conn:
            result = await conn.execute(select(models).where(models.c.model_id == model_id))
            row = result.mappings().first()
        return None if row is None else _row(row)

    async def list(self, status: str | None = None) -> list[ModelRow]:
        """Models newest first, optionally only those with `status`."""
        query = select(models)
        if status is not None:
            query = query.where(models.c.status == status)
        query = query.order_by(models.c.created_ms.desc(), models.c.model_id.desc())
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_row(r) for r in rows]

    async def set_status(self, model_id: str, status: str) -> None:
        """Change a model's status; making it champion retires the previous champion."""
        async with self.engine.begin() as conn:
            found = await conn.execute(
                select(models.c.model_id).where(models.c.model_id == model_id)
            )
            if found.first() is None:
                raise ModelRowNotFoundError(f"no model {model_id!r}; see `slt model list`")
            if status == CHAMPION:
                await conn.execute(
                    update(models)
                    .where(models.c.status == CHAMPION, models.c.model_id != model_id)
                    .values(status=RETIRED)
                )
            await conn.execute(
                update(models).where(models.c.model_id == model_id).values(status=status)
            )

    async def set_meta(self, model_id: str, meta: dict[str, Any]) -> None:
        """Replace a model's `meta` (its metrics and check reports grow after training)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(models).where(models.c.model_id == model_id).values(meta=dumps(meta))
            )
            if result.rowcount == 0:
                raise ModelRowNotFoundError(f"no model {model_id!r}; see `slt model list`")


def _row(r: RowMapping) -> ModelRow:
    return ModelRow(
        model_id=str(r["model_id"]),
        created_ms=int(r["created_ms"]),
        status=str(r["status"]),
        parent_id=None if r["parent_id"] is None else str(r["parent_id"]),
        schema_version=int(r["schema_version"]),
        schema_hash=str(r["schema_hash"]),
        interval=str(r["interval"]),
        train_first_ms=int(r["train_first_ms"]),
        train_last_ms=int(r["train_last_ms"]),
        data_fingerprint=str(r["data_fingerprint"]),
        label_horizon=int(r["label_horizon"]),
        file_name=str(r["file_name"]),
        file_sha256=str(r["file_sha256"]),
        meta=orjson.loads(r["meta"]),
    )
