"""The `clr` dict validated once for all seven optimizers, and the schedule
as one pure function of the step counts over the graph's ops and numpy's.
"""
from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import numpy as np

from .checks import did_you_mean, non_negative, number, validate_state
from .ops import NumpyOps
from .policies import POLICIES, default
from .policies.base import Current


def policy_of(clr_or_spec):
    """The `Policy` of a `clr` dict or of a spec."""
    if isinstance(clr_or_spec, dict):
        return POLICIES[clr_or_spec.get('policy', default())]
    return POLICIES[clr_or_spec.policy]


def validate_clr(clr, lr, momentum_arg, owner):
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
    name = clr.get('policy', default())
    if name not in POLICIES:
        raise ValueError("clr['policy'] must be one of %s; got %r.%s"
                         % (', '.join(repr(p) for p in POLICIES), name,
                            did_you_mean(name, POLICIES)))
    policy = POLICIES[name]
    for key in clr:
        if key not in policy.all_keys:
            raise ValueError('Unknown clr key %r (value %r). %s Allowed keys '
                             'for policy %r: %s.'
                             % (key, clr[key], _advice(key, policy), name,
                                ', '.join(policy.all_keys)))
    for key in policy.required:
        if key not in clr:
            raise ValueError('clr is missing the required key %r; got %r.'
                             % (key, clr))
    return policy.validate(
        clr, lr, momentum_bounds(clr, momentum_arg, owner),
        lambda inner, inner_lr: validate_clr(inner, inner_lr, momentum_arg,
                                             owner))


# Names other libraries give to settings that are not clr keys here.
COMMON_FOREIGN = {
    'lr': "the optimizer's argument, not a clr key: SGD(lr=..., clr=...)",
    'learning_rate': "the optimizer's argument, not a clr key",
    'initial_learning_rate': "TF's: use the optimizer's lr instead",
    'last_epoch': "PyTorch's: to resume, load the saved model, which saves "
                  'the counters'
}


def _advice(key, policy):
    """What to use instead of an unknown key: another library's name, a key
    of another policy, or the closest key."""
    for table in (policy.foreign, COMMON_FOREIGN):
        if key in table:
            return '%r is %s.' % (key, table[key])
    for other in POLICIES.values():
        if key in other.foreign:
            return ("%r is %s, with clr['policy'] = %r."
                    % (key, other.foreign[key], other.name))
    for other in POLICIES.values():
        if key in other.keys and other is not policy:
            return ('%r is a key of policy %r: set clr[\'policy\'] = %r.'
                    % (key, other.name, other.name))
    return did_you_mean(key, policy.all_keys).strip()


def momentum_bounds(clr, momentum_arg, owner):
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
    base_m = number("clr['base_momentum']", clr['base_momentum'],
                    'in [0, 1)', lambda v: 0 <= v < 1)
    max_m = number("clr['max_momentum']", clr['max_momentum'],
                   'in [0, 1) and >= base_momentum (%r)'
                   % clr['base_momentum'], lambda v: base_m <= v < 1)
    return base_m, max_m


def validate_schedule(lr, decay, clr, carried, momentum_arg, owner,
                      lr_name='learning_rate'):
    """What every entry point checks alike (the constructor, `clr_schedule`
    and a restored state): the base rate `lr`, `decay`, the `clr` dict and
    `carried`, the saved state a config carries (`checks.STATE_KEYS`),
    which must belong to the schedule. Returns (lr, decay, spec or None)."""
    validate_state(carried)
    lr = non_negative(lr_name, lr)
    decay = non_negative('decay', decay)
    spec = None if clr is None else validate_clr(clr, lr, momentum_arg, owner)
    check_decay(spec, decay)
    cycles = spec is not None and spec.base_momentum is not None
    scaled = 'the factor on a schedule (see `lr`)'
    for key, of, needs in (
            ('cycle_iterations', 'a cyclical learning rate', spec),
            ('lr_scale', scaled, spec), ('lr_written', scaled, spec),
            ('lr_scale_before', scaled, spec),
            ('current_momentum', 'a cyclical momentum', cycles or None)):
        if key in carried and needs is None:
            raise ValueError('%s=%r is state of %s, but %s.' % (
                key, carried[key], of, 'clr is None' if spec is None else
                'clr has no base_momentum and max_momentum'))
    return lr, decay, spec


def check_decay(spec, decay):
    """decay lowers the base of a policy that declares `uses_decay`; the
    others set the whole schedule themselves, so decay is refused."""
    if spec is not None and not policy_of(spec).uses_decay and decay > 0:
        raise ValueError('decay=%r is not used with clr policy %r, which sets '
                         'the whole schedule (its floor included); leave decay '
                         'at 0.' % (decay, spec.policy))


def schedule(ops, k, c, lr, decay, spec, state, scale=None):
    """The learning rate (and momentum) that update k uses, in float32.

    # Arguments
        ops: `GraphOps` or `NumpyOps`.
        k: float32, updates already applied (the global step count).
        c: float32, the cycle counter (k since the last `reset_cycle`).
        lr: float32, the optimizer's learning rate.
        decay: float32 or None: `lr / (1 + decay * k)` lowers the base.
        spec: the policy's spec from `validate_clr`, or None for none.
        state: dict of the policy's float32 state (see `Policy.state`).
        scale: float64 or None: a factor on the schedule's learning rate
            (set by Keras's LR callbacks through `optimizer.lr`), applied
            before the one rounding.

    # Returns
        (lr_k, momentum_k), momentum_k None when momentum does not cycle.
    """
    base = ops.wide(lr)
    if decay is not None:       # keras's decay, rounded once at the end
        base = base / (ops.const(1.) + ops.wide(decay) * ops.wide(k))
    if spec is None:
        return ops.narrow(base), None
    lr_k, momentum_k = policy_of(spec).schedule(ops, c, base,
                                                Current(spec, state))
    if scale is not None:
        lr_k = lr_k * scale
    return ops.narrow(lr_k), (None if momentum_k is None
                              else ops.narrow(momentum_k))


def clr_schedule(iterations, lr, clr, decay=0.0, cycle_iterations=None,
                 return_momentum=False, lr_scale=1.0):
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
        lr_scale: float >= 0, the factor Keras's LR callbacks put on a
            schedule by writing `optimizer.lr` (its `lr_scale` in
            `get_config()`); only with `clr`.

    # Returns
        float32 array of the learning rates used by updates `iterations`
        (and the momentum array when `return_momentum`).
    """
    k = np.asarray(iterations, dtype=np.int64).astype(np.float32)
    c = k if cycle_iterations is None else (
        np.asarray(cycle_iterations, dtype=np.int64).astype(np.float32))
    scale = {} if lr_scale == 1 else {'lr_scale': lr_scale}
    lr, decay, spec = validate_schedule(lr, decay, clr, scale, 'momentum',
                                        'clr_schedule', lr_name='lr')
    scale = float(lr_scale)
    state = {} if spec is None else dict(policy_of(spec).state(spec))
    f32 = np.float32
    lr_k, momentum_k = schedule(NumpyOps, k, c, f32(lr),
                                f32(decay) if decay > 0 else None, spec,
                                state, None if spec is None else
                                np.float64(scale))
    lr_k = lr_k + np.zeros_like(k)   # a constant rate, one per step
    if return_momentum:
        return lr_k, momentum_k
    return lr_k
