"""Drawing a schedule before training (needs matplotlib: the `plots`
extra)."""
from __future__ import absolute_import
from __future__ import division
from __future__ import print_function

import numpy as np

from .checks import whole_steps
from .schedule import clr_schedule


def plot_schedule(lr, clr, steps, decay=0., ax=None):
    """Draws the learning rate of updates 0 to steps - 1 (and the momentum,
    when `clr` drives it, on a second axis), computed by `clr_schedule`:
    exactly what the optimizers will use.

    # Arguments
        lr: float, the optimizer's learning rate.
        clr: the `clr` dict, or None.
        steps: int >= 1, how many updates to draw.
        decay: float >= 0, the optimizer's `decay`.
        ax: matplotlib axes to draw on (default: a new figure, laid out so
            that a plain `savefig` clips nothing).

    # Returns
        The axes of the learning rate.
    """
    import matplotlib.pyplot as plt
    count = int(whole_steps('steps', steps, 'the updates to draw'))
    k = np.arange(count)
    rates, momentum = clr_schedule(k, lr, clr, decay=decay,
                                   return_momentum=True)
    if ax is None:
        ax = plt.figure(figsize=(6, 3.5), constrained_layout=True).gca()
    ax.plot(k, rates, color='C0', label='learning rate')
    ax.set_xlabel('update k')
    ax.set_ylabel('learning rate')
    if momentum is not None:
        twin = ax.twinx()
        twin.plot(k, momentum, color='C3', linewidth=1, label='momentum')
        twin.set_ylabel('momentum', color='C3')
    return ax
