"""Cosine annealing with warm restarts (Loshchilov and Hutter, SGDR), as TF
1.15's cosine_decay_restarts: from lr down to alpha * lr over
first_decay_steps, each period t_mul times longer and m_mul times lower."""
from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import math

from ..checks import number, steps
from .base import Policy

CosineRestartsSpec = collections.namedtuple('CosineRestartsSpec', (
    'policy', 'first_decay_steps', 't_mul', 'm_mul', 'alpha',
    'base_momentum', 'max_momentum'))


class CosineRestarts(Policy):
    name = 'cosine_restarts'
    keys = ('first_decay_steps', 't_mul', 'm_mul', 'alpha')
    required = ('first_decay_steps',)
    lr_role = 'the peak of the first period'
    foreign = {
        'T_0': "PyTorch CosineAnnealingWarmRestarts's: use "
               "'first_decay_steps' instead",
        'T_mult': "PyTorch CosineAnnealingWarmRestarts's: use 't_mul' "
                  'instead',
        'eta_min': "PyTorch's: use 'alpha' = eta_min / lr instead (the "
                   'floor as a fraction of the optimizer\'s lr)',
        'first_cycle_steps': "CosineAnnealingWarmupRestarts's: use "
                             "'first_decay_steps' instead",
        'cycle_mult': "CosineAnnealingWarmupRestarts's: use 't_mul' "
                      'instead',
    }
    doc = """\
'cosine_restarts': SGDR, as TF's cosine_decay_restarts: from lr down to
alpha * lr along a half cosine, then a restart.
    first_decay_steps: float >= 1, required. The first period's length.
    t_mul: float >= 1 (default 2.0). Each period is t_mul times longer.
    m_mul: float in (0, 1] (default 1.0). Each restart is m_mul times
        lower.
    alpha: float in [0, 1) (default 0.0). The floor, as a fraction of lr.
"""

    def validate(self, clr, lr, momentum, nested):
        first = steps("clr['first_decay_steps']", clr['first_decay_steps'],
                      'the length of the first period')
        t_mul = number("clr['t_mul']", clr.get('t_mul', 2.0), '>= 1',
                       lambda v: v >= 1)
        m_mul = number("clr['m_mul']", clr.get('m_mul', 1.0), 'in (0, 1]',
                       lambda v: 0 < v <= 1)
        alpha = number("clr['alpha']", clr.get('alpha', 0.0), 'in [0, 1)',
                       lambda v: 0 <= v < 1)
        return CosineRestartsSpec(self.name, first, t_mul, m_mul, alpha,
                                  *momentum)

    def schedule(self, ops, c, base, now):
        """(lr, None) in float64 at step c.

        Period i starts at step first_decay_steps * (t_mul**i - 1) /
        (t_mul - 1) (i * first_decay_steps when t_mul = 1) and lasts
        first_decay_steps * t_mul**i; i comes from a logarithm, corrected
        by one either way so that the period's start <= c < its end
        exactly. Each product or quotient takes at most one constant, no
        constant multiplies a product, and nothing is divided by a
        constant, so that TensorFlow's constant folding (which regroups
        constants and turns x / c into x * (1 / c)) cannot round
        differently from numpy (measured: it did, at k = 150 of a
        300-step period)."""
        one, t = ops.const(1.), ops.wide(c)
        i, start = _period(ops, t, now.first_decay_steps, now.t_mul)
        i = ops.where(start(i) > t, i - one, i)
        i = ops.where(start(i + one) <= t, i + one, i)
        # pi / 2 times the fraction of the period done
        first, t_mul = now.first_decay_steps, now.t_mul
        if t_mul == 1:
            angle = (t - start(i)) * ops.const(math.pi / 2 / first)
        else:
            angle = (t - start(i)) / (ops.pow(ops.const(t_mul), i) *
                                      ops.const(2 * first / math.pi))
        height = ops.pow(ops.const(now.m_mul), i) * ops.const(1. - now.alpha)
        return base * (height * ops.square(ops.cos(angle)) +
                       ops.const(now.alpha)), None



def _period(ops, t, first, t_mul):
    """The period index from the logarithm (before its correction), and
    the function from an index to its period's first step."""
    one = ops.const(1.)
    if t_mul == 1:
        return (ops.floor(t * ops.const(1. / first)),
                lambda n: n * ops.const(first))
    i = ops.floor(ops.log(t * ops.const((t_mul - 1.) / first) + one) *
                  ops.const(1. / math.log(t_mul)))
    return i, lambda n: (ops.pow(ops.const(t_mul), n) - one) * ops.const(
        first / (t_mul - 1.))
