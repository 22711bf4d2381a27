from rest_framework import serializers

from strategies.indicators import INDICATORS


class IndicatorSeriesIn(serializers.Serializer):
    """The query's fixed fields; every other query parameter is one of the indicator's parameters."""

    name = serializers.ChoiceField(sorted(INDICATORS), help_text="The indicator.")
    interval = serializers.ChoiceField(["1m", "5m", "1h", "1d"], default="1m")
    start = serializers.DateTimeField(required=False)
    end = serializers.DateTimeField(required=False)


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
