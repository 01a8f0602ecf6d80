"""Runs lr_range_test on scikit-learn's bundled digits (no download) and
draws docs/range_test.png. Run: `tox -e plots`."""
import os
import sys

import matplotlib
matplotlib.use('Agg')
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from clr_optimizers import SGD, lr_range_test  # noqa: E402


def digits_model(seed=0):
    from keras.layers import Dense, Input
    from keras.models import Model
    np.random.seed(seed)
    inp = Input(shape=(64,))
    x = Dense(64, activation='relu')(inp)
    model = Model(inp, Dense(10, activation='softmax')(x))
    model.compile(optimizer=SGD(lr=0.01), loss='sparse_categorical_crossentropy')
    return model


def main(path=os.path.join(HERE, 'range_test.png')):
    from sklearn.datasets import load_digits
    digits = load_digits()
    x = (digits.data / 16.).astype(np.float32)
    y = digits.target.astype(np.float32)
    order = np.random.RandomState(0).permutation(len(x))
    x, y = x[order], y[order]
    x, y = x[:1347], y[:1347]     # the digits notebook's training split
    result = lr_range_test(digits_model(), x, y, min_lr=1e-3, max_lr=10.,
                           steps=200, batch_size=32)
    ax = result.plot()
    ax.set_title("lr_range_test on digits, SGD: suggest='%s' gives "
                 'base_lr=%.3g, max_lr=%.3g' % ((result.suggest,) +
                                                 result.suggested_bounds),
                 fontsize=9)
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=80)
    print('wrote %s; %d steps%s; suggestions %s'
          % (path, len(result.lr),
             ' (stopped early)' if result.stopped_early else '',
             dict(result.suggestions)))


if __name__ == '__main__':
    main()
