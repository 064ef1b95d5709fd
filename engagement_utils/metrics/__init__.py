"""Engagement KPIs (DESIGN §5), one module per concern.

* :mod:`.activity`: DAU / WAU / MAU, stickiness, active-days distribution,
  engagement rate, returning visitor rate;
* :mod:`.conversion`: conversion rate, lifecycle, churn, CPA / CAC;
* :mod:`.surveys`: NPS / CSAT / CES;
* :mod:`.observational`: per-user outcomes, raw and stratified group
  comparisons (observational), message reach and response.

Every analysis takes the events as a frame or an
:class:`~engagement_utils.core.EventLog`; breakdowns come back in a column
called ``segment``; proportions carry Wilson intervals of level ``1 - alpha``.
"""

from .activity import *  # noqa: F401,F403
from .activity import __all__ as _activity
from .conversion import *  # noqa: F401,F403
from .conversion import __all__ as _conversion
from .observational import *  # noqa: F401,F403
from .observational import __all__ as _observational
from .surveys import *  # noqa: F401,F403
from .surveys import __all__ as _surveys

__all__ = [*_activity, *_conversion, *_surveys, *_observational]
