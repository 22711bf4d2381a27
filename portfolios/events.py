"""Realtime payloads for portfolios; called only from portfolios.services."""
from haunt.realtime import broadcast_on_commit, portfolio_group
from portfolios.serializers import PortfolioOut


def portfolio_changed(portfolio) -> None:
    """PortfolioUpdate carries the same body as GET /api/portfolio/{id}."""
    broadcast_on_commit(group=portfolio_group(portfolio.pk), event="PortfolioUpdate",
                        data=dict(PortfolioOut(portfolio).data))
