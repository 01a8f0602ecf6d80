"""Executes the seed notebook headless and checks it against the seed.

The seed (`seed_clr_optimizer_tests_notebook.txt`, a copy of the
specification in shared/seed) is a text rendering of a notebook: markdown,
`In [N]:` code cells, and the lines each cell printed.  This script

- `--build`: writes `clr_optimizer_tests.ipynb` with exactly the seed's cells,
  in the seed's order;
- by default: checks that the notebook's cells are the seed's, executes it
  (nbclient, the current Python's kernel) and compares every printed stdout
  line with the seed's, character for character, stopping at the first
  difference with a message that says where.  The executed notebook is
  written to `--output` (`--inplace` updates the committed notebook).

Exit status 0 only when all 150 seed lines (10 from the toy function, 20 per
optimizer) are reproduced exactly.
"""
from __future__ import print_function

import argparse
import os
import re
import sys
import time

import nbformat

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SEED = os.path.join(HERE, 'seed_clr_optimizer_tests_notebook.txt')
NOTEBOOK = os.path.join(HERE, 'clr_optimizer_tests.ipynb')
# The specification itself, beside the checkout (as CI lays it out).
SHARED_SEED = os.path.join(os.path.dirname(ROOT), 'shared', 'seed',
                           'clr_optimizer_tests_notebook.txt')
EXPECTED_LINES = 150
KERNEL_SETUP = '--IPKernelApp.exec_lines=import logging; logging.basicConfig()'
IN_PROMPT = re.compile(r'^In \[\d+\]:$')


def parse_seed(path=SEED):
    """Returns the seed's cells as (cell_type, source, printed_lines)."""
    with open(path) as f:
        lines = f.read().split('\n')
    cells, i, n = [], 0, len(lines)
    while i < n:
        if IN_PROMPT.match(lines[i]):
            j = i + 1
            while j < n and not IN_PROMPT.match(lines[j]) and not (
                    lines[j].startswith('#') and lines[j - 1] == ''):
                j += 1
            section = lines[i + 1:j]
            markdown, printed = [], []
            blank2 = [m for m in range(len(section) - 1)
                      if section[m] == section[m + 1] == '']
            if blank2:   # the printed lines end with two blank lines
                section, markdown = section[:blank2[0]], section[blank2[0] + 2:]
                last_blank = max(m for m, line in enumerate(section) if line == '')
                section, printed = section[:last_blank], section[last_blank + 1:]
            source = '\n'.join(section).rstrip('\n')
            markdown = '\n'.join(markdown)
            cells.append(('code', source, printed))
            if markdown.strip():
                cells.append(('markdown', markdown.strip('\n'), []))
            i = j
        else:
            j = i
            while j < n and not IN_PROMPT.match(lines[j]):
                j += 1
            text = '\n'.join(lines[i:j]).strip('\n')
            if text:
                cells.append(('markdown', text, []))
            i = j
    return cells


def seed_copy_message(same, shared=SHARED_SEED):
    """What the check says of the repo's copy of the seed: compared, or,
    in a plain clone without the specification beside it, what it could
    not check and what it checks instead."""
    copy = os.path.relpath(SEED, ROOT)
    if same:
        return 'seed copy: %s is identical to the specification %s' % (
            copy, shared)
    return ('seed copy: the specification is kept outside this repository '
            '(%s, laid beside the clone on CI) and is not on this machine, '
            "so the repo's copy %s could not be compared with it; the "
            'notebook is checked against that copy' % (shared, copy))


def verify_seed_copy(shared=SHARED_SEED, copy=SEED):
    """Checks that the repo's copy of the seed equals the specification
    byte for byte.

    # Returns
        True when they are equal, None when `shared` does not exist (a clone
        without the shared folder beside it: the copy is all there is).

    # Raises
        AssertionError: when they differ, naming the first differing byte.
    """
    if not os.path.exists(shared):
        return None
    with open(shared, 'rb') as f:
        want = f.read()
    with open(copy, 'rb') as f:
        got = f.read()
    if got != want:
        at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b),
                  min(len(got), len(want)))
        raise AssertionError('%s differs from the specification %s at byte %d '
                             '(%d bytes against %d)'
                             % (copy, shared, at, len(got), len(want)))
    return True


def build(path=NOTEBOOK):
    nb = nbformat.v4.new_notebook()
    nb.metadata['kernelspec'] = {'name': 'python3', 'display_name': 'Python 3',
                                 'language': 'python'}
    for kind, source, _ in parse_seed():
        make = (nbformat.v4.new_code_cell if kind == 'code'
                else nbformat.v4.new_markdown_cell)
        nb.cells.append(make(source))
    nbformat.write(nb, path)
    print('wrote %s (%d cells)' % (path, len(nb.cells)))


def printed_lines(cell):
    text = ''.join(o.get('text', '') for o in cell.get('outputs', [])
                   if o.get('output_type') == 'stream' and o.get('name') == 'stdout')
    return text.split('\n')[:-1] if text else []


def check_cells(nb, seed_cells):
    """Raises AssertionError unless the notebook's cells are the seed's."""
    got_cells = [(c.cell_type, c.source) for c in nb.cells]
    want_cells = [(kind, source) for kind, source, _ in seed_cells]
    for index, (got, want) in enumerate(zip(got_cells, want_cells)):
        if got != want:
            raise AssertionError('cell %d differs from the seed:\n  seed: %r\n'
                                 '  notebook: %r' % (index, want, got))
    if len(got_cells) != len(want_cells):
        raise AssertionError('the notebook has %d cells, the seed %d'
                             % (len(got_cells), len(want_cells)))


def check_printed(index, cell, seed_cell):
    """Compares one executed cell's printed lines with the seed's; raises
    AssertionError at the first difference (cell and line); returns the
    number of lines checked."""
    _, source, want = seed_cell
    got = printed_lines(cell) if cell.cell_type == 'code' else []
    for line_no, (g, w) in enumerate(zip(got, want)):
        if g != w:
            raise AssertionError(
                'cell %d (%s), printed line %d differs:\n  seed:     %s\n'
                '  notebook: %s' % (index, source.split('\n')[0],
                                    line_no + 1, w, g))
    if len(got) != len(want):
        raise AssertionError('cell %d (%s) printed %d lines, the seed %d'
                             % (index, source.split('\n')[0], len(got),
                                len(want)))
    return len(got)


def sections(seed_cells):
    """The name of the section (the last heading before it) of each cell:
    'Toy CLR Function', 'SGD', ..., 'Nadam'."""
    names, name = [], ''
    for kind, source, _ in seed_cells:
        if kind == 'markdown':
            headings = [line.lstrip('#').strip() for line in
                        source.split('\n') if line.startswith('#')]
            name = headings[-1] if headings else name
        names.append(name)
    return names


def compare(nb, seed_cells):
    """Raises AssertionError at the first difference; returns lines checked."""
    check_cells(nb, seed_cells)
    return sum(check_printed(index, cell, seed_cell) for index, (cell, seed_cell)
               in enumerate(zip(nb.cells, seed_cells)))


class Progress(object):
    """nbclient's `on_cell_executed` hook: checks each cell's printed lines
    as it finishes, so that a difference stops the run at once (the
    AssertionError propagates out of `execute()`), and reports each
    printing cell's section with the lines matched so far and the elapsed
    seconds."""

    def __init__(self, seed_cells, report=print):
        self.seed_cells, self.report = seed_cells, report
        self.names, self.checked = sections(seed_cells), 0
        self.start = time.time()

    def __call__(self, cell, cell_index, **kwargs):
        lines = check_printed(cell_index, cell, self.seed_cells[cell_index])
        self.checked += lines
        if lines:
            self.report('  %-17s %3d/%d printed lines match the seed (%.0f s)'
                        % (self.names[cell_index] + ':', self.checked,
                           EXPECTED_LINES, time.time() - self.start))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--build', action='store_true',
                        help='write the notebook from the seed and stop')
    parser.add_argument('--output', default=os.path.join(
        HERE, 'clr_optimizer_tests.executed.ipynb'),
        help='where to write the executed notebook')
    parser.add_argument('--inplace', action='store_true',
                        help='write the executed notebook over the committed one')
    parser.add_argument('--timeout', type=int, default=1800,
                        help='seconds allowed per cell')
    parser.add_argument('--seed', default=SHARED_SEED,
                        help='the specification to verify the repo\'s copy '
                             'against (default: %(default)s)')
    args = parser.parse_args(argv)
    try:
        same = verify_seed_copy(args.seed)
    except AssertionError as e:
        print('FAIL: %s' % e)
        return 1
    print(seed_copy_message(same, args.seed), flush=True)
    if args.build:
        build()
        return 0
    from nbclient import NotebookClient
    seed_cells = parse_seed()
    nb = nbformat.read(NOTEBOOK, as_version=4)
    start = time.time()
    # In a kernel, TensorFlow 1.15's logger writes its deprecation warnings to
    # stdout; with a root logging handler it leaves them to it (stderr), so
    # stdout holds exactly what the cells print.
    client = NotebookClient(nb, timeout=args.timeout, kernel_name='python3',
                            extra_arguments=[KERNEL_SETUP],
                            resources={'metadata': {'path': ROOT}})
    client.on_cell_executed = progress = Progress(
        seed_cells, lambda line: print(line, flush=True))
    print('executing %s, checking each cell as it finishes:'
          % os.path.basename(NOTEBOOK), flush=True)
    try:
        check_cells(nb, seed_cells)
        client.execute()
    except AssertionError as e:
        nbformat.write(nb, args.output)
        print('FAIL: %s\n(the notebook as executed so far: %s)'
              % (e, args.output))
        return 1
    elapsed = time.time() - start
    nbformat.write(nb, NOTEBOOK if args.inplace else args.output)
    checked = progress.checked
    if checked != EXPECTED_LINES:
        print('FAIL: checked %d printed lines, the seed has %d'
              % (checked, EXPECTED_LINES))
        return 1
    print('notebook executed in %.1f s; all %d printed lines match the seed '
          'exactly' % (elapsed, checked))
    return 0


if __name__ == '__main__':
    sys.exit(main())
