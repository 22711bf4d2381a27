import uuid

from django.db import models

from haunt.fields import money_field


class Competition(models.Model):
    """A trading competition run by admins (spec §10). Entrants trade separate portfolios, each linked
    here by its CompetitionEntry."""

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


class CompetitionEntry(models.Model):
    """One portfolio entered in a competition (spec: competition_entries). The link lives here, in
    the layer above portfolios, so no foreign key points up; the portfolio itself carries only
    `is_competition`, which is what portfolios' own rules read."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    competition = models.ForeignKey(Competition, on_delete=models.PROTECT, related_name="entries")
    portfolio = models.OneToOneField("portfolios.Portfolio", on_delete=models.CASCADE, related_name="competition_entry")
    joined_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["joined_at"]

    def __str__(self):
        return f"{self.portfolio_id} in {self.competition_id}"
