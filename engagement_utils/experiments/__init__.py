"""A/B split tests: per-user metrics, statistics, power and the plain-language verdict."""

from .power import *  # noqa: F401,F403
from .power import __all__ as _power_all
from .stats import *  # noqa: F401,F403
from .stats import __all__ as _stats_all

__all__ = [*_stats_all, *_power_all]
