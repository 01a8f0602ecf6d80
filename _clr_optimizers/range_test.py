"""Choosing the bounds: the LR range test (Smith, 2017, section 3.3)."""
from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import collections
import math
import numbers

import numpy as np
from keras import backend as K

from .checks import STATE_KEYS, choice, flag, number
from .per_parameter import exact_name


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


def _lowest_over_10(lrs, smoothed):
    """A tenth of the LR of the lowest smoothed loss (Smith's and fastai
    v1's advice): the last update whose LR is at most that."""
    lowest = _lowest_loss(lrs, smoothed)
    if lowest is None:
        return None
    below = np.nonzero(np.asarray(lrs[:lowest + 1], np.float64) <=
                       float(lrs[lowest]) / 10.)[0]
    return int(below[-1]) if len(below) else None


# suggest= rules: each picks max_lr's update from the smoothed loss curve.
_SUGGEST = collections.OrderedDict([('lowest_loss', _lowest_loss),
                                    ('valley', _valley),
                                    ('steepest', _steepest),
                                    ('lowest_over_10', _lowest_over_10)])


class LRRangeTestResult(object):
    """What `lr_range_test` measured.

    # Attributes
        lr: float32 array, the learning rate of each update.
        loss: array, the training loss each update computed.
        smoothed_loss: array, the bias-corrected exponential moving average
            of `loss` (the curve the bounds are read from).
        suggested_bounds: (base_lr, max_lr) by the `suggest` rule; a
            `ValueError` that says what to look at when the rule finds no
            fall in the loss.
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
        self.stopped_early = stopped_early
        self.mode = mode

    @property
    def suggested_bounds(self):
        bounds = self.suggestions[self.suggest]
        if bounds is None:
            found = ['%s: %s' % (name, b) for name, b in
                     self.suggestions.items() if b is not None]
            raise ValueError(
                "the range test's rule %r found no fall in the smoothed loss "
                'over these %d updates (from lr %.3g to %.3g). Look at '
                'result.plot(): start lower (min_lr) or run more steps; %s.'
                % (self.suggest, len(self.lr), self.lr[0], self.lr[-1],
                   'other rules found: ' + '; '.join(found) if found else
                   'no rule found one'))
        return bounds

    def plot(self, ax=None):
        """Plots loss against learning rate; marks each rule's max_lr on the
        smoothed curve and the `suggest` rule's bounds with dashed lines.

        Needs matplotlib (the `plots` extra). Returns the axes.
        """
        import matplotlib.pyplot as plt
        if ax is None:      # laid out so that a plain savefig clips nothing
            ax = plt.figure(figsize=(6, 4), constrained_layout=True).gca()
        ax.plot(self.lr, self.loss, color='0.75', linewidth=1, label='loss')
        ax.plot(self.lr, self.smoothed_loss, color='C0', label='smoothed loss')
        self._mark_rules(ax)
        finite = self.smoothed_loss[np.isfinite(self.smoothed_loss)]
        if len(finite):     # the smoothed curve's range, not a late spike
            low, start = finite.min(), finite[0]
            span = (start - low) or abs(start) or 1.
            ax.set_ylim(low - 0.25 * span, start + span)
        if self.suggestions[self.suggest] is not None:
            for value, name in zip(self.suggestions[self.suggest],
                                   ('base_lr', 'max_lr')):
                ax.axvline(value, color='C3', linestyle='--', linewidth=1)
                ax.annotate('%s=%.3g' % (name, value), (value, ax.get_ylim()[1]),
                            rotation=90, va='top', ha='right', fontsize=8)
        if self.mode == 'exponential':
            ax.set_xscale('log')
        ax.set_xlabel('learning rate')
        ax.set_ylabel('training loss')
        ax.legend(loc='best', fontsize=8)
        return ax

    def _mark_rules(self, ax):
        """Marks each rule's max_lr on the smoothed curve."""
        for (name, bounds), marker in zip(self.suggestions.items(), 'oDsv'):
            if bounds is not None:
                i = int(np.nonzero(self.lr == np.float32(bounds[1]))[0][0])
                ax.plot(self.lr[i], self.smoothed_loss[i], marker, color='C3'
                        if name == self.suggest else 'k', markersize=6,
                        fillstyle='none', label='%s: max_lr=%.3g'
                        % (name, bounds[1]))


def lr_range_test(model, x, y, min_lr, max_lr, steps, batch_size=32,
                  mode='exponential', suggest='lowest_over_10', shuffle=True,
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
        'lowest_over_10' (the default): a tenth of the LR of the lowest
            smoothed loss (Smith's and fastai v1's advice); measured best
            in 35 of 45 runs over three models, SGD, Adam and RMSprop and
            five seeds (docs/range_rules.md);
        'lowest_loss': the lowest smoothed loss, where the loss stops
            falling (often already where the raw loss explodes);
        'valley': the middle of the longest stretch over which the smoothed
            loss falls at every update (after fastai's `valley`);
        'steepest': the steepest fall of the smoothed loss per unit of
            log learning rate, before its lowest value.
    `result.suggestions` holds every rule's bounds; `result.plot()` marks
    them.

    The model itself is not trained: the test runs on a clone, so the
    model's weights and optimizer state afterwards are exactly those before.
    The clone keeps the optimizer's weight decay and LR multipliers, weight
    by weight (as fastai's lr_find keeps the weight decay).

    # Arguments
        model: a compiled Keras model.
        x, y: training data, as `fit` takes them: numpy arrays, lists of
            arrays for models with several inputs or outputs, or dicts of
            arrays keyed by input or output name.
        min_lr, max_lr: float, 0 < min_lr < max_lr.
        steps: int >= 2, the number of updates.
        batch_size: int >= 1.
        mode: 'exponential' (default) or 'linear'.
        suggest: 'lowest_over_10' (default), 'lowest_loss', 'valley' or
            'steepest'.
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
    min_lr, max_lr = _check_arguments(min_lr, max_lr, steps, batch_size,
                                      mode, suggest, shuffle, seed, beta,
                                      explode)
    probe = _probe(model)
    fraction = np.arange(steps, dtype=np.float64) / (steps - 1)
    if mode == 'linear':
        rates = min_lr + (max_lr - min_lr) * fraction
    else:
        rates = min_lr * (max_lr / min_lr) ** fraction
    rates = rates.astype(np.float32)
    rows, take_x = _taker('x', x)
    rows_y, take_y = _taker('y', y)
    if rows_y != rows:
        raise ValueError('x and y must have the same number of rows; got %d '
                         'and %d.' % (rows, rows_y))
    batches = _batches(rows, batch_size, shuffle, seed)
    lrs, losses, smoothed = [], [], []
    average, best, stopped = 0., np.inf, False
    for i, rate in enumerate(rates):
        index = next(batches)
        K.set_value(probe.optimizer.lr, rate)
        loss = probe.train_on_batch(take_x(index), take_y(index))
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


def _check_arguments(min_lr, max_lr, steps, batch_size, mode, suggest,
                     shuffle, seed, beta, explode):
    """Validates lr_range_test's arguments; returns (min_lr, max_lr)."""
    min_lr = number('min_lr', min_lr, '> 0 (the ramp starts there; an '
                    'exponential ramp cannot start at 0)', lambda v: v > 0)
    max_lr = number('max_lr', max_lr, '> min_lr (%r)' % min_lr,
                    lambda v: v > min_lr)
    number('beta', beta, 'in [0, 1)', lambda v: 0 <= v < 1)
    number('explode', explode, '> 1', lambda v: v > 1)
    for name, value in (('steps', steps), ('batch_size', batch_size),
                        ('seed', seed)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError('%s must be an int; got %r.' % (name, value))
    if steps < 2 or batch_size < 1 or seed < 0:
        raise ValueError('steps must be >= 2, batch_size >= 1 and seed >= 0; '
                         'got steps=%r, batch_size=%r, seed=%r.'
                         % (steps, batch_size, seed))
    choice('mode', mode, ('linear', 'exponential'))
    choice('suggest', suggest, tuple(_SUGGEST))
    flag('shuffle', shuffle)
    return min_lr, max_lr


def _probe(model):
    """A clone of the compiled model, with its weights and a fresh copy of
    its optimizer: no schedule, no decay, a cycling momentum held at its
    max_momentum."""
    from keras.models import clone_model
    optimizer = getattr(model, 'optimizer', None)
    if optimizer is None:
        raise ValueError('lr_range_test needs a compiled model.')
    config = optimizer.get_config()
    for key in ('clr',) + STATE_KEYS:
        config.pop(key, None)
    if 'decay' in config:
        config['decay'] = 0.0
    if getattr(optimizer, 'cycles_momentum', False):
        config[optimizer.momentum_argument] = optimizer.clr['max_momentum']
    probe = clone_model(model)
    probe.set_weights(model.get_weights())
    if hasattr(optimizer, 'per_parameter'):
        config.update(_per_parameter_for(
            optimizer.per_parameter(model.trainable_weights),
            probe.trainable_weights))
    probe.compile(optimizer=type(optimizer).from_config(config),
                  loss=model.loss, loss_weights=model.loss_weights)
    return probe


def _per_parameter_for(plan, weights):
    """The model's weight decay and LR multipliers for the clone, whose
    weights TensorFlow names apart (dense_1/kernel:0 is dense_1_1/kernel:0
    there): by exact name, weight by weight (the same order)."""
    return {'weight_decay_exclude': [exact_name(w) for w, (decayed, _) in
                                     zip(weights, plan) if not decayed],
            'lr_multipliers': {exact_name(w): factor for w, (_, factor) in
                               zip(weights, plan) if factor != 1.} or None}


def _taker(name, data):
    """(rows, the function from row indices to a batch) for what `fit`
    takes as x or y: an array, a list of arrays (several inputs or
    outputs) or a dict of arrays keyed by input or output name."""
    arrays = (list(data.values()) if isinstance(data, dict) else
              list(data) if isinstance(data, (list, tuple)) else [data])
    if not arrays or not all(isinstance(a, np.ndarray) and a.ndim >= 1
                             for a in arrays):
        raise TypeError('%s must be a numpy array, a list of arrays (a model '
                        'with several inputs or outputs) or a dict of arrays '
                        'keyed by input or output name, as fit takes; got %r.'
                        % (name, type(data).__name__ if not isinstance(
                            data, (list, tuple, dict)) else data))
    rows = {len(a) for a in arrays}
    if len(rows) != 1:
        raise ValueError('the arrays of %s must have the same number of rows; '
                         'got %s.' % (name, sorted(rows)))
    if isinstance(data, dict):
        return rows.pop(), lambda index: {k: a[index]
                                          for k, a in data.items()}
    if isinstance(data, (list, tuple)):
        return rows.pop(), lambda index: [a[index] for a in arrays]
    return rows.pop(), lambda index: data[index]


def _batches(rows, batch_size, shuffle, seed):
    """The range test's batches of row indices, pass after pass."""
    rng = np.random.RandomState(seed)
    while True:
        order = rng.permutation(rows) if shuffle else np.arange(rows)
        for start in range(0, rows, batch_size):
            yield order[start:start + batch_size]
