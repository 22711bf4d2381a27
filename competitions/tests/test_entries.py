"""A competition entry owns the portfolio's link to its competition; the portfolio renders it."""
from datetime import timedelta

import pytest
from django.utils import timezone

from competitions.models import Competition, CompetitionEntry
from portfolios.serializers import PortfolioOut
from portfolios.services import portfolio_create

pytestmark = pytest.mark.django_db


def test_an_entered_portfolio_renders_its_competition(user):
    now = timezone.now()
    competition = Competition.objects.create(name="Weekly", starts_at=now, ends_at=now + timedelta(days=7))
    portfolio = portfolio_create(user=user, name="Contest", is_competition=True)
    CompetitionEntry.objects.create(competition=competition, portfolio=portfolio)

    body = PortfolioOut(portfolio).data

    assert body["is_competition"] is True and str(body["competition"]) == str(competition.pk)


def test_an_ordinary_portfolio_has_no_competition(user, django_assert_num_queries):
    portfolio = portfolio_create(user=user, name="Main")
    with django_assert_num_queries(0):  # the flag answers: no lookup of entries
        assert PortfolioOut(portfolio).get_competition(portfolio) is None
