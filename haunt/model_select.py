"""Model reads compiled once, for the few queries every order runs.

The ORM builds a query's SQL afresh on every call: for a one-row `get` on this platform's machines
that is about 0.4 ms of CPU before the database is asked anything, and a market order asks several
(the token, the locked portfolio, its open positions, the lots a fill closes). A ModelSelect writes
its SELECT once, on first use, for the database it reads, and then only binds parameters, converts the columns with the
same converters the ORM applies, and builds the instances with `Model.from_db`, so what comes back
is what the equivalent queryset returns: same classes, same values, related objects cached as
`select_related` caches them.

It covers what those queries need and nothing more: equality and `gt` conditions on the model's own
fields, forward foreign keys joined as `select_related` joins them, an ORDER BY on own fields, and
FOR UPDATE (of the model's own rows only) where the database has row locks.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.db import connections
from django.db.models import Model

OPERATORS = {"exact": "=", "gt": ">"}


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # Per selected model (the main one first): the model, its attnames, the slice of the row it fills,
    # each column's converters, and for a related model the forward FK field that caches it.
    parts: tuple
    condition_fields: tuple


class ModelSelect:
    """`ModelSelect(Position, where=("portfolio", "status"), related=("instrument",))` then
    `.fetch(portfolio_id, "open")` is `Position.objects.filter(portfolio=..., status="open")
    .select_related("instrument")` without rebuilding its SQL. A condition `"quantity__gt"`
    compares with `>`; `order_by` takes own field names, "-name" for descending; `lock` adds
    FOR UPDATE (OF the model's table when related rows are joined)."""

    def __init__(self, model: type[Model], *, where: tuple[str, ...], related: tuple[str, ...] = (),
                 order_by: tuple[str, ...] = (), lock: bool = False, using: str = "default"):
        self.model = model
        self.where = where
        self.related = related
        self.order_by = order_by
        self.lock = lock
        self.using = using
        self._compiled: _Compiled | None = None

    def fetch(self, *values) -> list:
        """The matching instances; `values` bind the `where` conditions in order. A value the field
        cannot take (a malformed UUID) raises the field's ValidationError, as the ORM does."""
        connection = connections[self.using]
        compiled = self._compiled or self._compile(connection)
        params = [field.get_db_prep_value(field.to_python(value), connection, prepared=False)
                  for field, value in zip(compiled.condition_fields, values, strict=True)]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        return [self._build(row, compiled, connection) for row in rows]

    def first(self, *values):
        found = self.fetch(*values)
        return found[0] if found else None

    def _build(self, row, compiled: _Compiled, connection):
        main = None
        for model, attnames, start, stop, converters, via in compiled.parts:
            values = list(row[start:stop])
            for index, (column, column_converters) in enumerate(converters):
                for converter in column_converters:
                    values[index] = converter(values[index], column, connection)
            if main is None:
                main = model.from_db(self.using, attnames, values)
            else:
                # A nullable foreign key that is NULL joins a row of NULLs: the relation is None.
                related = None if values[0] is None else model.from_db(self.using, attnames, values)
                via.set_cached_value(main, related)
        return main

    def _compile(self, connection) -> _Compiled:
        quote = connection.ops.quote_name
        meta = self.model._meta
        alias = "t0"
        columns, parts, joins = [], [], []
        position = 0

        def select(model, table_alias, via=None):
            nonlocal position
            fields = model._meta.concrete_fields
            converters = []
            for field in fields:
                column = field.get_col(table_alias)
                columns.append(f"{quote(table_alias)}.{quote(field.column)}")
                converters.append((column, connection.ops.get_db_converters(column) + column.get_db_converters(connection)))
            parts.append((model, tuple(field.attname for field in fields), position, position + len(fields),
                          tuple(converters), via))
            position += len(fields)

        select(self.model, alias)
        for index, name in enumerate(self.related, start=1):
            field = meta.get_field(name)
            target = field.related_model
            join_alias = f"t{index}"
            kind = "LEFT OUTER JOIN" if field.null else "INNER JOIN"
            joins.append(f"{kind} {quote(target._meta.db_table)} {quote(join_alias)} ON "
                         f"{quote(alias)}.{quote(field.column)} = {quote(join_alias)}.{quote(target._meta.pk.column)}")
            select(target, join_alias, via=field)

        conditions, condition_fields = [], []
        for condition in self.where:
            name, _, lookup = condition.partition("__")
            field = meta.pk if name == "pk" else meta.get_field(name)
            conditions.append(f"{quote(alias)}.{quote(field.column)} {OPERATORS[lookup or 'exact']} %s")
            # A foreign key binds its target's value (a UUID primary key prepares as one).
            condition_fields.append(field.target_field if field.is_relation else field)

        sql = f"SELECT {', '.join(columns)} FROM {quote(meta.db_table)} {quote(alias)}"
        if joins:
            sql += " " + " ".join(joins)
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        if self.order_by:
            ordering = []
            for name in self.order_by:
                descending = name.startswith("-")
                field = meta.pk if name.lstrip("-") == "pk" else meta.get_field(name.lstrip("-"))
                ordering.append(f"{quote(alias)}.{quote(field.column)}{' DESC' if descending else ' ASC'}")
            sql += " ORDER BY " + ", ".join(ordering)
        if self.lock and connection.features.has_select_for_update:
            sql += f" FOR UPDATE OF {quote(alias)}" if joins and connection.features.has_select_for_update_of \
                else " FOR UPDATE"
        self._compiled = _Compiled(sql=sql, parts=tuple(parts), condition_fields=tuple(condition_fields))
        return self._compiled
