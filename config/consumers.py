"""The WebSocket consumer served at /ws/: the platform's protocol (haunt.consumers) with the
portfolio streams resolved through the portfolios app, as the REST API resolves them."""
from channels.db import database_sync_to_async

from haunt.consumers import StreamConsumer
from portfolios.selectors import portfolio_get_for_user
from portfolios.serializers import PortfolioOut


class PlatformStreamConsumer(StreamConsumer):
    @database_sync_to_async
    def owned_portfolio_id(self, user, portfolio_id) -> str:
        return str(portfolio_get_for_user(user=user, portfolio_id=portfolio_id).pk)

    @database_sync_to_async
    def portfolio_snapshot(self, user, portfolio_id) -> dict:
        return dict(PortfolioOut(portfolio_get_for_user(user=user, portfolio_id=portfolio_id)).data)
