import uuid

from django.db import models

from haunt.fields import money_field


class Competition(models.Model):
    """A trading competition run by admins (spec §10). Entrants trade separate portfolios linked here."""

    class Kind(models.TextChoices):
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"
        MONTHLY = "monthly", "Monthly"
        CUSTOM = "custom", "Custom"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.CUSTOM)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    starting_balance = money_field(default=5_000_000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_at__gt=models.F("starts_at")), name="competition_ends_after_start"),
        ]

    def __str__(self):
        return self.name
