"""Which TensorFlow 1.15 route applies decoupled weight decay fastest
(issue 21): p - s * p on one 2048 x 2048 resource variable (the MLP's
largest weight), each route timed alone, interleaved in random order, 15
rounds of 20 session runs; SGD's fused momentum kernel on the same size for
scale.

    assign_sub    p.assign_sub(s * p)                 (ours and TF contrib's)
    apply_gd      ResourceApplyGradientDescent(p, s, delta=read(p)): one
                  kernel, but delta shares p's buffer, so it copies p first
    assign_expr   p.assign(p - s * p)
    assign_mul    p.assign(p * (1 - s))    (not exact: 1 - s rounds in
                  float32, up to 2**-25 / s of the decay, e.g. 3 % at 1e-6)

    python benchmarks/decay_routes.py
"""
from __future__ import print_function

import os
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def main():
    init = np.random.RandomState(0).randn(2048, 2048).astype('float32')
    s = tf.constant(1e-5, tf.float32)

    def var():
        return tf.Variable(init, use_resource=True)
    p = {name: var() for name in ('assign_sub', 'apply_gd', 'assign_expr',
                                  'assign_mul', 'momentum_kernel')}
    m = tf.Variable(np.zeros_like(init), use_resource=True)
    g = tf.Variable(0.01 * init, use_resource=True)
    ops = {
        'assign_sub': p['assign_sub'].assign_sub(s * p['assign_sub'],
                                                 read_value=False),
        'apply_gd': tf.raw_ops.ResourceApplyGradientDescent(
            var=p['apply_gd'].handle, alpha=s,
            delta=p['apply_gd'].read_value()),
        'assign_expr': p['assign_expr'].assign(
            p['assign_expr'] - s * p['assign_expr'], read_value=False),
        'assign_mul': p['assign_mul'].assign(p['assign_mul'] * (1 - s),
                                             read_value=False),
        'momentum_kernel': tf.raw_ops.ResourceApplyKerasMomentum(
            var=p['momentum_kernel'].handle, accum=m.handle, lr=s,
            grad=g.read_value(), momentum=tf.constant(0.9)),
    }
    sess = tf.Session()
    sess.run(tf.global_variables_initializer())
    sess.run([ops['assign_sub']])
    sess.run([ops['apply_gd']])
    a, b = sess.run([p['assign_sub'].read_value(),
                     p['apply_gd'].read_value()])
    print('apply_gd equals assign_sub bit for bit:', np.array_equal(a, b))
    rng = np.random.RandomState(1)
    times = {name: [] for name in ops}
    for _ in range(15):
        for name in rng.permutation(sorted(ops)):
            start = time.perf_counter()
            for _ in range(20):
                sess.run(ops[name])
            times[name].append((time.perf_counter() - start) / 20 * 1e3)
    for name in ops:
        print('%-16s %.2f ms (median of 15 rounds)'
              % (name, np.median(times[name])))


if __name__ == '__main__':
    main()
