"""The two sets of ops every schedule is written over, and the shared
interpolations.

A policy's schedule is one function of (ops, counts, state); with
`GraphOps` it builds the training graph's ops, with `NumpyOps` it computes
the same float32 results in numpy (`clr_schedule`, plots, tests). Both
evaluate in float64 from float32 inputs and round once (`narrow`).
"""
from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import math

import numpy as np
import tensorflow as tf

from .checks import FLOAT32


# The float64 magnitude below which a float32 result is flushed to zero:
# halfway between float32's smallest normal and the 24-bit number below it.
FLUSH = float(FLOAT32.tiny) * (1. - 2. ** -25)


class GraphOps(object):
    """TensorFlow ops: the schedule as it runs in the training graph.

    `deps`: ops that the final learning rate (and momentum) must wait for.
    """
    floor = staticmethod(tf.floor)
    abs = staticmethod(tf.abs)
    where = staticmethod(tf.compat.v2.where)
    minimum = staticmethod(tf.minimum)
    maximum = staticmethod(tf.maximum)
    cos = staticmethod(tf.cos)
    sin = staticmethod(tf.sin)
    square = staticmethod(tf.square)
    sqrt = staticmethod(tf.sqrt)
    log = staticmethod(tf.math.log)
    log1p = staticmethod(tf.math.log1p)
    expm1 = staticmethod(tf.math.expm1)

    def __init__(self, deps=()):
        self.deps = list(deps)

    @staticmethod
    def const(x):
        return tf.constant(x, dtype=tf.float64)

    @staticmethod
    def pow(x, y):
        return tf.pow(x, y)

    @staticmethod
    def wide(x):
        """float32 -> float64, exactly."""
        return tf.cast(x, tf.float64)

    def narrow(self, x):
        """float64 -> float32, rounded once. TensorFlow's CPU kernels run
        with flush-to-zero: a result that rounds below float32's normal
        range becomes a zero of its sign (`NumpyOps.narrow` mirrors it; a
        test checks the two agree at the edges), so the cast alone is the
        whole rounding."""
        with tf.control_dependencies(self.deps):
            return tf.cast(x, tf.float32)

    @staticmethod
    def backend_fn(fn, x):
        """A user's backend function (float32 -> float32) of x."""
        return tf.cast(fn(tf.cast(x, tf.float32)), tf.float64)


class NumpyOps(object):
    """The same operations in numpy, for `clr_schedule`, plots and tests."""
    floor = staticmethod(np.floor)
    abs = staticmethod(np.abs)
    where = staticmethod(np.where)
    minimum = staticmethod(np.minimum)
    maximum = staticmethod(np.maximum)
    cos = staticmethod(np.cos)
    sin = staticmethod(np.sin)
    square = staticmethod(np.square)
    sqrt = staticmethod(np.sqrt)
    expm1 = staticmethod(np.expm1)

    @staticmethod
    def log(x):
        with np.errstate(divide='ignore', invalid='ignore'):
            return np.log(x)

    @staticmethod
    def log1p(x):
        with np.errstate(divide='ignore', invalid='ignore'):
            return np.log1p(x)

    @staticmethod
    def const(x):
        return np.float64(x)

    @staticmethod
    def pow(x, y):
        with np.errstate(over='ignore', under='ignore'):
            return np.power(x, y)

    @staticmethod
    def wide(x):
        return np.asarray(x, np.float32).astype(np.float64)

    @staticmethod
    def narrow(x):
        """As TensorFlow's cast under x86's flush-to-zero, which detects a
        tiny result after rounding to 24 bits with an unbounded exponent:
        |x| below FLUSH rounds below float32's normal range, and becomes a
        zero of x's sign."""
        x = np.asarray(x, np.float64)
        return np.where(np.abs(x) < FLUSH, x * 0., x).astype(np.float32)

    @staticmethod
    def backend_fn(fn, x):
        """Evaluates a backend function one scalar at a time, as the graph
        does, so that transcendental functions round identically."""
        x = np.asarray(x, np.float64).astype(np.float32)
        with tf.Graph().as_default(), tf.Session() as sess:
            arg = tf.placeholder(tf.float32, shape=())
            out = tf.cast(fn(arg), tf.float32)
            values = {v: sess.run(out, {arg: v}) for v in np.unique(x)}
        return np.vectorize(lambda v: values[v], otypes=[np.float32])(
            x).astype(np.float64)


def f32(value):
    """The float32 value of a setting, as a Python float."""
    return float(np.float32(value))


def between(ops, start, end, h):
    """start + (end - start) * h for h in [0, 1], held between start and
    end. The difference end - start is rounded to float32 (the seed
    notebook's printed rates need it); that half ulp could carry the result
    past an end, hence the bounds."""
    return held(ops, start + ops.wide(ops.narrow(end - start)) * h, start,
                end)


def fractions(ops, inv, spans, bounds=None):
    """Each span (in updates) as a fraction of a phase of 1 / inv updates,
    held in `bounds`, the constants 0 and 1 (made here by default). As
    x * (1 / n), never x / n: TensorFlow's constant folding rewrites the
    latter into the former, which numpy would not."""
    zero, one = bounds or (ops.const(0.), ops.const(1.))
    return [ops.minimum(ops.maximum(span * inv, zero), one)
            for span in spans]


def first_of(ops, conditions, values):
    """values[i] for the first i whose condition holds, else values[-1]
    (there is one condition fewer than values): a phase's numbers, chosen
    by the step."""
    value = values[-1]
    for condition, chosen in reversed(list(zip(conditions, values))):
        value = ops.where(condition, chosen, value)
    return value


def held(ops, value, start, end):
    """`value` held between start and end, which rounding can step past."""
    return ops.minimum(ops.maximum(value, ops.minimum(start, end)),
                       ops.maximum(start, end))


def anneal(ops, start, end, rest, strategy):
    """From start to end as `rest` goes from 1 to 0, in float64: linearly,
    start * rest + end * (1 - rest), or along a half cosine,
    start * sin(pi / 2 * rest)**2 + end * sin(pi / 2 * (1 - rest))**2. Both
    give start and end exactly at the ends, each weight from its own
    angle (cos(pi / 2 * rest) is 6e-17, not 0, at rest = 1: a phase from 0
    started at 2.6e-33), and have no cancellation near them (PyTorch's
    end + (start - end) / 2 * (1 + cos(pi * pct)) loses the low digits
    where the value approaches end)."""
    done = ops.const(1.) - rest
    if strategy == 'linear':
        value = start * rest + end * done
    else:
        half = ops.const(math.pi / 2)
        value = start * ops.square(ops.sin(half * rest)) + end * ops.square(
            ops.sin(half * done))
    return held(ops, value, start, end)
