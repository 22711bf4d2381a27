from django.apps import AppConfig


class DerivativesConfig(AppConfig):
    name = "derivatives"
