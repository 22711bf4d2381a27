from django.apps import AppConfig


class MarketConfig(AppConfig):
    name = "haunt.market"
    label = "market"
