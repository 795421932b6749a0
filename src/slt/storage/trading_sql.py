"""How write ops become SQL: one prepared statement per kind of op, run as few times as it can.

The rules of each table (insert once, forward-only order status, newest position wins) are
described in `slt.storage.trading_writes`; this module is their SQL. Every statement takes
its values as bound parameters, so it is built once per dialect and reused, and a run of
consecutive ops of one kind goes to the database as one `executemany`. A step of the live
loop writes a handful of rows; built and sent one by one through the async driver, each cost
about half a millisecond, which the Brain paid between a candle and its order.

Grouping keeps the ops' order: only neighbours of one kind are joined, and a driver runs an
executemany row after row. The one exception is PostgreSQL's ON CONFLICT DO UPDATE, which
refuses to touch a row twice if a driver folds the rows into one multi-row INSERT; two upserts
of the same position are therefore never joined.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, Connection, Executable, Table, bindparam, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from slt.storage.runs import dumps
from slt.storage.trading_ops import (
    ORDER_STATUSES,
    AccountSnapshot,
    ClosePosition,
    EndRun,
    ExperienceOp,
    FillOp,
    OrderIntent,
    OrderUpdate,
    OutcomeOp,
    PositionOp,
    SignalOp,
    StartRun,
    TradeOp,
    WriteOp,
)
from slt.storage.trading_schema import (
    account_snapshots,
    experience,
    fills,
    live_runs,
    live_trades,
    orders,
    positions,
    signals,
)

Params = dict[str, Any]
Execution = Params | list[Params]
"""One row (a plain execute) or several (an executemany)."""


@dataclass(frozen=True)
class _Rule:
    """How one kind of op is written: its statement for a dialect, the op's parameters, and
    (for upserts) the row it touches, which one execution may touch only once."""

    statement: Callable[[str], Executable]
    params: Callable[[Any], Params]
    row_key: Callable[[Any], Hashable] | None = None


def _insert(dialect: str, table: Table) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (both databases support it)."""
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def _values(op: msgspec.Struct) -> Params:
    return {name: getattr(op, name) for name in op.__struct_fields__}


def _insert_once(table: Table) -> Callable[[str], Executable]:
    def build(dialect: str) -> Executable:
        stmt: Executable = _insert(dialect, table).on_conflict_do_nothing()
        return stmt

    return build


def _upsert_position(dialect: str) -> Executable:
    stmt = _insert(dialect, positions)
    columns = [*PositionOp.__struct_fields__, "closed_ms"]
    changed: dict[str, Any] = {
        k: stmt.excluded[k] for k in columns if k not in ("run_id", "symbol", "mark_price")
    }
    changed["mark_price"] = func.coalesce(stmt.excluded.mark_price, positions.c.mark_price)
    upsert: Executable = stmt.on_conflict_do_update(
        index_elements=[positions.c.run_id, positions.c.symbol],
        set_=changed,
        where=positions.c.updated_ms <= stmt.excluded.updated_ms,
    )
    return upsert


def _update(
    table: Table, where: Callable[[], list[ColumnElement[bool]]], columns: Sequence[str]
) -> Callable[[str], Executable]:
    """UPDATE `table` SET each of `columns` to the parameter `v_<column>` WHERE `where`
    (whose parameters are named `k_…`: SQLAlchemy reserves a column's own name for SET)."""

    def build(_dialect: str) -> Executable:
        values: dict[str, Any] = {c: bindparam(f"v_{c}") for c in columns}
        return update(table).where(*where()).values(values)

    return build


def _order_update_params(op: OrderUpdate) -> Params:
    rank = ORDER_STATUSES[op.status]
    return {
        "k_run_id": op.run_id,
        "k_client_id": op.client_id,
        "k_rank": rank,
        "v_status": op.status,
        "v_status_rank": rank,
        "v_code": op.code,
        "v_reason": op.reason,
        "v_updated_ms": op.time_ms,
    }


def _intent_params(op: OrderIntent) -> Params:
    row = _values(op)
    row.update(status="intent", status_rank=0, code=0, reason="", updated_ms=op.created_ms)
    return row


def _position_params(op: PositionOp) -> Params:
    row = _values(op)
    row["closed_ms"] = None
    return row


def _run_params(op: StartRun) -> Params:
    row = _values(op)
    row["config"] = dumps(op.config)
    return row


def _experience_params(op: ExperienceOp) -> Params:
    row = _values(op)
    row["features"] = msgspec.json.encode(list(op.features)).decode()
    return row


_RULES: dict[type[Any], _Rule] = {
    SignalOp: _Rule(_insert_once(signals), _values),
    FillOp: _Rule(_insert_once(fills), _values),
    TradeOp: _Rule(_insert_once(live_trades), _values),
    AccountSnapshot: _Rule(_insert_once(account_snapshots), _values),
    OrderIntent: _Rule(_insert_once(orders), _intent_params),
    StartRun: _Rule(_insert_once(live_runs), _run_params),
    ExperienceOp: _Rule(_insert_once(experience), _experience_params),
    PositionOp: _Rule(_upsert_position, _position_params, lambda op: (op.run_id, op.symbol)),
    OrderUpdate: _Rule(
        _update(
            orders,
            lambda: [
                orders.c.run_id == bindparam("k_run_id"),
                orders.c.client_id == bindparam("k_client_id"),
                orders.c.status_rank < bindparam("k_rank"),
            ],
            ("status", "status_rank", "code", "reason", "updated_ms"),
        ),
        _order_update_params,
    ),
    ClosePosition: _Rule(
        _update(
            positions,
            lambda: [
                positions.c.run_id == bindparam("k_run_id"),
                positions.c.symbol == bindparam("k_symbol"),
                positions.c.closed_ms.is_(None),
                positions.c.updated_ms <= bindparam("k_time_ms"),
            ],
            ("closed_ms", "updated_ms"),
        ),
        lambda op: {
            "k_run_id": op.run_id,
            "k_symbol": op.symbol,
            "k_time_ms": op.time_ms,
            "v_closed_ms": op.time_ms,
            "v_updated_ms": op.time_ms,
        },
    ),
    EndRun: _Rule(
        _update(live_runs, lambda: [live_runs.c.run_id == bindparam("k_run_id")], ("ended_ms",)),
        lambda op: {"k_run_id": op.run_id, "v_ended_ms": op.ended_ms},
    ),
    OutcomeOp: _Rule(
        _update(
            experience,
            lambda: [
                experience.c.run_id == bindparam("k_run_id"),
                experience.c.symbol == bindparam("k_symbol"),
                experience.c.entry_time_ms == bindparam("k_entry_time_ms"),
            ],
            ("realised_return", "exit_reason", "exit_time_ms"),
        ),
        lambda op: {
            "k_run_id": op.run_id,
            "k_symbol": op.symbol,
            "k_entry_time_ms": op.entry_time_ms,
            "v_realised_return": op.realised_return,
            "v_exit_reason": op.exit_reason,
            "v_exit_time_ms": op.exit_time_ms,
        },
    ),
}

_STATEMENTS: dict[tuple[type[Any], str], Executable] = {}


def _rule(op: WriteOp) -> _Rule:
    rule = _RULES.get(type(op))
    if rule is None:  # pragma: no cover - the union is closed; a new op needs a rule above
        raise TypeError(f"no rule to store {type(op).__name__}")
    return rule


def _statement(kind: type[Any], rule: _Rule, dialect: str) -> Executable:
    stmt = _STATEMENTS.get((kind, dialect))
    if stmt is None:
        stmt = _STATEMENTS[(kind, dialect)] = rule.statement(dialect)
    return stmt


def runs_of(ops: Sequence[WriteOp]) -> list[tuple[type[Any], list[Params]]]:
    """`ops` cut into runs of consecutive ops of one kind, each as its parameter rows, in
    order; an upsert that touches a row already in its run starts a new run."""
    out: list[tuple[type[Any], list[Params]]] = []
    seen: set[Hashable] = set()
    for op in ops:
        kind, rule = type(op), _rule(op)
        key = rule.row_key(op) if rule.row_key is not None else None
        if not out or out[-1][0] is not kind or key in seen:
            out.append((kind, []))
            seen = set()
        if key is not None:
            seen.add(key)
        out[-1][1].append(rule.params(op))
    return out


def executions(ops: Sequence[WriteOp], dialect: str) -> list[tuple[Executable, Execution]]:
    """What to execute for `ops`, in order: one statement with its rows per run (a single row
    as a plain execute, several as an executemany)."""
    return [
        (_statement(kind, _RULES[kind], dialect), rows if len(rows) > 1 else rows[0])
        for kind, rows in runs_of(ops)
    ]


async def apply_all(conn: AsyncConnection, ops: Sequence[WriteOp]) -> None:
    """Apply `ops` in order inside the caller's transaction, one execution per run."""
    for stmt, params in executions(ops, conn.dialect.name):
        await conn.execute(stmt, params)


def apply_all_sync(conn: Connection, ops: Sequence[WriteOp]) -> None:
    """`apply_all` on a synchronous connection (the SQLite writer thread's)."""
    for stmt, params in executions(ops, conn.dialect.name):
        conn.execute(stmt, params)


__all__ = ["apply_all", "apply_all_sync", "executions", "runs_of"]
