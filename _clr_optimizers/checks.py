"""Numbers as the graph sees them: validation shared by every setting.

Every check raises `TypeError` or `ValueError` naming the setting, the bad
value and what is allowed.
"""
from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import difflib
import math
import numbers

import numpy as np

FLOAT32 = np.finfo(np.float32)
# Magnitudes the graph computes with: 0, or float32's normal range.
NORMAL = 'zero or of magnitude %.8g to %.8g, float32\'s normal range, in ' \
         'which the graph computes' % (FLOAT32.tiny, FLOAT32.max)
# State that get_config reports and the constructor accepts back.
STATE_KEYS = ('iterations', 'cycle_iterations', 'current_lr',
              'current_momentum', 'lr_scale', 'lr_written', 'lr_scale_before')


def number(where, value, allowed, test):
    """Checks that `value` is a finite real number passing `test` that
    float32 represents as a normal number (or zero): no overflow to inf, no
    underflow to zero or to a subnormal. Integer and float numpy scalars are
    numbers; bools and strings are not."""
    if (isinstance(value, (bool, np.bool_)) or
            not isinstance(value, numbers.Real)):
        raise TypeError('%s must be a number %s; got %r (%s).'
                        % (where, allowed, value, type(value).__name__))
    value_ = float(value)
    if not (math.isfinite(value_) and test(value_)):
        raise ValueError('%s must be a finite number %s; got %r.'
                         % (where, allowed, value))
    with np.errstate(over='ignore', under='ignore'):
        single = abs(float(np.float32(value_)))
    if value_ != 0 and not FLOAT32.tiny <= single <= FLOAT32.max:
        raise ValueError('%s must be %s (%s); got %r.'
                         % (where, NORMAL, allowed, value))
    return value_


def non_negative(where, value, allowed='>= 0'):
    """A number >= 0 (see `number`); `allowed` says so, with any reason."""
    return number(where, value, allowed, lambda v: v >= 0)


def steps(where, value, allowed):
    """A length in updates: at least one, since the schedule is evaluated
    at whole updates (a shorter step would freeze or skip the cycle)."""
    return number(where, value, '>= 1 (%s; the schedule moves once per '
                  'update, so a step shorter than one update would freeze '
                  'or skip the cycle)' % allowed, lambda v: v >= 1)


def whole_steps(where, value, allowed):
    """A whole number of updates, at least one."""
    value_ = steps(where, value, allowed)
    if value_ != int(value_):
        raise ValueError('%s must be a whole number of updates (%s); got %r.'
                         % (where, allowed, value))
    return value_


def count(where, value):
    """A saved counter: a whole number of updates, >= 0, below 2**63."""
    return number(where, value, 'and a whole number >= 0 (a count of '
                  'updates)', lambda v: 0 <= v < 2. ** 63 and v == int(v))


def choice(where, value, choices):
    if value not in choices:
        raise ValueError('%s must be one of %s; got %r.'
                         % (where, ', '.join(repr(c) for c in choices), value))
    return value


def flag(where, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError('%s must be True or False; got %r (%s).'
                        % (where, value, type(value).__name__))
    return bool(value)


def did_you_mean(name, allowed):
    """' Did you mean X?' for the closest allowed name, or ''."""
    close = difflib.get_close_matches(str(name), list(allowed), n=1)
    return (' Did you mean %r?' % close[0]) if close else ''


def validate_state(state):
    """Validates the state keys a config carries (see `get_config`)."""
    for key in ('iterations', 'cycle_iterations'):
        if key in state:
            count(key, state[key])
    if state.get('cycle_iterations', 0) > state.get('iterations', np.inf):
        raise ValueError('cycle_iterations must be <= iterations (the cycle '
                         'counter restarts, the step counter does not); got '
                         'cycle_iterations=%r, iterations=%r.'
                         % (state['cycle_iterations'], state['iterations']))
    if 'current_lr' in state:
        non_negative('current_lr', state['current_lr'])
    if 'current_momentum' in state:
        number('current_momentum', state['current_momentum'], 'in [0, 1)',
               lambda v: 0 <= v < 1)
    for key in ('lr_scale', 'lr_scale_before'):
        if key in state:
            non_negative(key, state[key], ">= 0 (the factor that Keras's "
                         'LR callbacks set on the schedule)')
    if 'lr_written' in state:
        non_negative('lr_written', state['lr_written'], ">= 0 (the value "
                     "Keras's LR callbacks last wrote to optimizer.lr)")
    if ('lr_written' in state) != ('lr_scale_before' in state):
        raise ValueError('lr_written and lr_scale_before go together (a '
                         'write to optimizer.lr that no update followed); '
                         'got %s.' % ', '.join(
                             '%s=%r' % (key, state[key]) for key in
                             ('lr_written', 'lr_scale_before')
                             if key in state))
