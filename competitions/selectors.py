"""Competition reads."""
from competitions.models import CompetitionEntry


def entered_competition_id(portfolio):
    """The id of the competition `portfolio` is entered in, or None (portfolios.hooks.COMPETITION_OF)."""
    return CompetitionEntry.objects.filter(portfolio=portfolio).values_list("competition_id", flat=True).first()
