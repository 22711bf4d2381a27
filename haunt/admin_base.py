"""Admin building blocks shared by the apps."""
from django.contrib import admin


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """For rows that change only through services (money, fills, history): the admin looks, never edits."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
