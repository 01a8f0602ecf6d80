"""An optimizer's schedule as one object: its policy, the `clr` dict and its
spec, the variables the graph reads, `optimizer.lr`'s view, `reset_cycle`
and the checks of a restored state."""
from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import warnings

from keras import backend as K

from .checks import non_negative, number
from .docs import fill
from .graph import read
from .lr_view import ScheduledRate
from .ops import GraphOps
from .schedule import (clr_schedule, policy_of, schedule, validate_clr,
                       validate_schedule)


def validate(cls, learning_rate, decay, clr, momentum, carried):
    """Validates the arguments of an optimizer of class `cls` (its
    `momentum_argument`, and what that argument allows): the schedule's as
    everywhere (`schedule.validate_schedule`), then the momentum. Returns
    the policy's spec, or None without `clr`."""
    _, _, spec = validate_schedule(learning_rate, decay, clr, carried,
                                   cls.momentum_argument, cls.__name__)
    if momentum is not None:
        number(cls.momentum_argument, momentum, *cls._momentum_allowed)
    if (spec is not None and spec.base_momentum is not None and
            momentum != cls._momentum_default):
        raise ValueError(
            '%s=%r conflicts with clr base_momentum/max_momentum, which '
            'drive %s; leave %s at its default (%r).'
            % ((cls.momentum_argument, momentum) +
               (cls.momentum_argument,) * 2 + (cls._momentum_default,)))
    return spec


class ScheduleState(object):
    """The schedule of an optimizer built with a `clr` dict.

    The variables are the truth: the graph reads them, and `reset`,
    `set_weights` and a direct assign (as Horovod's broadcast makes) change
    them. `current()` reads them back; everything else asks it.

    # Arguments
        clr, spec: the user's dict and its validation.
        owner: the optimizer's class name, for messages.
        momentum_argument: what a cycling momentum drives, or None.
        optimizer: its `iterations`, `learning_rate` and `current_lr`
            variables, and `_next_lr(scale)` (see `ScheduledRate`).
        carried: the saved state a config carries (`checks.STATE_KEYS`).
    """

    def __init__(self, clr, spec, owner, momentum_argument, optimizer,
                 carried):
        self.policy = policy_of(spec)
        self._owner, self._momentum_argument = owner, momentum_argument
        self._learning_rate = optimizer.learning_rate
        self._given = (self.policy.resolved(dict(clr), spec), spec)
        self._read_back = None      # (variables' values, (spec, clr))
        self.cycle_iterations = K.variable(
            int(carried.get('cycle_iterations',
                            carried.get('iterations', 0))),
            dtype='int64', name='cycle_iterations')
        self.variables = collections.OrderedDict(
            (name, K.variable(value, name=name))
            for name, value in self.policy.state(spec))
        # Keras's LR callbacks' factor on the schedule (see `view`): in the
        # config, not a weight, so 0.3.0's files load unchanged
        self.lr_scale = K.variable(carried.get('lr_scale', 1.),
                                   dtype='float64', name='lr_scale')
        self.current_momentum = None
        if spec.base_momentum is not None:
            self.current_momentum = K.variable(
                carried.get('current_momentum', 0.), name='current_momentum')
        pending = None
        if 'lr_written' in carried:
            pending = (carried['lr_written'], carried['lr_scale_before'])
        self.view = ScheduledRate(optimizer.iterations, optimizer.current_lr,
                                  self.lr_scale, optimizer._next_lr, pending)

    @property
    def weights(self):
        """The variables saved with the model, in this order."""
        return [self.cycle_iterations] + list(self.variables.values()) + (
            [] if self.current_momentum is None else [self.current_momentum])

    # -- the truth -----------------------------------------------------------

    def current(self):
        """(spec, clr dict) that the variables hold now."""
        values = tuple(float(v) for v in K.batch_get_value(
            list(self.variables.values())))
        if self._read_back is None or self._read_back[0] != values:
            self._read_back = (values, self._stands_for(dict(zip(
                self.variables, values))))
        spec, clr = self._read_back[1]
        return spec, dict(clr)

    def _stands_for(self, values):
        """(spec, clr) of the given dict (the constructor's or the last
        reset's) with the policy's state `values` (name -> float),
        validated against the optimizer's learning rate."""
        clr, spec = self._given
        if [values[name] for name, _ in self.policy.state(spec)] == [
                float(value) for _, value in self.policy.state(spec)]:
            return spec, clr
        clr = self.policy.from_state(dict(clr), values)
        spec = validate_clr(clr, float(K.get_value(self._learning_rate)),
                            self._momentum_argument, self._owner)
        return spec, self.policy.resolved(clr, spec)

    def schedule(self, ops, k, c, lr, decay, scale):
        """(lr, cycling momentum) of the update at the counters k and c
        (float32), from the optimizer's lr and decay (None without), at the
        factor `scale` on the schedule: `schedule.schedule` over the
        variables. The given spec serves: the policy reads every number
        that can change from the variables (see `policies.base.Current`),
        so building the graph runs nothing."""
        return schedule(ops, k, c, lr, decay, self._given[1],
                        self.variables, scale)

    # -- what the optimizer reports and checks -----------------------------

    def config(self):
        """The state's entries of the optimizer's config."""
        spec, clr = self.current()
        config = {'clr': self.policy.config(clr),
                  'cycle_iterations': float(K.get_value(
                      self.cycle_iterations)),
                  'lr_scale': float(K.get_value(self.lr_scale))}
        config.update(self.view.config())
        if self.current_momentum is not None:
            config['current_momentum'] = float(K.get_value(
                self.current_momentum))
        return config

    def saved_clr(self, saved):
        """The `clr` dict that restored values stand for (`saved`: variable
        -> value), to be validated as the constructor's."""
        return self.policy.from_state(dict(self._given[0]), {
            name: saved(v) for name, v in self.variables.items()})

    def warn_past_end(self, planned):
        """See `_CLROptimizer.warn_past_end`."""
        spec, clr = self.current()
        end = self.policy.length(spec)
        if end is None:
            return 0
        done = int(K.get_value(self.cycle_iterations))
        over = int(done + planned - end)
        if over > 0 and not getattr(self, '_warned_past_end', False):
            self._warned_past_end = True
            last = clr_schedule([end], float(K.get_value(self._learning_rate)),
                                clr, lr_scale=float(K.get_value(
                                    self.lr_scale)))[0]
            warnings.warn(
                '%s: its %r schedule ends after %d updates and %d are done; '
                'the %d updates planned run %d past its end, all at its '
                'final learning rate %.3g. Lengthen the schedule, or fit '
                'fewer epochs.' % (self._owner, spec.policy, end, done,
                                   planned, over, last),
                UserWarning, stacklevel=3)
        return max(over, 0)

    # -- restarting --------------------------------------------------------

    def reset(self, lr, args, changes):
        """`reset_cycle(lr, *args, **changes)`: see the optimizer's."""
        spec, clr = self.current()
        changes = self._changes(args, changes)
        for key in sorted(changes):
            self._check_resettable(key, changes[key])
        self.policy.check_reset(spec, changes)
        clr.update(changes)
        base = float(K.get_value(self._learning_rate)) if lr is None else lr
        try:        # errors name the call's arguments, as the user gave them
            base = non_negative('lr', base)
            spec = validate_clr(clr, base, self._momentum_argument,
                                self._owner)
        except (TypeError, ValueError) as e:
            given = ([] if lr is None else [('lr', lr)]) + sorted(
                changes.items())
            raise type(e)('reset_cycle(%s): %s' % (', '.join(
                '%s=%r' % pair for pair in given), e))
        pairs = [(self.cycle_iterations, 0), (self.lr_scale, 1.)]
        pairs += self.view.forget()
        pairs += [(self.variables[name], value)
                  for name, value in self.policy.state(spec)]
        if lr is not None:
            pairs.append((self._learning_rate, base))
        K.batch_set_value(pairs)
        self._given = (self.policy.resolved(clr, spec), spec)
        self._read_back = None

    def _changes(self, args, changes):
        """The keys reset_cycle changes: positional values in the order of
        the policy's `resettable`, then the keywords; Nones dropped."""
        names = self.policy.resettable
        if len(args) > len(names):
            raise TypeError('reset_cycle takes lr and at most %d more values '
                            'for clr policy %r (%s); got %d.'
                            % (len(names), self.policy.name,
                               ', '.join(names), 1 + len(args)))
        for key, value in zip(names, args):
            if key in changes:
                raise TypeError('reset_cycle got two values for %s: %r and '
                                '%r.' % (key, value, changes[key]))
            changes[key] = value
        return {k: v for k, v in changes.items() if v is not None}

    def _check_resettable(self, key, value):
        policy = self.policy
        if key not in policy.resettable:
            raise ValueError(
                'reset_cycle(%s=%r): clr policy %r has no %s that it can '
                'change (it can change: %s; its keys: %s).'
                % (key, value, policy.name, key,
                   ', '.join(('lr',) + policy.resettable),
                   ', '.join(policy.all_keys)))


class Scheduled(object):
    """The schedule's face on the optimizer (a mixin of `_CLROptimizer`,
    whose `_schedule_state` is a `ScheduleState` or None): `clr`,
    `cycles_momentum`, `lr` for Keras's LR callbacks, `warn_past_end`,
    `reset_cycle`, and the schedule's ops for an update (`_schedule`)."""

    @property
    def cycles_momentum(self):
        """Whether `clr` drives the momentum (`current_momentum` exists)."""
        scheduled = getattr(self, '_schedule_state', None)
        return scheduled is not None and scheduled.current_momentum is not None

    @property
    def clr(self):
        """The `clr` dict in force (None without a schedule): the
        constructor's, with the values that the schedule's variables hold
        now, after `reset_cycle`, `set_weights` or a direct assign (as
        Horovod's broadcast makes)."""
        scheduled = self._schedule_state
        return None if scheduled is None else scheduled.current()[1]

    def _schedule(self, ops, k, c, scale=None):
        """This update's (lr, cycling momentum) in the graph, from the
        counters read as float32, at the factor `scale` (default
        `lr_scale`'s value)."""
        decay = self.decay if self.initial_decay > 0 else None
        scheduled = self._schedule_state
        if scheduled is None:
            return schedule(ops, k, c, read(self.learning_rate), decay,
                            None, {})
        if scale is None:
            scale = read(self.lr_scale)
        return scheduled.schedule(ops, k, c, read(self.learning_rate), decay,
                              scale)

    def _next_lr(self, scale):
        """The LR the next update would use at the factor `scale` on the
        schedule (float64 tensor): a float32 tensor."""
        return self._schedule(GraphOps(), K.cast(self.iterations, 'float32'),
                              K.cast(self.cycle_iterations, 'float32'),
                              scale)[0]

    @property
    def lr(self):
        """What Keras's LR callbacks (`ReduceLROnPlateau`,
        `LearningRateScheduler`, Horovod's) read and write with
        `K.get_value` / `K.set_value`: without `clr`, `learning_rate`
        itself, as in Keras; with a schedule, a view that acts as a
        variable between updates: it reads the value last written since
        the last update, else the LR that update used (the first update's
        before any), and writing v makes every later LR the schedule times
        the factor in force at that update times v / that LR (`lr_scale`),
        keeping the schedule's shape and the momentum."""
        scheduled = self._schedule_state
        return self.learning_rate if scheduled is None else scheduled.view

    def warn_past_end(self, planned):
        """Warns, once per optimizer, when `planned` more updates would run
        past the end of a schedule that then holds its last value (one-cycle,
        phases ending in a hold): `LRLogger` and `AtomicModelCheckpoint` ask
        at the start of each epoch, with no cost per update.

        # Returns
            The number of planned updates past the end (0 when none).
        """
        scheduled = self._schedule_state
        return 0 if scheduled is None else scheduled.warn_past_end(planned)

    def reset_cycle(self, lr=None, *args, **changes):
        """Restarts the schedule at its start, optionally with new settings.

        Takes effect on the next update, without recompiling. `iterations`
        keeps counting (decay and bias correction use it); the cycle counter
        restarts at 0. The new values are validated like the constructor's
        and saved with the model.

        # Arguments
            lr: new learning rate, by policy:
                {roles}.
            *args, **changes: new values of the `clr` keys that the
                policy lets change, in this order (None leaves a key as it
                is), by policy:
                {resettable}.
        """
        if self._schedule_state is None:
            raise ValueError('reset_cycle needs a cyclical learning rate; this '
                             '%s was built with clr=None.' % type(self).__name__)
        self._schedule_state.reset(lr, args, changes)

    reset_cycle.__doc__ = fill(reset_cycle.__doc__)
