"""How many graph ops the schedule and the step's bookkeeping add (issue 23).

On the seed notebook's model (15 -> 10 -> 1, 172 parameters), for SGD and
Adam, stock Keras and ours without and with each policy, counts:

    built     the ops of the training function's optimizer (its name scope,
              gradients excluded), as the graph holds them
    scalar    of those, the ops with scalar outputs only: the schedule, the
              counters, current_lr / current_momentum, Adam's powers
    executed  the ops one training step runs, all of them (forward,
              backward, update, Keras's fetches), as TensorFlow's step
              statistics list them after grappler's rewrites
    exec-opt  of those, the optimizer's (its name scope, gradients
              excluded)

Counts are exact and the same on every run; they say nothing of time by
themselves (bench_clr.py and bench_real.py time the steps).

    python benchmarks/step_ops.py                 # docs/speed.md's table
"""
from __future__ import print_function

import argparse
import json
import os
import sys
import warnings

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
warnings.filterwarnings('ignore')
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import keras.optimizers as stock  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import backend as K  # noqa: E402

import clr_optimizers as co  # noqa: E402
from clr_testing import make_model  # noqa: E402

LR = 0.01
# (name, clr): every policy, and the shapes of cyclic and phases that build
# different ops.
CASES = [
    ('stock', 'stock'),
    ('none', None),
    ('triangular', {'max_lr': 0.06, 'step_size': 2000}),
    ('triangular2', {'max_lr': 0.06, 'step_size': 2000,
                     'mode': 'triangular2'}),
    ('exp_range', {'max_lr': 0.06, 'step_size': 2000, 'mode': 'exp_range',
                   'gamma': 0.9999}),
    ('asymmetric', {'max_lr': 0.06, 'step_size': 500,
                    'step_size_down': 1500}),
    ('triangular+momentum', {'max_lr': 0.06, 'step_size': 2000,
                             'base_momentum': 0.85, 'max_momentum': 0.95}),
    ('one_cycle', {'policy': 'one_cycle', 'max_lr': 0.06,
                   'total_steps': 10000}),
    ('one_cycle three-phase linear', {
        'policy': 'one_cycle', 'max_lr': 0.06, 'total_steps': 10000,
        'three_phase': True, 'anneal_strategy': 'linear'}),
    ('cosine_restarts', {'policy': 'cosine_restarts',
                         'first_decay_steps': 1000}),
    ('cosine_restarts t_mul 2', {'policy': 'cosine_restarts',
                                 'first_decay_steps': 1000, 't_mul': 2.}),
    ('phases warm-up + cos', {'policy': 'phases', 'phases': [
        {'steps': 500, 'to': 0.06},
        {'steps': 9500, 'to': 0.0006, 'shape': 'cos'}]}),
    ('phases WSD', {'policy': 'phases', 'phases': [
        {'steps': 500, 'to': 0.06}, {'steps': 7500, 'to': 0.06},
        {'steps': 2000, 'to': 0.0, 'shape': '1-sqrt'}]}),
    ('phases warm-up + triangular', {'policy': 'phases', 'phases': [
        {'steps': 500, 'to': 0.01},
        {'policy': 'cyclic', 'max_lr': 0.06, 'step_size': 2000}]}),
]


def optimizer(name, clr):
    """Stock (clr "stock") or ours; SGD with momentum 0.9."""
    kwargs = {'momentum': 0.9} if name == 'SGD' else {}
    if isinstance(clr, dict) and 'base_momentum' in clr:
        kwargs = {}                     # the schedule drives the momentum
    if clr == 'stock':
        return getattr(stock, name)(lr=LR, **kwargs)
    return getattr(co, name)(lr=LR, clr=clr, **kwargs)


def _is_scalar(op):
    return op.outputs and all(t.shape.ndims == 0 for t in op.outputs)


def count(name, clr):
    """The four counts of one optimizer and clr."""
    K.clear_session()
    model = make_model(seed=0)
    metadata = tf.RunMetadata()
    model.compile(optimizer=optimizer(name, clr), loss='binary_crossentropy',
                  options=tf.RunOptions(
                      trace_level=tf.RunOptions.FULL_TRACE),
                  run_metadata=metadata)
    scope = 'training/%s/' % type(model.optimizer).__name__
    model._make_train_function()

    def mine(op_name):
        return op_name.startswith(scope) and '/gradients/' not in op_name

    built = [op for op in K.get_session().graph.get_operations()
             if mine(op.name)]
    x = np.random.RandomState(0).rand(4, 15).astype('float32')
    y = np.array([0., 1., 0., 1.], 'float32')
    model.train_on_batch(x, y)          # first run: grappler, allocations
    metadata.Clear()                    # the session merges into it
    model.train_on_batch(x, y)
    names = [node.node_name for dev in metadata.step_stats.dev_stats
             if dev.device.endswith('/device:CPU:0')   # /host:CPU repeats
             for node in dev.node_stats if node.node_name != '_SOURCE']
    return {'built': len(built),
            'scalar': sum(1 for op in built if _is_scalar(op)),
            'executed': len(names),
            'exec_opt': sum(1 for n in names if mine(n))}


def table(results):
    names = sorted(set(r['optimizer'] for r in results), reverse=True)
    lines = ['| variant | ' + ' | '.join(
        '%s: built / scalar / executed / exec-opt' % n for n in names) +
        ' |', '|---|' + '---|' * len(names)]
    for case, _ in CASES:
        row = [r for r in results if r['case'] == case]
        if not row:
            continue
        by = {r['optimizer']: r for r in row}
        lines.append('| %s | ' % case + ' | '.join(
            '%(built)d / %(scalar)d / %(executed)d / %(exec_opt)d' % by[n]
            for n in names) + ' |')
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--optimizers', nargs='+', default=['SGD', 'Adam'],
                        choices=['SGD', 'RMSprop', 'Adagrad', 'Adadelta',
                                 'Adam', 'Adamax', 'Nadam'])
    parser.add_argument('--out', default=os.path.join(HERE, 'results',
                                                      'step_ops.json'))
    args = parser.parse_args(argv)
    results = []
    for name in args.optimizers:
        for case, clr in CASES:
            result = count(name, clr)
            result.update(optimizer=name, case=case)
            results.append(result)
    with open(args.out, 'w') as f:
        json.dump({'results': results}, f, indent=1)
    print(table(results))
    print('\nwrote', args.out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
