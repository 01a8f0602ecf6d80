"""Which `suggest=` rule of lr_range_test should be the default?

Measured across models and optimizers (issue #22): three small models made
here (the digits MLP, a small convnet on the same 8x8 digits, a regression
MLP on generated data), SGD with momentum 0.9, Adam and RMSprop, and five
seeds each. For each (model, optimizer, seed): one range test (its batches
and the model's initial weights from the seed), then, for each rule's
suggested (base_lr, max_lr), cyclic CLR (triangular, step_size two epochs)
for 12 epochs; reported: the final validation metric (accuracy, or the
regression's mean squared error). A rule that finds no bound scores as the
worst run.

    python notebooks/range_rules.py          # tox -e range-rules; ~15 min
    python notebooks/range_rules.py --report # the table from the JSON

Writes notebooks/range_rules.json and docs/range_rules.md.
"""
from __future__ import print_function

import argparse
import collections
import json
import multiprocessing
import os
import sys
import warnings

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
warnings.filterwarnings('ignore')
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

OUT = os.path.join(HERE, 'range_rules.json')
TABLE = os.path.join(ROOT, 'docs', 'range_rules.md')
MODELS = ('digits_mlp', 'digits_convnet', 'regression')
OPTIMIZERS = ('SGD', 'Adam', 'RMSprop')
SEEDS = (0, 1, 2, 3, 4)
RULES = ('lowest_loss', 'valley', 'steepest', 'lowest_over_10')
BATCH, EPOCHS, HALF_CYCLE = 32, 12, 2
RANGE = dict(min_lr=1e-5, max_lr=10., steps=300, batch_size=BATCH)


def data(name):
    """(x_train, y_train, x_val, y_val), the same for every seed."""
    if name == 'regression':
        rng = np.random.RandomState(7)
        x = rng.uniform(-1, 1, (2000, 8)).astype(np.float32)
        w1, w2 = rng.randn(8), rng.randn(8)
        y = (np.sin(x.dot(w1)) + 0.5 * x.dot(w2) ** 2 +
             0.1 * rng.randn(2000)).astype(np.float32)[:, None]
        return x[:1500], y[:1500], x[1500:], y[1500:]
    from sklearn.datasets import load_digits
    digits = load_digits()
    x = (digits.data / 16.).astype(np.float32)
    y = digits.target.astype(np.float32)
    order = np.random.RandomState(0).permutation(len(x))
    x, y = x[order], y[order]
    if name == 'digits_convnet':
        x = x.reshape(-1, 8, 8, 1)
    return x[:1347], y[:1347], x[1347:], y[1347:]


def model(name, seed, optimizer):
    from keras.layers import Conv2D, Dense, Flatten, Input, MaxPooling2D
    from keras.models import Model
    if name == 'digits_convnet':
        inp = Input(shape=(8, 8, 1))
        h = MaxPooling2D(2)(Conv2D(16, 3, activation='relu',
                                   padding='same')(inp))
        out = Dense(10, activation='softmax')(Flatten()(h))
    else:
        inp = Input(shape=(64,) if name == 'digits_mlp' else (8,))
        h = Dense(64 if name == 'digits_mlp' else 32, activation='relu')(inp)
        out = Dense(10, activation='softmax')(h) if name == 'digits_mlp' \
            else Dense(1)(h)
    net = Model(inp, out)
    rng = np.random.RandomState(seed)
    net.set_weights([rng.uniform(-0.2, 0.2, w.shape).astype(np.float32)
                     for w in net.get_weights()])
    if name == 'regression':
        net.compile(optimizer=optimizer, loss='mse')
    else:
        net.compile(optimizer=optimizer, loss='sparse_categorical_crossentropy',
                    metrics=['accuracy'])
    return net


def optimizer(name, lr, clr=None):
    import clr_optimizers as co
    if name == 'SGD':
        return co.SGD(lr=lr, momentum=0.9, clr=clr)
    return getattr(co, name)(lr=lr, clr=clr)


def run_pair(pair):
    """Every seed of one (model, optimizer): the range test's suggestions
    and each rule's final validation metric."""
    from keras import backend as K
    from clr_optimizers import lr_range_test
    model_name, opt_name = pair
    x, y, x_val, y_val = data(model_name)
    per_epoch = int(np.ceil(len(x) / BATCH))
    out = {}
    for seed in SEEDS:
        K.clear_session()
        result = lr_range_test(model(model_name, seed,
                                     optimizer(opt_name, 1e-3)),
                               x, y, seed=seed, **RANGE)
        finals, done = {}, {}
        for rule in RULES:
            bounds = result.suggestions[rule]
            if bounds is None:
                finals[rule] = None
                continue
            if bounds not in done:
                K.clear_session()
                net = model(model_name, seed, optimizer(opt_name, bounds[0], {
                    'max_lr': bounds[1], 'step_size': HALF_CYCLE * per_epoch}))
                np.random.seed(seed)
                history = net.fit(x, y, batch_size=BATCH, epochs=EPOCHS,
                                  verbose=0, validation_data=(x_val, y_val))
                key = 'val_loss' if model_name == 'regression' else \
                    'val_accuracy'
                value = float(history.history[key][-1])
                done[bounds] = value if np.isfinite(value) else None
            finals[rule] = done[bounds]
        out[seed] = {'suggestions': dict(result.suggestions),
                     'final': finals}
        print('%s / %s / seed %d: %s' % (model_name, opt_name, seed, ', '.join(
            '%s %s' % (r, 'none' if f is None else '%.4g' % f)
            for r, f in finals.items())), flush=True)
    return '%s/%s' % pair, out


def score(model_name, value):
    """Higher is better: accuracy, or minus the validation MSE; a missing
    or diverged run is the worst."""
    if value is None:
        return -np.inf
    return -value if model_name == 'regression' else value


def report(results):
    """The table: per (model, optimizer), each rule's median final metric
    and how many seeds it was best on; then each rule over all 45 runs:
    how often best, and how far off the best it got."""
    lines = ['| model | optimizer | ' + ' | '.join(RULES) + ' |',
             '|---|---|' + '---|' * len(RULES)]
    wins = collections.Counter()
    worst = collections.defaultdict(float)
    for model_name in MODELS:
        for opt_name in OPTIMIZERS:
            runs = results['%s/%s' % (model_name, opt_name)]
            cells = []
            for rule in RULES:
                values = [runs[str(s)]['final'][rule] for s in SEEDS]
                best = 0
                for s in SEEDS:
                    scores = {r: score(model_name, runs[str(s)]['final'][r])
                              for r in RULES}
                    top = max(scores.values())
                    if scores[rule] == top:
                        best += 1
                        wins[rule] += 1
                    gap = _gap(model_name, scores[rule], top)
                    worst[rule] = max(worst[rule], gap)
                finite = [v for v in values if v is not None]
                cells.append('%s (best %d/5)' % (
                    ('%.4f' if model_name == 'regression' else '%.3f')
                    % np.median(finite) if len(finite) == len(values) else
                    '%d of 5 found' % len(finite), best))
            lines.append('| %s | %s | %s |' % (model_name, opt_name,
                                                ' | '.join(cells)))
    lines += ['', '| rule | best in (of 45) | furthest off the best |',
              '|---|---|---|']
    for rule in RULES:
        lines.append('| %s | %d | %s |' % (rule, wins[rule], (
            'no bound or diverged at least once' if np.isinf(worst[rule])
            else '%.1f %%' % (100 * worst[rule]))))
    return '\n'.join(lines)


def _gap(model_name, value, top):
    """How far a score is below the best: accuracy points, or the MSE's
    relative excess for the regression; inf for a missing run."""
    if np.isinf(value):
        return np.inf
    if model_name == 'regression':
        return (-value) / (-top) - 1.
    return top - value


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--report', action='store_true',
                        help='print the table of the saved results')
    parser.add_argument('--workers', type=int, default=2)
    args = parser.parse_args(argv)
    if not args.report:
        pairs = [(m, o) for m in MODELS for o in OPTIMIZERS]
        with multiprocessing.Pool(args.workers) as pool:
            results = dict(pool.map(run_pair, pairs, chunksize=1))
        with open(OUT, 'w') as f:
            json.dump(results, f, indent=1, sort_keys=True)
    with open(OUT) as f:
        results = json.load(f)
    table = report(results)
    print(table)
    return table


if __name__ == '__main__':
    main()
