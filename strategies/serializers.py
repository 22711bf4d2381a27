from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

from haunt.api.serializers import NUMBER_GRAMMAR
from strategies.indicators import INDICATORS


class IndicatorSeriesIn(serializers.Serializer):
    """The query's fixed fields; every other query parameter is one of the indicator's parameters."""

    name = serializers.ChoiceField(sorted(INDICATORS), help_text="The indicator.")
    interval = serializers.ChoiceField(["1m", "5m", "1h", "1d"], default="1m")
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)

    def to_internal_value(self, data):
        """The fixed fields, plus `parameters`: every other query parameter, each a number in the API's
        one grammar (docs/api-conventions.md), so "1_0" or "１２" is refused here as everywhere."""
        values = super().to_internal_value(data)
        parameters = {name: value for name, value in data.items() if name not in self.fields}
        for name, value in parameters.items():
            if not NUMBER_GRAMMAR.fullmatch(value):
                raise serializers.ValidationError({name: [ErrorDetail("A number is required.", code="invalid_parameter")]})
        return {**values, "parameters": parameters}


class IndicatorSeriesOut(serializers.Serializer):
    symbol = serializers.CharField()
    indicator = serializers.CharField()
    interval = serializers.CharField()
    parameters = serializers.DictField(child=serializers.FloatField(),
                                       help_text="Every parameter's value, given or default.")
    outputs = serializers.ListField(child=serializers.CharField(), help_text="The names each value carries.")
    values = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField(allow_null=True)),
        help_text="One per bar, oldest first: `time` (the bar's start) and each output as a decimal string, "
                  "null while the indicator warms up.")
