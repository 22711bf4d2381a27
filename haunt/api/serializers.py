"""Input serializer base shared by every app."""
from rest_framework import serializers


class StrictInput(serializers.Serializer):
    """Rejects fields it does not declare, so a typo or an attempt to set a read-only field
    (cash, balances) is a 400 naming the field instead of being silently ignored."""

    read_only_names: tuple[str, ...] = ()

    def to_internal_value(self, data):
        if isinstance(data, dict):
            for name in data:
                if name not in self.fields:
                    if name in self.read_only_names:
                        raise serializers.ValidationError({name: serializers.ErrorDetail(
                            "This field is read-only.", code="read_only_field")})
                    raise serializers.ValidationError({name: serializers.ErrorDetail(
                        "Unknown field.", code="unknown_field")})
        return super().to_internal_value(data)
