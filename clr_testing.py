"""Shared helpers of the suite, the benchmark and the Horovod check.

The seed notebook's model and data, a callback that records the schedule,
exact and ulp comparisons, and float64 references of the schedule and of
keras 2.3.1's update rules written from the math (Smith 2017; PyTorch's
CyclicLR formulas; keras's optimizers), sharing no code with
`clr_optimizers`: they are what the implementation is checked by.

Not part of the installed library.
"""
import numpy as np

import keras
from keras import backend as K
from keras.layers import Dense, Input
from keras.models import Model


def make_model(seed=0, inputs=15, hidden=10):
    """The seed notebook's model, with fixed initial weights (keras's own
    initialisation when `seed` is None)."""
    inp = Input(shape=(inputs,))
    x = Dense(hidden, activation='relu')(inp)
    x = Dense(1, activation='sigmoid')(x)
    model = Model(inp, x)
    if seed is not None:
        rng = np.random.RandomState(seed)
        model.set_weights([rng.uniform(-0.5, 0.5, w.shape).astype(np.float32)
                           for w in model.get_weights()])
    return model


def make_data(rows, seed=1, inputs=15):
    """Random inputs in [0, 1) and binary targets, as in the seed notebook."""
    rng = np.random.RandomState(seed)
    return (rng.rand(rows, inputs).astype(np.float32),
            rng.randint(0, 2, size=rows).astype(np.float32))


class Trace(keras.callbacks.Callback):
    """Records the optimizer's current_lr (and momentum) after every update."""

    def on_train_begin(self, logs=None):
        self.lr, self.momentum = [], []

    def on_batch_end(self, batch, logs=None):
        opt = self.model.optimizer
        self.lr.append(K.get_value(opt.current_lr))
        if hasattr(opt, 'current_momentum'):
            self.momentum.append(K.get_value(opt.current_momentum))


def train(optimizer, updates, batch_size=4, seed=0, trace=True, model=None):
    """Runs `updates` updates; returns (model, lr trace, momentum trace)."""
    model = model or make_model(seed)
    model.compile(optimizer=optimizer, loss='binary_crossentropy')
    x, y = make_data(updates * batch_size)
    cb = Trace()
    model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0,
              callbacks=[cb] if trace else [])
    return (model, np.array(getattr(cb, 'lr', []), np.float32),
            np.array(getattr(cb, 'momentum', []), np.float32))


def exact(a, b):
    """Bit-identical float32 arrays (NaN-free)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


# Correctly rounded: half a float32 ulp, plus 2**-20 ulp for the float64
# reference's own rounding errors (about 1e-16 relative, 2e-9 ulp).
HALF_ULP = 0.5 + 2. ** -20


def ulps_spacing(want):
    """The float32 spacing (1 ulp) at each value of `want`, in float64."""
    return np.spacing(np.abs(np.asarray(want, np.float64)).astype(
        np.float32)).astype(np.float64)


def ulps(got, want):
    """|got - want| in units of the float32 spacing at `want` (float64)."""
    want = np.asarray(want, np.float64)
    return np.abs(np.asarray(got, np.float64) - want) / ulps_spacing(want)


def ref_schedule(k, lr, clr, decay=0.0, c=None, scale_ref=None):
    """float64 (lr_k, momentum_k) of update k with cycle counter c.

    Two roundings are the seed notebook's rule (its printed LRs need them):
    the symmetric window's r = c * float32(1 / step_size) rounded to
    float32, and the amplitude max_lr - base (and base_momentum -
    max_momentum) rounded to float32; everything else is exact. The
    settings are the float32 values the optimizer holds.
    `scale_ref` is a float64 version of clr['scale_fn']."""
    f32 = lambda value: float(np.float32(value))  # noqa: E731
    k = np.asarray(k, np.float64)
    c = k if c is None else np.asarray(c, np.float64)
    base = f32(lr) / (1. + f32(decay) * k)
    up = float(clr['step_size'])
    if clr.get('step_size_down') is None:
        inv = np.float32(1) / np.float32(up)              # float32(1/up)
        r = (c.astype(np.float32) * inv).astype(np.float64)
        cycle = np.floor(1. + r / 2.)
        s = np.maximum(0., 1. - np.abs(r - 2. * cycle + 1.))
    else:
        total = up + float(clr['step_size_down'])
        cycle = np.floor(1. + c / total)
        x = 1. + c / total - cycle
        ratio = up / total
        s = np.where(x <= ratio, x / ratio, (x - 1.) / (ratio - 1.))
    mode = clr.get('mode', 'triangular')
    if scale_ref is not None:
        arg = cycle if clr.get('scale_mode', 'cycle') == 'cycle' else c
        scale = scale_ref(arg)
    elif mode == 'triangular2':
        scale = 1. / 2. ** (cycle - 1.)
    elif mode == 'exp_range':
        scale = float(clr['gamma']) ** c
    else:
        scale = 1.
    lr_k = base + np.float32(f32(clr['max_lr']) - base) * s * scale
    momentum_k = None
    if clr.get('base_momentum') is not None:
        hi, lo = f32(clr['max_momentum']), f32(clr['base_momentum'])
        momentum_k = hi + f32(lo - hi) * s * scale
    return lr_k, momentum_k


def ref_update(name, state, w, g, k, lr, momentum, opts):
    """keras 2.3.1's update rule `name` in float64, with t = k + 1; `state`
    holds the slots (mutated); returns the new weights.

    With opts['weight_decay'] (and a factor opts['lr_multiplier'] on the
    learning rate), the decoupled decay of torch.optim.AdamW comes first:
    w = w - lr * weight_decay * w, then the rule at that lr."""
    lr = lr * opts.get('lr_multiplier', 1.)
    w = w - lr * opts.get('weight_decay', 0.) * w
    eps = opts.get('epsilon', 1e-7)
    get = lambda key: state.get(key, np.zeros_like(w))  # noqa: E731
    if name == 'SGD':
        v = momentum * get('v') - lr * g
        state['v'] = v
        return w + (momentum * v - lr * g if opts.get('nesterov') else v)
    if name == 'RMSprop':
        rho = opts.get('rho', 0.9)
        a = rho * get('a') + (1. - rho) * g * g
        state['a'] = a
        return w - lr * g / (np.sqrt(a) + eps)
    if name == 'Adagrad':
        a = get('a') + g * g
        state['a'] = a
        return w - lr * g / (np.sqrt(a) + eps)
    if name == 'Adadelta':
        rho = opts.get('rho', 0.95)
        a = rho * get('a') + (1. - rho) * g * g
        step = g * np.sqrt(get('d') + eps) / np.sqrt(a + eps)
        state['a'] = a
        state['d'] = rho * get('d') + (1. - rho) * step * step
        return w - lr * step
    t, b1, b2 = k + 1., momentum, opts.get('beta_2', 0.999)
    m = b1 * get('m') + (1. - b1) * g
    state['m'] = m
    if name == 'Adam':
        v = b2 * get('v') + (1. - b2) * g * g
        state['v'] = v
        if opts.get('amsgrad'):
            v = np.maximum(get('vhat'), v)
            state['vhat'] = v
        lr_t = lr * np.sqrt(1. - b2 ** t) / (1. - b1 ** t)
        return w - lr_t * m / (np.sqrt(v) + eps)
    if name == 'Adamax':
        u = np.maximum(b2 * get('u'), np.abs(g))
        state['u'] = u
        return w - lr / (1. - b1 ** t) * m / (u + eps)
    assert name == 'Nadam'
    sd = opts.get('schedule_decay', 0.004)
    cache_t = b1 * (1. - 0.5 * 0.96 ** (t * sd))
    cache_next = b1 * (1. - 0.5 * 0.96 ** ((t + 1.) * sd))
    prod = state.get('m_schedule', 1.) * cache_t
    state['m_schedule'] = prod
    v = b2 * get('v') + (1. - b2) * g * g
    state['v'] = v
    m_bar = ((1. - cache_t) * g / (1. - prod) +
             cache_next * m / (1. - prod * cache_next))
    return w - lr * m_bar / (np.sqrt(v / (1. - b2 ** t)) + eps)


def ref_clip(g, opts):
    """keras 2.3.1's clipnorm (one parameter: its own norm) and clipvalue."""
    if 'clipnorm' in opts:
        norm = np.sqrt(np.sum(g * g))
        g = g * opts['clipnorm'] / max(norm, opts['clipnorm'])
    if 'clipvalue' in opts:
        g = np.clip(g, -opts['clipvalue'], opts['clipvalue'])
    return g


def ref_one_cycle(k, lr, clr):
    """PyTorch's OneCycleLR (torch.optim.lr_scheduler, get_lr) in float64
    with last_epoch = k, its formulas as written there, holding the last
    values after total_steps - 1: (lr_k, momentum_k)."""
    f32 = lambda value: float(np.float32(value))  # noqa: E731
    k = np.asarray(k, np.float64)
    total, pct = float(clr['total_steps']), clr.get('pct_start', 0.3)
    initial, top = f32(lr), f32(clr['max_lr'])
    low = initial / clr.get('final_div_factor', 1e4)
    hi_m, lo_m = (f32(clr['max_momentum']), f32(clr['base_momentum'])) \
        if 'base_momentum' in clr else (0., 0.)
    if clr.get('three_phase'):
        phases = [(pct * total - 1, initial, top, hi_m, lo_m),
                  (2 * pct * total - 2, top, initial, lo_m, hi_m),
                  (total - 1, initial, low, hi_m, hi_m)]
    else:
        phases = [(pct * total - 1, initial, top, hi_m, lo_m),
                  (total - 1, top, low, lo_m, hi_m)]
    if clr.get('anneal_strategy', 'cos') == 'cos':
        anneal = lambda a, b, p: b + (a - b) / 2. * (np.cos(np.pi * p) + 1)  # noqa
    else:
        anneal = lambda a, b, p: (b - a) * p + a  # noqa: E731
    lrs, ms = np.zeros_like(k), np.zeros_like(k)
    done = np.zeros(k.shape, bool)
    start = 0.
    for i, (end, a, b, ma, mb) in enumerate(phases):
        here = ~done & ((k <= end) | (i == len(phases) - 1))
        p = np.minimum((k - start) / (end - start), 1.)   # held at the end
        lrs = np.where(here, anneal(a, b, p), lrs)
        ms = np.where(here, anneal(ma, mb, p), ms)
        done |= here
        start = end
    return lrs, (ms if 'base_momentum' in clr else None)


def ref_cosine_restarts(k, lr, clr):
    """TF 1.15's cosine_decay_restarts formula in float64, with the period
    found by adding up the periods' lengths (no logarithm)."""
    k = np.asarray(k, np.float64)
    first, t_mul = float(clr['first_decay_steps']), clr.get('t_mul', 2.)
    m_mul, alpha = clr.get('m_mul', 1.), clr.get('alpha', 0.)
    if t_mul == 1:
        i = np.floor(k / first)
        i = np.where(i * first > k, i - 1, i)
        i = np.where((i + 1) * first <= k, i + 1, i)
        start, length = i * first, np.full(k.shape, first)
    else:
        start, length = np.zeros_like(k), np.full(k.shape, first)
        i = np.zeros_like(k)
        while True:
            later = k >= start + length
            if not later.any():
                break
            start = np.where(later, start + length, start)
            i = np.where(later, i + 1, i)
            length = np.where(later, length * t_mul, length)
    into = (k - start) / length
    # TF's 0.5 * (1 + cos(pi * x)); past the middle of a period as
    # sin(pi * (1 - x) / 2)**2, with 1 - x from whole steps, since
    # 1 + cos(pi * x) cancels there (millions of float32 ulps in float32,
    # several in float64 for long periods).
    rest = (start + length - k) / length
    decayed = m_mul ** i * np.where(into <= 0.5,
                                    0.5 * (1 + np.cos(np.pi * into)),
                                    np.sin(np.pi * rest / 2) ** 2)
    return float(np.float32(lr)) * ((1 - alpha) * decayed + alpha)
