from django.apps import AppConfig


class CompetitionsConfig(AppConfig):
    name = "competitions"

    def ready(self):
        from competitions.selectors import entered_competition_id
        from portfolios.hooks import COMPETITION_OF

        # A portfolio renders the competition it is entered in; the entry is this app's (portfolios
        # sits below and keeps only `is_competition`).
        if entered_competition_id not in COMPETITION_OF:
            COMPETITION_OF.append(entered_competition_id)
