from django.apps import AppConfig


class OptionsTradingConfig(AppConfig):
    name = "options_trading"

    def ready(self):
        # Option contracts plug into the order path and valuations through their registries
        # (orders, portfolios and the market stream never import this app).
        from haunt.market.stream import DERIVED_MARKET_RESOLVERS
        from orders.market_view import on_demand_market_register
        from orders.risk import ASSET_CLASS_CHECKS
        from portfolios.events import PORTFOLIO_UPDATE_EXTRAS
        from portfolios.valuation import MARGIN_RULES
        from options_trading.selectors import option_greeks_update_extra
        from options_trading.services import (
            option_margin_rule, option_market_derive, option_market_prepare, option_order_check,
        )

        on_demand_market_register(option_market_prepare)
        if option_market_derive not in DERIVED_MARKET_RESOLVERS:
            DERIVED_MARKET_RESOLVERS.append(option_market_derive)  # option quotes and books on the market stream
        if option_order_check not in ASSET_CLASS_CHECKS.setdefault("option", []):
            ASSET_CLASS_CHECKS["option"].append(option_order_check)
        if option_margin_rule not in MARGIN_RULES:
            MARGIN_RULES.append(option_margin_rule)
        if option_greeks_update_extra not in PORTFOLIO_UPDATE_EXTRAS:
            PORTFOLIO_UPDATE_EXTRAS.append(option_greeks_update_extra)
