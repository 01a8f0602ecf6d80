"""Profile: where a training step's time goes, op type by op type.

Runs `--steps` steps of the real-model benchmark's MLP (or convnet) with
TensorFlow's FULL_TRACE for each variant, and sums each op type's time (the
op's own compute time, all_end_rel_micros, over both cores) per step. The
variants are bench_real.py's: stock, none, clr, native, and wd (ours with
clr and weight_decay) and native-wd (TF's decoupled decay).

    python benchmarks/profile_step.py --optimizer SGD --variants none native
    python benchmarks/profile_step.py --optimizer Adam --variants clr wd \\
        native-wd
"""
from __future__ import print_function

import argparse
import collections
import os
import sys
import warnings

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
warnings.filterwarnings('ignore')
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import backend as K  # noqa: E402

from bench_real import MODELS, NAMES, optimizer  # noqa: E402


def _make(name, variant):
    if variant == 'native-wd':
        return optimizer(name, 'native', weight_decay=True)
    return optimizer(name, variant, weight_decay=variant == 'wd')


def profile(model_name, name, variant, batch, steps, rng):
    """{op type: (ms per step, ops per step)} over `steps` traced steps."""
    K.clear_session()
    model = MODELS[model_name]()
    shape = K.int_shape(model.input)[1:]
    x = rng.rand(batch, *shape).astype('float32')
    y = keras.utils.to_categorical(rng.randint(0, 10, batch), 10)
    metadata = tf.RunMetadata()
    model.compile(optimizer=_make(name, variant),
                  loss='categorical_crossentropy',
                  options=tf.RunOptions(
                      trace_level=tf.RunOptions.FULL_TRACE),
                  run_metadata=metadata)
    for _ in range(3):
        model.train_on_batch(x, y)                   # warm-up
    graph = K.get_session().graph
    micros, counts = collections.Counter(), collections.Counter()
    for _ in range(steps):
        metadata.Clear()                 # the session merges into it
        model.train_on_batch(x, y)
        for dev in metadata.step_stats.dev_stats:
            if not dev.device.endswith('/device:CPU:0'):
                continue        # /host:CPU repeats some of them
            for node in dev.node_stats:
                try:        # grappler's nodes are not in the graph
                    kind = graph.get_operation_by_name(node.node_name).type
                except (KeyError, ValueError):
                    kind = node.node_name.split(':')[-1]
                micros[kind] += node.all_end_rel_micros
                counts[kind] += 1
    return {k: (micros[k] / 1e3 / steps, counts[k] / float(steps))
            for k in micros}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--model', default='mlp', choices=sorted(MODELS))
    parser.add_argument('--optimizer', default='SGD', choices=NAMES)
    parser.add_argument('--variants', nargs='+', default=['none', 'native'],
                        choices=['stock', 'none', 'clr', 'native', 'wd',
                                 'native-wd'])
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument('--top', type=int, default=12)
    args = parser.parse_args(argv)
    rng = np.random.RandomState(0)
    runs = {v: profile(args.model, args.optimizer, v, args.batch_size,
                       args.steps, rng) for v in args.variants}
    kinds = sorted(set(k for r in runs.values() for k in r),
                   key=lambda k: -max(r.get(k, (0, 0))[0]
                                      for r in runs.values()))
    print('%s %s batch %d, %d traced steps: op time per step, ms (ops per '
          'step)' % (args.model, args.optimizer, args.batch_size, args.steps))
    print('| op | ' + ' | '.join(args.variants) + ' |')
    print('|---|' + '---|' * len(args.variants))
    rest = {v: [0., 0.] for v in args.variants}
    for i, kind in enumerate(kinds):
        cells = []
        for v in args.variants:
            ms, n = runs[v].get(kind, (0., 0.))
            if i >= args.top:
                rest[v][0] += ms
                rest[v][1] += n
            cells.append('%.2f (%g)' % (ms, n))
        if i < args.top:
            print('| %s | %s |' % (kind, ' | '.join(cells)))
    print('| everything else | %s |' % ' | '.join(
        '%.2f (%g)' % tuple(rest[v]) for v in args.variants))
    print('| total | %s |' % ' | '.join(
        '%.2f (%g)' % (sum(ms for ms, _ in runs[v].values()),
                       sum(n for _, n in runs[v].values()))
        for v in args.variants))
    return 0


if __name__ == '__main__':
    sys.exit(main())
