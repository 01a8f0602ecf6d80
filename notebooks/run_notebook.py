"""Executes a notebook in place, headless, from the notebooks folder.

    python notebooks/run_notebook.py notebooks/digits_clr.ipynb
"""
import os
import sys

import nbformat
from nbclient import NotebookClient

HERE = os.path.dirname(os.path.abspath(__file__))
# TensorFlow 1.15 logs to stdout inside a kernel unless the root logger has
# a handler (then to stderr), see check_seed.py.
KERNEL_SETUP = '--IPKernelApp.exec_lines=import logging; logging.basicConfig()'


def main(path):
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=1800, kernel_name='python3',
                   extra_arguments=[KERNEL_SETUP],
                   resources={'metadata': {'path': HERE}}).execute()
    nbformat.write(nb, path)
    print('executed', path)


if __name__ == '__main__':
    main(sys.argv[1])
