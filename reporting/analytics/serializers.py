"""Analytics query input and the shapes of the four payloads (spec §14 Analytics).

The payloads are built as JSON-ready dicts by reporting.analytics.reports (decimal strings, null
where a figure is undefined) and cached whole; these output serializers document that shape in
the OpenAPI schema.
"""
from decimal import Decimal

from rest_framework import serializers

from haunt.api.fields import rate_serializer_field
from haunt.api.serializers import StrictInput
from reporting.analytics import kernels
from reporting.analytics.reports import COST_COLUMNS


class AnalyticsQueryIn(StrictInput):
    portfolio = serializers.UUIDField(help_text="The portfolio to analyse (yours).")
    start = serializers.DateTimeField(required=False, help_text="Window start (ISO 8601). Default: the track "
                                                                "record's start (opening or last reset).")
    end = serializers.DateTimeField(required=False, help_text="Window end (ISO 8601). Default: now.")
    risk_free_rate = rate_serializer_field(
        min_value=Decimal("-0.1"), max_value=Decimal("1"), required=False,
        help_text="Annual risk-free rate (0.04 = 4%) in place of the portfolio's setting.")


def _number(**options):
    return serializers.CharField(allow_null=True, **options)


def _numbers_serializer(name: str, fields: tuple[str, ...], *, help_text: str = "") -> type[serializers.Serializer]:
    """A serializer whose every field is a decimal string or null."""
    return type(name, (serializers.Serializer,), {
        "__doc__": help_text or None, **{field: _number() for field in fields}})


class AnalyticsConventionsOut(serializers.Serializer):
    currency = serializers.CharField()
    returns = serializers.CharField()
    frequency = serializers.CharField()
    calendar = serializers.CharField(help_text="'every calendar day' (crypto-only) or 'NYSE trading sessions'.")
    periods_per_year = serializers.IntegerField(help_text="365 for a crypto-only portfolio, 252 otherwise.")
    annual_risk_free_rate = _number()
    risk_free_per_period = _number(help_text="(1 + annual)^(1/periods_per_year) − 1.")
    benchmark = serializers.CharField()
    track_record_start = serializers.DateTimeField()


AnalyticsPeriodReturnsOut = _numbers_serializer(
    "AnalyticsPeriodReturnsOut", tuple(kernels.PeriodReturns.__dataclass_fields__))


class AnalyticsPeriodReturnsPairOut(serializers.Serializer):
    as_of = serializers.DateField()
    portfolio = AnalyticsPeriodReturnsOut()
    benchmark = AnalyticsPeriodReturnsOut(allow_null=True, help_text="null without benchmark history.")


class AnalyticsSummaryOut(serializers.Serializer):
    start_equity = _number()
    end_equity = _number()
    net_cash_flow = _number(help_text="Top-ups minus withdrawals inside the window.")
    profit = _number(help_text="end_equity − start_equity − net_cash_flow.")
    time_weighted_return = _number()
    benchmark_return = _number()
    days = serializers.IntegerField()


class AnalyticsCalendarReturnOut(serializers.Serializer):
    # Declared in get_fields because "return" is a Python keyword.
    def get_fields(self):
        return {"period_start": serializers.DateField(), "return": _number(), "benchmark_return": _number()}


class AnalyticsCalendarReturnsOut(serializers.Serializer):
    def get_fields(self):
        return {period.value: AnalyticsCalendarReturnOut(many=True) for period in kernels.ReturnPeriod}


class AnalyticsDailyOut(serializers.Serializer):
    # Declared in get_fields because "return" is a Python keyword.
    def get_fields(self):
        return {"date": serializers.DateField(), "equity": _number(), "return": _number(),
                "cumulative_return": _number(),
                "drawdown": _number(help_text="Fall of the wealth index from its running peak, a negative fraction."),
                "benchmark_return": _number(),
                "benchmark_cumulative_return": _number()}


class AnalyticsWindowOut(serializers.Serializer):
    portfolio = serializers.UUIDField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField(allow_null=True)


class AnalyticsPerformanceOut(AnalyticsWindowOut):
    conventions = AnalyticsConventionsOut()
    summary = AnalyticsSummaryOut()
    period_returns = AnalyticsPeriodReturnsPairOut(allow_null=True)
    calendar_returns = AnalyticsCalendarReturnsOut()
    daily = AnalyticsDailyOut(many=True)


class AnalyticsRiskMetricsOut(_numbers_serializer(
        "AnalyticsRiskMetricsBase", tuple(kernels.RiskMetrics.__dataclass_fields__))):
    observations = serializers.IntegerField(help_text="Daily returns the figures are computed on.")


class AnalyticsDrawdownEpisodeOut(serializers.Serializer):
    peak = serializers.DateTimeField()
    trough = serializers.DateTimeField()
    recovery = serializers.DateTimeField(allow_null=True)
    depth = _number(help_text="Fall from the peak at the trough, a negative fraction.")
    days_underwater = serializers.FloatField(help_text="Peak to recovery, or to the last close while open.")
    days_to_recover = serializers.FloatField(allow_null=True, help_text="Trough to recovery.")


class AnalyticsDrawdownOut(serializers.Serializer):
    current = _number()
    maximum = _number()
    current_days_underwater = serializers.FloatField()
    longest_days_underwater = serializers.FloatField()
    episodes = AnalyticsDrawdownEpisodeOut(many=True)


class AnalyticsAnnualisationOut(serializers.Serializer):
    minimum_observations = serializers.IntegerField(help_text="Daily returns needed before annualised figures show.")
    applied = serializers.BooleanField(help_text="False: the window is shorter, the annualised figures are null.")
    note = serializers.CharField(allow_null=True, help_text="The short-history caveat, or null.")


class AnalyticsMetricsOut(AnalyticsWindowOut):
    conventions = AnalyticsConventionsOut()
    metrics = AnalyticsRiskMetricsOut()
    annualisation = AnalyticsAnnualisationOut()
    drawdown = AnalyticsDrawdownOut()


_COUNT_FIELDS = ("position_count", "win_count", "loss_count", "break_even_count")


class AnalyticsTradeStatisticsOut(_numbers_serializer("AnalyticsTradeStatisticsBase", tuple(
        name for name in kernels.TradeStatistics.__dataclass_fields__ if name not in _COUNT_FIELDS))):
    position_count = serializers.IntegerField()
    win_count = serializers.IntegerField()
    loss_count = serializers.IntegerField()
    break_even_count = serializers.IntegerField()


class AnalyticsTradesConventionsOut(serializers.Serializer):
    currency = serializers.CharField()
    unit = serializers.CharField()
    conversion = serializers.CharField()


class AnalyticsTradesOut(AnalyticsWindowOut):
    conventions = AnalyticsTradesConventionsOut()
    statistics = AnalyticsTradeStatisticsOut()


_ATTRIBUTION_AMOUNTS = ("price_move", *COST_COLUMNS, "net_pnl", "contribution")
AnalyticsAttributionTotalOut = _numbers_serializer("AnalyticsAttributionTotalOut", _ATTRIBUTION_AMOUNTS)


class AnalyticsInstrumentAttributionOut(_numbers_serializer("AnalyticsAttributionAmounts", _ATTRIBUTION_AMOUNTS)):
    symbol = serializers.CharField()
    asset_class = serializers.CharField()
    items = serializers.IntegerField(help_text="Fills and position charges in the group.")


class AnalyticsAssetClassAttributionOut(_numbers_serializer("AnalyticsAssetClassAmounts", _ATTRIBUTION_AMOUNTS)):
    asset_class = serializers.CharField()
    items = serializers.IntegerField()


class AnalyticsTagAttributionOut(_numbers_serializer("AnalyticsTagAmounts", _ATTRIBUTION_AMOUNTS)):
    tag = serializers.CharField()
    items = serializers.IntegerField()


class AnalyticsAttributionConventionsOut(serializers.Serializer):
    currency = serializers.CharField()
    unit = serializers.CharField()
    price_move = serializers.CharField()
    costs = serializers.CharField()
    contribution = serializers.CharField()
    strategy_tags = serializers.CharField()
    conversion = serializers.CharField()
    marked_at = serializers.DateTimeField(allow_null=True, help_text="When open positions were marked; null "
                                                                     "with an end (no unrealized P&L then).")


class AnalyticsAttributionOut(AnalyticsWindowOut):
    conventions = AnalyticsAttributionConventionsOut()
    capital = _number(help_text="Equity at the window's start: the base of each contribution.")
    total = AnalyticsAttributionTotalOut()
    by_instrument = AnalyticsInstrumentAttributionOut(many=True)
    by_asset_class = AnalyticsAssetClassAttributionOut(many=True)
    by_strategy_tag = AnalyticsTagAttributionOut(many=True)
