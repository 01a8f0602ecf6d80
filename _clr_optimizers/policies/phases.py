"""Phases: a schedule written as a list of phases, each moving the learning
rate from where the previous one ended towards its `to` along a shape, and
optionally ending in another policy. Warm-up + cosine or linear decay,
warmup-stable-decay, step decay, polynomial and exponential decay, and a
warm-up before a cycle are each a few phases."""
from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import math

import numpy as np

from ..checks import (FLOAT32, did_you_mean, non_negative, number,
                      whole_steps)
from ..ops import anneal, f32, first_of, fractions, held
from .base import Policy

PhasesSpec = collections.namedtuple('PhasesSpec', (
    'policy', 'phases', 'then', 'base_momentum', 'max_momentum'))
# One phase: its first update, its length in updates, where it goes, how.
Phase = collections.namedtuple('Phase', 'start steps to shape power')
PHASE_KEYS = ('steps', 'to', 'shape', 'power')
SHAPES = ('linear', 'cos', 'exp', 'poly', '1-sqrt', 'step')


class Phases(Policy):
    name = 'phases'
    keys = ('phases',)
    required = ('phases',)
    lr_role = 'the start of the first phase'
    foreign = {
        'warmup_steps': "a phase here: 'phases': [{'steps': W, 'to': "
                        "peak}, ...], from the optimizer's lr",
        'num_warmup_steps': "HF's: a phase here: 'phases': [{'steps': W, "
                            "'to': peak}, ...], from the optimizer's lr",
        'num_training_steps': "HF's: the phases' 'steps' add up to it here",
        'decay_steps': "TF's: a phase's 'steps' here",
        'end_learning_rate': "TF's: the last phase's 'to' here",
        'boundaries': "TF piecewise_constant's: phases with shape 'step' "
                      '(see the README\'s translation table)',
        'milestones': "PyTorch MultiStepLR's: phases with shape 'step' "
                      '(see the README\'s translation table)',
    }
    doc = """\
'phases': a list of phases, each a dict {'steps': n, 'to': value,
'shape': s}, run one after the other from lr. A phase moves over its n
updates from where the previous one ended (lr for the first) towards
`to`, which the first update after it uses; after the last phase the LR
holds at the last `to`. With p = (k - start) / n at update k of a phase
from a to b, the shapes:
    'linear' (default): a + (b - a) * p.
    'cos': b + (a - b) * (1 + cos(pi * p)) / 2.
    'exp': a * (b / a)**p, a and b > 0.
    'poly': b + (a - b) * (1 - p)**power, with 'power' > 0 (default 1).
    '1-sqrt': b + (a - b) * (1 - sqrt(p)).
    'step': a: `to` takes effect when the phase ends.
    steps: whole number >= 1. to: float >= 0.
The last entry may instead be another policy's clr dict, with its
'policy' key (not 'phases'): it runs after the phases, its counter
starting at 0 where they end, as it would alone with lr = the last `to`:
a warm-up before a cycle or restarts.
"""

    def validate(self, clr, lr, momentum, nested):
        entries = clr['phases']
        if not isinstance(entries, (list, tuple)):
            raise TypeError("clr['phases'] must be a list of phase dicts such "
                            "as {'steps': 1000, 'to': 0.1, 'shape': 'cos'}; "
                            'got %r (%s).' % (entries, type(entries).__name__))
        entries, then = _split(entries)
        phases, start, level = [], 0., lr
        for i, entry in enumerate(entries):
            phases.append(_phase(i, entry, start, level))
            start, level = start + phases[-1].steps, phases[-1].to
        if not math.isfinite(np.float32(start)):
            raise ValueError("clr['phases']: the phases' steps add up to %r, "
                             "more than float32's largest number %.8g."
                             % (start, FLOAT32.max))
        then_spec = None
        if then is not None:
            then_spec = self._then(then, level, nested)
        momentum = ((None, None) if then_spec is None else
                    (then_spec.base_momentum, then_spec.max_momentum))
        return PhasesSpec(self.name, tuple(phases), then_spec, *momentum)

    def _then(self, then, lr, nested):
        if then.get('policy') == self.name:
            raise ValueError("clr['phases'][-1] is a 'phases' policy: phases "
                             'cannot nest; write its phases into the outer '
                             'list.')
        return nested(then, lr)

    def state(self, spec):
        if spec.then is None:
            return ()
        return _policy(spec.then).state(spec.then)

    def from_state(self, clr, state):
        return self._with_then(clr, lambda p, then: p.from_state(then, state))

    def resolved(self, clr, spec):
        return self._with_then(clr, lambda p, then: p.resolved(then,
                                                               spec.then))

    def config(self, clr):
        clr = self._with_then(clr, lambda p, then: p.config(then))
        clr['phases'] = [dict(entry) for entry in clr['phases']]
        return clr

    @staticmethod
    def _with_then(clr, change):
        """`clr` with its last entry changed by change(policy, entry) when
        it is another policy's dict."""
        clr = dict(clr, phases=list(clr['phases']))
        last = clr['phases'][-1]
        if 'policy' in last:
            clr['phases'][-1] = change(_policy(last), dict(last))
        return clr

    def schedule(self, ops, c, base, now):
        """(lr, momentum) in float64: each phase's value from its start a
        to its end b, written as a * w_a + b * w_b with both weights >= 0
        (no cancellation at either end), selected by the step. Phases of
        the same shape share one evaluation: the step selects the phase's
        numbers first (`_shared_values`)."""
        t = ops.wide(c)
        ends = [phase.start + phase.steps for phase in now.phases]
        before = [t < ops.const(end) for end in ends]
        values = _shared_values(ops, now.phases, base, t, before)
        lr = ops.const(now.phases[-1].to)
        momentum = None
        if now.then is not None:    # as the policy alone from the last 'to'
            last = now.phases[-1]
            since = ops.maximum(c - np.float32(last.start + last.steps),
                                np.float32(0.))
            lr, momentum = _policy(now.then).schedule(
                ops, since, ops.const(f32(last.to)), now.then)
        for i in reversed(range(len(values))):
            lr = ops.where(before[i], values[i], lr)
        return lr, momentum

    def length(self, spec):
        end = spec.phases[-1].start + spec.phases[-1].steps
        if spec.then is None:
            return end
        after = _policy(spec.then).length(spec.then)
        return None if after is None else end + after



def _policy(clr_or_spec):
    from . import POLICIES      # the table registers this module
    name = (clr_or_spec.get('policy') if isinstance(clr_or_spec, dict)
            else clr_or_spec.policy)
    return POLICIES[name]


def _split(entries):
    """(the phase dicts, the policy dict that ends them or None)."""
    entries = list(entries)
    then = None
    if entries and isinstance(entries[-1], dict) and 'policy' in entries[-1]:
        then = entries.pop()
    if not entries:
        raise ValueError("clr['phases'] needs at least one phase {'steps': "
                         "n, 'to': value, 'shape': s} (before any policy "
                         'that follows them); got %r.' % (then,))
    return entries, then


def _phase(i, entry, start, level):
    """Phase i from its dict, starting at update `start` from `level`."""
    where = "clr['phases'][%d]" % i
    if not isinstance(entry, dict):
        raise TypeError("%s must be a dict such as {'steps': 1000, 'to': 0.1,"
                        " 'shape': 'cos'}; got %r (%s)."
                        % (where, entry, type(entry).__name__))
    if 'policy' in entry:
        raise ValueError("%s is another policy's clr dict (policy %r): only "
                         "the last entry of clr['phases'] may be one."
                         % (where, entry['policy']))
    for key in entry:
        if key not in PHASE_KEYS:
            raise ValueError('Unknown key %r in %s (value %r).%s Allowed '
                             "keys: %s (another policy's clr dict, as the "
                             "last entry, needs its 'policy' key)."
                             % (key, where, entry[key],
                                did_you_mean(key, PHASE_KEYS),
                                ', '.join(PHASE_KEYS)))
    for key in ('steps', 'to'):
        if key not in entry:
            raise ValueError('%s is missing the required key %r; got %r.'
                             % (where, key, entry))
    steps = whole_steps("%s['steps']" % where, entry['steps'],
                        'the length of the phase')
    to = non_negative("%s['to']" % where, entry['to'])
    shape = _shape(where, entry.get('shape', 'linear'))
    power = _power(where, entry, shape)
    if shape == 'exp' and not (level > 0 and to > 0):
        raise ValueError("%s: shape 'exp' needs both ends > 0 (a * (b / a)**p)"
                         "; it goes from %r (%s) to %r." % (
                             where, level, 'the optimizer\'s lr' if i == 0
                             else "clr['phases'][%d]['to']" % (i - 1), to))
    return Phase(start, steps, to, shape, power)


def _shape(where, shape):
    if shape not in SHAPES:
        raise ValueError("%s['shape'] must be one of %s; got %r.%s"
                         % (where, ', '.join(repr(s) for s in SHAPES), shape,
                            did_you_mean(shape, SHAPES)))
    return shape


def _power(where, entry, shape):
    if 'power' not in entry:
        return 1.
    if shape != 'poly':
        raise ValueError("%s['power'] = %r is only used by shape 'poly'; "
                         'shape is %r.' % (where, entry['power'], shape))
    return number("%s['power']" % where, entry['power'], '> 0',
                  lambda v: v > 0)


def _shared_values(ops, phases, base, t, before):
    """Each phase's value at step t (valid while t is inside it). Phases of
    one shape (and power) are one evaluation, of the numbers of the phase
    that t falls in among them: the first whose end is after t (`before`),
    else their last. The same arithmetic on the same numbers, so the same
    bits as one evaluation per phase, in fewer ops."""
    groups = collections.OrderedDict()
    for i, phase in enumerate(phases):
        groups.setdefault((phase.shape, phase.power), []).append(i)
    values = [None] * len(phases)
    for (shape, power), members in groups.items():
        def pick(numbers):
            return first_of(ops, [before[i] for i in members[:-1]], numbers)
        a = pick([base if i == 0 else ops.const(phases[i - 1].to)
                  for i in members])
        b = pick([ops.const(phases[i].to) for i in members])
        value = a if shape == 'step' else _value(
            ops, shape, power, a, b, t,
            pick([ops.const(phases[i].start) for i in members]),
            pick([ops.const(phases[i].start + phases[i].steps)
                  for i in members]),
            pick([ops.const(1. / phases[i].steps) for i in members]))
        for i in members:
            values[i] = value
    return values


def _value(ops, shape, power, a, b, t, start, end, inv):
    """A phase's value at step t, from a to b, held between them: the phase
    runs from update `start` to `end`, and inv is 1 / (end - start)."""
    # the part done, p, and the part to go, 1 - p, each from the step
    zero, one = ops.const(0.), ops.const(1.)
    p, rest = fractions(ops, inv, [t - start, end - t], (zero, one))
    if shape == 'cos':
        return anneal(ops, a, b, rest, 'cos')
    if shape == 'linear':
        value = a * rest + b * p
    elif shape == 'exp':
        value = a * ops.pow(b / a, p)
    elif shape == 'poly':           # 1 - rest**power as -expm1(...)
        power = ops.const(power)
        value = a * ops.pow(rest, power) - b * ops.expm1(
            power * ops.log1p(-p))
    else:                           # '1-sqrt': 1 - sqrt(p) = rest / (1 + sqrt(p))
        root = ops.sqrt(p)
        value = a * rest / (one + root) + b * root
    return held(ops, value, a, b)
