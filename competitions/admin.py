from django.contrib import admin

from competitions.models import Competition


@admin.register(Competition)
class CompetitionAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "starts_at", "ends_at", "starting_balance"]
    list_filter = ["kind"]
    search_fields = ["name"]
