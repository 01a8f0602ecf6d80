"""Are the weights after 50 updates bit-identical between two commits?

Trains the same small model for 50 updates with each of the seven
optimizers (and Adam with amsgrad, SGD with Nesterov), fused and op by op,
with `clr=None` (with and without `decay`), a cyclic `clr` with cycling
momentum where the optimizer has one (symmetric; asymmetric with
triangular2 and decay), one-cycle and cosine restarts, once with the library of commit
`--base` (extracted with `git archive`) and once with the working tree, each
in a fresh process; then compares every weight, every optimizer weight and
the LR trace bit for bit.

    python tools/bit_identity.py --base f6273b9      # exit 0 when identical

Run it in the tox env (`.tox/py37/bin/python tools/bit_identity.py ...`).
"""
from __future__ import print_function

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UPDATES = 50
CYCLIC = {'max_lr': 0.05, 'step_size': 7}
MOMENTUM = {'base_momentum': 0.85, 'max_momentum': 0.95}
ONE_CYCLE = {'policy': 'one_cycle', 'max_lr': 0.05, 'total_steps': 40}
ASYMMETRIC = {'max_lr': 0.05, 'step_size': 3, 'step_size_down': 5,
              'mode': 'triangular2'}
COSINE = {'policy': 'cosine_restarts', 'first_decay_steps': 9, 't_mul': 1.5,
          'm_mul': 0.8, 'alpha': 0.1}
# name, keyword arguments, whether momentum cycles
OPTIMIZERS = [('SGD', {'momentum': 0.9}, True),
              ('SGD', {'momentum': 0.9, 'nesterov': True}, True),
              ('RMSprop', {}, False), ('Adagrad', {}, False),
              ('Adadelta', {}, False), ('Adam', {}, True),
              ('Adam', {'amsgrad': True}, True), ('Adamax', {}, True),
              ('Nadam', {}, True)]


def cases():
    """(label, optimizer name, kwargs) for every combination compared."""
    for name, kwargs, cycles in OPTIMIZERS:
        for fused in (True, False):
            for label, clr in (('none', None), ('decay', None),
                               ('cyclic', CYCLIC), ('asymmetric', ASYMMETRIC),
                               ('one_cycle', ONE_CYCLE),
                               ('cosine', COSINE)):
                clr = None if clr is None else dict(clr)
                if clr is not None and cycles and label != 'cosine':
                    clr.update(MOMENTUM)
                lr = 1.0 if name == 'Adadelta' else 0.01
                if clr is not None and 'max_lr' in clr:
                    clr['max_lr'] *= lr / 0.01
                args = dict(kwargs, fused=fused, clr=clr, lr=lr)
                if label in ('decay', 'asymmetric'):
                    args['decay'] = 0.01
                if clr is not None and cycles and label != 'cosine':
                    args.pop('momentum', None)
                yield ('%s%s-%s-%s' % (name, ''.join(
                    '-' + k for k in sorted(kwargs) if kwargs[k] is True),
                    'fused' if fused else 'opbyop', label), name, args)


def run(out):
    """Trains every case with the importable clr_optimizers; saves arrays."""
    import keras
    from keras import backend as K
    from keras.layers import Dense, Input
    from keras.models import Model
    import clr_optimizers
    rng = np.random.RandomState(1)
    x = rng.rand(UPDATES * 8, 6).astype(np.float32)
    y = rng.randint(0, 2, size=(UPDATES * 8, 1)).astype(np.float32)
    arrays = {}
    for label, name, args in cases():
        K.clear_session()
        inp = Input(shape=(6,))
        model = Model(inp, Dense(1, activation='sigmoid')(
            Dense(5, activation='tanh')(inp)))
        init = np.random.RandomState(0)
        model.set_weights([init.uniform(-.5, .5, w.shape).astype(np.float32)
                           for w in model.get_weights()])
        opt = getattr(clr_optimizers, name)(**args)
        model.compile(optimizer=opt, loss='binary_crossentropy')
        lrs = []
        for i in range(UPDATES):
            model.train_on_batch(x[8 * i:8 * i + 8], y[8 * i:8 * i + 8])
            lrs.append(K.get_value(opt.current_lr))
        arrays[label + '/lr'] = np.array(lrs, np.float32)
        for j, w in enumerate(model.get_weights()):
            arrays['%s/w%d' % (label, j)] = w
        for j, w in enumerate(K.batch_get_value(opt.weights)):
            arrays['%s/opt%d' % (label, j)] = np.asarray(w)
    np.savez(out, **arrays)


def train_with(library_root, out):
    env = dict(os.environ, PYTHONPATH=library_root, TF_CPP_MIN_LOG_LEVEL='2',
               PYTHONHASHSEED='0')
    done = subprocess.run([sys.executable, os.path.abspath(__file__),
                           '--run', out], env=env, cwd=library_root,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        sys.exit('training with %s failed:\n%s' % (
            library_root, done.stdout.decode('utf8', 'replace')[-5000:]))
    return np.load(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--base', default='HEAD', help='the commit to '
                        'compare the working tree with (default HEAD)')
    parser.add_argument('--run', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run:
        return run(args.run)
    folder = tempfile.mkdtemp(prefix='bit-identity-')
    archive = os.path.join(folder, 'base.tar')
    subprocess.check_call(['git', 'archive', '-o', archive, args.base],
                          cwd=ROOT)
    base_root = os.path.join(folder, 'base')
    with tarfile.open(archive) as tar:
        tar.extractall(base_root)
    old = train_with(base_root, os.path.join(folder, 'base.npz'))
    new = train_with(ROOT, os.path.join(folder, 'tree.npz'))
    differ = [key for key in sorted(old.files) if key not in new.files or
              old[key].dtype != new[key].dtype or
              not np.array_equal(old[key], new[key])]
    differ += [key for key in new.files if key not in old.files]
    labels = sorted(set(key.split('/')[0] for key in old.files))
    print('%d cases (%d arrays): %s' % (
        len(labels), len(old.files),
        'bit-identical to %s' % args.base if not differ else
        '%d arrays differ from %s: %s' % (len(differ), args.base,
                                          ', '.join(differ[:20]))))
    return 1 if differ else 0


if __name__ == '__main__':
    sys.exit(main())
