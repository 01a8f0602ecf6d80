"""Keras 2.3.1 optimizers with learning-rate schedules computed in the graph.

The seven standard Keras optimizers (SGD, RMSprop, Adagrad, Adadelta, Adam,
Adamax, Nadam), each taking the arguments of its `keras.optimizers` namesake
plus `clr`, a dict that turns on a learning-rate schedule: Smith's
cyclical learning rate (`cyclic`), one-cycle (`one_cycle`), cosine
annealing with warm restarts (`cosine_restarts`), or a list of phases
(`phases`: warm-up, cosine or linear decay, warmup-stable-decay, step
decay, and a warm-up before any of the others).
The schedule is evaluated inside the training graph at every update: no
callback, no extra session run, deterministic, and saved with the model.

```python
from clr_optimizers import *
model.compile(optimizer=Adam(lr=0.001, clr={'max_lr': 0.006,
                                            'step_size': 2000}),
              loss='binary_crossentropy')
```

Also here:
    clr_schedule: the same schedule in numpy, bit-identical to the graph's.
    plot_schedule: draws it before training (matplotlib, the plots extra).
    LRLogger: a callback that puts the LR (and momentum) in Keras's logs.
    AtomicModelCheckpoint: a ModelCheckpoint that never leaves a broken
        file.
    lr_range_test: Smith's LR range test on a clone of a compiled model,
        with suggested bounds (an LRRangeTestResult).
    register_scale_fn, custom_objects, OptimizerStateError.

# Step convention
Let k be the number of updates already applied (k = 0 for the first).  Every
read of the step counter within one update sees k (the schedule, `decay`, and
the bias correction of Adam, Adamax and Nadam with t = k + 1); the counters are
incremented after all of the update's reads, ordered by control dependencies.

# Policies
{policies}
# References
    - [Cyclical Learning Rates for Training Neural Networks](
       https://arxiv.org/abs/1506.01186)
"""
from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections

import tensorflow as tf
from keras import backend as K
from keras import optimizers as keras_optimizers
from keras.legacy import interfaces
from keras.utils.generic_utils import get_custom_objects

from _clr_optimizers.callbacks import AtomicModelCheckpoint, LRLogger
from _clr_optimizers.checks import STATE_KEYS, non_negative, number
from _clr_optimizers.docs import document, policies_text
from _clr_optimizers.graph import (InPlace, LoadGuard, is_resource,
                                   kernel_applies,
                                   read as _read, snapshot_readers)
from _clr_optimizers.ops import GraphOps
from _clr_optimizers.per_parameter import PerParameter
from _clr_optimizers.persistence import OptimizerStateError, Persistent
from _clr_optimizers.plots import plot_schedule
from _clr_optimizers.policies import register_scale_fn
from _clr_optimizers.range_test import LRRangeTestResult, lr_range_test
from _clr_optimizers.schedule import clr_schedule
from _clr_optimizers.schedule_state import Scheduled, ScheduleState, validate

__doc__ = __doc__.replace('{policies}', policies_text())
__version__ = '0.3.0'

__all__ = ['SGD', 'RMSprop', 'Adagrad', 'Adadelta', 'Adam', 'Adamax', 'Nadam',
           'clr_schedule', 'custom_objects', 'register_scale_fn',
           'OptimizerStateError', 'LRLogger', 'AtomicModelCheckpoint',
           'lr_range_test', 'LRRangeTestResult', 'plot_schedule']


# What one update computed before its rule runs: k (float32, updates already
# applied), this update's learning rate and momentum (None for optimizers
# without one), the cycling momentum to record (or None), and the counter
# reads that the counter increments must follow.
_Step = collections.namedtuple('_Step', 'k lr momentum cycling_momentum reads')


class _CLROptimizer(Scheduled, Persistent, keras_optimizers.Optimizer):
    """The shared part of the seven: their arguments and variables, the loop
    over the parameters, step ordering and config; the schedule's state is
    a `ScheduleState` (`_clr_optimizers/schedule_state.py`).

    A subclass states its update rule and nothing else:
        `_slot_names()`: the per-parameter slots;
        `_hyper(step)`: this step's tensors shared by every parameter,
            those that scale with the learning rate from `_at_rate(h, lr)`;
        `_rule(h, p, g, *slots)`: Keras's formula, op by op, giving the new
            parameter and the new slots;
        `_kernel(in_place, h, p, g, *slots)`: the same update with
            TensorFlow's fused kernel, each write of p made through
            `in_place` (`_has_kernel()`: whether it can); returns the op after
            which p and its slots hold their new values;
        `_state_updates(h)`: (variable, value) pairs written once per step.
    """

    # The argument that cyclical momentum drives ('momentum', 'beta_1'), or
    # None; its default; what it may be (text, test).
    momentum_argument = None
    _momentum_default = None
    _momentum_allowed = ('>= 0', lambda v: v >= 0)
    # Whether the rule uses the step count k (bias correction).
    _reads_step_count = False

    def __init__(self, learning_rate, clr=None, momentum=None, **kwargs):
        learning_rate = kwargs.pop('lr', learning_rate)
        self.initial_decay = kwargs.pop('decay', 0.0)
        # State that get_config reports, accepted back so that a config
        # rebuilds the optimizer, through from_config or a plain call
        # (horovod.keras.load_model calls the class with the config).
        carried = {key: kwargs.pop(key) for key in STATE_KEYS if key in kwargs}
        self.fused = kwargs.pop('fused', True)
        if not isinstance(self.fused, bool):
            raise TypeError('fused=%r: expected True or False.'
                            % (self.fused,))
        self._per_parameter = PerParameter(
            kwargs.pop('weight_decay', 0.),
            kwargs.pop('weight_decay_exclude', ()),
            kwargs.pop('lr_multipliers', None))
        super(_CLROptimizer, self).__init__(**kwargs)
        spec = validate(type(self), learning_rate, self.initial_decay, clr,
                        momentum, carried)
        self._guard = LoadGuard(carried.get('iterations', 0) > 0)
        with K.name_scope(type(self).__name__):
            self.iterations = K.variable(int(carried.get('iterations', 0)),
                                         dtype='int64', name='iterations')
            self.learning_rate = K.variable(learning_rate,
                                            name='learning_rate')
            self.decay = K.variable(self.initial_decay, name='decay')
            self.current_lr = K.variable(carried.get('current_lr', 0.),
                                         name='current_lr')
            self._schedule_state = None if spec is None else ScheduleState(
                clr, spec, type(self).__name__, self.momentum_argument, self,
                carried)
            # a momentum that `clr` cycles has no variable of its own: the
            # schedule computes it (and Horovod's momentum correction, which
            # writes `optimizer.momentum` where it exists, leaves it alone)
            if momentum is not None and not self.cycles_momentum:
                setattr(self, self.momentum_argument,
                        K.variable(momentum, name=self.momentum_argument))
        # saved with the model ahead of the slots, in this order
        self._state_weights = [self.iterations, self.learning_rate,
                               self.current_lr]
        if self._schedule_state is not None:
            self._state_weights += self._schedule_state.weights
            self.cycle_iterations = self._schedule_state.cycle_iterations
            self.lr_scale = self._schedule_state.lr_scale
            if self.cycles_momentum:
                self.current_momentum = self._schedule_state.current_momentum

    # -- the update step ---------------------------------------------------

    @interfaces.legacy_get_updates_support
    @K.symbolic
    def get_updates(self, loss, params):
        grads = self.get_gradients(loss, params)
        step = self._begin_update(grads, params)
        plan = self._per_parameter.resolve(params)
        h = self._hyper(step)
        # an LR multiplier scales the rule's rates, and only them
        hypers = {factor: self._at_rate(h, step.lr * factor)
                  for factor in set(f for _, f in plan if f != 1.)}
        hypers[1.] = h
        slots = self._slots(params, *self._slot_names(),
                            extra=self._extra_weights())
        readers = snapshot_readers(params, grads)
        updates = []
        for i, (p, g) in enumerate(zip(params, grads)):
            decayed, factor = plan[i]
            updates += self._update_parameter(
                hypers[factor], p, g, [group[i] for group in slots], decayed,
                readers[i])
        return self._end_update(step, updates, self._state_updates(h))

    def _update_parameter(self, h, p, g, slots, decayed=False, readers=()):
        """One parameter's update, the one place that writes parameters and
        slots: decoupled weight decay first, p - lr * weight_decay * p with
        this update's lr (times the parameter's multiplier), then the fused
        kernel where one applies (a dense gradient, resource variables, no
        constraint), else the rule op by op. The fused writes, in place,
        wait for `readers` (see `graph.snapshot_readers`)."""
        shrink = h.lr * self._per_parameter.weight_decay if decayed else None
        if self._has_kernel() and kernel_applies(self.fused, p, g, *slots):
            decayed = []
            if shrink is not None:
                # after the forward pass's read of p (the gradient needs it)
                with tf.control_dependencies([g] + list(readers)):
                    decayed = [p.assign_sub(shrink * p)]
            with tf.control_dependencies(decayed):
                return [self._kernel(InPlace(readers), h, p, g, *slots)]
        variable = p
        if shrink is not None:          # the rule starts from the decayed p
            p = p - shrink * p
        new_p, new_slots = self._rule(h, p, g, *slots)
        updates = [K.update(s, new_s) for s, new_s in zip(slots, new_slots)]
        if getattr(variable, 'constraint', None) is not None:
            new_p = variable.constraint(new_p)
        return updates + [K.update(variable, new_p)]

    def _has_kernel(self):
        """Whether this optimizer's kernel can apply its rule."""
        return True

    def _at_rate(self, h, lr):
        """`h` (from `_hyper`) with its rates computed from the learning
        rate `lr`; its other tensors are kept."""
        return h._replace(lr=lr)

    def _slot_names(self):
        return ()

    # -- weight decay and LR multipliers ---------------------------------

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Excludes weights from `weight_decay`, as Keras 3's method: the
        variables in `var_list`, and every weight whose name contains one
        of `var_names`. Call it before compiling; it adds to
        `weight_decay_exclude` (saved in the config)."""
        self._per_parameter.exclude_more(var_list, var_names)

    @property
    def decayed_weights(self):
        """The names of the weights that weight_decay decays (None until
        the model is compiled and its training function built)."""
        return self._per_parameter.decayed

    def per_parameter(self, params):
        """[(decayed, LR factor)] for each of `params` (the model's
        trainable weights), as the update applies them."""
        return self._per_parameter.plan(params)
    def _extra_weights(self):
        """Per-step state saved after the schedule's, before the slots."""
        return []

    def _state_updates(self, h):
        return []

    def _begin_update(self, grads, params):
        """Reads the counters once and computes this update's learning rate
        (and momentum): a `_Step` for `_end_update`.

        The schedule runs from the counter reads alone, in parallel with the
        forward and backward pass. Reads of resource variables are
        snapshots; where a parameter is a reference variable (whose reads
        alias its buffer), the learning rate also waits for every gradient,
        so that no parameter is written while a gradient may still read it.
        (Resource parameters' fused updates wait for their own readers:
        `graph.snapshot_readers`.)
        """
        deps = []
        if not all(is_resource(p) for p in params):
            deps = [g.op if isinstance(g, tf.IndexedSlices) else g
                    for g in grads]
        guard = self._guard.assertion(type(self).__name__, self.iterations)
        if guard is not None:
            deps.append(guard)
        k = K.cast(self.iterations, 'float32')
        c = None
        if self._schedule_state is not None:
            c = K.cast(self.cycle_iterations, 'float32')
        reads = [] if c is None else [c]
        if self.initial_decay > 0 or self._reads_step_count:
            reads.append(k)
        lr, cycling = self._schedule(GraphOps(deps), k, c)
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
            if self._schedule_state is not None:
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

def _epsilon(kwargs):
    """Pops and validates the fuzz factor (default `K.epsilon()`)."""
    epsilon = kwargs.pop('epsilon', None)
    if epsilon is None:
        return K.epsilon()
    non_negative('epsilon', epsilon)
    return epsilon


def _rho(rho):
    return non_negative('rho', rho)


def _register(cls):
    """Documents the class's shared arguments and registers it under its own
    name, which no Keras built-in lower-cases into
    (`keras.optimizers.deserialize` maps 'Adam' to 'adam'), so that
    `keras.models.load_model` needs no `custom_objects`."""
    get_custom_objects()[cls.__name__] = cls
    return document(cls)


# ---------------------------------------------------------------------------
# The seven optimizers, saved as CLRSGD ... CLRNadam and exported as SGD ...
# Nadam. Each states keras 2.3.1's rule (`_rule`) and its fused kernel
# (`_kernel`), with the learning rate (and momentum) of this update taken
# from the schedule; the base class applies them to every parameter.
# ---------------------------------------------------------------------------

@_register
class CLRSGD(_CLROptimizer):
    """Stochastic gradient descent optimizer with learning-rate schedules.

    Includes support for momentum, learning rate decay, and Nesterov momentum.

    # Arguments
        momentum: float >= 0 (default 0). Parameter that accelerates SGD in
            the relevant direction and dampens oscillations.
        nesterov: boolean (default False). Whether to apply Nesterov
            momentum.

    # References
    """
    momentum_argument = 'momentum'
    _momentum_default = 0.

    def __init__(self, learning_rate=0.01, momentum=0., nesterov=False,
                 clr=None, **kwargs):
        super(CLRSGD, self).__init__(learning_rate, clr, momentum, **kwargs)
        self.nesterov = nesterov

    def _slot_names(self):
        return ('moment',)

    def _hyper(self, step):
        return step

    def _rule(self, h, p, g, m):
        v = h.momentum * m - h.lr * g  # velocity
        if self.nesterov:
            return p + h.momentum * v - h.lr * g, [v]
        return p + v, [v]

    def _kernel(self, in_place, h, p, g, m):
        # m = momentum * m - lr * g, then p = p + m (to the bit), or with
        # Nesterov p = p + (momentum * m - lr * g) (Keras adds the two
        # terms to p one at a time: within an ulp of p).
        return in_place(
            tf.raw_ops.ResourceApplyKerasMomentum, var=p.handle,
            accum=m.handle, lr=h.lr, grad=g, momentum=h.momentum,
            use_locking=False, use_nesterov=self.nesterov)

    def get_config(self):
        config = super(CLRSGD, self).get_config()
        config['nesterov'] = self.nesterov
        return config


_RMSpropStep = collections.namedtuple('_RMSpropStep', 'lr rho one_minus_rho '
                                      's lr_over_s epsilon')


@_register
class CLRRMSprop(_CLROptimizer):
    """RMSProp optimizer with learning-rate schedules.

    # Arguments
        rho: float >= 0 (default 0.9). (The fused route, through Adagrad's
            kernel at lr / sqrt(1 - rho), is taken when the constructor's
            rho is below 1; do not set `rho` to 1 or more after compiling.)
        {epsilon}

    # References
        - [rmsprop: Divide the gradient by a running average of its recent
           magnitude](http://www.cs.toronto.edu/~tijmen/csc321/slides/lecture_slides_lec6.pdf)
    """

    def __init__(self, learning_rate=0.001, rho=0.9, clr=None, **kwargs):
        self.epsilon = _epsilon(kwargs)
        super(CLRRMSprop, self).__init__(learning_rate, clr, **kwargs)
        self._rho_value = _rho(rho)
        with K.name_scope(type(self).__name__):
            self.rho = K.variable(rho, name='rho')

    def _slot_names(self):
        return ('accumulator',)

    def _hyper(self, step):
        rho = _read(self.rho)
        one_minus_rho = 1. - rho      # the same for every parameter
        s = K.sqrt(one_minus_rho)
        return self._at_rate(_RMSpropStep(None, rho, one_minus_rho, s, None,
                                          K.constant(self.epsilon)), step.lr)

    def _at_rate(self, h, lr):
        return h._replace(lr=lr, lr_over_s=lr / h.s)

    def _rule(self, h, p, g, a):
        new_a = h.rho * a + h.one_minus_rho * K.square(g)
        return p - h.lr * g / (K.sqrt(new_a) + self.epsilon), [new_a]

    def _has_kernel(self):
        return self._rho_value < 1      # the route below needs 1 - rho > 0

    def _kernel(self, in_place, h, p, g, a):
        # With s = sqrt(1 - rho), Adagrad's kernel on a * rho, the gradient
        # g * s and the rate lr / s computes the rule: a = rho * a +
        # (1 - rho) * g**2; p = p - lr * g / (sqrt(a) + eps). It needs
        # 1 - rho > 0; the constructor's rho decides (`_has_kernel`).
        decayed = K.update(a, h.rho * a)
        with tf.control_dependencies([decayed]):
            return in_place(
                tf.raw_ops.ResourceApplyAdagradV2, var=p.handle,
                accum=a.handle, lr=h.lr_over_s, epsilon=h.epsilon,
                grad=g * h.s, use_locking=False)

    def get_config(self):
        config = super(CLRRMSprop, self).get_config()
        config.update(rho=float(K.get_value(self.rho)), epsilon=self.epsilon)
        return config


_AdagradStep = collections.namedtuple('_AdagradStep', 'lr epsilon')


@_register
class CLRAdagrad(_CLROptimizer):
    """Adagrad optimizer with learning-rate schedules.

    # Arguments
        {epsilon}

    # References
        - [Adaptive Subgradient Methods for Online Learning and Stochastic
           Optimization](http://www.jmlr.org/papers/volume12/duchi11a/duchi11a.pdf)
    """

    def __init__(self, learning_rate=0.01, clr=None, **kwargs):
        self.epsilon = _epsilon(kwargs)
        super(CLRAdagrad, self).__init__(learning_rate, clr, **kwargs)

    def _slot_names(self):
        return ('accumulator',)

    def _hyper(self, step):
        return _AdagradStep(step.lr, K.constant(self.epsilon))

    def _rule(self, h, p, g, a):
        new_a = a + K.square(g)
        return p - h.lr * g / (K.sqrt(new_a) + self.epsilon), [new_a]

    def _kernel(self, in_place, h, p, g, a):
        # The rule in one kernel, to the bit: a = a + g**2;
        # p = p - lr * g / (sqrt(a) + epsilon).
        return in_place(
            tf.raw_ops.ResourceApplyAdagradV2, var=p.handle, accum=a.handle,
            lr=h.lr, epsilon=h.epsilon, grad=g, use_locking=False)

    def get_config(self):
        config = super(CLRAdagrad, self).get_config()
        config['epsilon'] = self.epsilon
        return config


@_register
class CLRAdadelta(_CLROptimizer):
    """Adadelta optimizer with learning-rate schedules.

    # Arguments
        learning_rate: float >= 0. Initial learning rate, defaults to 1.
        rho: float >= 0 (default 0.95). Adadelta decay factor.
        {epsilon}

    # References
        - [Adadelta - an adaptive learning rate method](
           https://arxiv.org/abs/1212.5701)
    """

    def __init__(self, learning_rate=1.0, rho=0.95, clr=None, **kwargs):
        self.epsilon = _epsilon(kwargs)
        super(CLRAdadelta, self).__init__(learning_rate, clr, **kwargs)
        _rho(rho)
        self.rho = rho

    def _slot_names(self):
        return ('accumulator', 'delta_accumulator')

    def _hyper(self, step):
        return _AdagradStep(step.lr, K.constant(self.epsilon))

    def _rule(self, h, p, g, a, d_a):
        new_a = self.rho * a + (1. - self.rho) * K.square(g)
        # the new accumulator and the *old* delta accumulator
        update = g * K.sqrt(d_a + self.epsilon) / K.sqrt(new_a + self.epsilon)
        new_d_a = self.rho * d_a + (1 - self.rho) * K.square(update)
        return p - h.lr * update, [new_a, new_d_a]

    def _kernel(self, in_place, h, p, g, a, d_a):
        # The rule in one kernel (1 / sqrt(new_a + epsilon) as a reciprocal
        # square root).
        return in_place(
            tf.raw_ops.ResourceApplyAdadelta, var=p.handle, accum=a.handle,
            accum_update=d_a.handle, lr=h.lr, rho=self.rho,
            epsilon=h.epsilon, grad=g, use_locking=False)

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
        number('beta_2', beta_2, 'in [0, 1)', lambda v: 0 <= v < 1)
        super(_AdamFamily, self).__init__(learning_rate, clr, beta_1, **kwargs)
        with K.name_scope(type(self).__name__):
            self.beta_2 = K.variable(beta_2, name='beta_2')

    def get_config(self):
        config = super(_AdamFamily, self).get_config()
        config.update(beta_2=float(K.get_value(self.beta_2)),
                      epsilon=self.epsilon)
        return config


_AdamStep = collections.namedtuple('_AdamStep', 'lr lr_t correction beta_1 '
                                   'beta_2 beta_1_t beta_2_t '
                                   'one_minus_beta_1 one_minus_beta_2 '
                                   'epsilon')


@_register
class CLRAdam(_AdamFamily):
    """Adam optimizer with learning-rate schedules.

    Default parameters follow those provided in the original paper.

    # Arguments
        beta_1: float, 0 <= beta_1 < 1 (default 0.9). Generally close to 1.
        beta_2: float, 0 <= beta_2 < 1 (default 0.999). Generally close to 1.
        amsgrad: boolean (default False). Whether to apply the AMSGrad
            variant of this algorithm from the paper "On the Convergence
            of Adam and Beyond".
        {epsilon}

    # References
        - [Adam - A Method for Stochastic Optimization](
           https://arxiv.org/abs/1412.6980v8)
        - [On the Convergence of Adam and Beyond](
           https://openreview.net/forum?id=ryQu7f-RZ)
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999,
                 amsgrad=False, clr=None, **kwargs):
        super(CLRAdam, self).__init__(learning_rate, beta_1, beta_2, clr,
                                      **kwargs)
        self.amsgrad = amsgrad

    def _slot_names(self):
        return ('m', 'v') + (('vhat',) if self.amsgrad else ())

    def _hyper(self, step):
        lr, beta_1, beta_2 = step.lr, step.momentum, _read(self.beta_2)
        t = step.k + 1
        beta_1_t, beta_2_t = K.pow(beta_1, t), K.pow(beta_2, t)
        correction = K.sqrt(1. - beta_2_t) / (1. - beta_1_t)
        return self._at_rate(_AdamStep(
            None, None, correction, beta_1, beta_2, beta_1_t, beta_2_t,
            1. - beta_1, 1. - beta_2, K.constant(self.epsilon)), lr)

    def _at_rate(self, h, lr):
        return h._replace(lr=lr, lr_t=lr * h.correction)

    def _rule(self, h, p, g, m, v, vhat=None):
        m_t = (h.beta_1 * m) + h.one_minus_beta_1 * g
        v_t = (h.beta_2 * v) + h.one_minus_beta_2 * K.square(g)
        if self.amsgrad:
            vhat_t = K.maximum(vhat, v_t)
            p_t = p - h.lr_t * m_t / (K.sqrt(vhat_t) + self.epsilon)
            return p_t, [m_t, v_t, vhat_t]
        p_t = p - h.lr_t * m_t / (K.sqrt(v_t) + self.epsilon)
        return p_t, [m_t, v_t]

    def _kernel(self, in_place, h, p, g, m, v, vhat=None):
        # The rule in one kernel, which forms lr_t from lr, beta_1**t and
        # beta_2**t as above and writes m_t as m + (g - m) * (1 - beta_1)
        # (v_t likewise).
        if self.amsgrad:
            return in_place(
                tf.raw_ops.ResourceApplyAdamWithAmsgrad, var=p.handle,
                m=m.handle, v=v.handle, vhat=vhat.handle,
                beta1_power=h.beta_1_t, beta2_power=h.beta_2_t, lr=h.lr,
                beta1=h.beta_1, beta2=h.beta_2, epsilon=h.epsilon, grad=g,
                use_locking=False)
        return in_place(
            tf.raw_ops.ResourceApplyAdam, var=p.handle, m=m.handle,
            v=v.handle, beta1_power=h.beta_1_t,
            beta2_power=h.beta_2_t, lr=h.lr, beta1=h.beta_1, beta2=h.beta_2,
            epsilon=h.epsilon, grad=g, use_locking=False)

    def get_config(self):
        config = super(CLRAdam, self).get_config()
        config['amsgrad'] = self.amsgrad
        return config


@_register
class CLRAdamax(_AdamFamily):
    """Adamax optimizer (Adam paper, section 7) with learning-rate schedules.

    # Arguments
        beta_1: float, 0 <= beta_1 < 1 (default 0.9). Generally close to 1.
        beta_2: float, 0 <= beta_2 < 1 (default 0.999). Generally close to 1.
        {epsilon}

    # References
        - [Adam - A Method for Stochastic Optimization](
           https://arxiv.org/abs/1412.6980v8)
    """

    def __init__(self, learning_rate=0.002, beta_1=0.9, beta_2=0.999,
                 clr=None, **kwargs):
        super(CLRAdamax, self).__init__(learning_rate, beta_1, beta_2, clr,
                                        **kwargs)

    def _slot_names(self):
        return ('m', 'u')

    def _hyper(self, step):
        lr, beta_1, beta_2 = step.lr, step.momentum, _read(self.beta_2)
        t = step.k + 1
        beta_1_t = K.pow(beta_1, t)
        return self._at_rate(_AdamStep(
            None, None, 1. - beta_1_t, beta_1, beta_2, beta_1_t, None,
            1. - beta_1, None, K.constant(self.epsilon)), lr)

    def _at_rate(self, h, lr):
        return h._replace(lr=lr, lr_t=lr / h.correction)

    def _rule(self, h, p, g, m, u):
        m_t = (h.beta_1 * m) + h.one_minus_beta_1 * g
        u_t = K.maximum(h.beta_2 * u, K.abs(g))
        p_t = p - h.lr_t * m_t / (u_t + self.epsilon)
        return p_t, [m_t, u_t]

    def _kernel(self, in_place, h, p, g, m, u):
        # The rule in one kernel, which forms lr_t from lr and beta_1**t as
        # above and writes m_t as m + (g - m) * (1 - beta_1).
        return in_place(
            tf.raw_ops.ResourceApplyAdaMax, var=p.handle, m=m.handle,
            v=u.handle, beta1_power=h.beta_1_t,
            lr=h.lr, beta1=h.beta_1, beta2=h.beta_2, epsilon=h.epsilon,
            grad=g, use_locking=False)


_NadamStep = collections.namedtuple('_NadamStep', 'lr r beta_1 beta_2 '
                                    'm_schedule_new momentum_cache_t_1 '
                                    'g_scale m_scale v_scale '
                                    'one_minus_cache_t one_minus_beta_1 '
                                    'one_minus_beta_2 g_coef m_coef '
                                    'epsilon_r zero')


@_register
class CLRNadam(_AdamFamily):
    """Nesterov Adam optimizer with learning-rate schedules.

    Unlike keras 2.3.1's Nadam, this one also accepts `decay`.

    # Arguments
        beta_1: float, 0 <= beta_1 < 1 (default 0.9). Generally close to 1.
        beta_2: float, 0 <= beta_2 < 1 (default 0.999). Generally close to 1.
        schedule_decay: float >= 0, the momentum warming schedule (default
            0.004).
        {epsilon}

    # References
        - [Nadam report](http://cs229.stanford.edu/proj2015/054_report.pdf)
        - [On the importance of initialization and momentum in deep learning](
           http://www.cs.toronto.edu/~fritz/absps/momentum.pdf)
    """

    def __init__(self, learning_rate=0.002, beta_1=0.9, beta_2=0.999,
                 clr=None, **kwargs):
        self.schedule_decay = kwargs.pop('schedule_decay', 0.004)
        non_negative('schedule_decay', self.schedule_decay)
        super(CLRNadam, self).__init__(learning_rate, beta_1, beta_2, clr,
                                       **kwargs)
        with K.name_scope(type(self).__name__):
            self.m_schedule = K.variable(1., name='m_schedule')

    def _slot_names(self):
        return ('m', 'v')

    def _extra_weights(self):
        return [self.m_schedule]

    def _hyper(self, step):
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
        # The fused route: as sqrt(v_t / v_scale) + epsilon equals
        # (sqrt(v_t) + epsilon * r) / r with r = sqrt(v_scale), the step is
        # g_coef * g + m_coef * m_t over sqrt(v_t) + epsilon * r.
        r = K.sqrt(v_scale)
        epsilon_r, zero = self.epsilon * r, K.constant(0.)
        return self._at_rate(_NadamStep(
            None, r, beta_1, beta_2, m_schedule_new, momentum_cache_t_1,
            g_scale, m_scale, v_scale, one_minus_cache_t, 1. - beta_1,
            1. - beta_2, None, None, epsilon_r, zero), lr)

    def _at_rate(self, h, lr):
        return h._replace(
            lr=lr, g_coef=lr * h.r * h.one_minus_cache_t / h.g_scale,
            m_coef=lr * h.r * h.momentum_cache_t_1 / h.m_scale)

    def _rule(self, h, p, g, m, v):
        g_prime = g / h.g_scale
        m_t = h.beta_1 * m + h.one_minus_beta_1 * g
        m_t_prime = m_t / h.m_scale
        v_t = h.beta_2 * v + h.one_minus_beta_2 * K.square(g)
        v_t_prime = v_t / h.v_scale
        m_t_bar = h.one_minus_cache_t * g_prime + (
            h.momentum_cache_t_1 * m_t_prime)
        p_t = p - h.lr * m_t_bar / (K.sqrt(v_t_prime) + self.epsilon)
        return p_t, [m_t, v_t]

    def _kernel(self, in_place, h, p, g, m, v):
        # Adam's kernel, with beta_1**t = beta_2**t = 0 (so that its rate
        # is m_coef), writes m_t and v_t as the rule and takes the m_t
        # term; then the g term, from v_t.
        adam = in_place(
            tf.raw_ops.ResourceApplyAdam, var=p.handle, m=m.handle,
            v=v.handle, beta1_power=h.zero,
            beta2_power=h.zero, lr=h.m_coef, beta1=h.beta_1, beta2=h.beta_2,
            epsilon=h.epsilon_r, grad=g, use_locking=False)
        with tf.control_dependencies([adam]):
            v_t = v.read_value()
            return in_place.assign_sub(
                p, h.g_coef * g / (K.sqrt(v_t) + h.epsilon_r))

    def _state_updates(self, h):
        return [(self.m_schedule, h.m_schedule_new)]

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
