"""Docstring fragments written once and substituted into the docstrings that share them (private).

A parameter that several public functions take with one meaning (the glossary in
CONTRIBUTING.md) is documented here once; a docstring names the fragment on a line
of its own, ``{fragment_name}``, and :func:`fill_doc` replaces that line by the
fragment indented as the line was.  ``help()``, the rendered docs and the doctests
see the full text (the same idea as MNE's ``fill_doc`` or pandas' ``@doc``).
"""

from __future__ import annotations

import re
import textwrap

__all__ = ["DOCS", "PLACEHOLDER", "fill_doc"]

DOCS: dict[str, str] = {
    # power analysis (experiments.power)
    "baseline": """\
baseline : float
    Control rate (binary metrics) or mean (mean metrics).""",
    "mde": """\
mde : float
    True effect: absolute (0.01 = +1 pp) or relative (0.05 = +5%) with ``relative=True``.""",
    "power_metric": """\
kind : {"binary", "mean"}, default "binary"
    The metric's kind: a rate of 0/1 outcomes or a per-user mean.
sd : float, optional
    Standard deviation per user (mean metrics).
alpha : float, default 0.05
    Two-sided significance level (split over ``n_variants - 1`` comparisons).""",
    "power_target": """\
power : float, default 0.8
    Probability of a significant result the plan must reach.""",
    "n_variants": """\
n_variants : int, default 2
    Arms including the control.""",
    # per-user comparisons (experiments.userlevel)
    "variant_control": """\
variant, control : str
    Variant column and the name of the control variant.""",
    "alpha_ci": """\
alpha : float, default 0.05
    Confidence intervals have level ``1 - alpha``.""",
    # cohort retention (retention.cohorts)
    "cohort_definition": """\
cohorts : {"first_time", "recurring"}
    First-time: a user's cohort is the period of their first start event.
    Recurring: a user belongs to every period in which they did the start event.
start_events, return_events : str or list of str, optional
    What starts a cohort and what counts as a return (default: any event).
    A return in the start period counts for period 0.
segment : str, optional
    Event column to break cohorts down by (value on the member's start event;
    missing values become ``"(missing)"``).  Attach user-table properties with
    ``io.attach_user_properties`` first.""",
    "cohort_options": """\
start, end : str or Timestamp, optional
    Report cohorts whose period starts in ``[start, end)``; events at or after
    ``end`` are ignored (``end`` is then the data end), events before ``start``
    still decide who is new.
tz : str
clock : {"calendar", "rolling"}
    "rolling": period k is the window ``[start + k·24h, start + (k+1)·24h)``
    after each user's first start (7·24h for weeks); first-time cohorts only.
include_partial : bool, default False
    Count periods still in progress at the data end instead of censoring them.""",
    "alpha_wilson": """\
alpha : float, default 0.05
    The Wilson intervals have level ``1 - alpha``.""",
}
"""Fragment name -> text, unindented; the docstring line naming a fragment sets its indent."""

# Only a placeholder alone on its line is replaced, so braces elsewhere in a docstring
# (dict reprs in doctest output, option sets such as {"day", "week"}) are left as written.
PLACEHOLDER = re.compile(r"^([ \t]*)\{(\w+)\}[ \t]*$", re.MULTILINE)


def fill_doc(func):
    """Decorator: replace each line ``{name}`` of ``func``'s docstring by ``DOCS[name]``.

    An unknown name raises ``KeyError`` when the module is imported.

    Examples
    --------
    >>> @fill_doc
    ... def f(n_variants=2):
    ...     '''Compute.
    ...
    ...     Parameters
    ...     ----------
    ...     {n_variants}
    ...     '''
    >>> print(f.__doc__.splitlines()[-2].strip())
    Arms including the control.
    """
    # ``python -OO`` strips docstrings: there is then nothing to fill.
    if func.__doc__:
        func.__doc__ = PLACEHOLDER.sub(lambda m: textwrap.indent(DOCS[m.group(2)], m.group(1)), func.__doc__)
    return func
