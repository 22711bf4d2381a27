from django.db import migrations


class Migration(migrations.Migration):
    """The journal's models move to the reporting app (reporting 0001), which keeps their tables:
    here they only leave this app's state."""

    dependencies = [
        ('portfolios', '0008_updated_at_indexes'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='JournalAttachment'),
                migrations.DeleteModel(name='JournalEntry'),
            ],
            database_operations=[],
        ),
    ]
