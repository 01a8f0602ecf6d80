"""Mutation testing: does the suite notice when the library is broken?

Applies each mutant below (one small semantic edit: a wrong step counter, an
off-by-one window, epsilon in the wrong place, a range test at another rate,
...) to a copy of the repository, runs the fast part of the suite against it
and reports it *killed* (some test failed) or *survived* (every test passed,
which means a behaviour can change unnoticed). Every mutant must be killed.

    python tools/mutants.py                  # all mutants, 2 at a time
    python tools/mutants.py --only adam-epsilon-inside-sqrt
    python tools/mutants.py --tests old_test_clr_optimizers.py  # score a suite

Exit status 0 only when the unmutated copy passes and every mutant is killed.
A mutant whose text is not found once in its file is an error: the list must
follow the code.

Only behaviour kills a mutant. The tests marked `structural` read the source
text (this list among it: a mutated copy no longer holds the mutant's text)
and so fail in every mutated copy; they are left out of the runs, and a
mutant whose only failing test is one of them is reported survived. Each
line of the report names the test that killed the mutant.
"""
from __future__ import print_function

import argparse
import collections
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIB = 'clr_optimizers.py'
PARTS = '_clr_optimizers'
CHECKS = os.path.join(PARTS, 'checks.py')
OPS = os.path.join(PARTS, 'ops.py')
SCHEDULE = os.path.join(PARTS, 'schedule.py')
CYCLIC = os.path.join(PARTS, 'policies', 'cyclic.py')
ONE_CYCLE = os.path.join(PARTS, 'policies', 'one_cycle.py')
COSINE = os.path.join(PARTS, 'policies', 'cosine_restarts.py')
CALLBACKS = os.path.join(PARTS, 'callbacks.py')
RANGE_TEST = os.path.join(PARTS, 'range_test.py')
PHASES = os.path.join(PARTS, 'policies', 'phases.py')
LR_VIEW = os.path.join(PARTS, 'lr_view.py')
GRAPH = os.path.join(PARTS, 'graph.py')
SCHEDULE_STATE = os.path.join(PARTS, 'schedule_state.py')
PERSISTENCE = os.path.join(PARTS, 'persistence.py')
PER_PARAMETER = os.path.join(PARTS, 'per_parameter.py')
# The fast part of the suite: everything except the slow end-to-end runs
# (the seed's 10,000-update checkpoints, the fresh-process resumes, the
# random-kill loop and the benchmark), which the rest covers for mutants.
FAST = ('not test_seed_checkpoints_exact and not test_resume_in_fresh_process'
        ' and not test_atomic_checkpoint_survives_sigkill'
        ' and not test_benchmark_runs_at_tiny_size')

Mutant = collections.namedtuple('Mutant', 'name what old new path')

# Each mutant first runs the tests most likely to kill it (in file order
# the killer can come after minutes of other tests), then, if those pass,
# the whole fast suite; a hint only saves time, it never decides alone.
# FIRST: the test that killed each mutant in CI runs of this list; else by
# name prefix.
FIRST = {
    'adadelta-fused-epsilon': 'test_updates_match_float64_reference',
    'adadelta-old-accumulator': 'test_updates_match_float64_reference',
    'adagrad-fused-epsilon': 'test_updates_match_float64_reference',
    'adam-amsgrad-fused-epsilon': 'test_updates_match_float64_reference',
    'adam-amsgrad-ignored': 'test_updates_match_float64_reference',
    'adam-bias-correction-t': 'test_updates_match_float64_reference',
    'adam-epsilon-inside-sqrt': 'test_updates_match_float64_reference',
    'adam-fused-beta-powers': 'test_updates_match_float64_reference',
    'adamax-epsilon': 'test_updates_match_float64_reference',
    'adamax-fused-no-bias-correction': 'test_updates_match_float64_reference',
    'adamax-no-bias-correction': 'test_updates_match_float64_reference',
    'amplitude-float64': 'test_schedule_is_independent_of_grappler',
    'asymmetric-fall-rate': 'test_asymmetric_cycle_3_up_5_down',
    'constraint-skipped': 'test_constraints_apply_like_stock',
    'cosine-index-uncorrected': 'test_cosine_restarts_literal_sequence',
    'cosine-m_mul-ignored': 'test_policies_match_pytorch_and_tf_formulas_to_half_an_ulp',
    'cycle-counter-frozen': 'test_lr_trace_equals_numpy_reference',
    'decay-counts-cycle': 'test_updates_match_float64_reference',
    'decay-float32': 'test_schedule_is_independent_of_grappler',
    'decay-with-new-policies': 'test_decay_is_refused_with_the_new_policies',
    'exp_range-counter': 'test_exp_range_scales_by_gamma_pow_k',
    'exp_range-float32-gamma': 'test_exp_range_scales_by_gamma_pow_k',
    'fused-never': 'test_fused_kernels_apply_the_dense_updates',
    'momentum-not-cycling': 'test_matches_pytorch_cyclic_lr_formulas',
    'nadam-epsilon': 'test_updates_match_float64_reference',
    'nadam-fused-epsilon': 'test_updates_match_float64_reference',
    'nadam-fused-g-term-dropped': 'test_updates_match_float64_reference',
    'nadam-next-cache': 'test_updates_match_float64_reference',
    'nadam-schedule-frozen': 'test_updates_match_float64_reference',
    'one-cycle-no-hold': 'test_policies_match_pytorch_and_tf_formulas_to_half_an_ulp',
    'one-cycle-phase-end': 'test_one_cycle_linear_literal_sequence',
    'one-cycle-third-phase-momentum': 'test_policies_match_pytorch_and_tf_formulas_to_half_an_ulp',
    'range-ends-not-held': 'test_the_ends_of_the_range_hold',
    'reset-keeps-counter': 'test_reset_cycle_mid_training',
    'rmsprop-abs': 'test_updates_match_float64_reference',
    'rmsprop-fused-no-decay': 'test_updates_match_float64_reference',
    'rmsprop-fused-rate': 'test_updates_match_float64_reference',
    'saved-state-unchecked': 'test_invalid_saved_state_fails_to_load',
    'sgd-momentum-constant': 'test_updates_match_float64_reference',
    'sgd-momentum-lagged': 'test_updates_match_float64_reference',
    'sgd-nesterov-dropped': 'test_updates_match_float64_reference',
    'sgd-nesterov-fused-plain': 'test_updates_match_float64_reference',
    'sgd-velocity-sign': 'test_updates_match_float64_reference',
    'state-not-synced': 'test_schedule_state_follows_the_variables',
    'float32-range-unchecked': 'test_bad_phases_are_refused or '
                               'test_unrepresentable_settings_are_refused',
    'steps-below-one': 'test_bad_policy_settings_are_refused',
    'config-cycle-counter': 'test_reset_cycle_mid_training',
    'state-guard-off': 'test_missing_optimizer_state_is_an_error',
    'past-end-silent': 'test_training_past_a_schedules_end_warns_once',
    'state-shape-unchecked': 'test_wrong_shape_optimizer_state_is_an_error',
    'step-count-ahead': 'test_lr_trace_equals_numpy_reference',
    'triangular2-exponent': 'test_triangular2_halves_the_amplitude_each_cycle',
    'window-float32': 'test_schedule_is_independent_of_grappler',
    'window-off-by-one': 'test_lr_trace_equals_numpy_reference',
    'window-sign': 'test_lr_trace_equals_numpy_reference',
    'narrow-flush-threshold':
        'test_rounding_to_float32_flushes_as_the_graph_does',
    'writes-before-snapshot-readers':
        'test_parameter_writes_wait_for_their_gradient_and_readers',
    'wd-fused-before-gradient':
        'test_parameter_writes_wait_for_their_gradient_and_readers',
    'wd-fused-after-kernel': 'test_each_layer_decays_at_its_own_rate',
    'multiplier-adam-rate-unscaled': 'test_updates_match_float64_reference',
    'phases-cos-end-from-cos':
        'test_each_shape_starts_and_ends_exactly_where_it_says',
    'phases-step-takes-its-to':
        'test_each_shape_starts_and_ends_exactly_where_it_says',
    'phases-poly-end-power-ignored':
        'test_each_shape_starts_and_ends_exactly_where_it_says',
    'lr-write-unchecked':
        'test_writing_back_what_was_read_changes_nothing_also_zero',
}
PREFIX_FIRST = (
    (('sgd-', 'rmsprop-', 'adagrad-', 'adadelta-', 'adam-', 'adamax-',
      'nadam-', 'fused-'), 'test_updates_match_float64_reference or '
                           'test_fused_kernels_apply_the_dense_updates'),
    (('range-test-',), 'range_test'),
    (('phases-',), 'recipes or phases or composition'),
    (('multiplier-', 'pattern-'), 'test_patterns_are_checked_against_the_'
                                  'weights or own_rate'),
    (('wd-',), 'weight_decay or own_rate or keras_3'),
    (('scale-', 'lr-'), 'every_epoch_boundary or acts_as_a_variable or '
                        'callbacks_scale or writing_back or resets_the_scale '
                        'or as_on_stock or min_lr'),
    (('seed-',), 'seed_check or seed_copy'),
    (('logger-',), 'logger'),
    (('checkpoint-',), 'checkpoint and not test_seed_checkpoints_exact'),
    (('config-', 'state-', 'saved-'), 'config or state or saved'),
)


def first_tests(m):
    """The -k expression of the tests a mutant runs first, or None."""
    if m.name in FIRST:
        return FIRST[m.name]
    for prefixes, tests in PREFIX_FIRST:
        if m.name.startswith(prefixes):
            return tests
    return None


def mutant(name, what, old, new, path=LIB):
    return Mutant(name, what, old, new, path)


MUTANTS = [
    # The schedule.
    mutant('decay-counts-cycle', 'decay reads the cycle counter, so it '
           'restarts at reset_cycle',
           'base = base / (ops.const(1.) + ops.wide(decay) * ops.wide(k))',
           'base = base / (ops.const(1.) + ops.wide(decay) * ops.wide('
           'k if c is None else c))',
           path=SCHEDULE),
    mutant('window-off-by-one', 'the symmetric window one update ahead',
           "r = ops.wide(c * now.inv_step_size)",
           "r = ops.wide((c + 1.) * now.inv_step_size)",
           path=CYCLIC),
    mutant('window-sign', 'the window flipped: peaks at the cycle ends',
           's = one - ops.abs(r - (f + f) - one)',
           's = ops.abs(r - (f + f) - one)',
           path=CYCLIC),
    mutant('asymmetric-fall-rate', 'the falling half divides by step_size',
           "(total - pos) / ops.wide(now.step_size_down))",
           '(total - pos) / step_up)',
           path=CYCLIC),
    mutant('triangular2-exponent', 'triangular2 halves from the first cycle',
           's = s / ops.pow(ops.const(2.), cycle - one)',
           's = s / ops.pow(ops.const(2.), cycle)',
           path=CYCLIC),
    mutant('exp_range-counter', 'exp_range scales by gamma**(c + 1)',
           's = s * ops.pow(ops.const(now.gamma), c64)',
           's = s * ops.pow(ops.const(now.gamma), c64 + one)',
           path=CYCLIC),
    mutant('exp_range-float32-gamma', 'gamma**c from float32 gamma (its '
           'rounding error grows with c)',
           'ops.pow(ops.const(now.gamma), c64)',
           'ops.pow(ops.const(float(np.float32(now.gamma))), c64)',
           path=CYCLIC),
    mutant('amplitude-float64', 'the amplitude max_lr - base is not '
           "rounded to float32 (the seed's printed rates need it)",
           'start + ops.wide(ops.narrow(end - start)) * h',
           'start + (end - start) * h',
           path=OPS),
    mutant('window-float32', 'the window 1 - |r - 2f - 1| computed in '
           'float32 (rounds x near the base)',
           "r = ops.wide(c * now.inv_step_size)",
           "r = ops.wide(c * now.inv_step_size); r = ops.wide(ops.narrow("
           "r - ops.floor(r * .5) * 2. - 1.)) + ops.floor(r * .5) * 2. + 1.",
           path=CYCLIC),
    mutant('decay-float32', "decay's base computed in float32 (overflows "
           'to 0 for large decay * k)',
           'base = base / (ops.const(1.) + ops.wide(decay) * ops.wide(k))',
           'base = ops.wide(lr * (1. / (1. + decay * k)))',
           path=SCHEDULE),
    mutant('range-ends-not-held', 'the LR and momentum are not held within '
           'their bounds', 'return ops.minimum(ops.maximum(value, '
           'ops.minimum(start, end)),\n                       '
           'ops.maximum(start, end))', 'return value',
           path=OPS),
    mutant('momentum-not-cycling', 'cyclical momentum stays at max_momentum',
           'ops.const(f32(now.base_momentum)), s)',
           'ops.const(f32(now.base_momentum)), s * 0.)',
           path=CYCLIC),
    mutant('sgd-momentum-constant', 'SGD applies max_momentum, not the '
           'cycling value (the logged momentum still cycles)',
           "    def _hyper(self, step):\n        return step\n",
           "    def _hyper(self, step):\n"
           "        if self.cycles_momentum:\n"
           "            step = step._replace(momentum=K.constant("
           "self.clr['max_momentum']))\n"
           "        return step\n"),
    mutant('sgd-momentum-lagged', "SGD applies the previous update's "
           'momentum',
           "    def _hyper(self, step):\n        return step\n",
           "    def _hyper(self, step):\n"
           "        if self.cycles_momentum:\n"
           "            step = step._replace(momentum=tf.identity("
           "self.current_momentum))\n"
           "        return step\n"),
    mutant('step-count-ahead', 'every counter read sees k + 1 (the read '
           'after the increment, as stock keras races)',
           "k = K.cast(self.iterations, 'float32')",
           "k = K.cast(self.iterations, 'float32') + 1."),
    mutant('cycle-counter-frozen', 'the cycle counter is not incremented',
           'last.append(K.update_add(self.cycle_iterations, 1))',
           'last.append(K.update_add(self.cycle_iterations, 0))'),
    mutant('reset-keeps-counter', 'reset_cycle does not restart the counter',
           'pairs = [(self.cycle_iterations, 0), (self.lr_scale, 1.)]',
           'pairs = [(self.cycle_iterations,'
           ' K.get_value(self.cycle_iterations)), (self.lr_scale, 1.)]',
           path=SCHEDULE_STATE),
    mutant('one-cycle-no-hold', "a phase's fraction is not held at 0: "
           'one-cycle (and phases) extrapolate after their end',
           'ops.maximum(span * inv, zero)',
           'ops.maximum(span * inv, ops.const(-9.))', path=OPS),
    mutant('one-cycle-wrong-phase', "one-cycle picks a phase by the next "
           "phase's end", 'inside = [t <= ops.const(end) for end in ends[:-1]]',
           'inside = [t <= ops.const(end) for end in ends[1:]]',
           path=ONE_CYCLE),
    mutant('one-cycle-phase-end', "one-cycle's warm-up ends a step late",
           'return (pct * total - 1, total - 1.)',
           'return (pct * total, total - 1.)',
           path=ONE_CYCLE),
    mutant('one-cycle-third-phase-momentum', 'the third phase moves the '
           'momentum', '(base, low, hi_m, hi_m)', '(base, low, lo_m, hi_m)',
           path=ONE_CYCLE),
    mutant('cosine-index-uncorrected', 'the restart index from the '
           'logarithm is not corrected upwards',
           'i = ops.where(start(i + one) <= t, i + one, i)', 'i = i',
           path=COSINE),
    mutant('cosine-m_mul-ignored', 'm_mul is ignored',
           'ops.pow(ops.const(now.m_mul), i)', 'ops.pow(ops.const(1.), i)',
           path=COSINE),
    mutant('decay-with-new-policies', 'decay is accepted with one_cycle and '
           'cosine_restarts',
           'if spec is not None and not policy_of(spec).uses_decay and '
           'decay > 0:',
           'if False:',
           path=SCHEDULE),
    # The phases policy.
    mutant('phases-linear-swapped', "a 'linear' phase runs backwards",
           'value = a * rest + b * p', 'value = a * p + b * rest',
           path=PHASES),
    mutant('phases-exp-linear', "an 'exp' phase is linear",
           'value = a * ops.pow(b / a, p)', 'value = a * rest + b * p',
           path=PHASES),
    mutant('phases-poly-power-ignored', "a 'poly' phase ignores its power",
           'power = ops.const(power)', 'power = ops.const(1.)',
           path=PHASES),
    mutant('phases-1-sqrt-wrong', "'1-sqrt' as 1 - p over the root's weight",
           'value = a * rest / (one + root) + b * root',
           'value = a * rest + b * root', path=PHASES),
    mutant('phases-end-inclusive', 'a phase also takes the update after it',
           'before = [t < ops.const(end) for end in ends]',
           'before = [t <= ops.const(end) for end in ends]', path=PHASES),
    mutant('phases-shared-wrong-phase', 'phases of one shape are picked by '
           "the next one's end",
           'first_of(ops, [before[i] for i in members[:-1]], numbers)',
           'first_of(ops, [before[i] for i in members[1:]], numbers)',
           path=PHASES),
    mutant('phases-select-last', "the selection of a phase's numbers always "
           'takes the last phase', 'value = ops.where(condition, chosen, value)',
           'value = ops.where(condition, values[-1], value)', path=OPS),
    mutant('phases-then-not-shifted', 'the policy after the phases counts '
           'from update 0, not from their end',
           'ops.maximum(c - np.float32(last.start + last.steps),',
           'ops.maximum(c - np.float32(0.),', path=PHASES),
    mutant('phases-cos-end-from-cos', "a 'cos' phase weighs its end by "
           'cos(pi / 2 * rest)**2, which is 6e-17 at its start (2.6e-33 '
           'from 0)', 'end * ops.square(\n            ops.sin(half * done))',
           'end * ops.square(\n            ops.cos(half * rest))', path=OPS),
    mutant('phases-step-takes-its-to', "a 'step' phase takes its `to` at "
           'its start', "value = a if shape == 'step' else _value(",
           "value = b if shape == 'step' else _value(", path=PHASES),
    mutant('phases-poly-end-power-ignored', "the end term of a 'poly' "
           'phase ignores the power', '- b * ops.expm1(\n'
           '            power * ops.log1p(-p))',
           '- b * ops.expm1(\n            ops.log1p(-p))', path=PHASES),
    # Keras's LR callbacks scale the schedule.
    mutant('scale-not-applied', 'the callbacks\' factor is not applied',
           'lr_k = lr_k * scale', 'lr_k = lr_k', path=SCHEDULE),
    mutant('scale-write-inverted', 'a write scales by old / new',
           'tf.cast(value, tf.float64) / tf.cast(used, tf.float64)))',
           'tf.cast(used, tf.float64) / tf.cast(value, tf.float64)))',
           path=LR_VIEW),
    mutant('lr-read-next', "optimizer.lr reads the next update's LR, not "
           'the LR the last update used', '                '
           'read(self._current_lr),\n', '                '
           'self._first(before),\n', path=LR_VIEW),
    mutant('lr-read-stale', 'a read after a write gives the LR last used, '
           'not the value written',
           'pending = tf.equal(read(self._written_at),',
           'pending = tf.equal(read(self._written_at) - 2,', path=LR_VIEW),
    mutant('lr-write-compounds', 'a second write scales the factor the '
           'first one left (two writes multiply)',
           'before = tf.compat.v2.where(pending, read(self._scale_before),',
           'before = tf.compat.v2.where(False, read(self._scale_before),',
           path=LR_VIEW),
    mutant('lr-read-before-first-update', 'before any update, a read gives '
           'current_lr (0), not the LR the first update will use',
           'used = tf.compat.v2.where(read(self._iterations) > 0,',
           'used = tf.compat.v2.where(read(self._iterations) >= 0,',
           path=LR_VIEW),
    mutant('lr-write-unchecked', 'a schedule at 0 is scaled to another '
           'value (lr_scale becomes inf)',
           'tf.logical_or(same, used > 0),', 'tf.logical_or(same, True),',
           path=LR_VIEW),
    mutant('lr-write-not-saved', 'a write that no update followed is not '
           'saved with the model', '        if at != iterations:\n'
           '            return {}\n', '        return {}\n', path=LR_VIEW),
    mutant('scale-not-reset', 'reset_cycle keeps the callbacks\' factor',
           'pairs = [(self.cycle_iterations, 0), (self.lr_scale, 1.)]',
           'pairs = [(self.cycle_iterations, 0)]', path=SCHEDULE_STATE),
    mutant('scale-not-saved', 'get_config reports lr_scale 1',
           "'lr_scale': float(K.get_value(self.lr_scale))}",
           "'lr_scale': 1.}", path=SCHEDULE_STATE),
    mutant('narrow-flush-threshold', "the mirror flushes below float32's "
           'smallest normal, where x86 rounds up to it first',
           'FLUSH = float(FLOAT32.tiny) * (1. - 2. ** -25)',
           'FLUSH = float(FLOAT32.tiny)', path=OPS),
    mutant('writes-before-snapshot-readers', "a parameter's update does "
           "not wait for the ops reading its value (copy-on-write pass, #23)",
           'readers = snapshot_readers(params, grads)',
           'readers = [[] for _ in params]'),
    mutant('wd-fused-before-gradient', 'the fused weight decay does not wait '
           'for the gradient (so it can precede the forward read, #21)',
           'with tf.control_dependencies([g] + list(readers)):',
           'with tf.control_dependencies(list(readers)):'),
    # Decoupled weight decay and LR multipliers.
    mutant('wd-not-scaled-by-lr', 'the decay ignores the learning rate '
           "(as TF contrib's AdamW)",
           'shrink = h.lr * self._per_parameter.weight_decay if decayed else',
           'shrink = self._per_parameter.weight_decay if decayed else'),
    mutant('wd-fused-missing', 'the fused path does not decay',
           'decayed = [p.assign_sub(shrink * p)]', 'decayed = []'),
    mutant('wd-op-missing', 'the rule op by op does not decay',
           '            p = p - shrink * p\n', '            pass\n'),
    mutant('wd-after-update', 'the rule op by op decays after the step',
           '        new_p, new_slots = self._rule(h, p, g, *slots)\n',
           '        new_p, new_slots = self._rule(h, variable, g, *slots)\n'
           '        if shrink is not None:\n'
           '            new_p = new_p - shrink * new_p\n'),
    mutant('wd-exclusion-ignored', 'weight_decay_exclude is ignored',
           're.search(pattern, name) for pattern in self.exclude)',
           'False for pattern in self.exclude)',
           path=PER_PARAMETER),
    mutant('wd-fused-after-kernel', 'the fused route decays after the '
           "optimizer's step (the decay must come first)",
           """                with tf.control_dependencies([g] + list(readers)):
                    decayed = [p.assign_sub(shrink * p)]
            with tf.control_dependencies(decayed):
                return [self._kernel(InPlace(readers), h, p, g, *slots)]""",
           """                kernel = self._kernel(InPlace(readers), h, p, g, *slots)
                with tf.control_dependencies([kernel]):
                    return [p.assign_sub(shrink * p)]
            with tf.control_dependencies(decayed):
                return [self._kernel(InPlace(readers), h, p, g, *slots)]"""),
    mutant('multiplier-pattern-anchored', 'lr_multipliers patterns match at '
           'the start of the name only (re.match)',
           'if re.search(pattern, name)]', 'if re.match(pattern, name)]',
           path=PER_PARAMETER),
    mutant('multiplier-factor-dropped', 'a matched weight gets factor 1',
           'plan.append((decayed, factors[0][1] if factors else 1.))',
           'plan.append((decayed, 1.))', path=PER_PARAMETER),
    mutant('multiplier-ambiguity-allowed', 'a weight two multiplier '
           'patterns match takes the first', 'if len(factors) > 1:',
           'if len(factors) > 2:', path=PER_PARAMETER),
    mutant('pattern-unmatched-allowed', 'a pattern that matches no weight '
           'is silently ignored',
           'if not any(re.search(pattern, name) for name in names):',
           'if False:', path=PER_PARAMETER),
    mutant('multiplier-ignored', 'lr_multipliers are ignored',
           'hypers = {factor: self._at_rate(h, step.lr * factor)',
           'hypers = {factor: self._at_rate(h, step.lr)'),
    mutant('multiplier-adam-rate-unscaled', "a multiplier scales Adam's lr "
           'but not its corrected rate lr_t',
           'return h._replace(lr=lr, lr_t=lr * h.correction)',
           'return h._replace(lr=lr, lr_t=h.lr_t if h.lr_t is not None '
           'else lr * h.correction)'),
    # The update rules.
    mutant('sgd-velocity-sign', 'SGD (explicit rule) adds the gradient',
           'v = h.momentum * m - h.lr * g  # velocity',
           'v = h.momentum * m + h.lr * g  # velocity'),
    mutant('sgd-nesterov-dropped', 'Nesterov applies the plain velocity',
           'return p + h.momentum * v - h.lr * g, [v]',
           'return p + v, [v]'),
    mutant('rmsprop-abs', 'RMSprop averages |g| instead of g**2',
           'new_a = h.rho * a + h.one_minus_rho * K.square(g)',
           'new_a = h.rho * a + h.one_minus_rho * K.abs(g)'),
    mutant('adagrad-fused-epsilon', 'the fused Adagrad kernel gets 10x '
           'epsilon', '            lr=h.lr, epsilon=h.epsilon, grad=g, '
           'use_locking=False)', '            lr=h.lr, epsilon=h.epsilon * 10, '
           'grad=g, use_locking=False)'),
    mutant('rmsprop-fused-no-decay', "RMSprop's fused route does not decay "
           'the accumulator', 'decayed = K.update(a, h.rho * a)',
           'decayed = K.update(a, a)'),
    mutant('rmsprop-fused-rate', "RMSprop's fused route applies lr, not "
           'lr / sqrt(1 - rho)',
           'return h._replace(lr=lr, lr_over_s=lr / h.s)',
           'return h._replace(lr=lr, lr_over_s=lr)'),
    mutant('adadelta-fused-epsilon', "Adadelta's kernel gets 10x epsilon",
           'rho=self.rho,\n            epsilon=h.epsilon, grad=g,',
           'rho=self.rho,\n            epsilon=h.epsilon * 10, grad=g,'),
    mutant('adam-fused-beta-powers', "Adam's kernel gets beta_1**t and "
           'beta_2**t swapped',
           'v=v.handle, beta1_power=h.beta_1_t,\n'
           '            beta2_power=h.beta_2_t,',
           'v=v.handle, beta1_power=h.beta_2_t,\n'
           '            beta2_power=h.beta_1_t,'),
    mutant('adam-amsgrad-fused-epsilon', "Adam's amsgrad kernel gets 10x "
           'epsilon', 'beta2=h.beta_2, epsilon=h.epsilon, grad=g,\n',
           'beta2=h.beta_2, epsilon=h.epsilon * 10, grad=g,\n'),
    mutant('adamax-fused-no-bias-correction', "Adamax's kernel without "
           '1 / (1 - beta_1**t)', 'v=u.handle, beta1_power=h.beta_1_t,',
           'v=u.handle, beta1_power=h.beta_1_t * 0.,'),
    mutant('nadam-fused-g-term-dropped', "Nadam's fused route drops the "
           'gradient term', 'h.g_coef * g / (K.sqrt(v_t) + h.epsilon_r)',
           '0. * g'),
    mutant('nadam-fused-epsilon', "Nadam's fused route with epsilon 1e-4",
           'epsilon_r, zero = self.epsilon * r, K.constant(0.)',
           'epsilon_r, zero = 1e-4 * r, K.constant(0.)'),
    mutant('sgd-nesterov-fused-plain', "SGD's kernel drops Nesterov",
           'use_nesterov=self.nesterov', 'use_nesterov=False'),
    mutant('fused-never', 'the fused kernels are never used (slow)',
           'return (fused and isinstance(grad, tf.Tensor) and',
           'return (False and isinstance(grad, tf.Tensor) and', path=GRAPH),
    mutant('adadelta-old-accumulator', 'Adadelta divides by the old '
           'accumulator',
           'update = g * K.sqrt(d_a + self.epsilon) / K.sqrt(new_a + '
           'self.epsilon)',
           'update = g * K.sqrt(d_a + self.epsilon) / K.sqrt(a + '
           'self.epsilon)'),
    mutant('adam-epsilon-inside-sqrt', "Adam's epsilon inside the root",
           'p_t = p - h.lr_t * m_t / (K.sqrt(v_t) + self.epsilon)',
           'p_t = p - h.lr_t * m_t / K.sqrt(v_t + self.epsilon)'),
    mutant('adam-bias-correction-t', 'Adam corrects with t = k + 2',
           'beta_1_t, beta_2_t = K.pow(beta_1, t), K.pow(beta_2, t)',
           'beta_1_t, beta_2_t = K.pow(beta_1, t + 1), K.pow(beta_2, t + 1)'),
    mutant('adam-amsgrad-ignored', 'amsgrad divides by v, not max(vhat, v)',
           'p_t = p - h.lr_t * m_t / (K.sqrt(vhat_t) + self.epsilon)',
           'p_t = p - h.lr_t * m_t / (K.sqrt(v_t) + self.epsilon)'),
    mutant('adamax-epsilon', "Adamax's epsilon is 1e-4",
           'p_t = p - h.lr_t * m_t / (u_t + self.epsilon)',
           'p_t = p - h.lr_t * m_t / (u_t + 1e-4)'),
    mutant('adamax-no-bias-correction', 'Adamax without 1 / (1 - beta_1**t)',
           'return h._replace(lr=lr, lr_t=lr / h.correction)',
           'return h._replace(lr=lr, lr_t=lr)'),
    mutant('nadam-epsilon', "Nadam's epsilon is 1e-4",
           'p_t = p - h.lr * m_t_bar / (K.sqrt(v_t_prime) + self.epsilon)',
           'p_t = p - h.lr * m_t_bar / (K.sqrt(v_t_prime) + 1e-4)'),
    mutant('nadam-schedule-frozen', "Nadam's m_schedule is never written",
           'return [(self.m_schedule, h.m_schedule_new)]', 'return []'),
    mutant('nadam-next-cache', 'momentum_cache_t_1 uses t, not t + 1',
           '(t + 1) * self.schedule_decay', 't * self.schedule_decay'),
    mutant('constraint-skipped', 'parameters are written without their '
           'constraint',
           "        if getattr(variable, 'constraint', None) is not None:\n"
           "            new_p = variable.constraint(new_p)",
           "        if False:\n            new_p = variable.constraint(new_p)"),
    # State, config and callbacks.
    mutant('state-shape-unchecked', 'set_weights does not check shapes',
           'if K.int_shape(p) != np.shape(w):', 'if False:',
           path=PERSISTENCE),
    mutant('saved-state-unchecked', 'set_weights accepts any counters and '
           'bounds', '        self._validate_saved_state(zip(params, weights))'
           '\n', '', path=PERSISTENCE),
    mutant('float32-range-unchecked', 'numbers outside float32\'s normal '
           'range are accepted',
           '    if value_ != 0 and not FLOAT32.tiny <= single <= FLOAT32.max:',
           '    if False:',
           path=CHECKS),
    mutant('steps-below-one', 'a step of less than one update is accepted',
           "'or skip the cycle)' % allowed, lambda v: v >= 1)",
           "'or skip the cycle)' % allowed, lambda v: v > 0)",
           path=CHECKS),
    mutant('state-not-synced', 'get_config and reset_cycle keep the '
           "constructor's clr after the variables changed",
           '        if self._read_back is None or self._read_back[0] != values:',
           '        if self._read_back is None:', path=SCHEDULE_STATE),
    mutant('state-guard-off', 'a rebuilt optimizer never asserts that its '
           'state was loaded',
           'if not self.expected:\n            return None',
           'if True:\n            return None', path=GRAPH),
    mutant('config-cycle-counter', 'get_config reports iterations as the '
           'cycle counter',
           "'cycle_iterations': float(K.get_value(\n"
           "                      self.cycle_iterations)),",
           "'cycle_iterations': float(K.get_value(\n"
           "                      self.view._iterations)),",
           path=SCHEDULE_STATE),
    mutant('logger-momentum-is-lr', 'LRLogger logs the LR as momentum',
           "self._tensors['momentum'] = optimizer.current_momentum",
           "self._tensors['momentum'] = optimizer.current_lr",
           path=CALLBACKS),
    mutant('checkpoint-in-place', 'AtomicModelCheckpoint writes the target '
           'in place', '            write(tmp, **kwargs)\n',
           '            write(filepath, **kwargs)\n            return\n',
           path=CALLBACKS),
    mutant('past-end-silent', 'training past a one-cycle or phases end '
           'says nothing',
           "        if over > 0 and not getattr(self, '_warned_past_end', "
           "False):",
           "        if False:", path=SCHEDULE_STATE),
    mutant('checkpoint-mode-0600', "AtomicModelCheckpoint's files keep "
           "mkstemp's mode 0600",
           '            os.chmod(tmp, 0o666 & ~_umask())\n', '',
           path=CALLBACKS),
    # The range test.
    mutant('range-test-half-rate', 'the range test applies half its rate',
           'K.set_value(probe.optimizer.lr, rate)',
           'K.set_value(probe.optimizer.lr, rate * 0.5)',
           path=RANGE_TEST),
    mutant('range-test-base-momentum', 'the range test holds momentum at '
           'base_momentum', "optimizer.clr['max_momentum']",
           "optimizer.clr['base_momentum']",
           path=RANGE_TEST),
    mutant('range-test-keeps-decay', 'the range test keeps the decay',
           "        config['decay'] = 0.0\n", "        pass\n",
           path=RANGE_TEST),
    mutant('range-test-no-bias-correction', 'the smoothed loss is not '
           'bias-corrected', 'smooth = average / (1 - beta ** (i + 1))',
           'smooth = average',
           path=RANGE_TEST),
    mutant('range-test-base-third', 'the suggested base is max_lr / 3',
           '(float(self.lr[i]) / 4.,', '(float(self.lr[i]) / 3.,',
           path=RANGE_TEST),
    mutant('range-test-valley-end', "'valley' picks the end of the "
           'stretch', 'return (best[0] + best[1] + 1) // 2 if',
           'return best[1] if',
           path=RANGE_TEST),
    mutant('range-test-steepest-rise', "'steepest' picks the steepest rise",
           'i = int(np.argmin(slope))', 'i = int(np.argmax(slope))',
           path=RANGE_TEST),
    mutant('range-test-steepest-after-lowest', "'steepest' also searches "
           'after the lowest loss',
           'not learning)."""\n    lowest = _lowest_loss(lrs, smoothed)\n',
           'not learning)."""\n    lowest = _lowest_loss(lrs, smoothed) and '
           'len(smoothed) - 1\n',
           path=RANGE_TEST),
    mutant('range-test-default-lowest', "the default rule is 'lowest_loss' "
           '(harmful for Adam and SGD with momentum, docs/range_rules.md)',
           "mode='exponential', suggest='lowest_over_10', shuffle=True,",
           "mode='exponential', suggest='lowest_loss', shuffle=True,",
           path=RANGE_TEST),
    mutant('range-test-over-5', "'lowest_over_10' takes a fifth",
           'float(lrs[lowest]) / 10.)[0]', 'float(lrs[lowest]) / 5.)[0]',
           path=RANGE_TEST),
    mutant('range-test-seed-ignored', 'the batch order ignores the seed',
           'rng = np.random.RandomState(seed)',
           'rng = np.random.RandomState(0)',
           path=RANGE_TEST),
    mutant('range-test-suggest-ignored', 'suggested_bounds ignores suggest',
           'bounds = self.suggestions[self.suggest]',
           "bounds = self.suggestions['lowest_loss']",
           path=RANGE_TEST),
    # The seed check.
    mutant('seed-check-late', 'check_seed.py checks a cell only after '
           'the whole notebook ran (no progress)',
           "        lines = check_printed(cell_index, cell, self.seed_cells[cell_index])",
           "        lines = len(self.seed_cells[cell_index][2])",
           path=os.path.join('notebooks', 'check_seed.py')),
    mutant('seed-copy-unchecked', 'check_seed.py accepts any seed copy',
           '    if got != want:\n        at = next(',
           '    if False:\n        at = next(',
           path=os.path.join('notebooks', 'check_seed.py')),
]


def copy_repo(dest, tests=None):
    """Copies the working tree (without .git, .tox, caches) to `dest`."""
    ignore = shutil.ignore_patterns('.git', '.tox', '__pycache__',
                                    '.pytest_cache', '*.pyc')
    shutil.copytree(ROOT, dest, ignore=ignore)
    if tests:
        shutil.copy(tests, os.path.join(dest, 'test_clr_optimizers.py'))


def mutated(folder, m):
    """The text of `m`'s file in `folder` with `m` applied."""
    with open(os.path.join(folder, m.path)) as f:
        text = f.read()
    count = text.count(m.old)
    if count != 1:
        raise ValueError('mutant %s: its text occurs %d times in %s (must be '
                         'once): %r' % (m.name, count, m.path, m.old))
    return text.replace(m.old, m.new)


def apply(folder, m):
    text = mutated(folder, m)
    with open(os.path.join(folder, m.path), 'w') as f:
        f.write(text)


def run_suite(folder, selection, timeout):
    """Runs the selected tests in `folder`, without the structural ones;
    returns (exit code, first failing test or None, seconds)."""
    env = dict(os.environ, PYTHONPATH=folder, TF_CPP_MIN_LOG_LEVEL='2',
               PYTHONHASHSEED='0', MPLBACKEND='Agg')
    start = time.time()
    try:
        done = subprocess.run(
            [sys.executable, '-m', 'pytest', '-x', '-q', '-rf',
             '-p', 'no:cacheprovider', '-m', 'not structural', '-k',
             selection, 'test_clr_optimizers.py'],
            cwd=folder, env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, 'timeout', time.time() - start
    out = done.stdout.decode('utf8', 'replace')
    failed = re.search(r'^FAILED (\S+)', out, re.M)
    return done.returncode, failed.group(1) if failed else None, \
        time.time() - start


def structural_tests(folder):
    """The node ids of the tests marked structural in `folder`."""
    env = dict(os.environ, PYTHONPATH=folder, TF_CPP_MIN_LOG_LEVEL='2')
    done = subprocess.run(
        [sys.executable, '-m', 'pytest', '--collect-only', '-q',
         '-p', 'no:cacheprovider', '-m', 'structural',
         'test_clr_optimizers.py'], cwd=folder, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return set(re.findall(r'^(test_clr_optimizers\.py::\S+)$',
                          done.stdout.decode('utf8', 'replace'), re.M))


def verdict(code, failed, structural):
    """'killed' when a behavioural test failed (pytest's exit code 1),
    'survived' when every test passed or the one that failed is
    structural, else 'error' (the suite could not run)."""
    if code == 1 and failed is not None and failed not in structural:
        return 'killed'
    if code in (0, 1):
        return 'survived'
    return 'error'


def check_mutant(m, tests, selection, timeout, structural=()):
    folder = tempfile.mkdtemp(prefix='mutant-')
    try:
        repo = os.path.join(folder, 'repo')
        copy_repo(repo, tests)
        apply(repo, m)
        code, seconds = None, 0.
        if first_tests(m):
            code, failed, seconds = run_suite(
                repo, '(%s) and (%s)' % (selection, first_tests(m)), timeout)
        if code != 1:
            code, failed, more = run_suite(repo, selection, timeout)
            seconds += more
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    # pytest: 1 = some test failed; 0 = all passed; other = could not run.
    status = verdict(code, failed, structural)
    return dict(name=m.name, what=m.what, file=m.path, status=status,
                killed_by=failed, seconds=round(seconds, 1), exit_code=code)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--only', nargs='+', help='mutant names to run')
    parser.add_argument('--tests', help='a test file to score instead of the '
                        "repo's test_clr_optimizers.py")
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--timeout', type=int, default=900,
                        help='seconds allowed per mutant')
    parser.add_argument('--selection', default=FAST,
                        help='pytest -k expression (default: the fast part)')
    parser.add_argument('--out', help='write the results as JSON here')
    parser.add_argument('--list', action='store_true',
                        help='list the mutants and stop')
    args = parser.parse_args(argv)
    tests = os.path.abspath(args.tests) if args.tests else None
    mutants = [m for m in MUTANTS if not args.only or m.name in args.only]
    if args.only and len(mutants) != len(set(args.only)):
        known = set(m.name for m in MUTANTS)
        parser.error('unknown mutants: %s' % ', '.join(
            sorted(set(args.only) - known)))
    if args.list:
        for m in mutants:
            print('%-30s %s (%s)' % (m.name, m.what, m.path))
        return 0
    for m in mutants:                          # every mutant still applies
        mutated(ROOT, m)
    start = time.time()
    folder = tempfile.mkdtemp(prefix='unmutated-')
    try:
        copy_repo(os.path.join(folder, 'repo'), tests)
        code, failed, seconds = run_suite(os.path.join(folder, 'repo'),
                                          args.selection, args.timeout)
        structural = structural_tests(os.path.join(folder, 'repo'))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print('unmutated: exit %s in %.0f s%s; %d structural tests left out: %s'
          % (code, seconds, (', first failure %s' % failed) if failed else
             '', len(structural), ', '.join(
                 sorted(t.split('::')[-1] for t in structural))), flush=True)
    if code != 0:
        print('FAIL: the unmutated suite must pass first')
        return 1
    results = []
    with concurrent.futures.ThreadPoolExecutor(args.workers) as pool:
        futures = [pool.submit(check_mutant, m, tests, args.selection,
                               args.timeout, structural) for m in mutants]
        for future in concurrent.futures.as_completed(futures):
            r = future.result()
            results.append(r)
            print('%-8s %-30s %5.0f s  %s' % (
                r['status'], r['name'], r['seconds'],
                r['killed_by'] or r['what']), flush=True)
    order = [m.name for m in mutants]
    results.sort(key=lambda r: order.index(r['name']))
    killed = sum(r['status'] == 'killed' for r in results)
    print('mutation score: %d of %d killed (%.0f s)'
          % (killed, len(results), time.time() - start))
    for r in results:
        if r['status'] == 'killed':
            print('  killed   %-36s by %s' % (r['name'], r['killed_by']))
    for r in results:
        if r['status'] != 'killed':
            print('  %s: %s (%s)' % (r['status'].upper(), r['name'],
                                     r['what']))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(score=[killed, len(results)], results=results), f,
                      indent=1)
    return 0 if killed == len(results) else 1


if __name__ == '__main__':
    sys.exit(main())
