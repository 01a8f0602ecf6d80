"""Benchmark: the seven optimizers on real models, against stock Keras and
TensorFlow's own (fused) optimizers.

Models: an MLP 512 -> 2048 -> 2048 -> 10 (5,267,466 parameters) and a small
convnet (32x32x3 -> conv 3x3x32 -> conv 3x3x64 -> max-pool -> dense 128 ->
10; 1,625,866 parameters). For each model, batch size and optimizer, four
variants run interleaved in one process:

    stock   keras.optimizers.<Name>
    none    clr_optimizers.<Name>, clr=None
    clr     clr_optimizers.<Name>, clr={'max_lr': 6 * lr, 'step_size': 2000}
    native  keras.optimizers.TFOptimizer(<TensorFlow's optimizer>), where
            TensorFlow 1.15 has one with the same rule family (NATIVE below;
            Nadam has none: tf.contrib's NadamOptimizer is Adam with a
            Nesterov step, not Keras's Nadam)

With --weight-decay (issue 21), three variants instead, for the optimizers
that TensorFlow 1.15 gives decoupled weight decay (WD_NATIVE below):

    clr     as above (no weight decay)
    wd      clr_optimizers.<Name>, the same clr, weight_decay=WEIGHT_DECAY
    native  keras.optimizers.TFOptimizer(<TensorFlow's decoupled-decay
            optimizer>): tf.contrib.opt's AdamWOptimizer,
            MomentumWOptimizer, or extend_with_decoupled_weight_decay of
            tf.train.AdagradOptimizer. Their decay is a constant per step
            (it does not follow the LR); the work per step is the same.

Two timings per variant and round:

    step    one `fit` of --steps updates, per update (forward, backward,
            update and Keras's loop)
    update  the update alone: the optimizer's ops applied to fixed,
            precomputed gradients held in variables (session runs of the
            update op only)

A ratio is the median over rounds of the within-round ratio of two
variants, so that the machine's drift between rounds cancels; the spread is
the smallest and largest within-round ratio. Also reports each variant's
optimizer memory in float32 elements per model parameter. Writes JSON
(default benchmarks/results/real.json) and prints Markdown tables.

    python benchmarks/bench_real.py                  # tox -e bench-real
    python benchmarks/bench_real.py --models mlp --batch-sizes 32 \\
        --optimizers Adam --steps 5 --reps 2         # a quick look
    python benchmarks/bench_real.py --weight-decay --models mlp \
        --optimizers SGD Adam Adagrad --reps 9       # docs/speed.md
"""
from __future__ import print_function

import argparse
import json
import os
import sys
import time
import warnings

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
warnings.filterwarnings('ignore')
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import keras  # noqa: E402
import keras.optimizers as stock  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import backend as K  # noqa: E402
from keras import layers  # noqa: E402

import clr_optimizers as co  # noqa: E402
from bench_clr import interleaved, write_report  # noqa: E402

NAMES = ['SGD', 'RMSprop', 'Adagrad', 'Adadelta', 'Adam', 'Adamax', 'Nadam']
VARIANTS = ['stock', 'none', 'clr', 'native']
WD_VARIANTS = ['clr', 'wd', 'native']
WEIGHT_DECAY = 0.01      # torch AdamW's default (applied as lr * 0.01)
# Keras's default learning rates; SGD with momentum 0.9 (its common use).
LR = {'SGD': 0.01, 'RMSprop': 0.001, 'Adagrad': 0.01, 'Adadelta': 1.0,
      'Adam': 0.001, 'Adamax': 0.002, 'Nadam': 0.002}
KWARGS = {'SGD': {'momentum': 0.9}}


def _adamax(lr):
    from tensorflow.contrib.opt import AdaMaxOptimizer
    return AdaMaxOptimizer(lr, epsilon=1e-7)


# TensorFlow's optimizer of the same family, each one fused kernel per
# parameter. RMSProp puts epsilon inside the square root and Adagrad has no
# epsilon (Keras's rules differ there); the speed class is the same.
NATIVE = {
    'SGD': lambda lr: tf.train.MomentumOptimizer(lr, 0.9),
    'RMSprop': lambda lr: tf.train.RMSPropOptimizer(lr, decay=0.9,
                                                    epsilon=1e-7),
    'Adagrad': lambda lr: tf.train.AdagradOptimizer(lr),
    'Adadelta': lambda lr: tf.train.AdadeltaOptimizer(lr, 0.95, 1e-7),
    'Adam': lambda lr: tf.train.AdamOptimizer(lr, epsilon=1e-7),
    'Adamax': _adamax,    # tf.contrib.opt: tf.train has none
}


def mlp():
    inp = layers.Input((512,))
    x = layers.Dense(2048, activation='relu')(inp)
    x = layers.Dense(2048, activation='relu')(x)
    return keras.models.Model(inp, layers.Dense(10, activation='softmax')(x))


def convnet():
    inp = layers.Input((32, 32, 3))
    x = layers.Conv2D(32, 3, activation='relu')(inp)
    x = layers.Conv2D(64, 3, activation='relu')(x)
    x = layers.Flatten()(layers.MaxPooling2D()(x))
    x = layers.Dense(128, activation='relu')(x)
    return keras.models.Model(inp, layers.Dense(10, activation='softmax')(x))


def _decoupled(name):
    """TensorFlow's optimizer with decoupled weight decay WEIGHT_DECAY *
    lr (a constant: TF's decay does not follow a schedule)."""
    from tensorflow.contrib import opt as contrib

    def make(lr):
        wd = WEIGHT_DECAY * lr
        if name == 'Adam':
            return contrib.AdamWOptimizer(wd, lr, epsilon=1e-7)
        if name == 'SGD':
            return contrib.MomentumWOptimizer(wd, lr, 0.9)
        return contrib.extend_with_decoupled_weight_decay(
            tf.train.AdagradOptimizer)(wd, learning_rate=lr)
    return make


WD_NATIVE = {name: _decoupled(name) for name in ('SGD', 'Adagrad', 'Adam')}

MODELS = {'mlp': mlp, 'convnet': convnet}


def optimizer(name, variant, weight_decay=False):
    lr, kwargs = LR[name], KWARGS.get(name, {})
    if variant == 'stock':
        return getattr(stock, name)(lr=lr, **kwargs)
    if variant == 'native':
        native = WD_NATIVE if weight_decay else NATIVE
        return stock.TFOptimizer(native[name](lr))
    if variant == 'wd':
        kwargs = dict(kwargs, weight_decay=WEIGHT_DECAY)
    clr = None if variant == 'none' else {'max_lr': 6 * lr,
                                          'step_size': 2000}
    return getattr(co, name)(lr=lr, clr=clr, **kwargs)


def update_alone(opt, params, rng):
    """The op that applies `opt` to fixed gradients (held in variables, so
    that the run reads them like computed ones) and its optimizer's
    variables."""
    grads = [tf.Variable(0.01 * rng.randn(*K.int_shape(p)).astype('float32'),
                         use_resource=True) for p in params]
    reads = [g.read_value() for g in grads]
    K.get_session().run([g.initializer for g in grads])
    if isinstance(opt, stock.TFOptimizer):
        tf_opt = opt.optimizer
        op = tf_opt.apply_gradients(list(zip(reads, params)))
        variables = tf_opt.variables()
    else:
        opt.get_gradients = lambda loss, params: reads
        op = tf.group(*opt.get_updates(None, params))
        variables = opt.weights
    K.get_session().run([v.initializer for v in variables])
    return op, variables


def elements_per_parameter(variables, params):
    count = sum(int(np.prod(K.int_shape(p))) for p in params)
    return sum(int(np.prod(K.int_shape(v))) for v in variables) / float(count)


def bench(model_name, name, batch, steps, reps, rng):
    variants = [v for v in VARIANTS if v != 'native' or name in NATIVE]
    return _bench(model_name, name, batch, steps, reps, rng, variants,
                  lambda v: optimizer(name, v))


def bench_weight_decay(model_name, name, batch, steps, reps, rng):
    """Ours with weight decay against ours without and TF's decoupled
    decay, interleaved."""
    r = _bench(model_name, name, batch, steps, reps, rng, WD_VARIANTS,
               lambda v: optimizer(name, v, weight_decay=True))
    r['weight_decay'] = WEIGHT_DECAY
    return r


def _bench(model_name, name, batch, steps, reps, rng, variants, make):
    K.clear_session()
    first = MODELS[model_name]()
    shape = K.int_shape(first.input)[1:]
    x = rng.rand(steps * batch, *shape).astype('float32')
    y = keras.utils.to_categorical(rng.randint(0, 10, steps * batch), 10)
    runs = {}
    for v in variants:
        model = MODELS[model_name]()
        model.set_weights(first.get_weights())
        model.compile(optimizer=make(v), loss='categorical_crossentropy')
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0)   # warm-up
        op, variables = update_alone(make(v),
                                     model.trainable_weights, rng)
        runs[v] = (model, op, variables)
    session = K.get_session()
    for v in variants:
        session.run(runs[v][1])                                  # warm-up
    step = {v: [] for v in variants}
    update = {v: [] for v in variants}
    for order in interleaved(variants, reps):
        for v in order:
            model, op, _ = runs[v]
            start = time.perf_counter()
            model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
            step[v].append((time.perf_counter() - start) / steps)
            start = time.perf_counter()
            for _ in range(steps):
                session.run(op)
            update[v].append((time.perf_counter() - start) / steps)

    def ratio(times, slow, fast):
        r = np.array(times[slow]) / np.array(times[fast])
        return [float(np.median(r)), float(r.min()), float(r.max())]

    mine = 'wd' if 'wd' in variants else 'clr'
    best = 'native' if 'native' in variants else 'stock'
    faster = [min(a, b) for a, b in zip(step.get('stock', step[best]),
                                        step[best])]
    within = np.array(step[mine]) / np.array(faster)
    return {
        'model': model_name, 'optimizer': name, 'batch_size': batch,
        'steps': steps, 'reps': reps,
        'step_ms': {v: 1e3 * float(np.median(step[v])) for v in variants},
        'update_ms': {v: 1e3 * float(np.median(update[v]))
                      for v in variants},
        'clr_over_faster': [float(np.median(within)), float(within.min()),
                            float(within.max())],
        'step_ratios': {v: ratio(step, mine, v) for v in variants
                        if v != mine},
        'update_ratios': {v: ratio(update, mine, v) for v in variants
                          if v != mine},
        'elements_per_parameter': {
            v: elements_per_parameter(runs[v][2],
                                      runs[v][0].trainable_weights)
            for v in variants},
        'step_seconds': step, 'update_seconds': update,
    }


def wd_table(results):
    """The weight-decay comparison (issue 21): ours with weight decay over
    TF's decoupled decay and over ours without, step and update alone."""
    lines = ['| model | optimizer | batch | step ms: clr / wd / TF decoupled '
             '| wd / TF (spread) | wd / clr (spread) | update ms: clr / wd / '
             'TF | update wd / TF (spread) | update wd / clr (spread) |',
             '|---|---|---|---|---|---|---|---|---|']
    for r in results:
        s, u = r['step_ms'], r['update_ms']
        sr, ur = r['step_ratios'], r['update_ratios']
        lines.append(
            '| %s | %s | %d | %.1f / %.1f / %.1f | %.3f (%.2f-%.2f) | '
            '%.3f (%.2f-%.2f) | %.1f / %.1f / %.1f | %.2f (%.2f-%.2f) | '
            '%.2f (%.2f-%.2f) |'
            % ((r['model'], r['optimizer'], r['batch_size'], s['clr'],
                s['wd'], s['native']) + tuple(sr['native']) +
               tuple(sr['clr']) + (u['clr'], u['wd'], u['native']) +
               tuple(ur['native']) + tuple(ur['clr'])))
    return '\n'.join(lines)


def table(results):
    if results and 'weight_decay' in results[0]:
        return wd_table(results)
    lines = ['| model | optimizer | batch | step ms: stock / none / clr / '
             'native | clr / faster of stock, native (spread) | update ms: '
             'stock / clr / native | update: clr / native (spread) | '
             'optimizer floats per parameter: stock / clr |',
             '|---|---|---|---|---|---|---|---|']
    for r in results:
        s, u, e = r['step_ms'], r['update_ms'], r['elements_per_parameter']
        native = '%.1f' % s['native'] if 'native' in s else 'none'
        unative = '%.1f' % u['native'] if 'native' in u else 'none'
        ur = r['update_ratios'].get('native')
        uratio = '%.2f (%.2f-%.2f)' % tuple(ur) if ur else 'none'
        lines.append(
            '| %s | %s | %d | %.1f / %.1f / %.1f / %s | %.3f (%.2f-%.2f) | '
            '%.1f / %.1f / %s | %s | %.2f / %.2f |'
            % (r['model'], r['optimizer'], r['batch_size'], s['stock'],
               s['none'], s['clr'], native, r['clr_over_faster'][0],
               r['clr_over_faster'][1], r['clr_over_faster'][2], u['stock'],
               u['clr'], unative, uratio, e['stock'], e['clr']))
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--models', nargs='+', default=['mlp', 'convnet'],
                        choices=sorted(MODELS))
    parser.add_argument('--batch-sizes', type=int, nargs='+',
                        default=[32, 256])
    parser.add_argument('--optimizers', nargs='+', choices=NAMES,
                        help='default: all seven (with --weight-decay: '
                        'SGD Adagrad Adam)')
    parser.add_argument('--steps', type=int, default=20,
                        help='updates per timed run')
    parser.add_argument('--reps', type=int, default=5,
                        help='interleaved rounds per configuration')
    parser.add_argument('--out', help='default: benchmarks/results/'
                        'real.json (real_weight_decay.json)')
    parser.add_argument('--weight-decay', action='store_true',
                        help='ours with weight decay against TF\'s '
                        'decoupled decay (SGD, Adagrad, Adam)')
    parser.add_argument('--report', nargs='+', metavar='JSON',
                        help='print the tables of earlier results and stop')
    args = parser.parse_args(argv)
    if args.report:
        results = []
        for path in args.report:
            with open(path) as f:
                results += json.load(f)['results']
        print(table(results))
        return 0
    run, out = bench, 'real.json'
    if args.weight_decay:
        run, out = bench_weight_decay, 'real_weight_decay.json'
        args.optimizers = args.optimizers or [n for n in NAMES
                                              if n in WD_NATIVE]
        unknown = sorted(set(args.optimizers) - set(WD_NATIVE))
        if unknown:
            parser.error('--weight-decay compares %s with TF; not %s'
                         % (sorted(WD_NATIVE), unknown))
    args.optimizers = args.optimizers or NAMES
    args.out = args.out or os.path.join(HERE, 'results', out)
    rng = np.random.RandomState(0)
    results = []
    for model_name in args.models:
        for batch in args.batch_sizes:
            for name in args.optimizers:
                r = run(model_name, name, batch, args.steps, args.reps, rng)
                results.append(r)
                print('%-7s %-8s batch %3d: step ms %s; clr / faster %.3f'
                      % (model_name, name, batch,
                         ' / '.join('%s %.1f' % kv
                                    for kv in sorted(r['step_ms'].items())),
                         r['clr_over_faster'][0]), flush=True)
    write_report(args, results)
    print()
    print(table(results))
    print('\nwrote', args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
