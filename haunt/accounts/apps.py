from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "haunt.accounts"
    label = "accounts"
