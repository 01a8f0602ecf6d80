"""Graph plumbing of an update: which variables the fused kernels take, the
reads shared by every parameter, and the order of a parameter's writes."""
from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import numbers

import tensorflow as tf
from keras import backend as K


def read(variable):
    """One read of a variable, shared by every parameter's update (keras
    2.3.1 reads its hyperparameter variables again for each parameter)."""
    return tf.convert_to_tensor(variable)


def is_resource(variable):
    """Whether a variable is a resource variable (Keras 2.3.1's layer
    weights are), whose reads are snapshots and which the fused kernels
    take by handle; reference variables have no handle."""
    return isinstance(variable, tf.Variable) and hasattr(variable, 'handle')


def kernel_applies(fused, param, grad, *slots):
    """Whether TensorFlow's fused training kernel applies the update: asked
    for (`fused`), a dense gradient, resource variables, and no constraint
    to apply."""
    return (fused and isinstance(grad, tf.Tensor) and
            getattr(param, 'constraint', None) is None and
            all(is_resource(v) for v in (param,) + tuple(slots)))


def snapshot_readers(params, grads):
    """For each resource parameter, the ops of this step's forward and
    backward pass that read its snapshot (the outputs of its
    ReadVariableOps), which its update waits for.

    A fused kernel (and the weight decay) writes the parameter in place.
    While a gradient op still holds the forward pass's snapshot (dX = dY W^T
    of the same layer can run after dW), the buffer is shared and the write
    first copies the whole parameter: on the 5.3 M MLP at batch 32, SGD's
    kernels took 13.2 ms per step with the copy and 4.0 ms without
    (FULL_TRACE, benchmarks/profile_step.py). Waiting for these readers,
    rather than for every gradient, lets a layer's update overlap the rest
    of the backward pass.
    """
    needed, todo = set(), [g.op for g in grads]   # the step's own ops
    while todo:
        op = todo.pop()
        if op not in needed:
            needed.add(op)
            todo += [t.op for t in op.inputs] + list(op.control_inputs)
    readers = []
    for p in params:
        ops = []
        if is_resource(p):
            for reading in p.handle.consumers():
                if reading.type == 'ReadVariableOp':
                    ops += [c for c in reading.outputs[0].consumers()
                            if c in needed]
        readers.append(ops)
    return readers


class InPlace(object):
    """Creates the ops that write a parameter in place (a fused kernel, the
    assignment after it) so that they, and only they, wait for `readers`
    (see `snapshot_readers`): their inputs are built first, outside the
    control dependencies, so that grappler rewrites them as in stock Keras
    (control dependencies around a whole rule changed op-by-op results by
    an ulp)."""

    def __init__(self, readers):
        self.readers = list(readers)

    def __call__(self, kernel, **inputs):
        """kernel(**inputs), e.g. `tf.raw_ops.ResourceApplyAdam`; numbers
        among the inputs become float32 constants before it."""
        inputs = {name: tf.constant(value, tf.float32)
                  if isinstance(value, numbers.Real) and
                  not isinstance(value, bool) else value
                  for name, value in inputs.items()}
        with tf.control_dependencies(self.readers):
            return kernel(**inputs)

    def assign_sub(self, variable, delta):
        """variable -= delta, after the readers."""
        with tf.control_dependencies(self.readers):
            return variable.assign_sub(delta)


class LoadGuard(object):
    """Refuses to train a rebuilt optimizer whose saved state never arrived.

    A config that records applied updates (as `load_model` passes it) means
    `set_weights` must restore the counters and slots before the first
    update; if it never does, that update fails instead of restarting the
    schedule from a fresh state.
    """

    def __init__(self, expected):
        self.expected = expected
        self.flag = None

    def assertion(self, owner, iterations):
        """The op the first update waits for, or None."""
        if not self.expected:
            return None
        iterations = K.get_value(iterations)
        self.flag = K.variable(False, dtype='bool', name='state_loaded')
        return tf.debugging.Assert(self.flag, [
            '%s was rebuilt from a config that records %d applied updates, '
            'but its saved state (counters, slots) was never loaded with '
            'set_weights: refusing to continue with a fresh optimizer. Was '
            'the optimizer state removed from the file? Restore a saved '
            'model with keras.models.load_model (or horovod.keras.'
            'load_model), which loads the state; to start afresh on '
            "purpose, rebuild the optimizer from a config without "
            "'iterations' and 'cycle_iterations'." % (owner, iterations)])

    def mark_loaded(self):
        """Pairs for `K.batch_set_value` that record the state as loaded
        (and from now on nothing more is expected)."""
        self.expected = False
        return [] if self.flag is None else [(self.flag, True)]
