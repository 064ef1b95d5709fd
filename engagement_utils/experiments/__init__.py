"""A/B split tests: sufficient statistics, comparisons, sequential tests, power and the plain-language verdict.

Every input shape — an event log with assignments (:func:`experiment_users`), a per-user
table, per-arm summary statistics (:func:`read_summaries`) — reduces to :class:`Summaries`,
the one input of every comparison (:func:`compare`), and :func:`analyze_experiment`
builds the table and the verdict (:mod:`.narrative`) from them.
"""

from .analyze import *  # noqa: F401,F403
from .analyze import __all__ as _analyze_all
from .compare import *  # noqa: F401,F403
from .compare import __all__ as _compare_all
from .inference import *  # noqa: F401,F403
from .inference import __all__ as _inference_all
from .inputs import *  # noqa: F401,F403
from .inputs import __all__ as _inputs_all
from .loading import *  # noqa: F401,F403
from .loading import __all__ as _loading_all
from .metrics import *  # noqa: F401,F403
from .metrics import __all__ as _metrics_all
from .power import *  # noqa: F401,F403
from .power import __all__ as _power_all
from .regression import *  # noqa: F401,F403
from .regression import __all__ as _regression_all
from .sequential import *  # noqa: F401,F403
from .sequential import __all__ as _sequential_all
from .simulate import *  # noqa: F401,F403
from .simulate import __all__ as _simulate_all
from .stats import *  # noqa: F401,F403
from .stats import __all__ as _stats_all
from .userlevel import *  # noqa: F401,F403
from .userlevel import __all__ as _userlevel_all
from .sufficient import *  # noqa: F401,F403
from .sufficient import __all__ as _sufficient_all

__all__ = [*_analyze_all, *_compare_all, *_inference_all, *_inputs_all, *_loading_all, *_metrics_all, *_stats_all, *_power_all, *_sequential_all, *_regression_all, *_simulate_all,
           *_sufficient_all, *_userlevel_all]
