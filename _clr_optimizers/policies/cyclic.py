"""The cyclical policy of Smith (2017): a triangular window of step_size
updates up and step_size_down (default step_size) down, between the
optimizer's lr and max_lr, its amplitude scaled by `mode` or a `scale_fn`.
"""
from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import math

import numpy as np
from keras.utils.generic_utils import get_custom_objects

from ..checks import FLOAT32, choice, number, steps
from ..ops import between, f32
from .base import MOMENTUM_DOC, Policy, max_lr, set_from_state

CyclicSpec = collections.namedtuple('CyclicSpec', (
    'policy', 'max_lr', 'step_size', 'step_size_down', 'mode', 'gamma',
    'scale_fn', 'scale_mode', 'base_momentum', 'max_momentum'))
MODES = ('triangular', 'triangular2', 'exp_range')
SCALE_MODES = ('cycle', 'iterations')


class Cyclic(Policy):
    name = 'cyclic'
    keys = ('max_lr', 'step_size', 'step_size_down', 'mode', 'gamma',
            'scale_fn', 'scale_mode')
    required = ('max_lr', 'step_size')
    momentum = True
    uses_decay = True
    resettable = ('max_lr', 'step_size', 'step_size_down')
    lr_role = 'the lower bound of the cycle'
    foreign = {
        'base_lr': "PyTorch CyclicLR's: use the optimizer's lr instead "
                   '(lr=base_lr), the lower bound of the cycle',
        'step_size_up': "PyTorch CyclicLR's: use 'step_size' instead",
        'cycle_momentum': "PyTorch's: leave out 'base_momentum' and "
                          "'max_momentum' for a momentum that does not "
                          'cycle (cycle_momentum=False)',
        'scale_fn_mode': "not a key: use 'scale_mode' instead",
    }
    doc = """\
'cyclic' (the default): Smith's cyclical learning rate, from lr (the
lower bound) up to max_lr and back, cycle after cycle. Update k uses
lr + (max_lr - lr) * max(0, 1 - x) * scale, x = |k / step_size - 2 * cycle
+ 1|, cycle = floor(1 + k / (2 * step_size)): PyTorch's CyclicLR.
    max_lr: float >= lr, required. The upper bound.
    step_size: float >= 1, required. Updates in the rising half cycle
        (both halves when symmetric).
    step_size_down: float >= 1 (default None: step_size). Updates in the
        falling half.
    mode: 'triangular' (default; scale 1), 'triangular2' (scale halved
        every cycle, 1 / 2**(cycle - 1)) or 'exp_range' (gamma**k).
    gamma: float in (0, 1] (default 1.0), only with 'exp_range'.
    scale_fn: a backend function of a float32 tensor, or the name of one
        registered with register_scale_fn (default None); replaces mode.
    scale_mode: 'cycle' (default) or 'iterations', only with scale_fn:
        scale_fn of the cycle number or of the cycle counter.
""" + MOMENTUM_DOC

    def validate(self, clr, lr, momentum, nested):
        top = max_lr(clr, lr)
        step_up = steps("clr['step_size']", clr['step_size'],
                        'updates per half cycle')
        step_down = _step_size_down(clr, step_up)
        mode = choice("clr['mode']", clr.get('mode', 'triangular'), MODES)
        gamma = 1.0
        if 'gamma' in clr:
            gamma = number("clr['gamma']", clr['gamma'], 'in (0, 1]',
                           lambda v: 0 < v <= 1)
            if mode != 'exp_range':
                raise ValueError("clr['gamma'] = %r is only used by mode "
                                 "'exp_range'; mode is %r."
                                 % (clr['gamma'], mode))
        scale_fn, scale_mode = _scale(clr, mode)
        return CyclicSpec(self.name, top, step_up, step_down, mode, gamma,
                          scale_fn, scale_mode, *momentum)

    def state(self, spec):
        """max_lr, then the cycle's length as the window needs it
        (1 / step_size when symmetric)."""
        if spec.step_size_down is None:
            return (('max_lr', np.float32(spec.max_lr)),
                    ('inv_step_size',
                     np.float32(1) / np.float32(spec.step_size)))
        return (('max_lr', np.float32(spec.max_lr)),
                ('step_size', np.float32(spec.step_size)),
                ('step_size_down', np.float32(spec.step_size_down)))

    def from_state(self, clr, state):
        set_from_state(clr, 'max_lr', state['max_lr'], np.float32,
                       state['max_lr'])
        if 'inv_step_size' in state:
            inv = number('inv_step_size', state['inv_step_size'],
                         'in (0, 1] (1 / step_size, step_size >= 1)',
                         lambda v: 0 < v <= 1)
            return set_from_state(clr, 'step_size', inv,
                           lambda s: np.float32(1) / np.float32(s), 1. / inv)
        for key in ('step_size', 'step_size_down'):
            set_from_state(clr, key, state[key], np.float32, state[key])
        return clr

    def schedule(self, ops, c, base, now):
        """(lr, momentum) in float64. The symmetric window takes r = c *
        float32(1 / step_size) rounded to float32 (the seed's rule); from
        there on it is exact: with f = floor(r / 2), the cycle is f + 1 and
        the window 1 - |r - 2f - 1|."""
        one = ops.const(1.)
        c64 = ops.wide(c)
        if now.step_size_down is None:
            r = ops.wide(c * now.inv_step_size)
            f = ops.floor(r * ops.const(.5))
            s = one - ops.abs(r - (f + f) - one)
            cycle = f + one
        else:
            step_up = ops.wide(now.step_size)
            total = step_up + ops.wide(now.step_size_down)
            cycle = ops.floor(one + c64 / total)
            pos = c64 - (cycle - one) * total
            s = ops.where(pos <= step_up, pos / step_up,
                          (total - pos) / ops.wide(now.step_size_down))
        if now.scale_fn is not None:
            s = s * ops.backend_fn(now.scale_fn, cycle if now.scale_mode ==
                                   'cycle' else c64)
        elif now.mode == 'triangular2':
            s = s / ops.pow(ops.const(2.), cycle - one)
        elif now.mode == 'exp_range':
            s = s * ops.pow(ops.const(now.gamma), c64)
        lr = between(ops, base, ops.wide(now.max_lr), s)
        momentum = None
        if now.base_momentum is not None:   # inverse to the learning rate
            momentum = between(ops, ops.const(f32(now.max_momentum)),
                               ops.const(f32(now.base_momentum)), s)
        return lr, momentum

    def resolved(self, clr, spec):
        if clr.get('scale_fn') is not None:  # a name becomes the function
            clr['scale_fn'] = spec.scale_fn
        return clr

    def config(self, clr):
        if callable(clr.get('scale_fn')):
            clr['scale_fn'] = _scale_fn_name(clr['scale_fn'])
        return clr

    def check_reset(self, spec, changes):
        if (changes.get('step_size_down') is not None and
                spec.step_size_down is None):
            raise ValueError('reset_cycle(step_size_down=%r): this optimizer '
                             'was built with a symmetric cycle; rebuild it '
                             "with clr['step_size_down'] for asymmetric "
                             'cycles.' % (changes['step_size_down'],))


def _step_size_down(clr, step_up):
    if clr.get('step_size_down') is None:
        return None
    step_down = steps("clr['step_size_down']", clr['step_size_down'],
                      'updates in the falling half')
    with np.errstate(over='ignore'):
        total = np.float32(step_up) + np.float32(step_down)
    if not math.isfinite(total):
        raise ValueError(
            "clr['step_size'] + clr['step_size_down'] must be at most "
            "%.8g, float32's largest number, since the graph counts a "
            "cycle's length in float32; got %r + %r."
            % (FLOAT32.max, clr['step_size'], clr['step_size_down']))
    return step_down


def _scale(clr, mode):
    """(scale_fn, scale_mode), validated against `mode`."""
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
        scale_mode = choice("clr['scale_mode']", clr['scale_mode'],
                            SCALE_MODES)
        if scale_fn is None:
            raise ValueError("clr['scale_mode'] = %r is only used with "
                             "clr['scale_fn'], which is not given."
                             % (clr['scale_mode'],))
    return scale_fn, scale_mode


# Serialization of user scale functions (by registered name, never pickled).

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
