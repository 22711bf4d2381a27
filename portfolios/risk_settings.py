"""Advisory risk controls and default leverage: defaults and allowed ranges (spec §3, §4).

Pure module: the serializers validate against these tables and the order checks (trading core)
read the same names, so a control's range is written once.
"""
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum


class EnforcementMode(str, Enum):
    BLOCK = "block"  # the order is refused
    WARN = "warn"  # the order is accepted and carries a warning


ENFORCEMENT_MODE_CHOICES = [(mode.value, mode.value) for mode in EnforcementMode]


@dataclass(frozen=True)
class RiskControl:
    name: str
    default: Decimal
    minimum: Decimal
    maximum: Decimal
    is_integer: bool
    default_mode: EnforcementMode
    description: str


RISK_CONTROLS: tuple[RiskControl, ...] = (
    RiskControl("max_position_size_pct", Decimal("25"), Decimal("1"), Decimal("100"), False, EnforcementMode.BLOCK,
                "Largest single position as a percentage of portfolio equity."),
    RiskControl("daily_loss_limit_pct", Decimal("10"), Decimal("1"), Decimal("50"), False, EnforcementMode.BLOCK,
                "Loss since the UTC day's start, as a percentage of that day's opening equity, after which new risk is refused."),
    RiskControl("max_open_positions", Decimal("20"), Decimal("1"), Decimal("100"), True, EnforcementMode.BLOCK,
                "Most positions open at once."),
    RiskControl("risk_per_trade_pct", Decimal("2"), Decimal("0.1"), Decimal("10"), False, EnforcementMode.BLOCK,
                "Most equity a single order may put at risk between entry and its stop."),
    RiskControl("drawdown_stop_pct", Decimal("25"), Decimal("5"), Decimal("50"), False, EnforcementMode.BLOCK,
                "Drawdown from the equity peak after which new risk is refused."),
    RiskControl("correlation_warning_threshold", Decimal("0.7"), Decimal("0.5"), Decimal("0.95"), False,
                EnforcementMode.WARN,
                "Return correlation with an open position above which an order is flagged."),
)
RISK_CONTROLS_BY_NAME = {control.name: control for control in RISK_CONTROLS}

# Spec §3: the most leverage each asset class allows; options are premium-paid (no leverage).
MAX_LEVERAGE_BY_ASSET_CLASS: dict[str, Decimal] = {
    "crypto_spot": Decimal("10"),
    "stock": Decimal("4"),
    "etf": Decimal("4"),
    "perpetual": Decimal("100"),
    "forex": Decimal("50"),
}
DEFAULT_LEVERAGE_BY_ASSET_CLASS: dict[str, Decimal] = {
    "crypto_spot": Decimal("1"),
    "stock": Decimal("1"),
    "etf": Decimal("1"),
    "perpetual": Decimal("10"),
    "forex": Decimal("1"),
}


def default_risk_settings() -> dict:
    """The stored (JSON) form of the defaults: decimals as strings, plus each control's mode."""
    settings = {control.name: _to_json(control.default, control.is_integer) for control in RISK_CONTROLS}
    settings["modes"] = {control.name: control.default_mode.value for control in RISK_CONTROLS}
    return settings


def default_leverage() -> dict:
    return {asset_class: str(value) for asset_class, value in DEFAULT_LEVERAGE_BY_ASSET_CLASS.items()}


def _to_json(value: Decimal, is_integer: bool):
    return int(value) if is_integer else str(value)


def leverage_default(*, defaults: dict, asset_class: str) -> Decimal:
    """The portfolio's default leverage for an asset class (1 for a class without one: options)."""
    return Decimal(str(defaults.get(asset_class, 1)))
