# The portfolio–competition link moves from Portfolio.competition (a foreign key pointing up the
# layers) to a CompetitionEntry owned by this app; the existing links are copied here, and
# portfolios 0011 then drops the old column.

import uuid

import django.db.models.deletion
from django.db import migrations, models


def entries_from_portfolios(apps, schema_editor):
    Portfolio = apps.get_model("portfolios", "Portfolio")
    CompetitionEntry = apps.get_model("competitions", "CompetitionEntry")
    CompetitionEntry.objects.bulk_create([
        CompetitionEntry(portfolio_id=portfolio_id, competition_id=competition_id)
        for portfolio_id, competition_id in Portfolio.objects.filter(competition__isnull=False)
        .values_list("pk", "competition_id")])


def portfolios_from_entries(apps, schema_editor):
    Portfolio = apps.get_model("portfolios", "Portfolio")
    CompetitionEntry = apps.get_model("competitions", "CompetitionEntry")
    for portfolio_id, competition_id in CompetitionEntry.objects.values_list("portfolio_id", "competition_id"):
        Portfolio.objects.filter(pk=portfolio_id).update(competition_id=competition_id)


class Migration(migrations.Migration):

    dependencies = [
        ('competitions', '0001_initial'),
        ('portfolios', '0010_portfolio_is_competition'),
    ]

    operations = [
        migrations.CreateModel(
            name='CompetitionEntry',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('joined_at', models.DateTimeField(auto_now_add=True)),
                ('competition', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='entries', to='competitions.competition')),
                ('portfolio', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='competition_entry', to='portfolios.portfolio')),
            ],
            options={
                'ordering': ['joined_at'],
            },
        ),
        migrations.RunPython(entries_from_portfolios, portfolios_from_entries),
    ]
