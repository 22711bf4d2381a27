"""Pure calculation modules must import without Django (style guide §3.11)."""
import subprocess
import sys

import pytest

PURE_MODULES = [
    "haunt.money",
    "haunt.api.formatting",
    "haunt.market.aggregator",
    "haunt.market.bars",
    "haunt.market.calendars",
    "haunt.market.simulator",
    "haunt.market.universe",
    "portfolios.risk_settings",
    "notifications.signing",
    "notifications.retries",
    "notifications.addresses",
    "orders.execution",
    "orders.triggers",
    "portfolios.accounting.margin",
    "derivatives.funding",
    "derivatives.liquidation",
    "portfolios.accounting.account",
    "haunt.market.terms",
    "portfolios.lots",
    "options_trading.pricing",
    "options_trading.contracts",
    "options_trading.surface",
    "options_trading.margin",
    "options_trading.exercise",
    "options_trading.combos",
    "options_trading.calculator",
    "options_trading.alpaca",
    "reporting.analytics.kernels",
    "reporting.analytics.reports",
    "reporting.exports.formats",
    "reporting.journal.images",
    "reporting.tax.form8949",
    "strategies.indicators",
]


@pytest.mark.parametrize("module", PURE_MODULES)
def test_pure_module_imports_without_django(module):
    probe = f"import sys, {module}; sys.exit('django' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], check=False).returncode == 0
