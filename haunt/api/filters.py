"""The filter every owner-scoped list uses for a query parameter that names one of the user's own
objects by id (`?portfolio=`, `?order=`, `?trade=`, `?position=`)."""
from collections.abc import Callable

import django_filters
from django_filters.constants import EMPTY_VALUES


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
