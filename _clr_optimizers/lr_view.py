"""`optimizer.lr` on a schedule: what Keras's LR callbacks read and write,
acting as a variable between updates."""
from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import tensorflow as tf
from keras import backend as K

from .graph import read


class ScheduledRate(object):
    """`optimizer.lr` of an optimizer with a schedule: `K.get_value`
    evaluates it (`eval`), `K.set_value` runs the op of its `assign`.

    Between two updates it acts as a variable. With u the LR the last
    update used (before any update, the one the first will use at the
    factor s in force) and s the factor on the schedule (`lr_scale`) that
    update used:
    - a read gives the value written since that update, else u;
    - writing v sets the factor of the next update to s * (v / u), or to s
      itself when v == u: writing back what was read changes nothing, and a
      second write replaces the first;
    - a schedule at 0 (u == 0) cannot be scaled to another value: that
      write fails, naming the values.
    The write in force (its value, and s) is state: `config()` reports it
    while no update followed it, so that it survives a save and load.
    """
    dtype = tf.float32          # what K.set_value casts the value to

    def __init__(self, iterations, current_lr, lr_scale, first, pending=None):
        """`first(scale)`: the float32 LR the next update would use at the
        float64 factor `scale`. `pending`: (value, scale before it) of a
        write that no update followed yet, from a config."""
        self._iterations, self._current_lr = iterations, current_lr
        self._lr_scale, self._first = lr_scale, first
        value, before = pending or (0., 1.)
        at = K.get_value(iterations) if pending else -1
        self._written = K.variable(value, name='lr_written')
        self._written_at = K.variable(at, dtype='int64', name='lr_written_at')
        self._scale_before = K.variable(before, dtype='float64',
                                        name='lr_scale_before')
        self._tensors = None

    def _build(self):
        """(s, u, the value read) as graph tensors, built once."""
        if self._tensors is None:
            with self._iterations.graph.as_default(), K.name_scope('lr_view'):
                pending = tf.equal(read(self._written_at),
                                   read(self._iterations))
                before = tf.compat.v2.where(pending, read(self._scale_before),
                                            read(self._lr_scale))
                used = tf.compat.v2.where(read(self._iterations) > 0,
                                          read(self._current_lr),
                                          self._first(before))
                value = tf.compat.v2.where(pending, read(self._written), used)
                self._tensors = before, used, value
        return self._tensors

    def eval(self, session=None):
        return (session or K.get_session()).run(self._build()[2])

    def assign(self, value):
        """The op that writes `value` (a float32 tensor): see the class."""
        before, used, _ = self._build()
        with self._iterations.graph.as_default(), K.name_scope('lr_write'):
            same = tf.equal(value, used)
            check = tf.debugging.Assert(tf.logical_and(
                tf.logical_or(same, used > 0),
                tf.logical_and(value >= 0, tf.math.is_finite(value))), [
                    'cannot set the scheduled learning rate to', value,
                    'from', used, '(the value must be finite and >= 0, and '
                    'a schedule at 0 cannot be scaled)'])
            with tf.control_dependencies([check]):
                scale = tf.compat.v2.where(same, before, before * (
                    tf.cast(value, tf.float64) / tf.cast(used, tf.float64)))
            with tf.control_dependencies([scale]):    # after every read
                return tf.group(
                    self._lr_scale.assign(scale), self._written.assign(value),
                    self._written_at.assign(self._iterations.read_value()),
                    self._scale_before.assign(before))

    def forget(self):
        """(variable, value) pairs that drop the write in force (for
        `reset_cycle`, which sets the factor back to 1)."""
        return [(self._written_at, -1)]

    def config(self):
        """{'lr_written': v, 'lr_scale_before': s} while a write is in
        force, else {}."""
        at, iterations, value, before = K.batch_get_value([
            self._written_at, self._iterations, self._written,
            self._scale_before])
        if at != iterations:
            return {}
        return {'lr_written': float(value), 'lr_scale_before': float(before)}
