"""Charts: one function per chart, taking the frames the computing modules return.

Plot functions never compute statistics; they draw what they are given and
return the matplotlib ``Axes`` (or ``Figure`` for multi-panel charts).
"""

from ._style import error_extents, percent_axis, set_theme
from .overview import *  # noqa: F401,F403
from .retention import *  # noqa: F401,F403
from .engagement import *  # noqa: F401,F403
from .experiments import *  # noqa: F401,F403
from .personas import *  # noqa: F401,F403
