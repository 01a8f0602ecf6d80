"""Per-parameter settings shared by the seven optimizers: decoupled weight
decay with its exclusions, and learning-rate multipliers, validated once and
resolved against the trainable weights when the model is compiled.

Patterns are regular expressions searched (`re.search`) in each weight's
name, such as 'dense_1/kernel:0'. A pattern that matches no trainable
weight, and a weight that two multiplier patterns match, are errors: no
setting is silently ignored and no precedence is guessed.
"""
from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import re

from .checks import non_negative


class PerParameter(object):
    """weight_decay, weight_decay_exclude and lr_multipliers."""

    def __init__(self, weight_decay=0., exclude=(), multipliers=None):
        self.weight_decay = non_negative(
            'weight_decay', weight_decay, '>= 0 (decoupled: each update first '
            'multiplies a weight by 1 - lr * weight_decay)')
        self.exclude = _patterns('weight_decay_exclude', exclude)
        self.multipliers = _multipliers(multipliers)
        self.decayed = None        # the names decayed, once compiled

    def exclude_more(self, var_list=None, var_names=None):
        """Adds exclusions: variables by their exact name, and names by
        substring (as Keras 3's `exclude_from_weight_decay`)."""
        if self.decayed is not None:
            raise ValueError('exclude_from_weight_decay must be called before '
                             'the model is compiled and trained (its weights '
                             'are resolved then); this optimizer already '
                             'decays %s.' % (self.decayed,))
        added = [exact_name(v) for v in (var_list or ())]
        added += [re.escape(_text('var_names', name))
                  for name in (var_names or ())]
        self.exclude = self.exclude + _patterns('weight_decay_exclude',
                                                added)

    def plan(self, params):
        """[(decayed, lr factor)] for each parameter, by name; checks that
        every pattern matches a parameter and none matches twice."""
        names = [p.name for p in params]
        plan = []
        for name in names:
            factors = [(pattern, factor) for pattern, factor in
                       sorted(self.multipliers.items())
                       if re.search(pattern, name)]
            if len(factors) > 1:
                raise ValueError(
                    'lr_multipliers: the weight %r matches %d patterns, %s; '
                    'give each weight one factor.' % (
                        name, len(factors), ', '.join(
                            '%r: %r' % pair for pair in factors)))
            decayed = self.weight_decay > 0 and not any(
                re.search(pattern, name) for pattern in self.exclude)
            plan.append((decayed, factors[0][1] if factors else 1.))
        for what, patterns in (('weight_decay_exclude', self.exclude),
                               ('lr_multipliers', sorted(self.multipliers))):
            for pattern in patterns:
                if not any(re.search(pattern, name) for name in names):
                    raise ValueError(
                        '%s: the pattern %r matches no trainable weight of '
                        'the model; its weights are named %s.'
                        % (what, pattern, ', '.join(names)))
        return plan

    def resolve(self, params):
        """`plan`, when the training function is built: records the names
        of the decayed weights and closes the exclusions."""
        plan = self.plan(params)
        self.decayed = [p.name for p, (decayed, _) in zip(params, plan)
                        if decayed]
        return plan

    def config(self):
        return {'weight_decay': self.weight_decay,
                'weight_decay_exclude': list(self.exclude),
                'lr_multipliers': (None if not self.multipliers
                                   else dict(self.multipliers))}


def exact_name(variable):
    """The pattern that matches the variable's name and no other."""
    return '^%s$' % re.escape(variable.name)


def _text(where, value):
    if not isinstance(value, str):
        raise TypeError('%s must hold strings (patterns of weight names); got '
                        '%r (%s).' % (where, value, type(value).__name__))
    return value


def _patterns(where, value):
    """A list of valid regular expressions."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise TypeError('%s must be a list or tuple of patterns (regular '
                        'expressions searched in weight names), such as '
                        "('bias', 'batch_normalization'); got %r."
                        % (where, value))
    for i, pattern in enumerate(value):
        _text('%s[%d]' % (where, i), pattern)
        try:
            re.compile(pattern)
        except re.error as e:
            raise ValueError('%s[%d] = %r is not a regular expression: %s.'
                             % (where, i, pattern, e))
    return list(value)


def _multipliers(value):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError("lr_multipliers must be a dict {'pattern': factor}, "
                        "such as {'dense_1/': 0.1}; got %r." % (value,))
    _patterns('lr_multipliers', list(value))
    return {pattern: non_negative("lr_multipliers[%r]" % pattern, factor)
            for pattern, factor in value.items()}
