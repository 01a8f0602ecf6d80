"""The seed model's session runs: fused kernels against the rule op by op
(issue 23).

On the seed notebook's model (172 parameters) an update's time is the
executor's fixed cost per op, not arithmetic. This times the training
function alone (300 batches of 32, 21 interleaved rounds, one process) for
stock Keras, ours fused (the default) and ours op by op (fused=False), all
with clr=None, for Adam and SGD with momentum 0.9; each ratio is the median
of within-round ratios over the stock optimizer of the same rule.

    python benchmarks/seed_kernels.py
"""
from __future__ import print_function

import os
import sys
import time
import warnings

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
warnings.filterwarnings('ignore')
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import keras.optimizers as stock  # noqa: E402
import numpy as np  # noqa: E402
from keras import backend as K  # noqa: E402

import clr_optimizers as co  # noqa: E402
from clr_testing import make_model  # noqa: E402

VARIANTS = {
    'Adam stock': lambda: stock.Adam(),
    'Adam fused': lambda: co.Adam(),
    'Adam op by op': lambda: co.Adam(fused=False),
    'SGD stock': lambda: stock.SGD(momentum=0.9),
    'SGD fused': lambda: co.SGD(momentum=0.9),
    'SGD op by op': lambda: co.SGD(momentum=0.9, fused=False),
}


def main(steps=300, reps=21):
    rng = np.random.RandomState(0)
    batches = [[rng.rand(32, 15).astype('float32'),
                (rng.rand(32, 1) > .5).astype('float32'),
                np.ones(32, 'float32')] for _ in range(steps)]
    K.clear_session()
    train = {}
    for name, make in VARIANTS.items():
        model = make_model(seed=0)
        model.compile(optimizer=make(), loss='binary_crossentropy',
                      metrics=['accuracy'])
        model._make_train_function()
        train[name] = model.train_function
        for inputs in batches[:20]:                  # warm-up
            train[name](inputs)
    names = list(VARIANTS)
    times = {name: [] for name in names}
    for rep in range(reps):
        k = rep % len(names)
        for name in names[k:] + names[:k]:
            start = time.perf_counter()
            for inputs in batches:
                train[name](inputs)
            times[name].append((time.perf_counter() - start) / steps)
    print('| variant | us per session run | over stock (interquartile) |')
    print('|---|---|---|')
    for name in names:
        ratio = (np.array(times[name]) /
                 np.array(times[name.split()[0] + ' stock']))
        print('| %s | %.0f | %.3f (%.2f-%.2f) |' % (
            name, 1e6 * np.median(times[name]), np.median(ratio),
            np.percentile(ratio, 25), np.percentile(ratio, 75)))


if __name__ == '__main__':
    main()
