"""A/B split tests: per-user metrics, statistics, power and the plain-language verdict."""

from .analyze import *  # noqa: F401,F403
from .analyze import __all__ as _analyze_all
from .metrics import *  # noqa: F401,F403
from .metrics import __all__ as _metrics_all
from .power import *  # noqa: F401,F403
from .power import __all__ as _power_all
from .stats import *  # noqa: F401,F403
from .stats import __all__ as _stats_all

__all__ = [*_analyze_all, *_metrics_all, *_stats_all, *_power_all]
