"""Which `suggest=` rule of lr_range_test gives the best CLR bounds?
Measured on scikit-learn's bundled digits, with the digits notebook's model,
split and training (SGD, batch 32, 30 epochs, five seeds).

For each rule, the range test's suggested (base_lr, max_lr) drive
triangular2 CLR (step_size 4 epochs) and one-cycle (from max_lr / 25 up to
max_lr and down over the 30 epochs); reported: updates to reach 97 %
validation accuracy (or never), and the final and best validation accuracy.
Writes notebooks/digits_range_rules.json and prints a Markdown table.

    python notebooks/digits_range_rules.py          # tox -e digits runs it
"""
from __future__ import print_function

import json
import os
import sys
import warnings

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
warnings.filterwarnings('ignore')
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import numpy as np  # noqa: E402
from keras import backend as K  # noqa: E402
from keras.layers import Dense, Input  # noqa: E402
from keras.models import Model  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from clr_optimizers import SGD, lr_range_test  # noqa: E402

BATCH, EPOCHS, TARGET, SEEDS = 32, 30, 0.97, [0, 1, 2, 3, 4]


def data():
    digits = load_digits()
    x = (digits.data / 16.).astype(np.float32)
    y = digits.target.astype(np.float32)
    order = np.random.RandomState(0).permutation(len(x))
    x, y = x[order], y[order]
    return x[:1347], y[:1347], x[1347:], y[1347:]


def make_model(seed, optimizer):
    inp = Input(shape=(64,))
    h = Dense(64, activation='relu')(inp)
    model = Model(inp, Dense(10, activation='softmax')(h))
    rng = np.random.RandomState(seed)
    model.set_weights([rng.uniform(-0.2, 0.2, w.shape).astype(np.float32)
                       for w in model.get_weights()])
    model.compile(optimizer=optimizer, loss='sparse_categorical_crossentropy',
                  metrics=['accuracy'])
    return model


def range_test():
    """The range test whose suggestions are compared (docs/range_test.png
    draws it): SGD from 1e-3 to 10 over 200 updates, the defaults
    otherwise."""
    x_train, y_train, _, _ = data()
    return lr_range_test(make_model(0, SGD(lr=0.01)), x_train, y_train,
                         min_lr=1e-3, max_lr=10., steps=200, batch_size=BATCH)


def main(out=os.path.join(HERE, 'digits_range_rules.json')):
    x_train, y_train, x_val, y_val = data()
    per_epoch = int(np.ceil(len(x_train) / BATCH))
    result = range_test()
    report = {'suggestions': dict(result.suggestions), 'runs': {}}
    print('range test: %d steps%s' % (len(result.lr), ' (stopped early)'
                                      if result.stopped_early else ''))
    for rule, (base_lr, max_lr) in result.suggestions.items():
        print('  %-12s base_lr %.4g, max_lr %.4g' % (rule, base_lr, max_lr))
    policies = {
        'triangular2': lambda b, m: SGD(lr=b, clr={
            'max_lr': m, 'step_size': 4 * per_epoch, 'mode': 'triangular2'}),
        'one_cycle': lambda b, m: SGD(lr=m / 25, clr={
            'policy': 'one_cycle', 'max_lr': m,
            'total_steps': EPOCHS * per_epoch}),
    }
    rows = []
    for policy, make in policies.items():
        for rule, (base_lr, max_lr) in result.suggestions.items():
            reached, finals, bests = [], [], []
            for seed in SEEDS:
                K.clear_session()
                model = make_model(seed, make(base_lr, max_lr))
                np.random.seed(seed)     # the same shuffles for every rule
                history = model.fit(x_train, y_train, batch_size=BATCH,
                                    epochs=EPOCHS, verbose=0,
                                    validation_data=(x_val, y_val))
                curve = np.array(history.history['val_accuracy'])
                hits = np.nonzero(curve >= TARGET)[0]
                reached.append(int((hits[0] + 1) * per_epoch)
                               if len(hits) else None)
                finals.append(float(curve[-1]))
                bests.append(float(curve.max()))
            report['runs']['%s/%s' % (policy, rule)] = {
                'updates_to_target': reached, 'final': finals, 'best': bests}
            counts = sorted(np.inf if r is None else r for r in reached)
            rows.append('| %s | %s | %.3g | %s | %s | %.3f (%.3f-%.3f) |'
                        % (policy, rule, max_lr,
                           ', '.join('never' if r is None else str(r)
                                     for r in reached),
                           counts[len(counts) // 2], np.median(finals),
                           min(finals), max(finals)))
            print(rows[-1], flush=True)
    with open(out, 'w') as f:
        json.dump(report, f, indent=1)
    print('\n| policy | rule | max_lr | updates to 97 %% (seeds %s) | median '
          '| final val accuracy, median (range) |' % SEEDS)
    print('|---|---|---|---|---|---|')
    print('\n'.join(rows))
    print('wrote', out)


if __name__ == '__main__':
    main()
