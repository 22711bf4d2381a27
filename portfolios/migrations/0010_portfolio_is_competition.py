# A competition portfolio is flagged on the portfolio itself, which is all portfolios' own rules
# read; the link to its competition moves to competitions.CompetitionEntry (competitions 0002),
# and portfolios 0011 then drops Portfolio.competition, a foreign key pointing up the layers.

from django.db import migrations, models


def flag_competition_portfolios(apps, schema_editor):
    Portfolio = apps.get_model("portfolios", "Portfolio")
    Portfolio.objects.filter(competition__isnull=False).update(is_competition=True)


class Migration(migrations.Migration):

    dependencies = [
        ('portfolios', '0009_journal_moves_to_reporting'),
    ]

    operations = [
        migrations.AddField(
            model_name='portfolio',
            name='is_competition',
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(flag_competition_portfolios, migrations.RunPython.noop),
    ]
