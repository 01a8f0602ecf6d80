"""What a schedule policy is: one unit that declares everything in which
policies differ, so that no code outside it names a policy.

To add a policy: a file beside this one with a `Policy` subclass (its
spec, validation, schedule and docs; its float32 state where reset_cycle
changes a number), one registration line in `policies/__init__.py`, and
its tests.
"""
from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import numpy as np

from ..checks import number

MOMENTUM_KEYS = ('base_momentum', 'max_momentum')
MOMENTUM_DOC = """\
    base_momentum, max_momentum: floats, given together, 0 <= base <=
        max < 1 (default None: the momentum argument holds). A cyclical
        momentum (`momentum` of SGD, `beta_1` of Adam, Adamax and Nadam),
        moving inversely to the learning rate.
"""


class Policy(object):
    """A schedule policy. Class attributes declare it; methods are pure
    functions of its spec (the validated `clr`, a namedtuple whose first
    field is `policy`) and of its float32 state."""
    name = None           # clr['policy']
    keys = ()             # its own clr keys (besides 'policy' and momentum)
    required = ()         # the keys without a default
    momentum = False      # whether it can drive a cyclical momentum
    uses_decay = False    # whether the optimizer's `decay` lowers its base
    resettable = ()       # the keys reset_cycle may change, in this order
    lr_role = ''          # what the optimizer's lr is to it (docs, errors)
    doc = ''              # its keys, with defaults, for help() and errors
    foreign = {}          # other libraries' names for its settings: advice

    @property
    def all_keys(self):
        """Every key its `clr` may hold, 'policy' first."""
        return ('policy',) + self.keys + (MOMENTUM_KEYS if self.momentum
                                          else ())

    def validate(self, clr, lr, momentum, nested):
        """The spec of a `clr` dict (whose keys are known and whose
        required keys are present), for base rate `lr` and the validated
        (base_momentum, max_momentum) pair (or Nones); `nested(clr, lr)`
        validates another policy's `clr` dict for the same optimizer (for
        a policy that runs one)."""
        raise NotImplementedError

    def state(self, spec):
        """((name, float32 value), ...): the schedule's variables, saved
        with the model and set by reset_cycle."""
        return ()

    def from_state(self, clr, state):
        """The `clr` dict that a restored state (name -> float) stands for:
        the truth after `set_weights` or a direct assign."""
        return clr

    def schedule(self, ops, c, base, now):
        """(lr, momentum or None) in float64 at cycle count c (float32),
        from the base rate (float64) and `now`, a `Current`: the spec's
        settings and the state's numbers (float32 tensors or numpy
        scalars). One function over `GraphOps` and `NumpyOps`."""
        raise NotImplementedError

    def length(self, spec):
        """The updates after which the schedule holds its final value, or
        None when it goes on (the callbacks warn when a fit runs past)."""
        return None

    def resolved(self, clr, spec):
        """The `clr` dict as the optimizer keeps it (e.g. a name made the
        function it names)."""
        return clr

    def config(self, clr):
        """The `clr` dict with plain JSON values, for `get_config`."""
        return clr

    def check_reset(self, spec, changes):
        """Refuses reset_cycle changes that the graph cannot take."""


class Current(object):
    """What a policy's `schedule` reads: its spec's fields, with the numbers
    that `reset_cycle` and `set_weights` change taken from the state (the
    graph's float32 variables, or numpy values in `clr_schedule`), and the
    state's other entries by name (`now.inv_step_size`). A number the
    policy lets `reset_cycle` change cannot be read from the spec, where it
    could be stale: reading one the state does not hold fails (a key the
    spec leaves None reads None). Another policy's spec inside the spec
    reads as its own `Current`."""

    def __init__(self, spec, state):
        from . import POLICIES     # the table imports this module
        self._policy, self._spec, self._state = POLICIES[spec.policy], spec, \
            state

    def __getattr__(self, name):
        if name in self._state:
            return self._state[name]
        value = getattr(self._spec, name)
        if value is not None and name in self._policy.resettable:
            raise AttributeError(
                'policy %r: %s is a number reset_cycle changes; read the '
                'state that holds it (%s), not the spec.'
                % (self._spec.policy, name, ', '.join(self._state)))
        if isinstance(value, tuple) and getattr(value, 'policy', None):
            return Current(value, self._state)
        return value


def set_from_state(clr, key, value, state_of, candidate):
    """Sets clr[key] from a restored state value unless the dict's own value
    already gives that state (so an unchanged 2000 stays 2000, not
    1999.9999 through 1 / float32(1 / 2000)).

    # Arguments
        value: the restored float32 state.
        state_of: the function from a key's value to its state.
        candidate: the key's value for `value`.
    """
    if key not in clr or np.float32(state_of(clr[key])) != np.float32(value):
        clr[key] = candidate
    return clr


def max_lr(clr, lr):
    """The upper bound of a policy that rises from lr."""
    return number("clr['max_lr']", clr['max_lr'],
                  '>= 0 and >= the base learning rate (%r)' % lr,
                  lambda v: v >= 0 and v >= lr)
