"""Draws every policy from `clr_schedule` (the numpy mirror of the graph):
the cyclic modes into docs/schedules.png, one-cycle and cosine restarts into
docs/policies.png, today's recipes as `phases` into docs/recipes.png. Run:
`python docs/plot_schedules.py` (tox -e plots)."""
import os
import sys

import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from clr_optimizers import plot_schedule  # noqa: E402

K_STEPS = np.arange(8000)
BASE = {'max_lr': 0.006, 'step_size': 1000}
PANELS = [
    ("mode='triangular'", 0.001, dict(BASE), 0.0),
    ("mode='triangular2'", 0.001, dict(BASE, mode='triangular2'), 0.0),
    ("mode='exp_range', gamma=0.9997", 0.001,
     dict(BASE, mode='exp_range', gamma=0.9997), 0.0),
    ('step_size=500, step_size_down=1500', 0.001,
     {'max_lr': 0.006, 'step_size': 500, 'step_size_down': 1500}, 0.0),
    ('triangular with decay=1e-3 (the floor falls)', 0.003, dict(BASE), 1e-3),
    ('cyclical momentum 0.85..0.95 (right axis)', 0.001,
     dict(BASE, base_momentum=0.85, max_momentum=0.95), 0.0),
]


POLICIES = [
    ("policy='one_cycle' (cos), momentum 0.85..0.95, total_steps=6000", 0.0004,
     dict(policy='one_cycle', max_lr=0.006, total_steps=6000,
          base_momentum=0.85, max_momentum=0.95)),
    ("one_cycle, three_phase=True, anneal_strategy='linear'", 0.0004,
     dict(policy='one_cycle', max_lr=0.006, total_steps=6000,
          three_phase=True, anneal_strategy='linear')),
    ("policy='cosine_restarts', first_decay_steps=500, t_mul=2", 0.006,
     dict(policy='cosine_restarts', first_decay_steps=500)),
    ('cosine_restarts, t_mul=1, m_mul=0.8, alpha=0.1', 0.006,
     dict(policy='cosine_restarts', first_decay_steps=1500, t_mul=1.,
          m_mul=0.8, alpha=0.1)),
]


def phases(*entries):
    return {'policy': 'phases', 'phases': list(entries)}


PEAK = 0.006
# The README's recipes, over 8000 updates
RECIPES = [
    ('linear warm-up 400, cosine to 10 % (LLaMA-style)', 0.,
     phases({'steps': 400, 'to': PEAK},
            {'steps': 7600, 'to': PEAK / 10, 'shape': 'cos'})),
    ('linear warm-up 400, linear decay to 0 (HF Trainer default)', 0.,
     phases({'steps': 400, 'to': PEAK}, {'steps': 7600, 'to': 0.})),
    ('warmup-stable-decay, 1-sqrt cooldown over the last 20 %', 0.,
     phases({'steps': 400, 'to': PEAK}, {'steps': 6000, 'to': PEAK},
            {'steps': 1600, 'to': 0., 'shape': '1-sqrt'})),
    ('step decay: / 10 at 3000 and 6000 (MultiStepLR)', PEAK,
     phases({'steps': 3000, 'to': PEAK / 10, 'shape': 'step'},
            {'steps': 3000, 'to': PEAK / 100, 'shape': 'step'})),
    ("polynomial (power 2) and exponential ('exp') decay", PEAK,
     phases({'steps': 4000, 'to': PEAK / 4, 'shape': 'poly', 'power': 2},
            {'steps': 4000, 'to': PEAK / 40, 'shape': 'exp'})),
    ('warm-up 1000, then cosine restarts (SGDR)', 0.,
     phases({'steps': 1000, 'to': PEAK},
            {'policy': 'cosine_restarts', 'first_decay_steps': 1000,
             'alpha': 0.05})),
]


def draw(panels, path, title=None):
    """One panel per (title, lr, clr, decay), each drawn by plot_schedule
    (the LR from clr_schedule and, when it cycles, the momentum on the right
    axis)."""
    rows = (len(panels) + 1) // 2
    fig, axes = plt.subplots(rows, 2, figsize=(11, 3 * rows), sharex=True)
    for ax, (name, lr, clr, decay) in zip(axes.ravel(), panels):
        plot_schedule(lr, clr, len(K_STEPS), decay=decay, ax=ax)
        ax.set_title(name, fontsize=10)
        ax.set_ylim(0, 0.0065)
    for ax in axes[:-1].ravel():
        ax.set_xlabel('')
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    print('wrote', path)


if __name__ == '__main__':
    draw(PANELS, os.path.join(HERE, 'schedules.png'),
         "clr_schedule(k, lr, clr, decay): lr=0.001, max_lr=0.006, "
         "step_size=1000 unless stated")
    draw([p + (0.0,) for p in POLICIES], os.path.join(HERE, 'policies.png'))
    draw([p + (0.0,) for p in RECIPES], os.path.join(HERE, 'recipes.png'),
         "policy='phases': recipes drawn by clr_schedule (peak 0.006)")
