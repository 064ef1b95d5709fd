"""One formatting layer for every number a reader sees in a report.

Percentages, percentage points with intervals, p-values, counts, money and
column labels are formatted here, so a rate reads ``65.3%`` in tables, notes
and key numbers alike, and no table shows ``2.504e-05``, ``1,211.00`` or
``diff_ci_low``.

Examples
--------
>>> format_pp(0.067, 0.036, 0.099)
'+6.7 pp (95% CI +3.6 to +9.9)'
>>> format_p_value(2.504e-05), format_p_value(0.0342)
('< 0.001', '0.034')
>>> format_count(42524.0), column_label("diff_ci_low")
('42,524', 'Diff CI low')
"""

from __future__ import annotations

import math
import re
from numbers import Integral, Real

__all__ = [
    "COLUMN_LABELS",
    "CURRENCY_SYMBOLS",
    "column_label",
    "format_ci",
    "format_count",
    "format_money",
    "format_number",
    "format_p_value",
    "plural",
    "format_percent",
    "format_pp",
    "format_value",
    "is_missing",
    "number_decimals",
]

MISSING = "–"

COLUMN_LABELS = {
    "n": "Users",
    "n_users": "Users",
    "n_control": "Users (control)",
    "n_variant": "Users (variant)",
    "n_per_arm": "Users per arm",
    "p": "p-value",
    "p_value": "p-value",
    "p_adjusted": "p-value (adjusted)",
    "p_value_adjusted": "p-value (adjusted)",
    "relative_lift": "Relative lift",
    "chance_to_beat": "Chance to beat control",
    "mde": "MDE",
    "mde_relative": "MDE (relative)",
    "event_share": "Share of events",
    "user_share": "Share of users",
    "rate_base": "Rate (baseline)",
    "cohort_size": "Cohort size",
    "ci_width_ratio": "CI width ratio",
    "drop_off_rate": "Drop-off",
    "kind": "Kind",
}
"""Column name → label for names the fallback would not read well."""

_ACRONYMS = {"ci", "mde", "srm", "cac", "cpa", "nps", "csat", "ces", "dau", "wau", "mau", "rfm", "id", "pp", "ltv",
             "arpu", "cuped", "utc", "url", "pca"}

_UNITS = {"s": "s", "ms": "ms", "min": "min", "minutes": "min", "hours": "h", "days": "days"}
"""Trailing unit words of column names, shown in brackets: ``duration_s`` → ``Duration (s)``."""

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "$": "$", "€": "€", "£": "£"}
"""Currency codes shown as a symbol before the amount; other codes are written after it."""


def is_missing(value: object) -> bool:
    """True for None, NaN and pandas' NA/NaT.

    Examples
    --------
    >>> is_missing(float("nan")), is_missing(None), is_missing(0)
    (True, True, False)
    """
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, NaT, pd.NA (raises)
    except (TypeError, ValueError):
        return True


def column_label(name: object, labels: dict[str, str] | None = None) -> str:
    """Human column label: the label map, else snake_case turned into words.

    Examples
    --------
    >>> column_label("plateau_supported"), column_label("new_customers"), column_label("cac_ci_high")
    ('Plateau supported', 'New customers', 'CAC CI high')
    >>> column_label("median_duration_s"), column_label("median_minutes_per_user")
    ('Median duration (s)', 'Median minutes per user')
    """
    text = str(name)
    if labels and text in labels:
        return labels[text]
    if text in COLUMN_LABELS:
        return COLUMN_LABELS[text]
    words = [w for w in re.split(r"[_\s]+", text) if w]
    if not words:
        return text
    if len(words) > 1 and words[-1] in _UNITS:
        words[-1] = f"({_UNITS[words[-1]]})"  # median_duration_s reads "Median duration (s)"
    words = [w.upper() if w.lower() in _ACRONYMS else w for w in words]
    first = words[0]
    words[0] = first if first.isupper() else first[:1].upper() + first[1:]
    return " ".join(words)


def _signed(text: str, value: float, signed: bool) -> str:
    if not signed:
        return text
    if value > 0 and not text.startswith("+"):
        return "+" + text
    return text.replace("-", "−", 1) if text.startswith("-") else text


def format_percent(value: object, decimals: int = 1, signed: bool = False) -> str:
    """A share in [0, 1] as a percentage.

    Examples
    --------
    >>> format_percent(0.6534), format_percent(0.05, 0), format_percent(-0.012, signed=True)
    ('65.3%', '5%', '−1.2%')
    """
    if is_missing(value):
        return MISSING
    number = float(value)  # type: ignore[arg-type]
    return _signed(f"{100 * number:,.{decimals}f}%", round(100 * number, decimals), signed)


def format_count(value: object) -> str:
    """A count with thousands separators and no decimals.

    Examples
    --------
    >>> format_count(1211.0), format_count(42524)
    ('1,211', '42,524')
    """
    if is_missing(value):
        return MISSING
    return f"{round(float(value)):,}"  # type: ignore[arg-type]


def format_number(value: object, signed: bool = False) -> str:
    """A measurement: thousands separators, about three significant digits, never scientific notation.

    Examples
    --------
    >>> [format_number(v) for v in (1234567.8, 12.345, 0.008986, 2.504e-05, 0.0)]
    ['1,234,568', '12.35', '0.00899', '0.000025', '0']
    """
    if is_missing(value):
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number):
        return str(number)
    if number == 0:
        return "0"
    decimals = number_decimals(number)
    text = f"{number:,.{decimals}f}"
    if abs(number) < 1:
        text = text.rstrip("0").rstrip(".")
    return _signed(text, number, signed)


def number_decimals(value: float) -> int:
    """Decimals that show about three significant digits of ``value`` (0 from 100 up).

    Examples
    --------
    >>> number_decimals(1234.5), number_decimals(12.3), number_decimals(0.00899)
    (0, 2, 5)
    """
    size = abs(float(value))
    if not math.isfinite(size) or size == 0 or size >= 100:
        return 0
    if size >= 1:
        return 2
    return min(8, 2 - math.floor(math.log10(size)))


def format_money(value: object, currency: str | None = None, decimals: int = 2) -> str:
    """An amount of money, with its currency when one is given.

    Examples
    --------
    >>> format_money(1234.5, "EUR"), format_money(1234.5, "CHF"), format_money(1234.5)
    ('€1,234.50', '1,234.50 CHF', '1,234.50')
    """
    if is_missing(value):
        return MISSING
    number = float(value)  # type: ignore[arg-type]
    text = f"{abs(number):,.{decimals}f}"
    sign = "−" if number < 0 else ""
    if currency is None:
        return sign + text
    symbol = CURRENCY_SYMBOLS.get(currency.upper() if len(currency) == 3 else currency)
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency}"


def format_p_value(value: object) -> str:
    """A p-value as a reader wants it: ``< 0.001``, else three decimals (two significant digits when small).

    Examples
    --------
    >>> [format_p_value(p) for p in (0.0004, 0.0342, 0.5, 1.0)]
    ['< 0.001', '0.034', '0.500', '1.000']
    """
    if is_missing(value):
        return MISSING
    number = float(value)  # type: ignore[arg-type]
    return "< 0.001" if number < 0.001 else f"{number:.3f}"


def format_pp(difference: object, low: object = None, high: object = None, *, level: float = 0.95,
              decimals: int = 1) -> str:
    """A difference of two rates in percentage points, with its interval when given.

    Examples
    --------
    >>> format_pp(0.067, 0.036, 0.099), format_pp(-0.004)
    ('+6.7 pp (95% CI +3.6 to +9.9)', '−0.4 pp')
    """
    return format_ci(difference, low, high, kind="pp", level=level, decimals=decimals)


def format_ci(value: object, low: object = None, high: object = None, *, kind: str = "number",
              level: float = 0.95, decimals: int = 1, currency: str | None = None) -> str:
    """An estimate with its interval: ``65.3% (95% CI 60.1% to 70.2%)``.

    Parameters
    ----------
    value, low, high : float
        Estimate and interval bounds (bounds may be missing).
    kind : {"number", "percent", "pp", "lift", "money"}
        ``percent``: a rate; ``pp``: a difference of rates (signed, in
        percentage points); ``lift``: a signed relative change in %;
        ``money``: an amount in ``currency``.
    level : float
        Interval level shown (``1 - alpha``).

    Examples
    --------
    >>> format_ci(0.653, 0.601, 0.702, kind="percent")
    '65.3% (95% CI 60.1% to 70.2%)'
    >>> format_ci(0.12, -0.01, 0.25, kind="lift")
    '+12.0% (95% CI −1.0% to +25.0%)'
    """
    def one(x: object) -> str:
        if kind == "percent":
            return format_percent(x, decimals)
        if kind == "lift":
            return format_percent(x, decimals, signed=True)
        if kind == "pp":
            return MISSING if is_missing(x) else _signed(f"{100 * float(x):.{decimals}f}", round(100 * float(x), decimals), True)  # type: ignore[arg-type]
        if kind == "money":
            return format_money(x, currency)
        if is_missing(x):
            return MISSING
        # the bounds get the estimate's decimals, so the three numbers line up
        return _signed(f"{float(x):,.{decimals_of_value}f}", float(x), kind == "signed")  # type: ignore[arg-type]

    if is_missing(value):
        return MISSING
    decimals_of_value = number_decimals(value)  # type: ignore[arg-type]
    unit = " pp" if kind == "pp" else ""
    text = one(value) + unit
    if is_missing(low) and is_missing(high):
        return text
    return f"{text} ({100 * level:g}% CI {one(low)} to {one(high)})"


def format_value(value: object) -> str:
    """Any single value shown in a report: text as given, counts and measurements formatted.

    Examples
    --------
    >>> format_value("a"), format_value(12000), format_value(0.21456), format_value(True)
    ('a', '12,000', '0.215', 'yes')
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Integral):
        return f"{int(value):,}"
    if isinstance(value, Real):
        return format_number(value)
    if is_missing(value):
        return MISSING
    return str(value)


def plural(count, unit: str, units: str | None = None) -> str:
    """A count with its unit, singular for exactly one: ``"1 day"``, ``"2 days"``, ``"1,200 users"``.

    Examples
    --------
    >>> plural(1, "day"), plural(2.0, "day"), plural(1200, "user"), plural(3, "person", "people")
    ('1 day', '2 days', '1,200 users', '3 people')
    """
    value = float(count)
    text = f"{value:,.0f}" if value.is_integer() else f"{value:,.1f}"
    return f"{text} {unit if value == 1 else (units or unit + 's')}"
