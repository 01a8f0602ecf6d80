"""Runs lr_range_test on scikit-learn's bundled digits (no download), as
notebooks/digits_range_rules.py does (its data, model and settings), and
draws docs/range_test.png with every suggestion rule marked. Run:
`tox -e plots`."""
import os
import sys

import matplotlib
matplotlib.use('Agg')

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'notebooks'))
from digits_range_rules import range_test  # noqa: E402


def main(path=os.path.join(HERE, 'range_test.png')):
    result = range_test()
    ax = result.plot()
    ax.set_title("lr_range_test on digits, SGD: suggest='%s'\ngives "
                 'base_lr=%.3g, max_lr=%.3g' % ((result.suggest,) +
                                                 result.suggested_bounds),
                 fontsize=9)
    ax.figure.savefig(path, dpi=80)        # plot() lays the figure out
    print('wrote %s; %d steps%s; suggestions %s'
          % (path, len(result.lr),
             ' (stopped early)' if result.stopped_early else '',
             dict(result.suggestions)))


if __name__ == '__main__':
    main()
