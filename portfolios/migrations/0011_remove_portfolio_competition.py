# competitions 0002 copied every Portfolio.competition into a CompetitionEntry: the column goes.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('competitions', '0002_competitionentry'),
        ('portfolios', '0010_portfolio_is_competition'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='portfolio',
            name='competition',
        ),
    ]
