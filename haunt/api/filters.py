"""Filters shared by every list: the one for a query parameter that names one of the user's own
objects by id (`?portfolio=`, `?order=`, `?trade=`, `?position=`), and the one for a time bound."""
from collections.abc import Callable
from datetime import UTC

import django_filters
from django import forms
from django_filters.constants import EMPTY_VALUES
from django_filters.fields import IsoDateTimeField


class OwnedObjectFilter(django_filters.UUIDFilter):
    """Narrows the list to one object of the user's: an id that is not theirs (someone else's, or
    none at all) answers 404 `not_found`, as the same id in a path does. A filter never answers
    "nothing there" about someone else's object, so every endpoint gives one answer to a foreign
    id (docs/api-conventions.md, "Other people's data is not found"). An empty value is no filter."""

    def __init__(self, *, owned_get: Callable, **kwargs):
        """`owned_get(user, object_id)` returns the user's object or raises NotFound."""
        super().__init__(**kwargs)
        self.owned_get = owned_get

    def filter(self, queryset, value):
        if value in EMPTY_VALUES:
            return queryset
        self.owned_get(self.parent.request.user, value)
        return super().filter(queryset, value)


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 time with any offset, read as the same instant in UTC.

    PostgreSQL refuses an offset beyond ±15:59 in a literal ("time zone displacement out of
    range"), although Python and ISO 8601 allow up to ±23:59: a bound such as
    `0388-06-02T06:53:46-16:04` was a 500. The instant in UTC is the same bound, and one the database
    always takes; an instant that falls outside Python's years in UTC (year 1 at +16:04) is a 400.
    """

    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None or moment.tzinfo is None:
            return moment
        try:
            return moment.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("This time is out of range.", code="invalid") from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """A time bound on a list (`created_after`, `executed_before`, …), compared in UTC."""

    field_class = UtcIsoDateTimeField
