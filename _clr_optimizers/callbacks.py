"""Callbacks: the schedule in Keras's logs, and checkpoints that survive a
kill."""
from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import os
import tempfile

from keras import backend as K
from keras import callbacks as keras_callbacks


class LRLogger(keras_callbacks.Callback):
    """Adds the learning rate (and the momentum, when it cycles) to the logs.

    After every batch and epoch, `logs['lr']` holds the learning rate used by
    the latest update (the optimizer's `current_lr`) and `logs['momentum']`
    its `current_momentum`, so that `History`, `CSVLogger` and `TensorBoard`
    record the schedule. Put it before those callbacks in the list.

    Costs one small session run per batch (see the README's benchmark).
    At each epoch's start it warns (once) when the fit runs past the end of
    a schedule that then holds its last value (see `warn_past_end`).
    """

    def on_train_begin(self, logs=None):
        optimizer = self.model.optimizer
        self._tensors = {'lr': getattr(optimizer, 'current_lr', None)}
        if self._tensors['lr'] is None:
            raise TypeError('LRLogger needs a clr_optimizers optimizer; the '
                            'model uses %s.' % type(optimizer).__name__)
        if getattr(optimizer, 'cycles_momentum', False):
            self._tensors['momentum'] = optimizer.current_momentum
        self._names = sorted(self._tensors)
        # A prepared callable: cheaper per batch than K.batch_get_value.
        self._read = K.get_session().make_callable(
            [self._tensors[n] for n in self._names])

    def _log(self, logs):
        if logs is None:
            return
        for name, value in zip(self._names, self._read()):
            logs[name] = float(value)

    def on_epoch_begin(self, epoch, logs=None):
        warn_past_end(self.model, self.params, epoch)

    def on_batch_end(self, batch, logs=None):
        self._log(logs)

    def on_epoch_end(self, epoch, logs=None):
        self._log(logs)


def warn_past_end(model, params, epoch):
    """Asks the optimizer whether the rest of this fit (from `epoch`, as
    Keras's `params` plan it) runs past the end of its schedule."""
    check = getattr(model.optimizer, 'warn_past_end', None)
    per_epoch = params.get('steps') or (
        params.get('samples') and params.get('batch_size') and
        -(-params['samples'] // params['batch_size']))
    if check is not None and per_epoch and params.get('epochs'):
        check((params['epochs'] - epoch) * per_epoch)


class _AtomicSaver(object):
    """Stands in for the model inside `AtomicModelCheckpoint`: its `save` and
    `save_weights` write a temporary file in the target's folder, flush it
    to disk and rename it over the target, so the target is always whole."""

    def __init__(self, model):
        self._model = model

    def __getattr__(self, name):
        return getattr(self._model, name)

    def _atomic(self, write, filepath, **kwargs):
        folder = os.path.dirname(os.path.abspath(filepath))
        fd, tmp = tempfile.mkstemp(dir=folder, suffix='.tmp',
                                   prefix='.' + os.path.basename(filepath) + '.')
        os.close(fd)
        try:
            # mkstemp makes the file 0600; model.save would create it with
            # 0666 less the umask (0644 under the usual 022), so that an
            # evaluation or serving job of another user can read it
            os.chmod(tmp, 0o666 & ~_umask())
            write(tmp, **kwargs)
            with open(tmp, 'rb+') as f:
                os.fsync(f.fileno())
            os.replace(tmp, filepath)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def save(self, filepath, overwrite=True, include_optimizer=True):
        self._atomic(self._model.save, filepath, overwrite=True,
                     include_optimizer=include_optimizer)

    def save_weights(self, filepath, overwrite=True):
        self._atomic(self._model.save_weights, filepath, overwrite=True)


def _umask():
    """The process's umask (read by setting it, and setting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class AtomicModelCheckpoint(keras_callbacks.ModelCheckpoint):
    """`keras.callbacks.ModelCheckpoint` that never leaves a broken file.

    Takes `ModelCheckpoint`'s arguments. Each checkpoint is written to a
    temporary file in the same folder and renamed over the previous one, so a
    process killed at any moment leaves the last complete checkpoint. The
    file gets the mode `model.save` would give it (0666 less the umask).
    At each epoch's start it warns (once) when the fit runs past the end of
    a schedule that then holds its last value, as `LRLogger` does.
    """

    def set_model(self, model):
        super(AtomicModelCheckpoint, self).set_model(_AtomicSaver(model))

    def on_epoch_begin(self, epoch, logs=None):
        warn_past_end(self.model, self.params, epoch)
