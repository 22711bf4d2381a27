"""Realtime payloads of the derivatives app; sent only from derivatives.services, on commit.
Each payload is an output serializer's, so it matches its REST twin field for field."""
from portfolios.accounting.account import AccountMargin
from derivatives.selectors import PortfolioMargin
from derivatives.serializers import LiquidationWarningOut, MarginOut
from haunt.realtime import PORTFOLIO, POSITIONS, broadcast_on_commit


def margin_changed(portfolio, account: AccountMargin) -> None:
    """MarginUpdate: the body of GET /api/portfolio/{id}/margin."""
    broadcast_on_commit(portfolio_id=portfolio.pk, stream=PORTFOLIO, event="MarginUpdate",
                        data=MarginOut(PortfolioMargin(portfolio=portfolio, account=account)).data)


def liquidation_warning(*, portfolio_id, position_id, symbol: str, threshold: float, margin_ratio: float,
                        liquidation_price: float | None, move: float | None) -> None:
    """LiquidationWarning: a position's margin use crossed a threshold of the portfolio's ladder."""
    warning = {"portfolio": portfolio_id, "position": position_id, "symbol": symbol, "threshold": threshold,
               "margin_ratio": margin_ratio, "liquidation_price": liquidation_price,
               "price_move_to_liquidation": move}
    broadcast_on_commit(portfolio_id=portfolio_id, stream=POSITIONS, event="LiquidationWarning",
                        data=LiquidationWarningOut(warning).data)
