from django.apps import AppConfig


class DerivativesConfig(AppConfig):
    name = "derivatives"

    def ready(self):
        from django.db.models.signals import post_save

        from derivatives.services import position_saved
        from portfolios.models import Position

        # A position changes inside the order services (a lower app that cannot call this one):
        # the signal lets its margin follow every fill without the trading core knowing of margin.
        post_save.connect(position_saved, sender=Position, dispatch_uid="derivatives.position_saved")
