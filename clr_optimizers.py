"""Keras 2.3.1 optimizers with cyclical learning rates computed in the graph.

The seven standard Keras optimizers (SGD, RMSprop, Adagrad, Adadelta, Adam,
Adamax, Nadam), each taking the arguments of its `keras.optimizers` namesake
plus `clr`, a dict that turns on a cyclical learning rate (Smith, 2017).  The
schedule is evaluated inside the training graph at every update: no callback,
no extra session run, deterministic, and saved with the model.

```python
from clr_optimizers import *
model.compile(optimizer=Adam(lr=0.001, clr={'max_lr': 0.006,
                                            'step_size': 2000}),
              loss='binary_crossentropy')
```

# Step convention
Let k be the number of updates already applied (k = 0 for the first).  Every
read of the step counter within one update sees k (the schedule, `decay`, and
the bias correction of Adam, Adamax and Nadam with t = k + 1); the counters are
incremented after all of the update's reads, ordered by control dependencies.

# References
    - [Cyclical Learning Rates for Training Neural Networks](
       https://arxiv.org/abs/1506.01186)
"""
from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import difflib
import math
import numbers
import os
import tempfile

import numpy as np
import tensorflow as tf
from tensorflow.python.ops import resource_variable_ops
from tensorflow.python.training import training_ops
from keras import backend as K
from keras import callbacks as keras_callbacks
from keras import optimizers as keras_optimizers
from keras.legacy import interfaces
from keras.utils.generic_utils import CustomObjectScope
from keras.utils.generic_utils import get_custom_objects

__version__ = '0.3.0'

__all__ = ['SGD', 'RMSprop', 'Adagrad', 'Adadelta', 'Adam', 'Adamax', 'Nadam',
           'clr_schedule', 'custom_objects', 'register_scale_fn',
           'OptimizerStateError', 'LRLogger', 'AtomicModelCheckpoint',
           'lr_range_test', 'LRRangeTestResult']


class OptimizerStateError(Exception):
    """The optimizer state given to `set_weights` does not fit the optimizer.

    Deliberately not a `ValueError`: Keras's `load_model` catches
    `ValueError` from `set_weights` and silently continues with a freshly
    initialized optimizer, which would restart the schedule.
    """


# ---------------------------------------------------------------------------
# Numbers as the graph sees them: validation shared by every setting.
# ---------------------------------------------------------------------------

_FLOAT32 = np.finfo(np.float32)
# Magnitudes the graph computes with: 0, or float32's normal range.
_NORMAL = 'zero or of magnitude %.8g to %.8g, float32\'s normal range, in ' \
          'which the graph computes' % (_FLOAT32.tiny, _FLOAT32.max)
# State that get_config reports and the constructor accepts back.
_STATE_KEYS = ('iterations', 'cycle_iterations', 'current_lr',
               'current_momentum')


def _number(where, value, allowed, test):
    """Checks that `value` is a finite real number passing `test` that
    float32 represents as a normal number (or zero): no overflow to inf, no
    underflow to zero or to a subnormal. Integer and float numpy scalars are
    numbers; bools and strings are not."""
    if (isinstance(value, (bool, np.bool_)) or
            not isinstance(value, numbers.Real)):
        raise TypeError('%s must be a number %s; got %r (%s).'
                        % (where, allowed, value, type(value).__name__))
    number = float(value)
    if not (math.isfinite(number) and test(number)):
        raise ValueError('%s must be a finite number %s; got %r.'
                         % (where, allowed, value))
    with np.errstate(over='ignore', under='ignore'):
        single = abs(float(np.float32(number)))
    if number != 0 and not _FLOAT32.tiny <= single <= _FLOAT32.max:
        raise ValueError('%s must be %s (%s); got %r.'
                         % (where, _NORMAL, allowed, value))
    return number


def _steps(where, value, allowed):
    """A length in updates: at least one, since the schedule is evaluated
    at whole updates (a shorter step would freeze or skip the cycle)."""
    return _number(where, value, '>= 1 (%s; the schedule moves once per '
                   'update, so a step shorter than one update would freeze '
                   'or skip the cycle)' % allowed, lambda v: v >= 1)


def _count(where, value):
    """A saved counter: a whole number of updates, >= 0, below 2**63."""
    return _number(where, value, 'and a whole number >= 0 (a count of '
                   'updates)', lambda v: 0 <= v < 2. ** 63 and v == int(v))


def _choice(where, value, choices):
    if value not in choices:
        raise ValueError('%s must be one of %s; got %r.'
                         % (where, ', '.join(repr(c) for c in choices), value))
    return value


def _validate_state(state):
    """Validates the state keys a config carries (see `get_config`)."""
    for key in ('iterations', 'cycle_iterations'):
        if key in state:
            _count(key, state[key])
    if state.get('cycle_iterations', 0) > state.get('iterations', np.inf):
        raise ValueError('cycle_iterations must be <= iterations (the cycle '
                         'counter restarts, the step counter does not); got '
                         'cycle_iterations=%r, iterations=%r.'
                         % (state['cycle_iterations'], state['iterations']))
    if 'current_lr' in state:
        _number('current_lr', state['current_lr'], '>= 0', lambda v: v >= 0)
    if 'current_momentum' in state:
        _number('current_momentum', state['current_momentum'], 'in [0, 1)',
                lambda v: 0 <= v < 1)


# ---------------------------------------------------------------------------
# The `clr` dict: one validation for all seven optimizers, then the policy's.
# ---------------------------------------------------------------------------

def _validate_clr(clr, lr, momentum_arg, owner):
    """Validates a `clr` dict against the optimizer's learning rate.

    # Arguments
        clr: the user's dict.
        lr: float, the optimizer's learning rate.
        momentum_arg: name of the argument cyclical momentum drives
            ('momentum' or 'beta_1'), or None when the optimizer has none.
        owner: name used in messages.

    # Returns
        The policy's spec: a namedtuple whose fields are the policy's keys,
        defaults filled in, numbers as floats.

    # Raises
        TypeError, ValueError: naming the key, the value and what is allowed.
    """
    if not isinstance(clr, dict):
        raise TypeError('clr must be a dict such as {"max_lr": 0.006, '
                        '"step_size": 2000} or None; got %r (%s).'
                        % (clr, type(clr).__name__))
    name = clr.get('policy', 'cyclic')
    if name not in _POLICIES:
        close = difflib.get_close_matches(str(name), list(_POLICIES), n=1)
        raise ValueError("clr['policy'] must be one of %s; got %r.%s"
                         % (', '.join(repr(p) for p in _POLICIES), name,
                            (' Did you mean %r?' % close[0]) if close else ''))
    policy = _POLICIES[name]
    for key in clr:
        if key not in policy.keys:
            close = difflib.get_close_matches(str(key), policy.keys, n=1)
            hint = (' Did you mean %r?' % close[0]) if close else ''
            raise ValueError('Unknown clr key %r (value %r).%s Allowed keys '
                             'for policy %r: %s.' % (key, clr[key], hint, name,
                                                     ', '.join(policy.keys)))
    for key in policy.required:
        if key not in clr:
            raise ValueError('clr is missing the required key %r; got %r.'
                             % (key, clr))
    return policy.validate(clr, lr, _momentum_bounds(clr, momentum_arg,
                                                     owner))


def _momentum_bounds(clr, momentum_arg, owner):
    """(base_momentum, max_momentum) as floats, or (None, None)."""
    has_base = clr.get('base_momentum') is not None
    has_max = clr.get('max_momentum') is not None
    if not (has_base or has_max):
        return None, None
    if momentum_arg is None:
        raise ValueError('%s has no momentum: clr keys base_momentum and '
                         'max_momentum are for SGD, Adam, Adamax and Nadam; '
                         'got base_momentum=%r, max_momentum=%r.'
                         % (owner, clr.get('base_momentum'),
                            clr.get('max_momentum')))
    if not (has_base and has_max):
        raise ValueError('clr needs base_momentum and max_momentum '
                         'together; got base_momentum=%r, max_momentum=%r.'
                         % (clr.get('base_momentum'), clr.get('max_momentum')))
    base_m = _number("clr['base_momentum']", clr['base_momentum'],
                     'in [0, 1)', lambda v: 0 <= v < 1)
    max_m = _number("clr['max_momentum']", clr['max_momentum'],
                    'in [0, 1) and >= base_momentum (%r)'
                    % clr['base_momentum'], lambda v: base_m <= v < 1)
    return base_m, max_m


def _check_decay(spec, decay):
    """decay lowers the cyclic policy's base; the other policies set the
    whole schedule themselves, so decay is refused with them."""
    if spec is not None and spec.policy != 'cyclic' and decay > 0:
        raise ValueError('decay=%r is not used with clr policy %r, which sets '
                         'the whole schedule (its floor included); leave decay '
                         'at 0.' % (decay, spec.policy))


def _max_lr(clr, lr):
    return _number("clr['max_lr']", clr['max_lr'],
                   '>= 0 and >= the base learning rate (%r)' % lr,
                   lambda v: v >= 0 and v >= lr)


# The cyclical policy of Smith (2017): a triangular window of step_size
# updates up and step_size_down (default step_size) down, its amplitude
# scaled by `mode` or a `scale_fn`.
CyclicSpec = collections.namedtuple('CyclicSpec', (
    'policy', 'max_lr', 'step_size', 'step_size_down', 'mode', 'gamma',
    'scale_fn', 'scale_mode', 'base_momentum', 'max_momentum'))
_MODES = ('triangular', 'triangular2', 'exp_range')
_SCALE_MODES = ('cycle', 'iterations')


def _validate_cyclic(clr, lr, momentum):
    max_lr = _max_lr(clr, lr)
    step_up = _steps("clr['step_size']", clr['step_size'],
                     'updates per half cycle')
    step_down = None
    if clr.get('step_size_down') is not None:
        step_down = _steps("clr['step_size_down']", clr['step_size_down'],
                           'updates in the falling half')
        with np.errstate(over='ignore'):
            total = np.float32(step_up) + np.float32(step_down)
        if not math.isfinite(total):
            raise ValueError(
                "clr['step_size'] + clr['step_size_down'] must be at most "
                "%.8g, float32's largest number, since the graph counts a "
                "cycle's length in float32; got %r + %r."
                % (_FLOAT32.max, clr['step_size'], clr['step_size_down']))
    mode = _choice("clr['mode']", clr.get('mode', 'triangular'), _MODES)
    gamma = 1.0
    if 'gamma' in clr:
        gamma = _number("clr['gamma']", clr['gamma'], 'in (0, 1]',
                        lambda v: 0 < v <= 1)
        if mode != 'exp_range':
            raise ValueError("clr['gamma'] = %r is only used by mode "
                             "'exp_range'; mode is %r." % (clr['gamma'], mode))
    scale_fn = clr.get('scale_fn')
    if isinstance(scale_fn, str):   # a registered name, as saved in configs
        scale_fn = _resolve_scale_fn(scale_fn)
    if scale_fn is not None and not callable(scale_fn):
        raise TypeError("clr['scale_fn'] must be a callable mapping a float32 "
                        "tensor to a float32 tensor; got %r." % (scale_fn,))
    if scale_fn is not None and mode != 'triangular':
        raise ValueError("clr['scale_fn'] replaces the mode; give one of them, "
                         "not mode %r as well." % mode)
    scale_mode = 'cycle'
    if 'scale_mode' in clr:
        scale_mode = _choice("clr['scale_mode']", clr['scale_mode'],
                             _SCALE_MODES)
        if scale_fn is None:
            raise ValueError("clr['scale_mode'] = %r is only used with "
                             "clr['scale_fn'], which is not given."
                             % (clr['scale_mode'],))
    return CyclicSpec('cyclic', max_lr, step_up, step_down, mode, gamma,
                      scale_fn, scale_mode, *momentum)


def _cyclic_state(spec):
    """The cyclic policy's float32 state: max_lr, then the cycle's length as
    the window needs it (1 / step_size when symmetric)."""
    f32 = np.float32
    if spec.step_size_down is None:
        return (('max_lr', f32(spec.max_lr)),
                ('inv_step_size', f32(1) / f32(spec.step_size)))
    return (('max_lr', f32(spec.max_lr)), ('step_size', f32(spec.step_size)),
            ('step_size_down', f32(spec.step_size_down)))


def _cyclic_saved(clr, state):
    """The `clr` a restored cyclic state stands for, to validate it."""
    clr['max_lr'] = state['max_lr']
    if 'inv_step_size' in state:
        _number('inv_step_size', state['inv_step_size'],
                'in (0, 1] (1 / step_size, step_size >= 1)',
                lambda v: 0 < v <= 1)
        clr['step_size'] = 1. / state['inv_step_size']
    else:
        clr.update(step_size=state['step_size'],
                   step_size_down=state['step_size_down'])
    return clr



def _whole_steps(where, value, allowed):
    """A whole number of updates, at least one."""
    number = _steps(where, value, allowed)
    if number != int(number):
        raise ValueError('%s must be a whole number of updates (%s); got %r.'
                         % (where, allowed, value))
    return number


def _flag(where, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError('%s must be True or False; got %r (%s).'
                        % (where, value, type(value).__name__))
    return bool(value)


# The one-cycle policy of Smith and Topin (2017), as PyTorch's OneCycleLR:
# from lr up to max_lr over pct_start of total_steps, then down to
# lr / final_div_factor (three_phase: down to lr, then to the floor).
OneCycleSpec = collections.namedtuple('OneCycleSpec', (
    'policy', 'max_lr', 'total_steps', 'pct_start', 'anneal_strategy',
    'final_div_factor', 'three_phase', 'base_momentum', 'max_momentum'))


def _validate_one_cycle(clr, lr, momentum):
    max_lr = _max_lr(clr, lr)
    total = _whole_steps("clr['total_steps']", clr['total_steps'],
                         'the length of the cycle')
    pct = _number("clr['pct_start']", clr.get('pct_start', 0.3),
                  'in (0, 1)', lambda v: 0 < v < 1)
    strategy = _choice("clr['anneal_strategy']",
                       clr.get('anneal_strategy', 'cos'), ('cos', 'linear'))
    final = _number("clr['final_div_factor']",
                    clr.get('final_div_factor', 1e4), '>= 1',
                    lambda v: v >= 1)
    three = _flag("clr['three_phase']", clr.get('three_phase', False))
    # PyTorch's phase ends: pct * total - 1 (and 2 * pct * total - 2), then
    # total - 1; each phase must last more than one update.
    ends = _one_cycle_ends(pct, total, three)
    lengths = np.diff((0.,) + ends)
    if not np.all(lengths > 0):
        raise ValueError(
            "clr['pct_start'] = %r with clr['total_steps'] = %r leaves a "
            'phase of the cycle without updates (phase ends at %s); the '
            'warm-up needs pct_start * total_steps > 1%s.'
            % (clr.get('pct_start', 0.3), clr['total_steps'],
               ', '.join('%g' % e for e in ends),
               ' and three phases pct_start < 0.5 + 1 / (2 * total_steps)'
               if three else ''))
    return OneCycleSpec('one_cycle', max_lr, total, pct, strategy, final,
                        three, *momentum)


def _one_cycle_ends(pct, total, three):
    """The phases' last steps, as PyTorch's OneCycleLR computes them."""
    if three:
        return (pct * total - 1, 2 * pct * total - 2, total - 1.)
    return (pct * total - 1, total - 1.)


def _one_cycle_state(spec):
    return (('max_lr', np.float32(spec.max_lr)),)


def _one_cycle_saved(clr, state):
    clr['max_lr'] = state['max_lr']
    return clr


# Cosine annealing with warm restarts (Loshchilov and Hutter, SGDR), as TF
# 1.15's cosine_decay_restarts: from lr down to alpha * lr over
# first_decay_steps, each period t_mul times longer and m_mul times lower.
CosineRestartsSpec = collections.namedtuple('CosineRestartsSpec', (
    'policy', 'first_decay_steps', 't_mul', 'm_mul', 'alpha',
    'base_momentum', 'max_momentum'))


def _validate_cosine_restarts(clr, lr, momentum):
    first = _steps("clr['first_decay_steps']", clr['first_decay_steps'],
                   'the length of the first period')
    t_mul = _number("clr['t_mul']", clr.get('t_mul', 2.0), '>= 1',
                    lambda v: v >= 1)
    m_mul = _number("clr['m_mul']", clr.get('m_mul', 1.0), 'in (0, 1]',
                    lambda v: 0 < v <= 1)
    alpha = _number("clr['alpha']", clr.get('alpha', 0.0), 'in [0, 1)',
                    lambda v: 0 <= v < 1)
    return CosineRestartsSpec('cosine_restarts', first, t_mul, m_mul, alpha,
                              *momentum)


def _no_state(spec):
    return ()


def _same(clr, state):
    return clr

# ---------------------------------------------------------------------------
# Serialization of user scale functions (by registered name, never pickled).
# ---------------------------------------------------------------------------

def register_scale_fn(fn, name=None):
    """Registers a `scale_fn` with Keras's custom objects so that models
    compiled with it can be saved and loaded by name.

    Usable as a decorator.

    # Arguments
        fn: the scale function.
        name: the name to save it under (default `fn.__name__`).

    # Returns
        `fn`.
    """
    if not callable(fn):
        raise TypeError('register_scale_fn needs a callable; got %r.' % (fn,))
    get_custom_objects()[name or fn.__name__] = fn
    return fn


def _scale_fn_name(fn):
    for name, obj in get_custom_objects().items():
        if obj is fn:
            return name
    raise ValueError(
        "clr['scale_fn'] %r is not registered, so it cannot be saved by name: "
        "register it with clr_optimizers.register_scale_fn(fn) (or in "
        "keras.utils.get_custom_objects()) before saving." % (fn,))


def _resolve_scale_fn(name):
    objects = get_custom_objects()   # includes an active CustomObjectScope
    if name not in objects or not callable(objects[name]):
        raise ValueError(
            "clr['scale_fn'] names %r, which is not registered: call "
            "clr_optimizers.register_scale_fn(fn, %r) or pass it in "
            "custom_objects before loading." % (name, name))
    return objects[name]


# ---------------------------------------------------------------------------
# The schedules: pure functions of the step counts, written once over two
# sets of ops (the training graph's and numpy's), evaluated in float64 from
# the float32 state and rounded to float32 once.
# ---------------------------------------------------------------------------

class _GraphOps(object):
    """Backend ops: the schedule as it runs in the training graph.

    `deps`: ops that the final learning rate (and momentum) must wait for.
    """
    floor = staticmethod(tf.floor)
    abs = staticmethod(tf.abs)
    where = staticmethod(tf.where)
    minimum = staticmethod(tf.minimum)
    maximum = staticmethod(tf.maximum)
    cos = staticmethod(tf.cos)
    sin = staticmethod(tf.sin)
    square = staticmethod(tf.square)
    log = staticmethod(tf.math.log)

    def __init__(self, deps=()):
        self.deps = list(deps)

    @staticmethod
    def const(x):
        return tf.constant(x, dtype=tf.float64)

    @staticmethod
    def pow(x, y):
        return tf.pow(x, y)

    @staticmethod
    def wide(x):
        """float32 -> float64, exactly."""
        return tf.cast(x, tf.float64)

    def narrow(self, x):
        """float64 -> float32, rounded once; magnitudes below float32's
        normal range become 0 (as they would with flush-to-zero)."""
        x = tf.where(tf.abs(x) < _FLOAT32.tiny, tf.zeros_like(x), x)
        with tf.control_dependencies(self.deps):
            return tf.cast(x, tf.float32)

    @staticmethod
    def scale_fn(fn, x):
        return tf.cast(fn(tf.cast(x, tf.float32)), tf.float64)


class _NumpyOps(object):
    """The same operations in numpy, for `clr_schedule`, plots and tests."""
    floor = staticmethod(np.floor)
    abs = staticmethod(np.abs)
    where = staticmethod(np.where)
    minimum = staticmethod(np.minimum)
    maximum = staticmethod(np.maximum)
    cos = staticmethod(np.cos)
    sin = staticmethod(np.sin)
    square = staticmethod(np.square)

    @staticmethod
    def log(x):
        with np.errstate(divide='ignore', invalid='ignore'):
            return np.log(x)

    @staticmethod
    def const(x):
        return np.float64(x)

    @staticmethod
    def pow(x, y):
        with np.errstate(over='ignore', under='ignore'):
            return np.power(x, y)

    @staticmethod
    def wide(x):
        return np.asarray(x, np.float32).astype(np.float64)

    @staticmethod
    def narrow(x):
        x = np.where(np.abs(x) < _FLOAT32.tiny, 0., x)
        return np.asarray(x, np.float64).astype(np.float32)

    @staticmethod
    def scale_fn(fn, x):
        """Evaluates a backend `scale_fn` one scalar at a time, as the graph
        does, so that transcendental functions round identically."""
        x = np.asarray(x, np.float64).astype(np.float32)
        with tf.Graph().as_default(), tf.Session() as sess:
            arg = tf.placeholder(tf.float32, shape=())
            out = tf.cast(fn(arg), tf.float32)
            values = {v: sess.run(out, {arg: v}) for v in np.unique(x)}
        return np.vectorize(lambda v: values[v], otypes=[np.float32])(
            x).astype(np.float64)


def _between(ops, start, end, h):
    """start + (end - start) * h for h in [0, 1], held between start and
    end. The difference end - start is rounded to float32 (the seed
    notebook's printed rates need it); that half ulp could carry the result
    past an end, hence the bounds."""
    return _held(ops, start + ops.wide(ops.narrow(end - start)) * h, start,
                 end)


def _held(ops, value, start, end):
    """`value` held between start and end, which rounding can step past."""
    return ops.minimum(ops.maximum(value, ops.minimum(start, end)),
                       ops.maximum(start, end))


def _cyclic(ops, c, base, spec, state):
    """Smith's cyclical learning rate at cycle count c (float32), from the
    base rate (float64): (lr, momentum) in float64.

    The symmetric window takes r = c * float32(1 / step_size) rounded to
    float32 (the seed's rule); from there on it is exact: with
    f = floor(r / 2), the cycle is f + 1 and the window 1 - |r - 2f - 1|.
    """
    one = ops.const(1.)
    c64 = ops.wide(c)
    if spec.step_size_down is None:
        r = ops.wide(c * state['inv_step_size'])
        f = ops.floor(r * ops.const(.5))
        s = one - ops.abs(r - (f + f) - one)
        cycle = f + one
    else:
        step_up = ops.wide(state['step_size'])
        total = step_up + ops.wide(state['step_size_down'])
        cycle = ops.floor(one + c64 / total)
        pos = c64 - (cycle - one) * total
        s = ops.where(pos <= step_up, pos / step_up,
                      (total - pos) / ops.wide(state['step_size_down']))
    if spec.scale_fn is not None:
        s = s * ops.scale_fn(spec.scale_fn, cycle if spec.scale_mode == 'cycle'
                             else c64)
    elif spec.mode == 'triangular2':
        s = s / ops.pow(ops.const(2.), cycle - one)
    elif spec.mode == 'exp_range':
        s = s * ops.pow(ops.const(spec.gamma), c64)
    lr = _between(ops, base, ops.wide(state['max_lr']), s)
    momentum = None
    if spec.base_momentum is not None:   # inverse to the learning rate
        momentum = _between(ops, ops.const(_f32(spec.max_momentum)),
                            ops.const(_f32(spec.base_momentum)), s)
    return lr, momentum


def _anneal(ops, start, end, rest, strategy):
    """From start to end as `rest` goes from 1 to 0, in float64: linearly,
    start * rest + end * (1 - rest), or along a half cosine,
    start * sin(pi * rest / 2)**2 + end * cos(pi * rest / 2)**2. Both give
    start and end exactly at the ends and have no cancellation near them
    (PyTorch's end + (start - end) / 2 * (1 + cos(pi * pct)) loses the low
    digits where the value approaches end)."""
    if strategy == 'linear':
        value = start * rest + end * (ops.const(1.) - rest)
    else:
        angle = ops.const(math.pi / 2) * rest
        value = start * ops.square(ops.sin(angle)) + end * ops.square(
            ops.cos(angle))
    return _held(ops, value, start, end)


def _one_cycle(ops, c, base, spec, state):
    """PyTorch's OneCycleLR at step c: (lr, momentum) in float64. Each phase
    interpolates from its start to its end; after total_steps - 1 the last
    phase's end holds."""
    t = ops.wide(c)
    # x * (1 / c), never x / c: TensorFlow's constant folding rewrites the
    # latter into the former, which numpy would not (see _cosine_restarts).
    top, low = ops.wide(state['max_lr']), base * ops.const(
        1. / spec.final_div_factor)
    hi_m = lo_m = None
    if spec.base_momentum is not None:
        hi_m = ops.const(_f32(spec.max_momentum))
        lo_m = ops.const(_f32(spec.base_momentum))
    if spec.three_phase:
        phases = [(base, top, hi_m, lo_m), (top, base, lo_m, hi_m),
                  (base, low, hi_m, hi_m)]
    else:
        phases = [(base, top, hi_m, lo_m), (top, low, lo_m, hi_m)]
    ends = _one_cycle_ends(spec.pct_start, spec.total_steps, spec.three_phase)
    lr = momentum = None
    for i in reversed(range(len(phases))):
        start = 0. if i == 0 else ends[i - 1]
        # the part of the phase still to go: 1 at its start, 0 at its end
        rest = ops.minimum(ops.maximum((ops.const(ends[i]) - t) *
                                       ops.const(1. / (ends[i] - start)),
                                       ops.const(0.)), ops.const(1.))
        lr_a, lr_b, m_a, m_b = phases[i]
        lr_i = _anneal(ops, lr_a, lr_b, rest, spec.anneal_strategy)
        m_i = None if m_a is None else _anneal(ops, m_a, m_b, rest,
                                               spec.anneal_strategy)
        if lr is None:
            lr, momentum = lr_i, m_i
        else:
            inside = t <= ops.const(ends[i])
            lr = ops.where(inside, lr_i, lr)
            if m_i is not None:
                momentum = ops.where(inside, m_i, momentum)
    return lr, momentum


def _cosine_restarts(ops, c, base, spec, state):
    """TF 1.15's cosine_decay_restarts at step c, in float64: (lr, None).

    Period i starts at step first_decay_steps * (t_mul**i - 1) / (t_mul - 1)
    (i * first_decay_steps when t_mul = 1) and lasts first_decay_steps *
    t_mul**i; i comes from a logarithm, corrected by one either way so that
    the period's start <= c < its end exactly. Each product or quotient
    takes at most one constant, no constant multiplies a product, and
    nothing is divided by a constant, so that TensorFlow's constant folding
    (which regroups constants and turns x / c into x * (1 / c)) cannot
    round differently from numpy (measured: it did, at k = 150 of a
    300-step period)."""
    one, t = ops.const(1.), ops.wide(c)
    first, t_mul = spec.first_decay_steps, spec.t_mul
    if t_mul == 1:
        i = ops.floor(t * ops.const(1. / first))
        start = lambda n: n * ops.const(first)  # noqa: E731
    else:
        i = ops.floor(ops.log(t * ops.const((t_mul - 1.) / first) + one) *
                      ops.const(1. / math.log(t_mul)))
        start = lambda n: (ops.pow(ops.const(t_mul), n) - one) * ops.const(  # noqa
            first / (t_mul - 1.))
    i = ops.where(start(i) > t, i - one, i)
    i = ops.where(start(i + one) <= t, i + one, i)
    # pi / 2 times the fraction of the period done
    if t_mul == 1:
        angle = (t - start(i)) * ops.const(math.pi / 2 / first)
    else:
        angle = (t - start(i)) / (ops.pow(ops.const(t_mul), i) *
                                  ops.const(2 * first / math.pi))
    height = ops.pow(ops.const(spec.m_mul), i) * ops.const(1. - spec.alpha)
    return base * (height * ops.square(ops.cos(angle)) +
                   ops.const(spec.alpha)), None


def _f32(value):
    """The float32 value of a setting, as a Python float."""
    return float(np.float32(value))


# One row per policy: its keys and the required ones; `validate` (the clr
# dict -> the spec); `state` (spec -> its float32 state, saved with the
# model and set by reset_cycle); `saved` (the clr a restored state stands
# for, to validate it); and `schedule`, the pure function of the counts.
_Policy = collections.namedtuple('_Policy', 'keys required validate state '
                                 'saved schedule')
_POLICIES = collections.OrderedDict([
    ('cyclic', _Policy(
        keys=('policy', 'max_lr', 'step_size', 'step_size_down', 'mode',
              'gamma', 'scale_fn', 'scale_mode', 'base_momentum',
              'max_momentum'),
        required=('max_lr', 'step_size'), validate=_validate_cyclic,
        state=_cyclic_state, saved=_cyclic_saved, schedule=_cyclic)),
    ('one_cycle', _Policy(
        keys=('policy', 'max_lr', 'total_steps', 'pct_start',
              'anneal_strategy', 'final_div_factor', 'three_phase',
              'base_momentum', 'max_momentum'),
        required=('max_lr', 'total_steps'), validate=_validate_one_cycle,
        state=_one_cycle_state, saved=_one_cycle_saved,
        schedule=_one_cycle)),
    ('cosine_restarts', _Policy(
        keys=('policy', 'first_decay_steps', 't_mul', 'm_mul', 'alpha'),
        required=('first_decay_steps',), validate=_validate_cosine_restarts,
        state=_no_state, saved=_same, schedule=_cosine_restarts)),
])


def _schedule(ops, k, c, lr, decay, spec, state):
    """The learning rate (and momentum) that update k uses, in float32.

    # Arguments
        ops: `_GraphOps` or `_NumpyOps`.
        k: float32, updates already applied (the global step count).
        c: float32, the cycle counter (k since the last `reset_cycle`).
        lr: float32, the optimizer's learning rate.
        decay: float32 or None: `lr / (1 + decay * k)` lowers the base.
        spec: the policy's spec from `_validate_clr`, or None for none.
        state: dict of the policy's float32 state (see `_POLICIES`).

    # Returns
        (lr_k, momentum_k), momentum_k None when momentum does not cycle.
    """
    base = ops.wide(lr)
    if decay is not None:       # keras's decay, rounded once at the end
        base = base / (ops.const(1.) + ops.wide(decay) * ops.wide(k))
    if spec is None:
        return ops.narrow(base), None
    lr_k, momentum_k = _POLICIES[spec.policy].schedule(ops, c, base, spec,
                                                       state)
    return ops.narrow(lr_k), (None if momentum_k is None
                              else ops.narrow(momentum_k))


def clr_schedule(iterations, lr, clr, decay=0.0, cycle_iterations=None,
                 return_momentum=False):
    """The float32 learning rates the optimizers use, computed in numpy.

    Bit-identical to what the graph computes for the same settings, so it
    serves for plots and tests.

    # Arguments
        iterations: int or array of ints, k: updates already applied.
        lr: float, the optimizer's (base) learning rate.
        clr: the `clr` dict, or None.
        decay: float >= 0, the optimizer's `decay`.
        cycle_iterations: the cycle counter (defaults to `iterations`, i.e.
            no `reset_cycle`).
        return_momentum: also return the cyclical momentum (None when the
            dict has no momentum bounds).

    # Returns
        float32 array of the learning rates used by updates `iterations`
        (and the momentum array when `return_momentum`).
    """
    k = np.asarray(iterations, dtype=np.int64).astype(np.float32)
    c = k if cycle_iterations is None else (
        np.asarray(cycle_iterations, dtype=np.int64).astype(np.float32))
    lr = _number('lr', lr, '>= 0', lambda v: v >= 0)
    decay = _number('decay', decay, '>= 0', lambda v: v >= 0)
    spec = None if clr is None else _validate_clr(clr, lr, 'momentum',
                                                  'clr_schedule')
    _check_decay(spec, decay)
    state = {} if spec is None else dict(_POLICIES[spec.policy].state(spec))
    f32 = np.float32
    lr_k, momentum_k = _schedule(_NumpyOps, k, c, f32(lr),
                                 f32(decay) if decay > 0 else None, spec,
                                 state)
    lr_k = lr_k + np.zeros_like(k)   # a constant rate, one per step
    if return_momentum:
        return lr_k, momentum_k
    return lr_k


# ---------------------------------------------------------------------------
# The shared optimizer base: state, the schedule in the graph, config.
# ---------------------------------------------------------------------------

# What one update computed before its rule runs: k (float32, updates already
# applied), this update's learning rate and momentum (None for optimizers
# without one), the cycling momentum to record (or None), and the counter
# reads that the counter increments must follow.
_Step = collections.namedtuple('_Step', 'k lr momentum cycling_momentum reads')


class _LoadGuard(object):
    """Refuses to train a rebuilt optimizer whose saved state never arrived.

    A config that records applied updates (as `load_model` passes it) means
    `set_weights` must restore the counters and slots before the first
    update; if it never does, that update fails instead of restarting the
    schedule from a fresh state.
    """

    def __init__(self, expected):
        self.expected = expected
        self.flag = None

    def assertion(self, owner, iterations):
        """The op the first update waits for, or None."""
        if not self.expected:
            return None
        iterations = K.get_value(iterations)
        self.flag = K.variable(False, dtype='bool', name='state_loaded')
        return tf.debugging.Assert(self.flag, [
            '%s was rebuilt from a config that records %d applied updates, '
            'but its saved state (counters, slots) was never loaded with '
            'set_weights: refusing to continue with a fresh optimizer. Was '
            'the optimizer state removed from the file? When rebuilding a '
            'trained optimizer yourself, build the training function '
            '(model._make_train_function()) and then call '
            'new.set_weights(old.get_weights()).' % (owner, iterations)])

    def loaded(self):
        """Pairs for `K.batch_set_value` that record the state as loaded."""
        self.expected = False
        return [] if self.flag is None else [(self.flag, True)]


class _CLROptimizer(keras_optimizers.Optimizer):
    """Shared state, validation, step ordering and config of the seven.

    Subclasses write their update rule in `get_updates` between
    `step = self._begin_update(grads, params)`, which reads the counters
    and computes this update's learning rate (and momentum), and
    `self._end_update(step, updates)`, which increments the counters after
    every read and records the rate used.
    """

    # The argument that cyclical momentum drives ('momentum', 'beta_1'), or
    # None; its default; what it may be (text, test).
    momentum_argument = None
    _momentum_default = None
    _momentum_allowed = ('>= 0', lambda v: v >= 0)
    # Whether get_updates uses the step count k (bias correction).
    _reads_step_count = False

    def __init__(self, learning_rate, clr=None, momentum=None, **kwargs):
        learning_rate = kwargs.pop('lr', learning_rate)
        self.initial_decay = kwargs.pop('decay', 0.0)
        # State that get_config reports, accepted back so that a config
        # rebuilds the optimizer, through from_config or a plain call
        # (horovod.keras.load_model calls the class with the config).
        state = {key: kwargs.pop(key) for key in _STATE_KEYS if key in kwargs}
        self.fused = kwargs.pop('fused', True)
        if not isinstance(self.fused, bool):
            raise TypeError('fused=%r: expected True or False.'
                            % (self.fused,))
        super(_CLROptimizer, self).__init__(**kwargs)
        self._spec = self._validate(learning_rate, clr, momentum, state)
        self.clr = None
        if clr is not None:
            self.clr = dict(clr)
            if clr.get('scale_fn') is not None:  # a name becomes the function
                self.clr['scale_fn'] = self._spec.scale_fn
        self._guard = _LoadGuard(state.get('iterations', 0) > 0)
        self._make_variables(learning_rate, momentum, state)

    def _validate(self, learning_rate, clr, momentum, state):
        """Validates the arguments; returns the policy's spec (or None)."""
        _validate_state(state)
        lr = _number('learning_rate', learning_rate, '>= 0', lambda v: v >= 0)
        _number('decay', self.initial_decay, '>= 0', lambda v: v >= 0)
        if momentum is not None:
            _number(self.momentum_argument, momentum,
                    *self._momentum_allowed)
        spec = None if clr is None else _validate_clr(
            clr, lr, self.momentum_argument, type(self).__name__)
        _check_decay(spec, self.initial_decay)
        cycles = spec is not None and spec.base_momentum is not None
        if cycles and momentum != self._momentum_default:
            raise ValueError(
                '%s=%r conflicts with clr base_momentum/max_momentum, which '
                'drive %s; leave %s at its default (%r).'
                % ((self.momentum_argument, momentum) +
                   (self.momentum_argument,) * 2 + (self._momentum_default,)))
        if 'cycle_iterations' in state and spec is None:
            raise ValueError('cycle_iterations=%r is state of a cyclical '
                             'learning rate, but clr is None.'
                             % (state['cycle_iterations'],))
        if 'current_momentum' in state and not cycles:
            raise ValueError('current_momentum=%r is state of a cyclical '
                             'momentum, but clr has no base_momentum and '
                             'max_momentum.' % (state['current_momentum'],))
        return spec

    def _make_variables(self, learning_rate, momentum, state):
        """The optimizer's variables. `_state_weights` are those saved with
        the model ahead of the slots, in this order."""
        spec, iterations = self._spec, int(state.get('iterations', 0))
        with K.name_scope(type(self).__name__):
            self.iterations = K.variable(iterations, dtype='int64',
                                         name='iterations')
            self.learning_rate = K.variable(learning_rate,
                                            name='learning_rate')
            self.decay = K.variable(self.initial_decay, name='decay')
            self.current_lr = K.variable(state.get('current_lr', 0.),
                                         name='current_lr')
            self._state_weights = [self.iterations, self.learning_rate,
                                   self.current_lr]
            self._policy_state = collections.OrderedDict()
            if spec is not None:
                self.cycle_iterations = K.variable(
                    int(state.get('cycle_iterations', iterations)),
                    dtype='int64', name='cycle_iterations')
                for name, value in _POLICIES[spec.policy].state(spec):
                    self._policy_state[name] = K.variable(value, name=name)
                self._state_weights.append(self.cycle_iterations)
                self._state_weights += list(self._policy_state.values())
                if self.cycles_momentum:
                    self.current_momentum = K.variable(
                        state.get('current_momentum', 0.),
                        name='current_momentum')
                    self._state_weights.append(self.current_momentum)
            if momentum is not None:
                setattr(self, self.momentum_argument,
                        K.variable(momentum, name=self.momentum_argument))
        self.max_lr = self._policy_state.get('max_lr')

    @property
    def cycles_momentum(self):
        """Whether `clr` drives the momentum (`current_momentum` exists)."""
        return self._spec is not None and self._spec.base_momentum is not None

    # -- the update step ---------------------------------------------------

    def _begin_update(self, grads, params):
        """Reads the counters once and computes this update's learning rate
        (and momentum): a `_Step` for `_end_update`.

        The schedule runs from the counter reads alone, in parallel with the
        forward and backward pass. Reads of resource variables are
        snapshots; where a parameter is a reference variable (whose reads
        alias its buffer), the learning rate also waits for every gradient,
        so that no parameter is written while a gradient may still read it.
        """
        deps = []
        if not all(isinstance(p, resource_variable_ops.ResourceVariable)
                   for p in params):
            deps = [g.op if isinstance(g, tf.IndexedSlices) else g
                    for g in grads]
        guard = self._guard.assertion(type(self).__name__, self.iterations)
        if guard is not None:
            deps.append(guard)
        k = K.cast(self.iterations, 'float32')
        c = None
        if self._spec is not None:
            c = K.cast(self.cycle_iterations, 'float32')
        decay = self.decay if self.initial_decay > 0 else None
        reads = [] if c is None else [c]
        if decay is not None or self._reads_step_count:
            reads.append(k)
        lr, cycling = _schedule(_GraphOps(deps), k, c,
                                _read(self.learning_rate), decay, self._spec,
                                self._policy_state)
        momentum = cycling
        if momentum is None and self.momentum_argument is not None:
            momentum = _read(getattr(self, self.momentum_argument))
        return _Step(k, lr, momentum, cycling, reads)

    def _end_update(self, step, updates, state_updates=()):
        """Appends the counter increments (after the counter reads), the
        rate (and momentum) this step used, and the state updates (after
        `updates`); returns all the step's updates.

        # Arguments
            step: the `_Step` from `_begin_update`.
            updates: the parameter and slot update ops of this step.
            state_updates: (variable, new value) pairs read by this step
                (e.g. Nadam's `m_schedule`), written after every read.
        """
        # The counters are read once, by casts into new float32 tensors, so
        # the increments need only follow those casts; they then run in
        # parallel with the rest of the step.
        with tf.control_dependencies(step.reads):
            last = [K.update_add(self.iterations, 1)]
            if self._spec is not None:
                last.append(K.update_add(self.cycle_iterations, 1))
        last.append(K.update(self.current_lr, step.lr))
        if step.cycling_momentum is not None:
            last.append(K.update(self.current_momentum,
                                 step.cycling_momentum))
        with tf.control_dependencies(list(updates)):
            last += [K.update(v, new_v) for v, new_v in state_updates]
        self.updates = list(updates) + last
        return self.updates

    def _slots(self, params, *names, **kwargs):
        """Creates zero slots named `<name>_<i>`, one per parameter with its
        shape and dtype, for each name; records the optimizer's weights
        (the state, `extra`, then the slots, name by name).

        # Returns
            One list of slots per name.
        """
        slots = [[K.zeros(K.int_shape(p), dtype=K.dtype(p),
                          name='%s_%d' % (name, i))
                  for i, p in enumerate(params)] for name in names]
        self.weights = (list(self._state_weights) +
                        list(kwargs.get('extra', ())) +
                        [s for group in slots for s in group])
        return slots

    # -- restarting the cycle ------------------------------------------------

    def reset_cycle(self, lr=None, max_lr=None, step_size=None,
                    step_size_down=None):
        """Restarts the policy at its start, optionally with new bounds.

        Takes effect on the next update, without recompiling. `iterations`
        keeps counting (decay and bias correction use it); the cycle counter
        restarts at 0. The new bounds are validated like the constructor's.

        # Arguments
            lr: new learning rate (the cyclic policy's lower bound, the
                one-cycle's start, the cosine restarts' peak).
            max_lr: new upper bound (cyclic and one_cycle).
            step_size: new rising half cycle, in updates (cyclic; a
                symmetric cycle changes both halves).
            step_size_down: new falling half (asymmetric cycles only).
        """
        if self._spec is None:
            raise ValueError('reset_cycle needs a cyclical learning rate; this '
                             '%s was built with clr=None.' % type(self).__name__)
        keys = _POLICIES[self._spec.policy].keys
        for key, value in (('max_lr', max_lr), ('step_size', step_size),
                           ('step_size_down', step_size_down)):
            if value is not None and key not in keys:
                raise ValueError('reset_cycle(%s=%r): clr policy %r has no %s '
                                 '(its keys: %s).' % (key, value,
                                                      self._spec.policy, key,
                                                      ', '.join(keys)))
        if step_size_down is not None and self._spec.step_size_down is None:
            raise ValueError('reset_cycle(step_size_down=%r): this optimizer '
                             'was built with a symmetric cycle; rebuild it with '
                             "clr['step_size_down'] for asymmetric cycles."
                             % (step_size_down,))
        new = dict(self.clr)
        for key, value in (('max_lr', max_lr), ('step_size', step_size),
                           ('step_size_down', step_size_down)):
            if value is not None:
                new[key] = value
        base = float(K.get_value(self.learning_rate)) if lr is None else lr
        base = _number('lr', base, '>= 0', lambda v: v >= 0)
        spec = _validate_clr(new, base, self.momentum_argument,
                             type(self).__name__)
        pairs = [(self.cycle_iterations, 0)]
        pairs += [(self._policy_state[name], value)
                  for name, value in _POLICIES[spec.policy].state(spec)]
        if lr is not None:
            pairs.append((self.learning_rate, base))
        K.batch_set_value(pairs)
        self.clr, self._spec = new, spec

    # -- weights and config --------------------------------------------------

    def set_weights(self, weights):
        """Sets the optimizer state, from Numpy arrays.

        # Raises
            OptimizerStateError: when the number or shapes of the arrays do
                not match this optimizer's weights, or the counters and
                bounds are not valid (not a ValueError, so that Keras's
                `load_model` cannot fall back to a fresh optimizer).
        """
        params = self.weights
        if len(params) != len(weights):
            raise OptimizerStateError(
                '%s expects %d state arrays (%s) but got %d: the saved state '
                'belongs to a different optimizer or clr setting.'
                % (type(self).__name__, len(params),
                   ', '.join(p.name for p in params), len(weights)))
        for p, w in zip(params, weights):
            if K.int_shape(p) != np.shape(w):
                raise OptimizerStateError(
                    '%s state %s has shape %s; got an array of shape %s.'
                    % (type(self).__name__, p.name, K.int_shape(p),
                       np.shape(w)))
        self._validate_saved_state(zip(params, weights))
        K.batch_set_value(list(zip(params, weights)) + self._guard.loaded())

    def _validate_saved_state(self, pairs):
        """Validates restored counters and bounds like the constructor's
        arguments, raising `OptimizerStateError` (see `set_weights`)."""
        values = {id(p): np.asarray(w).item() for p, w in pairs
                  if p in self._state_weights}
        saved = lambda variable: values[id(variable)]  # noqa: E731
        state = {'iterations': saved(self.iterations),
                 'current_lr': saved(self.current_lr)}
        if self._spec is not None:
            state['cycle_iterations'] = saved(self.cycle_iterations)
        if self.cycles_momentum:
            state['current_momentum'] = saved(self.current_momentum)
        try:
            _validate_state(state)
            lr = _number('learning_rate', saved(self.learning_rate), '>= 0',
                         lambda v: v >= 0)
            if self._spec is not None:
                clr = _POLICIES[self._spec.policy].saved(dict(self.clr), {
                    name: saved(v) for name, v in self._policy_state.items()})
                _validate_clr(clr, lr, self.momentum_argument,
                              type(self).__name__)
        except (TypeError, ValueError) as e:
            raise OptimizerStateError('%s: saved optimizer state is not '
                                      'valid: %s' % (type(self).__name__, e))

    def get_config(self):
        config = super(_CLROptimizer, self).get_config()
        config['learning_rate'] = float(K.get_value(self.learning_rate))
        config['decay'] = float(K.get_value(self.decay))
        if self.momentum_argument is not None and not self.cycles_momentum:
            config[self.momentum_argument] = float(
                K.get_value(getattr(self, self.momentum_argument)))
        clr = None
        if self.clr is not None:
            clr = dict(self.clr)
            if callable(clr.get('scale_fn')):
                clr['scale_fn'] = _scale_fn_name(clr['scale_fn'])
        config['clr'] = clr
        config['iterations'] = float(K.get_value(self.iterations))
        if self._spec is not None:
            config['cycle_iterations'] = float(
                K.get_value(self.cycle_iterations))
        config['current_lr'] = float(K.get_value(self.current_lr))
        config['fused'] = self.fused
        if self.cycles_momentum:
            config['current_momentum'] = float(
                K.get_value(self.current_momentum))
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuilds the optimizer from `get_config()`, state included; a
        `scale_fn` name is looked up in Keras's custom objects and
        `custom_objects`."""
        with CustomObjectScope(custom_objects or {}):
            return cls(**config)


def _epsilon(kwargs):
    """Pops and validates the fuzz factor (default `K.epsilon()`)."""
    epsilon = kwargs.pop('epsilon', None)
    if epsilon is None:
        return K.epsilon()
    _number('epsilon', epsilon, '>= 0', lambda v: v >= 0)
    return epsilon


def _rho(rho):
    return _number('rho', rho, '>= 0', lambda v: v >= 0)


def _read(variable):
    """One read of a variable, shared by every parameter's update (keras
    2.3.1 reads its hyperparameter variables again for each parameter)."""
    return tf.convert_to_tensor(variable)


def _param_update(param, new_value):
    """Writes a parameter, through its constraint if it has one."""
    if getattr(param, 'constraint', None) is not None:
        new_value = param.constraint(new_value)
    return K.update(param, new_value)


def _fusable(fused, param, grad, *slots):
    """Whether TensorFlow's fused training kernel applies the update: asked
    for (`fused`), a dense gradient, resource variables, and no constraint
    to apply."""
    return (fused and isinstance(grad, tf.Tensor) and
            getattr(param, 'constraint', None) is None and
            all(isinstance(v, resource_variable_ops.ResourceVariable)
                for v in (param,) + slots))


def _register(cls):
    """Registers the class under its own name, which no Keras built-in
    lower-cases into (`keras.optimizers.deserialize` maps 'Adam' to 'adam'),
    so that `keras.models.load_model` needs no `custom_objects`."""
    get_custom_objects()[cls.__name__] = cls
    return cls


# ---------------------------------------------------------------------------
# The seven optimizers, saved as CLRSGD ... CLRNadam and exported as SGD ...
# Nadam. Each rule is keras 2.3.1's, with the learning rate (and momentum)
# of this update taken from `_begin_update`.
# ---------------------------------------------------------------------------

@_register
class CLRSGD(_CLROptimizer):
    """Stochastic gradient descent optimizer with cyclical learning rates.

    Includes support for momentum, learning rate decay, and Nesterov momentum.

    # Arguments
        learning_rate: float >= 0. Learning rate (`lr` also accepted).
        momentum: float >= 0. Parameter that accelerates SGD in the relevant
            direction and dampens oscillations.
        nesterov: boolean. Whether to apply Nesterov momentum.
        clr: dict or None. Turns on a schedule computed in the graph;
            `policy` picks it: 'cyclic' (the default), 'one_cycle' or
            'cosine_restarts' (see the README for their keys). The
            learning rate is that of the first update (the cyclic lower
            bound). Cyclic keys: `max_lr` and `step_size` (required), `step_size_down`, `mode` ('triangular',
            'triangular2', 'exp_range'), `gamma`, `scale_fn`, `scale_mode`
            ('cycle', 'iterations'), `base_momentum` and `max_momentum`
            (a cyclical `momentum`). See the README.
        decay: float >= 0. Learning rate decay over each update: the base is
            `lr / (1 + decay * k)`; `max_lr` stays fixed (cyclic policy
            only).
        fused: boolean. Whether to apply the update with TensorFlow's
            fused training kernels (one pass over each parameter; equal to
            the rule up to float32 rounding, see the README). Parameters
            with a sparse gradient or a constraint, or that are not
            resource variables, always get the rule op by op.

    # References
        - [Cyclical Learning Rates for Training Neural Networks](
           https://arxiv.org/abs/1506.01186)
    """
    momentum_argument = 'momentum'
    _momentum_default = 0.

    def __init__(self, learning_rate=0.01, momentum=0., nesterov=False,
                 clr=None, **kwargs):
        super(CLRSGD, self).__init__(learning_rate, clr, momentum, **kwargs)
        self.nesterov = nesterov

    @interfaces.legacy_get_updates_support
    @K.symbolic
    def get_updates(self, loss, params):
        grads = self.get_gradients(loss, params)
        step = self._begin_update(grads, params)
        lr, momentum = step.lr, step.momentum
        moments, = self._slots(params, 'moment')
        updates = []
        for p, g, m in zip(params, grads, moments):
            if _fusable(self.fused, p, g, m):
                # The rule below in one kernel: m = momentum * m - lr * g,
                # then p = p + m (to the bit), or with Nesterov p = p +
                # (momentum * m - lr * g) (Keras adds the two terms to p
                # one at a time: within an ulp of p).
                updates.append(training_ops.resource_apply_keras_momentum(
                    p.handle, m.handle, lr, g, momentum, use_locking=False,
                    use_nesterov=self.nesterov))
                continue
            v = momentum * m - lr * g  # velocity
            updates.append(K.update(m, v))
            if self.nesterov:
                new_p = p + momentum * v - lr * g
            else:
                new_p = p + v
            updates.append(_param_update(p, new_p))
        return self._end_update(step, updates)

    def get_config(self):
        config = super(CLRSGD, self).get_config()
        config['nesterov'] = self.nesterov
        return config


@_register
class CLRRMSprop(_CLROptimizer):
    """RMSProp optimizer with cyclical learning rates.

    # Arguments
        learning_rate: float >= 0. Learning rate (`lr` also accepted).
        rho: float >= 0. (The fused route, through Adagrad's kernel at
            lr / sqrt(1 - rho), is taken when the constructor's rho is
            below 1; do not set `rho` to 1 or more after compiling.)
        epsilon: float >= 0. Fuzz factor (default `K.epsilon()`).
        clr: dict or None. Turns on a schedule computed in the graph;
            `policy` picks it: 'cyclic' (the default), 'one_cycle' or
            'cosine_restarts' (see the README for their keys). The
            learning rate is that of the first update (the cyclic lower
            bound). Cyclic keys: `max_lr` and `step_size` (required), `step_size_down`, `mode` ('triangular',
            'triangular2', 'exp_range'), `gamma`, `scale_fn`, `scale_mode`
            ('cycle', 'iterations'). See the README.
        decay: float >= 0. Learning rate decay over each update: the base is
            `lr / (1 + decay * k)`; `max_lr` stays fixed (cyclic policy
            only).
        fused: boolean. Whether to apply the update with TensorFlow's
            fused training kernels (one pass over each parameter; equal to
            the rule up to float32 rounding, see the README). Parameters
            with a sparse gradient or a constraint, or that are not
            resource variables, always get the rule op by op.

    # References
        - [rmsprop: Divide the gradient by a running average of its recent
           magnitude](http://www.cs.toronto.edu/~tijmen/csc321/slides/lecture_slides_lec6.pdf)
        - [Cyclical Learning Rates for Training Neural Networks](
           https://arxiv.org/abs/1506.01186)
    """

    def __init__(self, learning_rate=0.001, rho=0.9, clr=None, **kwargs):
        self.epsilon = _epsilon(kwargs)
        super(CLRRMSprop, self).__init__(learning_rate, clr, **kwargs)
        self._rho_value = _rho(rho)
        with K.name_scope(type(self).__name__):
            self.rho = K.variable(rho, name='rho')

    @interfaces.legacy_get_updates_support
    @K.symbolic
    def get_updates(self, loss, params):
        grads = self.get_gradients(loss, params)
        step = self._begin_update(grads, params)
        lr = step.lr
        accumulators, = self._slots(params, 'accumulator')
        rho = _read(self.rho)
        one_minus_rho = 1. - rho      # the same for every parameter
        # The fused route below: with s = sqrt(1 - rho), Adagrad's kernel
        # on a * rho, the gradient g * s and the rate lr / s computes
        # a = rho * a + (1 - rho) * g**2; p = p - lr * g / (sqrt(a) + eps).
        # (It needs 1 - rho > 0; the constructor's rho decides.)
        via_adagrad = self._rho_value < 1
        s = K.sqrt(one_minus_rho)
        lr_over_s, epsilon = lr / s, K.constant(self.epsilon)
        updates = []
        for p, g, a in zip(params, grads, accumulators):
            if via_adagrad and _fusable(self.fused, p, g, a):
                decayed = K.update(a, rho * a)
                with tf.control_dependencies([decayed]):
                    updates.append(training_ops.resource_apply_adagrad_v2(
                        p.handle, a.handle, lr_over_s, epsilon, g * s,
                        use_locking=False))
                continue
            new_a = rho * a + one_minus_rho * K.square(g)
            updates.append(K.update(a, new_a))
            new_p = p - lr * g / (K.sqrt(new_a) + self.epsilon)
            updates.append(_param_update(p, new_p))
        return self._end_update(step, updates)

    def get_config(self):
        config = super(CLRRMSprop, self).get_config()
        config.update(rho=float(K.get_value(self.rho)), epsilon=self.epsilon)
        return config


@_register
class CLRAdagrad(_CLROptimizer):
    """Adagrad optimizer with cyclical learning rates.

    # Arguments
        learning_rate: float >= 0. Initial learning rate (`lr` also
            accepted).
        epsilon: float >= 0. Fuzz factor (default `K.epsilon()`).
        clr: dict or None. Turns on a schedule computed in the graph;
            `policy` picks it: 'cyclic' (the default), 'one_cycle' or
            'cosine_restarts' (see the README for their keys). The
            learning rate is that of the first update (the cyclic lower
            bound). Cyclic keys: `max_lr` and `step_size` (required), `step_size_down`, `mode` ('triangular',
            'triangular2', 'exp_range'), `gamma`, `scale_fn`, `scale_mode`
            ('cycle', 'iterations'). See the README.
        decay: float >= 0. Learning rate decay over each update: the base is
            `lr / (1 + decay * k)`; `max_lr` stays fixed (cyclic policy
            only).
        fused: boolean. Whether to apply the update with TensorFlow's
            fused training kernels (one pass over each parameter; equal to
            the rule up to float32 rounding, see the README). Parameters
            with a sparse gradient or a constraint, or that are not
            resource variables, always get the rule op by op.

    # References
        - [Adaptive Subgradient Methods for Online Learning and Stochastic
           Optimization](http://www.jmlr.org/papers/volume12/duchi11a/duchi11a.pdf)
        - [Cyclical Learning Rates for Training Neural Networks](
           https://arxiv.org/abs/1506.01186)
    """

    def __init__(self, learning_rate=0.01, clr=None, **kwargs):
        self.epsilon = _epsilon(kwargs)
        super(CLRAdagrad, self).__init__(learning_rate, clr, **kwargs)

    @interfaces.legacy_get_updates_support
    @K.symbolic
    def get_updates(self, loss, params):
        grads = self.get_gradients(loss, params)
        step = self._begin_update(grads, params)
        lr = step.lr
        accumulators, = self._slots(params, 'accumulator')
        updates = []
        epsilon = K.constant(self.epsilon)
        for p, g, a in zip(params, grads, accumulators):
            if _fusable(self.fused, p, g, a):
                # The rule below in one kernel, to the bit: a = a + g**2;
                # p = p - lr * g / (sqrt(a) + epsilon).
                updates.append(training_ops.resource_apply_adagrad_v2(
                    p.handle, a.handle, lr, epsilon, g, use_locking=False))
                continue
            new_a = a + K.square(g)
            updates.append(K.update(a, new_a))
            new_p = p - lr * g / (K.sqrt(new_a) + self.epsilon)
            updates.append(_param_update(p, new_p))
        return self._end_update(step, updates)

    def get_config(self):
        config = super(CLRAdagrad, self).get_config()
        config['epsilon'] = self.epsilon
        return config


@_register
class CLRAdadelta(_CLROptimizer):
    """Adadelta optimizer with cyclical learning rates.

    # Arguments
        learning_rate: float >= 0. Initial learning rate, defaults to 1
            (`lr` also accepted).
        rho: float >= 0. Adadelta decay factor.
        epsilon: float >= 0. Fuzz factor (default `K.epsilon()`).
        clr: dict or None. Turns on a schedule computed in the graph;
            `policy` picks it: 'cyclic' (the default), 'one_cycle' or
            'cosine_restarts' (see the README for their keys). The
            learning rate is that of the first update (the cyclic lower
            bound). Cyclic keys: `max_lr` and `step_size` (required), `step_size_down`, `mode` ('triangular',
            'triangular2', 'exp_range'), `gamma`, `scale_fn`, `scale_mode`
            ('cycle', 'iterations'). See the README.
        decay: float >= 0. Learning rate decay over each update: the base is
            `lr / (1 + decay * k)`; `max_lr` stays fixed (cyclic policy
            only).
        fused: boolean. Whether to apply the update with TensorFlow's
            fused training kernels (one pass over each parameter; equal to
            the rule up to float32 rounding, see the README). Parameters
            with a sparse gradient or a constraint, or that are not
            resource variables, always get the rule op by op.

    # References
        - [Adadelta - an adaptive learning rate method](
           https://arxiv.org/abs/1212.5701)
        - [Cyclical Learning Rates for Training Neural Networks](
           https://arxiv.org/abs/1506.01186)
    """

    def __init__(self, learning_rate=1.0, rho=0.95, clr=None, **kwargs):
        self.epsilon = _epsilon(kwargs)
        super(CLRAdadelta, self).__init__(learning_rate, clr, **kwargs)
        _rho(rho)
        self.rho = rho

    @interfaces.legacy_get_updates_support
    @K.symbolic
    def get_updates(self, loss, params):
        grads = self.get_gradients(loss, params)
        step = self._begin_update(grads, params)
        lr = step.lr
        accumulators, delta_accumulators = self._slots(
            params, 'accumulator', 'delta_accumulator')
        updates = []
        epsilon = K.constant(self.epsilon)
        for p, g, a, d_a in zip(params, grads, accumulators,
                                delta_accumulators):
            if _fusable(self.fused, p, g, a, d_a):
                # The rule below in one kernel (1 / sqrt(new_a + epsilon) as
                # a reciprocal square root).
                updates.append(training_ops.resource_apply_adadelta(
                    p.handle, a.handle, d_a.handle, lr, self.rho, epsilon, g,
                    use_locking=False))
                continue
            new_a = self.rho * a + (1. - self.rho) * K.square(g)
            updates.append(K.update(a, new_a))
            # the new accumulator and the *old* delta accumulator
            update = g * K.sqrt(d_a + self.epsilon) / K.sqrt(new_a + self.epsilon)
            new_p = p - lr * update
            updates.append(_param_update(p, new_p))
            new_d_a = self.rho * d_a + (1 - self.rho) * K.square(update)
            updates.append(K.update(d_a, new_d_a))
        return self._end_update(step, updates)

    def get_config(self):
        config = super(CLRAdadelta, self).get_config()
        config.update(rho=self.rho, epsilon=self.epsilon)
        return config


class _AdamFamily(_CLROptimizer):
    """Shared constructor and config of Adam, Adamax and Nadam."""
    momentum_argument = 'beta_1'
    _momentum_default = 0.9
    _momentum_allowed = ('in [0, 1)', lambda v: 0 <= v < 1)
    _reads_step_count = True

    def __init__(self, learning_rate, beta_1, beta_2, clr, **kwargs):
        self.epsilon = _epsilon(kwargs)
        _number('beta_2', beta_2, 'in [0, 1)', lambda v: 0 <= v < 1)
        super(_AdamFamily, self).__init__(learning_rate, clr, beta_1, **kwargs)
        with K.name_scope(type(self).__name__):
            self.beta_2 = K.variable(beta_2, name='beta_2')

    def get_config(self):
        config = super(_AdamFamily, self).get_config()
        config.update(beta_2=float(K.get_value(self.beta_2)),
                      epsilon=self.epsilon)
        return config


@_register
class CLRAdam(_AdamFamily):
    """Adam optimizer with cyclical learning rates.

    Default parameters follow those provided in the original paper.

    # Arguments
        learning_rate: float >= 0. Learning rate (`lr` also accepted).
        beta_1: float, 0 < beta < 1. Generally close to 1.
        beta_2: float, 0 < beta < 1. Generally close to 1.
        amsgrad: boolean. Whether to apply the AMSGrad variant of this
            algorithm from the paper "On the Convergence of Adam and Beyond".
        epsilon: float >= 0. Fuzz factor (default `K.epsilon()`).
        clr: dict or None. Turns on a schedule computed in the graph;
            `policy` picks it: 'cyclic' (the default), 'one_cycle' or
            'cosine_restarts' (see the README for their keys). The
            learning rate is that of the first update (the cyclic lower
            bound). Cyclic keys: `max_lr` and `step_size` (required), `step_size_down`, `mode` ('triangular',
            'triangular2', 'exp_range'), `gamma`, `scale_fn`, `scale_mode`
            ('cycle', 'iterations'), `base_momentum` and `max_momentum`
            (a cyclical `beta_1`). See the README.
        decay: float >= 0. Learning rate decay over each update: the base is
            `lr / (1 + decay * k)`; `max_lr` stays fixed (cyclic policy
            only).
        fused: boolean. Whether to apply the update with TensorFlow's
            fused training kernels (one pass over each parameter; equal to
            the rule up to float32 rounding, see the README). Parameters
            with a sparse gradient or a constraint, or that are not
            resource variables, always get the rule op by op.

    # References
        - [Adam - A Method for Stochastic Optimization](
           https://arxiv.org/abs/1412.6980v8)
        - [On the Convergence of Adam and Beyond](
           https://openreview.net/forum?id=ryQu7f-RZ)
        - [Cyclical Learning Rates for Training Neural Networks](
           https://arxiv.org/abs/1506.01186)
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999,
                 amsgrad=False, clr=None, **kwargs):
        super(CLRAdam, self).__init__(learning_rate, beta_1, beta_2, clr,
                                      **kwargs)
        self.amsgrad = amsgrad

    @interfaces.legacy_get_updates_support
    @K.symbolic
    def get_updates(self, loss, params):
        grads = self.get_gradients(loss, params)
        step = self._begin_update(grads, params)
        lr, beta_1, beta_2 = step.lr, step.momentum, _read(self.beta_2)
        t = step.k + 1
        beta_1_t, beta_2_t = K.pow(beta_1, t), K.pow(beta_2, t)
        lr_t = lr * (K.sqrt(1. - beta_2_t) / (1. - beta_1_t))
        one_minus_beta_1, one_minus_beta_2 = 1. - beta_1, 1. - beta_2
        slots = self._slots(params, 'm', 'v', *(['vhat'] if self.amsgrad
                                               else []))
        ms, vs = slots[:2]
        vhats = slots[2] if self.amsgrad else []
        epsilon = K.constant(self.epsilon)
        updates = []
        for i, (p, g, m, v) in enumerate(zip(params, grads, ms, vs)):
            if self.amsgrad and _fusable(self.fused, p, g, m, v, vhats[i]):
                # The amsgrad rule below in one kernel, which forms lr_t
                # from lr, beta_1**t and beta_2**t as above and writes
                # m_t as m + (g - m) * (1 - beta_1) (v_t likewise).
                updates.append(
                    training_ops.resource_apply_adam_with_amsgrad(
                        p.handle, m.handle, v.handle, vhats[i].handle,
                        beta_1_t, beta_2_t, lr, beta_1, beta_2, epsilon, g,
                        use_locking=False))
                continue
            if not self.amsgrad and _fusable(self.fused, p, g, m, v):
                # The rule below in one kernel, as for amsgrad.
                updates.append(training_ops.resource_apply_adam(
                    p.handle, m.handle, v.handle, beta_1_t, beta_2_t, lr,
                    beta_1, beta_2, epsilon, g, use_locking=False))
                continue
            m_t = (beta_1 * m) + one_minus_beta_1 * g
            v_t = (beta_2 * v) + one_minus_beta_2 * K.square(g)
            if self.amsgrad:
                vhat_t = K.maximum(vhats[i], v_t)
                p_t = p - lr_t * m_t / (K.sqrt(vhat_t) + self.epsilon)
                updates.append(K.update(vhats[i], vhat_t))
            else:
                p_t = p - lr_t * m_t / (K.sqrt(v_t) + self.epsilon)
            updates.append(K.update(m, m_t))
            updates.append(K.update(v, v_t))
            updates.append(_param_update(p, p_t))
        return self._end_update(step, updates)

    def get_config(self):
        config = super(CLRAdam, self).get_config()
        config['amsgrad'] = self.amsgrad
        return config


@_register
class CLRAdamax(_AdamFamily):
    """Adamax optimizer (Adam paper, section 7) with cyclical learning rates.

    # Arguments
        learning_rate: float >= 0. Learning rate (`lr` also accepted).
        beta_1: float, 0 < beta < 1. Generally close to 1.
        beta_2: float, 0 < beta < 1. Generally close to 1.
        epsilon: float >= 0. Fuzz factor (default `K.epsilon()`).
        clr: dict or None. Turns on a schedule computed in the graph;
            `policy` picks it: 'cyclic' (the default), 'one_cycle' or
            'cosine_restarts' (see the README for their keys). The
            learning rate is that of the first update (the cyclic lower
            bound). Cyclic keys: `max_lr` and `step_size` (required), `step_size_down`, `mode` ('triangular',
            'triangular2', 'exp_range'), `gamma`, `scale_fn`, `scale_mode`
            ('cycle', 'iterations'), `base_momentum` and `max_momentum`
            (a cyclical `beta_1`). See the README.
        decay: float >= 0. Learning rate decay over each update: the base is
            `lr / (1 + decay * k)`; `max_lr` stays fixed (cyclic policy
            only).
        fused: boolean. Whether to apply the update with TensorFlow's
            fused training kernels (one pass over each parameter; equal to
            the rule up to float32 rounding, see the README). Parameters
            with a sparse gradient or a constraint, or that are not
            resource variables, always get the rule op by op.

    # References
        - [Adam - A Method for Stochastic Optimization](
           https://arxiv.org/abs/1412.6980v8)
        - [Cyclical Learning Rates for Training Neural Networks](
           https://arxiv.org/abs/1506.01186)
    """

    def __init__(self, learning_rate=0.002, beta_1=0.9, beta_2=0.999,
                 clr=None, **kwargs):
        super(CLRAdamax, self).__init__(learning_rate, beta_1, beta_2, clr,
                                        **kwargs)

    @interfaces.legacy_get_updates_support
    @K.symbolic
    def get_updates(self, loss, params):
        grads = self.get_gradients(loss, params)
        step = self._begin_update(grads, params)
        lr, beta_1, beta_2 = step.lr, step.momentum, _read(self.beta_2)
        t = step.k + 1
        beta_1_t = K.pow(beta_1, t)
        lr_t = lr / (1. - beta_1_t)
        one_minus_beta_1 = 1. - beta_1
        ms, us = self._slots(params, 'm', 'u')
        epsilon = K.constant(self.epsilon)
        updates = []
        for p, g, m, u in zip(params, grads, ms, us):
            if _fusable(self.fused, p, g, m, u):
                # The rule below in one kernel, which forms lr_t from lr
                # and beta_1**t as above and writes m_t as m + (g - m) *
                # (1 - beta_1).
                updates.append(training_ops.resource_apply_ada_max(
                    p.handle, m.handle, u.handle, beta_1_t, lr, beta_1,
                    beta_2, epsilon, g, use_locking=False))
                continue
            m_t = (beta_1 * m) + one_minus_beta_1 * g
            u_t = K.maximum(beta_2 * u, K.abs(g))
            p_t = p - lr_t * m_t / (u_t + self.epsilon)
            updates.append(K.update(m, m_t))
            updates.append(K.update(u, u_t))
            updates.append(_param_update(p, p_t))
        return self._end_update(step, updates)


@_register
class CLRNadam(_AdamFamily):
    """Nesterov Adam optimizer with cyclical learning rates.

    Unlike keras 2.3.1's Nadam, this one also accepts `decay`.

    # Arguments
        learning_rate: float >= 0. Learning rate (`lr` also accepted).
        beta_1: float, 0 < beta < 1. Generally close to 1.
        beta_2: float, 0 < beta < 1. Generally close to 1.
        schedule_decay: float >= 0, the momentum warming schedule (default
            0.004).
        epsilon: float >= 0. Fuzz factor (default `K.epsilon()`).
        clr: dict or None. Turns on a schedule computed in the graph;
            `policy` picks it: 'cyclic' (the default), 'one_cycle' or
            'cosine_restarts' (see the README for their keys). The
            learning rate is that of the first update (the cyclic lower
            bound). Cyclic keys: `max_lr` and `step_size` (required), `step_size_down`, `mode` ('triangular',
            'triangular2', 'exp_range'), `gamma`, `scale_fn`, `scale_mode`
            ('cycle', 'iterations'), `base_momentum` and `max_momentum`
            (a cyclical `beta_1`). See the README.
        decay: float >= 0. Learning rate decay over each update: the base is
            `lr / (1 + decay * k)`; `max_lr` stays fixed (cyclic policy
            only).
        fused: boolean. Whether to apply the update with TensorFlow's
            fused training kernels (one pass over each parameter; equal to
            the rule up to float32 rounding, see the README). Parameters
            with a sparse gradient or a constraint, or that are not
            resource variables, always get the rule op by op.

    # References
        - [Nadam report](http://cs229.stanford.edu/proj2015/054_report.pdf)
        - [On the importance of initialization and momentum in deep learning](
           http://www.cs.toronto.edu/~fritz/absps/momentum.pdf)
        - [Cyclical Learning Rates for Training Neural Networks](
           https://arxiv.org/abs/1506.01186)
    """

    def __init__(self, learning_rate=0.002, beta_1=0.9, beta_2=0.999,
                 clr=None, **kwargs):
        self.schedule_decay = kwargs.pop('schedule_decay', 0.004)
        _number('schedule_decay', self.schedule_decay, '>= 0',
                lambda v: v >= 0)
        super(CLRNadam, self).__init__(learning_rate, beta_1, beta_2, clr,
                                       **kwargs)
        with K.name_scope(type(self).__name__):
            self.m_schedule = K.variable(1., name='m_schedule')

    @interfaces.legacy_get_updates_support
    @K.symbolic
    def get_updates(self, loss, params):
        grads = self.get_gradients(loss, params)
        step = self._begin_update(grads, params)
        lr, beta_1 = step.lr, step.momentum
        beta_2, m_schedule = _read(self.beta_2), _read(self.m_schedule)
        t = step.k + 1
        # the warming momentum schedule of Sutskever et al.
        momentum_cache_t = beta_1 * (1. - 0.5 * (
            K.pow(K.cast_to_floatx(0.96), t * self.schedule_decay)))
        momentum_cache_t_1 = beta_1 * (1. - 0.5 * (
            K.pow(K.cast_to_floatx(0.96), (t + 1) * self.schedule_decay)))
        m_schedule_new = m_schedule * momentum_cache_t
        m_schedule_next = m_schedule * momentum_cache_t * momentum_cache_t_1
        # the same for every parameter
        g_scale, m_scale = 1. - m_schedule_new, 1. - m_schedule_next
        v_scale = 1. - K.pow(beta_2, t)
        one_minus_cache_t = 1. - momentum_cache_t
        one_minus_beta_1, one_minus_beta_2 = 1. - beta_1, 1. - beta_2
        ms, vs = self._slots(params, 'm', 'v', extra=[self.m_schedule])
        # The fused route below: as sqrt(v_t / v_scale) + epsilon equals
        # (sqrt(v_t) + epsilon * r) / r with r = sqrt(v_scale), the step is
        # g_coef * g + m_coef * m_t over sqrt(v_t) + epsilon * r.
        r = K.sqrt(v_scale)
        g_coef = lr * r * one_minus_cache_t / g_scale
        m_coef = lr * r * momentum_cache_t_1 / m_scale
        epsilon_r, zero = self.epsilon * r, K.constant(0.)
        updates = []
        for p, g, m, v in zip(params, grads, ms, vs):
            if _fusable(self.fused, p, g, m, v):
                # Adam's kernel, with beta_1**t = beta_2**t = 0 (so that
                # its rate is m_coef), writes m_t and v_t as below and
                # takes the m_t term; then the g term, from v_t.
                adam = training_ops.resource_apply_adam(
                    p.handle, m.handle, v.handle, zero, zero, m_coef,
                    beta_1, beta_2, epsilon_r, g, use_locking=False)
                with tf.control_dependencies([adam]):
                    v_t = v.read_value()
                    updates.append(p.assign_sub(
                        g_coef * g / (K.sqrt(v_t) + epsilon_r)))
                continue
            g_prime = g / g_scale
            m_t = beta_1 * m + one_minus_beta_1 * g
            m_t_prime = m_t / m_scale
            v_t = beta_2 * v + one_minus_beta_2 * K.square(g)
            v_t_prime = v_t / v_scale
            m_t_bar = one_minus_cache_t * g_prime + (
                momentum_cache_t_1 * m_t_prime)
            updates.append(K.update(m, m_t))
            updates.append(K.update(v, v_t))
            p_t = p - lr * m_t_bar / (K.sqrt(v_t_prime) + self.epsilon)
            updates.append(_param_update(p, p_t))
        return self._end_update(step, updates,
                                [(self.m_schedule, m_schedule_new)])

    def get_config(self):
        config = super(CLRNadam, self).get_config()
        config['schedule_decay'] = self.schedule_decay
        return config


# The names users import (`from clr_optimizers import *`), as in keras.
SGD, RMSprop, Adagrad, Adadelta = CLRSGD, CLRRMSprop, CLRAdagrad, CLRAdadelta
Adam, Adamax, Nadam = CLRAdam, CLRAdamax, CLRNadam
_OPTIMIZERS = (SGD, RMSprop, Adagrad, Adadelta, Adam, Adamax, Nadam)


def custom_objects():
    """The name-to-class mapping of the CLR optimizers, as saved in models.

    # Returns
        dict, e.g. {'CLRAdam': clr_optimizers.Adam, ...}, for
        `load_model(..., custom_objects=...)` or
        `horovod.keras.load_model(..., custom_optimizers=list(...values()))`.
    """
    return {cls.__name__: cls for cls in _OPTIMIZERS}


# ---------------------------------------------------------------------------
# Callbacks: the schedule in Keras logs, and checkpoints that survive a kill.
# ---------------------------------------------------------------------------

class LRLogger(keras_callbacks.Callback):
    """Adds the learning rate (and the momentum, when it cycles) to the logs.

    After every batch and epoch, `logs['lr']` holds the learning rate used by
    the latest update (the optimizer's `current_lr`) and `logs['momentum']`
    its `current_momentum`, so that `History`, `CSVLogger` and `TensorBoard`
    record the schedule. Put it before those callbacks in the list.

    Costs one small session run per batch (see the README's benchmark).
    """

    def on_train_begin(self, logs=None):
        optimizer = self.model.optimizer
        self._tensors = {'lr': getattr(optimizer, 'current_lr', None)}
        if self._tensors['lr'] is None:
            raise TypeError('LRLogger needs a clr_optimizers optimizer; the '
                            'model uses %s.' % type(optimizer).__name__)
        if getattr(optimizer, 'cycles_momentum', False):
            self._tensors['momentum'] = optimizer.current_momentum
        self._names = sorted(self._tensors)
        # A prepared callable: cheaper per batch than K.batch_get_value.
        self._read = K.get_session().make_callable(
            [self._tensors[n] for n in self._names])

    def _log(self, logs):
        if logs is None:
            return
        for name, value in zip(self._names, self._read()):
            logs[name] = float(value)

    def on_batch_end(self, batch, logs=None):
        self._log(logs)

    def on_epoch_end(self, epoch, logs=None):
        self._log(logs)


class _AtomicSaver(object):
    """Stands in for the model inside `AtomicModelCheckpoint`: its `save` and
    `save_weights` write a temporary file in the target's folder, flush it
    to disk and rename it over the target, so the target is always whole."""

    def __init__(self, model):
        self._model = model

    def __getattr__(self, name):
        return getattr(self._model, name)

    def _atomic(self, write, filepath, **kwargs):
        folder = os.path.dirname(os.path.abspath(filepath))
        fd, tmp = tempfile.mkstemp(dir=folder, suffix='.tmp',
                                   prefix='.' + os.path.basename(filepath) + '.')
        os.close(fd)
        try:
            write(tmp, **kwargs)
            with open(tmp, 'rb+') as f:
                os.fsync(f.fileno())
            os.replace(tmp, filepath)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def save(self, filepath, overwrite=True, include_optimizer=True):
        self._atomic(self._model.save, filepath, overwrite=True,
                     include_optimizer=include_optimizer)

    def save_weights(self, filepath, overwrite=True):
        self._atomic(self._model.save_weights, filepath, overwrite=True)


class AtomicModelCheckpoint(keras_callbacks.ModelCheckpoint):
    """`keras.callbacks.ModelCheckpoint` that never leaves a broken file.

    Takes `ModelCheckpoint`'s arguments. Each checkpoint is written to a
    temporary file in the same folder and renamed over the previous one, so a
    process killed at any moment leaves the last complete checkpoint.
    """

    def set_model(self, model):
        super(AtomicModelCheckpoint, self).set_model(_AtomicSaver(model))


# ---------------------------------------------------------------------------
# Choosing the bounds: the LR range test (Smith, 2017, section 3.3).
# ---------------------------------------------------------------------------

def _lowest_loss(lrs, smoothed):
    """The lowest smoothed loss: where the loss stops falling."""
    finite = np.where(np.isfinite(smoothed), smoothed, np.inf)
    i = int(np.argmin(finite))
    return i if i > 0 else None


def _valley(lrs, smoothed):
    """The middle of the longest stretch over which the smoothed loss falls
    at every update."""
    best, start = (0, 0), 0
    for i in range(1, len(smoothed)):
        if not smoothed[i] < smoothed[i - 1]:
            start = i
        elif i - start > best[1] - best[0]:
            best = (start, i)
    return (best[0] + best[1] + 1) // 2 if best[1] > best[0] else None


def _steepest(lrs, smoothed):
    """The start of the steepest fall of the smoothed loss per unit of
    log learning rate, on the way down to its lowest value (a fall after
    it is a recovery from a spike, not learning)."""
    lowest = _lowest_loss(lrs, smoothed)
    if lowest is None:
        return None
    slope = (np.diff(smoothed[:lowest + 1]) /
             np.diff(np.log(np.asarray(lrs[:lowest + 1], np.float64))))
    i = int(np.argmin(slope))
    return i if slope[i] < 0 else None


# suggest= rules: each picks max_lr's update from the smoothed loss curve.
_SUGGEST = collections.OrderedDict([('lowest_loss', _lowest_loss),
                                    ('valley', _valley),
                                    ('steepest', _steepest)])


class LRRangeTestResult(object):
    """What `lr_range_test` measured.

    # Attributes
        lr: float32 array, the learning rate of each update.
        loss: array, the training loss each update computed.
        smoothed_loss: array, the bias-corrected exponential moving average
            of `loss` (the curve the bounds are read from).
        suggested_bounds: (base_lr, max_lr) by the `suggest` rule, or None
            when the rule finds no fall in the loss.
        suggestions: dict, (base_lr, max_lr) (or None) by every rule.
        suggest: the rule of `suggested_bounds`.
        stopped_early: True when the loss exploded before `steps` updates.
        mode: 'linear' or 'exponential'.
    """

    def __init__(self, lr, loss, smoothed_loss, suggest, stopped_early,
                 mode):
        self.lr = np.asarray(lr, np.float32)
        self.loss = np.asarray(loss)
        self.smoothed_loss = np.asarray(smoothed_loss)
        self.suggestions = collections.OrderedDict()
        for name, rule in _SUGGEST.items():
            i = rule(self.lr, self.smoothed_loss)
            self.suggestions[name] = (None if i is None else
                                      (float(self.lr[i]) / 4.,
                                       float(self.lr[i])))
        self.suggest = suggest
        self.suggested_bounds = self.suggestions[suggest]
        self.stopped_early = stopped_early
        self.mode = mode

    def plot(self, ax=None):
        """Plots loss against learning rate; marks each rule's max_lr on the
        smoothed curve and the `suggest` rule's bounds with dashed lines.

        Needs matplotlib (the `plots` extra). Returns the axes.
        """
        import matplotlib.pyplot as plt
        if ax is None:
            ax = plt.figure(figsize=(6, 4)).gca()
        ax.plot(self.lr, self.loss, color='0.75', linewidth=1, label='loss')
        ax.plot(self.lr, self.smoothed_loss, color='C0', label='smoothed loss')
        for (name, bounds), marker in zip(self.suggestions.items(), 'oDs'):
            if bounds is not None:
                i = int(np.nonzero(self.lr == np.float32(bounds[1]))[0][0])
                ax.plot(self.lr[i], self.smoothed_loss[i], marker, color='C3'
                        if name == self.suggest else 'k', markersize=6,
                        fillstyle='none', label='%s: max_lr=%.3g'
                        % (name, bounds[1]))
        finite = self.smoothed_loss[np.isfinite(self.smoothed_loss)]
        if len(finite):     # the smoothed curve's range, not a late spike
            low, start = finite.min(), finite[0]
            span = (start - low) or abs(start) or 1.
            ax.set_ylim(low - 0.25 * span, start + span)
        if self.suggested_bounds is not None:
            for value, name in zip(self.suggested_bounds, ('base_lr', 'max_lr')):
                ax.axvline(value, color='C3', linestyle='--', linewidth=1)
                ax.annotate('%s=%.3g' % (name, value), (value, ax.get_ylim()[1]),
                            rotation=90, va='top', ha='right', fontsize=8)
        if self.mode == 'exponential':
            ax.set_xscale('log')
        ax.set_xlabel('learning rate')
        ax.set_ylabel('training loss')
        ax.legend(loc='best', fontsize=8)
        return ax


def lr_range_test(model, x, y, min_lr, max_lr, steps, batch_size=32,
                  mode='exponential', suggest='lowest_loss', shuffle=True,
                  seed=0,
                  beta=0.98, explode=4.0):
    """Runs Smith's LR range test on a copy of a compiled model.

    The learning rate rises from `min_lr` to `max_lr` over `steps` updates
    (geometrically, or with `mode='linear'` linearly) on batches of `x`,
    `y`, using the class of the model's compiled optimizer with its other
    settings (no decay, no cycle; a cycling momentum is held at its
    `max_momentum`). The loss of each update is recorded; the test stops
    early when the loss is NaN or infinite, or when the smoothed loss
    exceeds `explode` times its best value.

    Batch order: with `shuffle`, each pass over the data takes the rows in
    the order of `np.random.RandomState(seed).permutation(len(x))` (a new
    permutation of the same generator for each further pass), in batches
    of `batch_size` (the last one shorter); otherwise in the given order.
    The same data and seed give the same batches, hence the same bounds
    (layers with randomness of their own, such as Dropout, draw from
    TensorFlow's seed).

    Suggested bounds: a rule picks `max_lr` on the smoothed loss curve, and
    `base_lr = max_lr / 4`, Smith's (2017, section 3.3) base_lr "1/3 or
    1/4 of max_lr". Rules (`suggest`):
        'lowest_loss': the lowest smoothed loss, where the loss stops
            falling (the default: it gave the best CLR bounds of the three
            on the digits comparison in the README);
        'valley': the middle of the longest stretch over which the smoothed
            loss falls at every update (after fastai's `valley`);
        'steepest': the steepest fall of the smoothed loss per unit of
            log learning rate, before its lowest value.
    `result.suggestions` holds every rule's bounds; `result.plot()` marks
    them.

    The model itself is not trained: the test runs on a clone, so the
    model's weights and optimizer state afterwards are exactly those before.

    # Arguments
        model: a compiled Keras model.
        x, y: training data (numpy arrays).
        min_lr, max_lr: float, 0 < min_lr < max_lr.
        steps: int >= 2, the number of updates.
        batch_size: int >= 1.
        mode: 'exponential' (default) or 'linear'.
        suggest: 'lowest_loss' (default), 'valley' or 'steepest'.
        shuffle: boolean (default True), batches from a seeded permutation.
        seed: int (default 0), the permutation's seed.
        beta: float in [0, 1), the smoothing of the loss curve.
        explode: float > 1, the divergence threshold.

    # Returns
        An `LRRangeTestResult`.

    # References
        - [Cyclical Learning Rates for Training Neural Networks](
           https://arxiv.org/abs/1506.01186)
    """
    from keras.models import clone_model
    min_lr = _number('min_lr', min_lr, '> 0 (the ramp starts there; an '
                     'exponential ramp cannot start at 0)', lambda v: v > 0)
    max_lr = _number('max_lr', max_lr, '> min_lr (%r)' % min_lr,
                     lambda v: v > min_lr)
    _number('beta', beta, 'in [0, 1)', lambda v: 0 <= v < 1)
    _number('explode', explode, '> 1', lambda v: v > 1)
    for name, value in (('steps', steps), ('batch_size', batch_size),
                        ('seed', seed)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError('%s must be an int; got %r.' % (name, value))
    if steps < 2 or batch_size < 1 or seed < 0:
        raise ValueError('steps must be >= 2, batch_size >= 1 and seed >= 0; '
                         'got steps=%r, batch_size=%r, seed=%r.'
                         % (steps, batch_size, seed))
    _choice('mode', mode, ('linear', 'exponential'))
    _choice('suggest', suggest, tuple(_SUGGEST))
    _flag('shuffle', shuffle)
    optimizer = getattr(model, 'optimizer', None)
    if optimizer is None:
        raise ValueError('lr_range_test needs a compiled model.')
    config = optimizer.get_config()
    for key in ('clr',) + _STATE_KEYS:
        config.pop(key, None)
    if 'decay' in config:
        config['decay'] = 0.0
    if getattr(optimizer, 'cycles_momentum', False):
        config[optimizer.momentum_argument] = optimizer.clr['max_momentum']
    probe = clone_model(model)
    probe.set_weights(model.get_weights())
    probe.compile(optimizer=type(optimizer).from_config(config),
                  loss=model.loss, loss_weights=model.loss_weights)
    fraction = np.arange(steps, dtype=np.float64) / (steps - 1)
    if mode == 'linear':
        rates = min_lr + (max_lr - min_lr) * fraction
    else:
        rates = min_lr * (max_lr / min_lr) ** fraction
    rates = rates.astype(np.float32)
    batches = _batches(len(x), batch_size, shuffle, seed)
    lrs, losses, smoothed = [], [], []
    average, best, stopped = 0., np.inf, False
    for i, rate in enumerate(rates):
        index = next(batches)
        K.set_value(probe.optimizer.lr, rate)
        loss = probe.train_on_batch(x[index], y[index])
        loss = float(np.ravel(loss)[0])
        average = beta * average + (1 - beta) * loss
        smooth = average / (1 - beta ** (i + 1))
        lrs.append(rate)
        losses.append(loss)
        smoothed.append(smooth)
        if not math.isfinite(loss) or smooth > explode * best:
            stopped = True
            break
        best = min(best, smooth)
    return LRRangeTestResult(lrs, losses, smoothed, suggest, stopped, mode)


def _batches(rows, batch_size, shuffle, seed):
    """The range test's batches of row indices, pass after pass."""
    rng = np.random.RandomState(seed)
    while True:
        order = rng.permutation(rows) if shuffle else np.arange(rows)
        for start in range(0, rows, batch_size):
            yield order[start:start + batch_size]
