"""Benchmark: in-graph CLR against stock Keras and the per-batch callback.

For each optimizer and batch size, on the seed notebook's model (15 -> 10 ->
1), four variants run interleaved, repeatedly, in one process:

    a  stock  keras.optimizers.<Name>, fixed learning rate
    b  clr    clr_optimizers.<Name> with clr (the schedule in the graph)
    c  cb     the stock class driven by a per-batch Python callback that
              sets the learning rate every batch (the CyclicLR-callback way)
    d  log    clr_optimizers.<Name> with clr and LRLogger

Each timed run is one `fit` of `--steps` updates; the median over `--reps`
rounds gives steps per second. A ratio is the median over rounds of the
step-time ratio of two variants within the same round, so that drift in the
machine's speed cancels (b/a <= 1.00 means CLR costs nothing; c/b is what
the callback costs).

With --policies (issue 23), the variants are instead stock and ours with
clr=None and with each schedule of step_ops.CASES (every policy); each
round times a `fit` and then the same batches through the training
function alone (the session runs, without Keras's loop), and the ratios are
each over stock, with their interquartile range over the rounds.
Also reports graph op counts of the training function and optimizer weight
counts against stock. Writes JSON (default benchmarks/results/bench.json)
and prints a Markdown table.

    python benchmarks/bench_clr.py                 # the full run (tox -e bench)
    python benchmarks/bench_clr.py --steps 3 --reps 1 --batch-sizes 4
    python benchmarks/bench_clr.py --policies --optimizers SGD Adam \
        --batch-sizes 32                      # docs/speed.md, every policy
"""
from __future__ import print_function

import argparse
import json
import os
import platform
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

import clr_optimizers as co  # noqa: E402
from clr_testing import make_model  # noqa: E402
from step_ops import CASES, optimizer as step_optimizer  # noqa: E402

NAMES = ['SGD', 'RMSprop', 'Adagrad', 'Adadelta', 'Adam', 'Adamax', 'Nadam']
LR, CLR = 0.01, {'max_lr': 0.06, 'step_size': 2000}
VARIANTS = ['stock', 'clr', 'cb', 'log']


class CallbackCLR(keras.callbacks.Callback):
    """The callback approach: computes the triangular LR in Python and sets
    it with a session run before every batch."""

    def __init__(self, base_lr, max_lr, step_size):
        super(CallbackCLR, self).__init__()
        self.base_lr, self.max_lr, self.step_size = base_lr, max_lr, step_size
        self.k = 0

    def on_batch_begin(self, batch, logs=None):
        cycle = np.floor(1 + self.k / (2. * self.step_size))
        x = abs(self.k / float(self.step_size) - 2 * cycle + 1)
        lr = self.base_lr + (self.max_lr - self.base_lr) * max(0., 1 - x)
        K.set_value(self.model.optimizer.lr, lr)
        self.k += 1


def build(name, variant):
    """Returns (model, callbacks, train-function op count)."""
    model = make_model(seed=None)     # the seed notebook's model
    if variant in ('stock', 'cb'):
        optimizer = getattr(stock, name)(lr=LR)
    else:
        optimizer = getattr(co, name)(lr=LR, clr=CLR)
    model.compile(optimizer=optimizer, loss='binary_crossentropy',
                  metrics=['accuracy'])
    before = len(K.get_session().graph.get_operations())
    model._make_train_function()
    ops = len(K.get_session().graph.get_operations()) - before
    callbacks = {'stock': [], 'clr': [],
                 'cb': [CallbackCLR(LR, CLR['max_lr'], CLR['step_size'])],
                 'log': [co.LRLogger()]}[variant]
    return model, callbacks, ops


def bench_policies(name, batch, steps, reps, rng):
    """Stock against ours with clr=None and with every policy, all
    interleaved: each one's step time over stock's, median and spread, for
    whole `fit` steps and for the training function's session runs alone
    (the same batches, without Keras's loop around them)."""
    x = rng.rand(steps * batch, 15)          # float64, as in the seed notebook
    y = rng.randint(0, 2, size=steps * batch)
    batches = [[x[i:i + batch].astype('float32'),
                y[i:i + batch, None].astype('float32'),
                np.ones(batch, 'float32')]
               for i in range(0, steps * batch, batch)]
    K.clear_session()
    models = {}
    for case, clr in CASES:
        model = make_model(seed=None)
        model.compile(optimizer=step_optimizer(name, clr),
                      loss='binary_crossentropy', metrics=['accuracy'])
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0)   # warm-up
        models[case] = model
    variants = [case for case, _ in CASES]
    fit = {v: [] for v in variants}
    run = {v: [] for v in variants}
    for order in interleaved(variants, reps):
        for v in order:
            model = models[v]
            start = time.perf_counter()
            model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
            fit[v].append((time.perf_counter() - start) / steps)
            train = model.train_function
            start = time.perf_counter()
            for inputs in batches:
                train(inputs)
            run[v].append((time.perf_counter() - start) / steps)

    def over_stock(seconds):
        out = {}
        for v in variants[1:]:
            r = np.array(seconds[v]) / np.array(seconds['stock'])
            out[v] = [float(np.median(r)), float(np.percentile(r, 25)),
                      float(np.percentile(r, 75)), float(r.min()),
                      float(r.max())]
        return out
    return {'optimizer': name, 'batch_size': batch, 'steps': steps,
            'reps': reps,
            'fit_ms': {v: 1e3 * float(np.median(fit[v])) for v in variants},
            'run_ms': {v: 1e3 * float(np.median(run[v])) for v in variants},
            'fit_over_stock': over_stock(fit),
            'run_over_stock': over_stock(run),
            'fit_seconds': fit, 'run_seconds': run}


def policy_table(results):
    """Each schedule's step time over stock's: median (interquartile
    range), whole fit steps and session runs alone."""
    head = []
    for r in results:
        head += ['%s batch %d: %s' % (r['optimizer'], r['batch_size'], what)
                 for what in ('fit', 'run alone')]
    lines = ['| variant | ' + ' | '.join(head) + ' |',
             '|---|' + '---|' * len(head)]
    lines.append('| stock, ms per step | ' + ' | '.join(
        '%.3f | %.3f' % (r['fit_ms']['stock'], r['run_ms']['stock'])
        for r in results) + ' |')
    for case, _ in CASES[1:]:
        cells = []
        for r in results:
            for key in ('fit_over_stock', 'run_over_stock'):
                cells.append('%.3f (%.2f-%.2f)' % tuple(r[key][case][:3]))
        lines.append('| %s | %s |' % (case, ' | '.join(cells)))
    return '\n'.join(lines)


def weight_counts(model):
    weights = model.optimizer.weights
    return {'arrays': len(weights),
            'scalars': sum(1 for w in weights if K.int_shape(w) == ()),
            'elements': int(sum(np.prod(K.int_shape(w)) for w in weights))}


def bench(name, batch, steps, reps, rng):
    x = rng.rand(steps * batch, 15)          # float64, as in the seed notebook
    y = rng.randint(0, 2, size=steps * batch)
    K.clear_session()
    runs = {v: build(name, v) for v in VARIANTS}
    for model, callbacks, _ in runs.values():      # warm-up
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0,
                  callbacks=callbacks)
    seconds = {v: [] for v in VARIANTS}
    for order in interleaved(VARIANTS, reps):
        for v in order:
            model, callbacks, _ = runs[v]
            start = time.perf_counter()
            model.fit(x, y, batch_size=batch, epochs=1, verbose=0,
                      callbacks=callbacks)
            seconds[v].append(time.perf_counter() - start)
    median = {v: float(np.median(seconds[v])) for v in VARIANTS}

    def ratio(slow, fast):
        """Median over rounds of the step-time ratio within each round."""
        return float(np.median(np.array(seconds[slow]) /
                               np.array(seconds[fast])))

    result = {
        'optimizer': name, 'batch_size': batch, 'steps': steps, 'reps': reps,
        'steps_per_second': {v: steps / median[v] for v in VARIANTS},
        'ratio_clr_over_stock': ratio('clr', 'stock'),
        'ratio_callback_over_clr': ratio('cb', 'clr'),
        'ratio_logger_over_clr': ratio('log', 'clr'),
        'train_function_ops': {v: runs[v][2] for v in ('stock', 'clr')},
        'optimizer_weights': {v: weight_counts(runs[v][0])
                              for v in ('stock', 'clr')},
        'seconds': seconds,
    }
    return result


def machine():
    return {'python': platform.python_version(), 'tensorflow': tf.__version__,
            'keras': keras.__version__, 'cpus': os.cpu_count(),
            'processor': platform.processor() or platform.machine(),
            'platform': platform.platform()}


def interleaved(variants, reps):
    """The variants' order in each of `reps` rounds, rotated by one each
    round, so that no variant always runs first."""
    for rep in range(reps):
        k = rep % len(variants)
        yield variants[k:] + variants[:k]


def write_report(args, results):
    """Writes the machine, the arguments and the results to `args.out`."""
    report = {'machine': machine(), 'args': vars(args), 'results': results}
    folder = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(folder):
        os.makedirs(folder)
    with open(args.out, 'w') as f:
        json.dump(report, f, indent=1)


def table(results):
    lines = ['| optimizer | batch | stock steps/s | clr steps/s | callback '
             'steps/s | clr+LRLogger steps/s | clr/stock | callback/clr | '
             'LRLogger/clr |', '|' + '---|' * 9]
    for r in results:
        s = r['steps_per_second']
        lines.append('| %s | %d | %.0f | %.0f | %.0f | %.0f | %.3f | %.2f | '
                     '%.2f |' % (r['optimizer'], r['batch_size'], s['stock'],
                                 s['clr'], s['cb'], s['log'],
                                 r['ratio_clr_over_stock'],
                                 r['ratio_callback_over_clr'],
                                 r['ratio_logger_over_clr']))
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--steps', type=int, default=150,
                        help='updates per timed run')
    parser.add_argument('--reps', type=int, default=31,
                        help='interleaved rounds per configuration')
    parser.add_argument('--batch-sizes', type=int, nargs='+',
                        default=[32, 2000])
    parser.add_argument('--optimizers', nargs='+', default=NAMES,
                        choices=NAMES)
    parser.add_argument('--out', default=os.path.join(HERE, 'results',
                                                      'bench.json'))
    parser.add_argument('--policies', action='store_true',
                        help='stock against ours with every policy')
    args = parser.parse_args(argv)
    rng = np.random.RandomState(0)
    if args.policies:
        if args.out == parser.get_default('out'):
            args.out = os.path.join(HERE, 'results', 'bench_policies.json')
        results = []
        for batch in args.batch_sizes:
            for name in args.optimizers:
                results.append(bench_policies(name, batch, args.steps,
                                              args.reps, rng))
                print('%-8s batch %4d, run alone: %s' % (
                    name, batch, ', '.join(
                        '%s %.3f' % (v, r[0]) for v, r in
                        results[-1]['run_over_stock'].items())), flush=True)
        write_report(args, results)
        print()
        print(policy_table(results))
        print('\nwrote', args.out)
        return 0
    results = []
    for batch in args.batch_sizes:
        for name in args.optimizers:
            results.append(bench(name, batch, args.steps, args.reps, rng))
            r = results[-1]
            print('%-8s batch %4d: clr/stock %.3f, callback/clr %.2f, '
                  'LRLogger/clr %.2f' % (name, batch, r['ratio_clr_over_stock'],
                                         r['ratio_callback_over_clr'],
                                         r['ratio_logger_over_clr']),
                  flush=True)
    write_report(args, results)
    print()
    print(table(results))
    print()
    print('| optimizer | train-function ops stock | clr | optimizer weights '
          'stock (arrays / elements) | clr (arrays / elements) |')
    print('|---|---|---|---|---|')
    for r in results:
        if r['batch_size'] != args.batch_sizes[0]:
            continue
        o, w = r['train_function_ops'], r['optimizer_weights']
        print('| %s | %d | %d | %d / %d | %d / %d |'
              % (r['optimizer'], o['stock'], o['clr'], w['stock']['arrays'],
                 w['stock']['elements'], w['clr']['arrays'],
                 w['clr']['elements']))
    print('\nwrote', args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
