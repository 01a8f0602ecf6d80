"""What an optimizer saves and restores: its config (the state a config
carries back) and its state arrays, checked before they are set."""
from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import numpy as np
from keras import backend as K
from keras.utils.generic_utils import CustomObjectScope

from .schedule import validate_schedule


class OptimizerStateError(Exception):
    """The optimizer state given to `set_weights` does not fit the optimizer.

    Deliberately not a `ValueError`: Keras's `load_model` catches
    `ValueError` from `set_weights` and silently continues with a freshly
    initialized optimizer, which would restart the schedule.
    """


class Persistent(object):
    """The optimizers' `get_config`, `from_config` and `set_weights` (a
    mixin of `_CLROptimizer`, ahead of Keras's `Optimizer`): the config
    carries the state back (`checks.STATE_KEYS`), and restored arrays are
    checked like the constructor's arguments."""

    def set_weights(self, weights):
        """Sets the optimizer state, from Numpy arrays.

        # Raises
            OptimizerStateError: when the number or shapes of the arrays do
                not match this optimizer's weights, or the counters and
                bounds are not valid (not a ValueError, so that Keras's
                `load_model` cannot fall back to a fresh optimizer).
        """
        params = self.weights
        if len(params) != len(weights):
            raise OptimizerStateError(
                '%s expects %d state arrays (%s) but got %d: the saved state '
                'belongs to a different optimizer or clr setting.'
                % (type(self).__name__, len(params),
                   ', '.join(p.name for p in params), len(weights)))
        for p, w in zip(params, weights):
            if K.int_shape(p) != np.shape(w):
                raise OptimizerStateError(
                    '%s state %s has shape %s; got an array of shape %s.'
                    % (type(self).__name__, p.name, K.int_shape(p),
                       np.shape(w)))
        self._validate_saved_state(zip(params, weights))
        K.batch_set_value(list(zip(params, weights)) +
                          self._guard.mark_loaded())

    def _validate_saved_state(self, pairs):
        """Validates restored counters and bounds like the constructor's
        arguments, raising `OptimizerStateError` (see `set_weights`)."""
        values = {id(p): np.asarray(w).item() for p, w in pairs
                  if p in self._state_weights}
        saved = lambda variable: values[id(variable)]  # noqa: E731
        state = {'iterations': saved(self.iterations),
                 'current_lr': saved(self.current_lr)}
        schedule_state = self._schedule_state
        if schedule_state is not None:
            state['cycle_iterations'] = saved(self.cycle_iterations)
        if self.cycles_momentum:
            state['current_momentum'] = saved(self.current_momentum)
        try:
            validate_schedule(saved(self.learning_rate), 0., None if
                              schedule_state is None else
                              schedule_state.saved_clr(saved), state,
                              self.momentum_argument, type(self).__name__)
        except (TypeError, ValueError) as e:
            raise OptimizerStateError('%s: saved optimizer state is not '
                                      'valid: %s' % (type(self).__name__, e))

    def get_config(self):
        config = super(Persistent, self).get_config()
        config.update(self._per_parameter.config())
        config['learning_rate'] = float(K.get_value(self.learning_rate))
        config['decay'] = float(K.get_value(self.decay))
        if self.momentum_argument is not None and not self.cycles_momentum:
            config[self.momentum_argument] = float(
                K.get_value(getattr(self, self.momentum_argument)))
        config['clr'] = None
        config['iterations'] = float(K.get_value(self.iterations))
        if self._schedule_state is not None:
            config.update(self._schedule_state.config())
        config['current_lr'] = float(K.get_value(self.current_lr))
        config['fused'] = self.fused
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuilds the optimizer from `get_config()`, state included; a
        `scale_fn` name is looked up in Keras's custom objects and
        `custom_objects`."""
        with CustomObjectScope(custom_objects or {}):
            return cls(**config)
