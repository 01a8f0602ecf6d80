"""The arguments the seven optimizers share, documented once and added to
each class's docstring (so that `help(Adam)` shows them), with every
policy's keys taken from the policy itself."""
from __future__ import absolute_import

import textwrap

from .policies import POLICIES, default

SHARED = """\
learning_rate: float >= 0. The learning rate (`lr` also accepted). With
    `clr`, the learning rate of the first update:
        {roles}.
clr: dict or None (default). A learning-rate schedule computed in the
    graph at every update. `clr['policy']` picks it, one of {names}
    (default {default!r}). Unknown keys, and keys a setting does not
    use, are errors. The policies and their keys:

{policies}
decay: float >= 0 (default 0). Keras's time-based decay: the base rate is
    lr / (1 + decay * k) at update k (with a schedule, only with policies
    that use it: {decays}).
weight_decay: float >= 0 (default 0). Decoupled weight decay (Loshchilov
    and Hutter), as Keras 3's optimizers and torch.optim.AdamW: each update
    first sets p = p - lr_k * weight_decay * p, with lr_k the learning rate
    this update uses (times the weight's multiplier), then applies the
    optimizer's rule. It follows the schedule, warm-ups included.
weight_decay_exclude: list of patterns (default ()). Weights whose name a
    pattern matches (re.search), such as ('bias', 'batch_normalization'),
    are not decayed; `exclude_from_weight_decay(var_list, var_names)` adds
    to it before compiling. `decayed_weights` names the decayed weights.
lr_multipliers: dict or None (default). {{'pattern': factor}}: the learning
    rate (and the decay) of each weight whose name the pattern matches is
    multiplied by factor >= 0, as for discriminative fine-tuning.
    A pattern that matches no trainable weight, and a weight that two
    multiplier patterns match, are errors when the model is compiled.
fused: boolean (default True). Whether to apply each update with one of
    TensorFlow's fused training kernels (one pass over each parameter;
    equal to the rule up to float32 rounding). Parameters with a sparse
    gradient or a constraint, or that are not resource variables, always
    get the rule op by op.
clipnorm: float >= 0. When the L2 norm n of all the gradients together
    (the global norm) exceeds this value, each gradient is multiplied by
    clipnorm / n: Keras 3's `global_clipnorm`, PyTorch's
    `clip_grad_norm_` (see the README's translation table).
clipvalue: float >= 0. Gradients are clipped when their absolute value
    exceeds this value.
"""


def fill(doc):
    """A docstring with {roles} and {resettable} filled in from the
    policies: what the optimizer's lr is to each, and which keys
    reset_cycle may change."""
    indent = '\n' + ' ' * 16
    return doc.replace('{roles}', _roles(indent)).replace(
        '{resettable}', (';' + indent).join(
            '%r: %s' % (name, ', '.join(p.resettable) or 'none')
            for name, p in POLICIES.items()))


def _roles(indent):
    """What the optimizer's lr is to each policy, a line each."""
    return (';' + indent).join('%r: %s' % (name, p.lr_role)
                               for name, p in POLICIES.items())


def policies_text():
    """Every policy's doc, as `help()` shows it."""
    return '\n'.join(policy.doc for policy in POLICIES.values())


def shared_arguments():
    """The shared arguments' docs, policies included (unindented)."""
    return SHARED.format(
        roles=_roles('\n' + ' ' * 8),
        names=', '.join(repr(name) for name in POLICIES),
        default=default(),
        policies=textwrap.indent(policies_text(), '    '),
        decays=', '.join(repr(name) for name, p in POLICIES.items()
                         if p.uses_decay))


# The fuzz factor, where an optimizer's docstring says {epsilon}.
EPSILON = 'epsilon: float >= 0. Fuzz factor (default `K.epsilon()`).'
# Every optimizer's last reference.
CLR_PAPER = """\
- [Cyclical Learning Rates for Training Neural Networks](
   https://arxiv.org/abs/1506.01186)
"""


def document(cls):
    """Fills the class's docstring: {epsilon}, the shared arguments at the
    end of `# Arguments` (which lists only the class's own arguments), and
    the CLR paper at the end of `# References`."""
    doc = cls.__doc__.replace('{epsilon}', EPSILON)
    at = doc.index('\n    # References')
    cls.__doc__ = (doc[:at].rstrip('\n') + '\n' +
                   textwrap.indent(shared_arguments(), ' ' * 8) +
                   doc[at:].rstrip(' ') + textwrap.indent(CLR_PAPER, ' ' * 8))
    return cls
