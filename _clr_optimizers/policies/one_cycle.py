"""The one-cycle policy of Smith and Topin (2017), as PyTorch's OneCycleLR:
from lr up to max_lr over pct_start of total_steps, then down to
lr / final_div_factor (three_phase: down to lr, then to the floor)."""
from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections

import numpy as np

from ..checks import choice, flag, number, whole_steps
from ..ops import anneal, f32, first_of, fractions
from .base import MOMENTUM_DOC, Policy, max_lr, set_from_state

OneCycleSpec = collections.namedtuple('OneCycleSpec', (
    'policy', 'max_lr', 'total_steps', 'pct_start', 'anneal_strategy',
    'final_div_factor', 'three_phase', 'base_momentum', 'max_momentum'))


class OneCycle(Policy):
    name = 'one_cycle'
    keys = ('max_lr', 'total_steps', 'pct_start', 'anneal_strategy',
            'final_div_factor', 'three_phase')
    required = ('max_lr', 'total_steps')
    momentum = True
    resettable = ('max_lr',)
    lr_role = 'the start of the cycle'
    foreign = {
        'div_factor': "PyTorch OneCycleLR's: use the optimizer's lr = "
                      'max_lr / div_factor instead (lr is where the cycle '
                      'starts)',
        'epochs': "PyTorch OneCycleLR's: use 'total_steps' = epochs * "
                  'steps_per_epoch instead',
        'steps_per_epoch': "PyTorch OneCycleLR's: use 'total_steps' = "
                           'epochs * steps_per_epoch instead',
        'initial_lr': "PyTorch's: use the optimizer's lr instead",
    }
    doc = """\
'one_cycle': Smith and Topin's one-cycle, as PyTorch's OneCycleLR: from
lr up to max_lr over pct_start * total_steps updates, then down to
lr / final_div_factor, where it holds.
    max_lr: float >= lr, required. The peak.
    total_steps: whole number >= 1, required. The length of the cycle.
    pct_start: float in (0, 1) (default 0.3). The share of the rise.
    anneal_strategy: 'cos' (default) or 'linear'.
    final_div_factor: float >= 1 (default 1e4). The floor is
        lr / final_div_factor.
    three_phase: bool (default False). Down to lr first, then to the
        floor, as fastai's.
""" + MOMENTUM_DOC

    def validate(self, clr, lr, momentum, nested):
        top = max_lr(clr, lr)
        total = whole_steps("clr['total_steps']", clr['total_steps'],
                            'the length of the cycle')
        pct = number("clr['pct_start']", clr.get('pct_start', 0.3),
                     'in (0, 1)', lambda v: 0 < v < 1)
        strategy = choice("clr['anneal_strategy']",
                          clr.get('anneal_strategy', 'cos'), ('cos', 'linear'))
        final = number("clr['final_div_factor']",
                       clr.get('final_div_factor', 1e4), '>= 1',
                       lambda v: v >= 1)
        three = flag("clr['three_phase']", clr.get('three_phase', False))
        _check_phases(clr, pct, total, three)
        return OneCycleSpec(self.name, top, total, pct, strategy, final,
                            three, *momentum)

    def state(self, spec):
        return (('max_lr', np.float32(spec.max_lr)),)

    def from_state(self, clr, state):
        return set_from_state(clr, 'max_lr', state['max_lr'], np.float32,
                       state['max_lr'])

    def schedule(self, ops, c, base, now):
        """(lr, momentum) in float64 at step c. The phase that c falls in
        (the first whose last step is >= c, else the last) gives its
        constants, selected by c, to one interpolation from its start to
        its end; after total_steps - 1 the last phase's end holds."""
        t = ops.wide(c)
        ends = phase_ends(now.pct_start, now.total_steps, now.three_phase)
        starts = (0.,) + ends[:-1]
        inside = [t <= ops.const(end) for end in ends[:-1]]

        def pick(values):
            """values[i] of the phase that step c falls in."""
            return first_of(ops, inside, values)
        # the part of the phase still to go: 1 at its start, 0 at its end
        end = pick([ops.const(e) for e in ends])
        inv = pick([ops.const(1. / (e - s)) for s, e in zip(starts, ends)])
        rest, = fractions(ops, inv, [end - t])
        lr_a, lr_b, m_a, m_b = zip(*_phases(ops, base,
                                            ops.wide(now.max_lr), now))
        lr = anneal(ops, pick(lr_a), pick(lr_b), rest, now.anneal_strategy)
        momentum = None
        if now.base_momentum is not None:
            momentum = anneal(ops, pick(m_a), pick(m_b), rest,
                              now.anneal_strategy)
        return lr, momentum

    def length(self, spec):
        return spec.total_steps



def phase_ends(pct, total, three):
    """The phases' last steps, as PyTorch's OneCycleLR computes them."""
    if three:
        return (pct * total - 1, 2 * pct * total - 2, total - 1.)
    return (pct * total - 1, total - 1.)


def _phases(ops, base, top, now):
    """(lr from, lr to, momentum from, momentum to) of each phase."""
    low = base * ops.const(1. / now.final_div_factor)
    hi_m = lo_m = None
    if now.base_momentum is not None:
        hi_m = ops.const(f32(now.max_momentum))
        lo_m = ops.const(f32(now.base_momentum))
    if now.three_phase:
        return [(base, top, hi_m, lo_m), (top, base, lo_m, hi_m),
                (base, low, hi_m, hi_m)]
    return [(base, top, hi_m, lo_m), (top, low, lo_m, hi_m)]


def _check_phases(clr, pct, total, three):
    """PyTorch's phase ends: pct * total - 1 (and 2 * pct * total - 2), then
    total - 1; each phase must last more than one update."""
    ends = phase_ends(pct, total, three)
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
