"""haunt.model_select against the ORM it stands in for: the same rows, the same values (JSON,
decimals, datetimes, UUIDs as each database returns them), related objects cached without a query,
and the row lock really taken on PostgreSQL."""
import threading
import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import OperationalError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from haunt.model_select import ModelSelect
from orders.models import Order
from orders.services import OrderRequest, order_place
from orders.tests.books import NOW, instruments, make_portfolio, publish_eth  # noqa: F401  (fixture)
from portfolios.models import Portfolio, Position, PositionLot

D = Decimal


def field_values(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def buy_eth(user, portfolio, quantity: str) -> Order:
    order, _ = order_place(user=user, portfolio_id=portfolio.pk, now=NOW, request=OrderRequest(
        symbol="ETH-USD", side="buy", order_type="market", quantity=D(quantity)))
    return order


@pytest.fixture
def holding(user, instruments):  # noqa: F811  (the fixture imported above)
    """A portfolio with risk settings (a JSON field) and an open ETH position of two lots."""
    publish_eth()
    portfolio = make_portfolio(user, max_open_positions=5)
    buy_eth(user, portfolio, "1")
    buy_eth(user, portfolio, "2")
    return portfolio


def test_a_portfolio_reads_back_exactly_as_the_orm_reads_it(holding, user):
    found = ModelSelect(Portfolio, where=("pk", "owner")).fetch(holding.pk, user.pk)

    assert len(found) == 1
    assert field_values(found[0]) == field_values(Portfolio.objects.get(pk=holding.pk))
    assert found[0].risk_settings["max_open_positions"] == 5  # JSON decoded on SQLite and PostgreSQL alike
    assert found[0]._state.adding is False and found[0]._state.db == "default"


def test_a_string_id_binds_like_the_orm_and_a_malformed_one_is_refused(holding, user):
    select = ModelSelect(Portfolio, where=("pk", "owner"))

    assert select.first(str(holding.pk), user.pk).pk == holding.pk
    assert select.first(uuid.uuid4(), user.pk) is None
    assert select.first(holding.pk, user.pk + 1000) is None
    with pytest.raises(ValidationError):
        select.fetch("not-a-uuid", user.pk)


def test_related_rows_are_cached_as_select_related_caches_them(holding):
    select = ModelSelect(Position, where=("portfolio", "status"), related=("instrument",))

    found = select.fetch(holding.pk, Position.Status.OPEN)

    expected = Position.objects.select_related("instrument").get(portfolio=holding, status=Position.Status.OPEN)
    assert [field_values(position) for position in found] == [field_values(expected)]
    with CaptureQueriesContext(connection) as queries:
        instrument = found[0].instrument
    assert len(queries) == 0
    assert field_values(instrument) == field_values(expected.instrument)
    assert select.fetch(holding.pk, Position.Status.CLOSED) == []


def test_a_null_foreign_key_joins_as_none_and_a_set_one_as_the_row(holding, user):
    select = ModelSelect(Order, where=("portfolio",), related=("parent", "instrument"), order_by=("created_at",))
    entry = Order.objects.filter(portfolio=holding).order_by("created_at").first()
    child = Order.objects.create(portfolio=holding, instrument=entry.instrument, parent=entry, side="sell",
                                 order_type="limit", quantity=D("1"), limit_price=D("2100"), status="held")

    found = {order.pk: order for order in select.fetch(holding.pk)}

    with CaptureQueriesContext(connection) as queries:
        parent_of_entry, parent_of_child = found[entry.pk].parent, found[child.pk].parent
    assert len(queries) == 0
    assert parent_of_entry is None
    assert field_values(parent_of_child) == field_values(Order.objects.get(pk=entry.pk))


def test_greater_than_and_ordering_follow_the_lots_query_they_replace(holding):
    position = Position.objects.get(portfolio=holding, status=Position.Status.OPEN)
    select = ModelSelect(PositionLot, where=("position", "quantity__gt"), order_by=("opened_at", "id"))

    found = select.fetch(position.pk, 0)

    expected = list(position.lots.filter(quantity__gt=0).order_by("opened_at", "id"))
    assert [field_values(lot) for lot in found] == [field_values(lot) for lot in expected]
    assert [lot.quantity for lot in found] == [D("1"), D("2")]
    assert select.fetch(position.pk, D("1")) == found[1:]
    descending = ModelSelect(PositionLot, where=("position",), order_by=("-id",)).fetch(position.pk)
    assert [lot.pk for lot in descending] == [lot.pk for lot in reversed(found)]


@pytest.mark.django_db(transaction=True)
def test_lock_holds_the_row_until_the_transaction_ends(user, instruments):  # noqa: F811
    if not connection.features.has_select_for_update_nowait:
        pytest.skip("row locks: PostgreSQL only (SQLite serialises whole transactions)")
    portfolio = make_portfolio(user)
    locked = threading.Event()
    release = threading.Event()

    def hold_lock():
        try:
            with transaction.atomic():
                ModelSelect(Portfolio, where=("pk",), lock=True).fetch(portfolio.pk)
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert locked.wait(10)
        with pytest.raises(OperationalError), transaction.atomic():
            Portfolio.objects.select_for_update(nowait=True).get(pk=portfolio.pk)
    finally:
        release.set()
        holder.join(10)
    with transaction.atomic():
        assert Portfolio.objects.select_for_update(nowait=True).get(pk=portfolio.pk).pk == portfolio.pk
