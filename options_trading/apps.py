from django.apps import AppConfig


class OptionsTradingConfig(AppConfig):
    name = "options_trading"
