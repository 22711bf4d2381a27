import django.db.models.deletion
import uuid
from django.db import migrations, models

import reporting.models

MOVED_MODELS = ('journalentry', 'journalattachment')


def content_types_to(app_label: str):
    """Move the journal's content types (and with them its permissions and admin log) between apps;
    on a new database there are none yet and Django creates them after migrating."""
    def move(apps, schema_editor):
        ContentType = apps.get_model('contenttypes', 'ContentType')
        source = 'portfolios' if app_label == 'reporting' else 'reporting'
        ContentType.objects.using(schema_editor.connection.alias).filter(
            app_label=source, model__in=MOVED_MODELS).update(app_label=app_label)
    return move


class Migration(migrations.Migration):
    """The trade journal's models, moved from the portfolios app with their tables
    (portfolios_journalentry, portfolios_journalattachment): state only, no schema change."""

    initial = True

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('market', '0002_instrument_borrow_rate'),
        ('orders', '0005_order_lot_ids'),
        ('portfolios', '0009_journal_moves_to_reporting'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='JournalEntry',
                    fields=[
                        ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        ('title', models.CharField(blank=True, max_length=200)),
                        ('note', models.TextField(blank=True, max_length=20000)),
                        ('tags', models.JSONField(blank=True, default=list)),
                        ('search_text', models.TextField(blank=True, editable=False)),
                        ('tag_index', models.TextField(blank=True, editable=False)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('instrument', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='market.instrument')),
                        ('order', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='journal_entries', to='orders.order')),
                        ('portfolio', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='journal_entries', to='portfolios.portfolio')),
                        ('position', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='journal_entries', to='portfolios.position')),
                        ('trade', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='journal_entries', to='orders.trade')),
                    ],
                    options={
                        'db_table': 'portfolios_journalentry',
                        'indexes': [models.Index(fields=['portfolio', '-created_at'], name='journal_portfolio_created')],
                        'constraints': [models.CheckConstraint(condition=models.Q(models.Q(('order__isnull', True), ('trade__isnull', True)), models.Q(('order__isnull', True), ('position__isnull', True)), models.Q(('position__isnull', True), ('trade__isnull', True)), _connector='OR'), name='journal_entry_one_subject')],
                    },
                ),
                migrations.CreateModel(
                    name='JournalAttachment',
                    fields=[
                        ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                        ('file', models.FileField(max_length=200, upload_to=reporting.models.journal_attachment_path)),
                        ('content_type', models.CharField(max_length=32)),
                        ('size', models.PositiveIntegerField()),
                        ('original_name', models.CharField(blank=True, max_length=200)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('entry', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='attachments', to='reporting.journalentry')),
                    ],
                    options={
                        'db_table': 'portfolios_journalattachment',
                        'ordering': ['created_at', 'id'],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_to('reporting'), content_types_to('portfolios')),
    ]
