from decimal import Decimal

from django.db import migrations, models

from haunt.money import quantize_price, quantize_quantity


def record_closed_positions(apps, schema_editor):
    """Give the positions closed before this migration the record a closing fill now keeps (what
    portfolios.positions._position_record_closed_size writes), from their lots' disposals."""
    Position = apps.get_model("portfolios", "Position")
    LotDisposal = apps.get_model("portfolios", "LotDisposal")
    disposals: dict = {}
    for position_id, quantity, open_price, close_price in LotDisposal.objects.filter(
            lot__position__status="closed").values_list("lot__position_id", "quantity", "open_price", "close_price"):
        disposals.setdefault(position_id, []).append((quantity, open_price, close_price))
    for position_id, rows in disposals.items():
        size = sum((quantity for quantity, _, _ in rows), Decimal(0))
        if size:
            Position.objects.filter(pk=position_id).update(
                closed_quantity=quantize_quantity(size),
                average_entry_price=quantize_price(sum((q * price for q, price, _ in rows), Decimal(0)) / size),
                average_exit_price=quantize_price(sum((q * price for q, _, price in rows), Decimal(0)) / size))


class Migration(migrations.Migration):
    """A closed position keeps its size and its average exit price (the record the history shows)."""

    dependencies = [
        ('portfolios', '0011_remove_portfolio_competition'),
    ]

    operations = [
        migrations.AddField(
            model_name='position',
            name='average_exit_price',
            field=models.DecimalField(blank=True, decimal_places=10, max_digits=24, null=True),
        ),
        migrations.AddField(
            model_name='position',
            name='closed_quantity',
            field=models.DecimalField(decimal_places=10, default=0, max_digits=24),
        ),
        migrations.RunPython(record_closed_positions, migrations.RunPython.noop),
    ]
