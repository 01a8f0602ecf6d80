"""The table of schedule policies: one registration line each.

`POLICIES` maps `clr['policy']` to its `Policy` (see `base.py`); the first
registered is the default, used when `clr` has no 'policy' key.
"""
from __future__ import absolute_import

import collections

from .base import Policy  # noqa: F401 (what a policy subclasses)

POLICIES = collections.OrderedDict()


def register(policy):
    """Adds a `Policy` instance to the table, under its name."""
    if policy.name in POLICIES:
        raise ValueError('clr policy %r is registered already.'
                         % (policy.name,))
    POLICIES[policy.name] = policy
    return policy


def default():
    """The policy of a `clr` dict without a 'policy' key."""
    return next(iter(POLICIES))


from .cyclic import Cyclic, register_scale_fn  # noqa: E402,F401
from .one_cycle import OneCycle  # noqa: E402
from .cosine_restarts import CosineRestarts  # noqa: E402
from .phases import Phases  # noqa: E402

register(Cyclic())
register(OneCycle())
register(CosineRestarts())
register(Phases())
