from django.apps import AppConfig


class DerivativesConfig(AppConfig):
    name = "derivatives"

    def ready(self):
        from derivatives.services import margin_refresh_on_commit
        from portfolios.hooks import POSITION_SAVED

        # A position changes inside portfolios' services (a lower app that cannot call this one):
        # the hook lets its margin follow every write without the trading core knowing of margin.
        if margin_refresh_on_commit not in POSITION_SAVED:
            POSITION_SAVED.append(margin_refresh_on_commit)
