"""The account core: the one place cash, P&L, margin, equity, buying power and what a close frees
are computed (style guide §3.15 "One arithmetic"). Pure: plain Decimals and frozen dataclasses in
and out, no Django. `margin` holds the rates, leverage tiers, maintenance margin and liquidation
prices; `account` values a whole account from its position rows."""
