from django.contrib import admin

from competitions.models import Competition, CompetitionEntry


class CompetitionEntryInline(admin.TabularInline):
    model = CompetitionEntry
    fields = ["portfolio", "joined_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Competition)
class CompetitionAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "starts_at", "ends_at", "starting_balance"]
    list_filter = ["kind"]
    search_fields = ["name"]
    inlines = [CompetitionEntryInline]
