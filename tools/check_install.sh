#!/usr/bin/env bash
# Installs clr-optimizers as a user would and trains with it from outside
# the checkout: builds the wheel from this checkout, installs it (with its
# declared dependencies) into a fresh Python 3.7 venv, then, from an empty
# directory, imports it and runs a few updates of a small model.
#
#     bash tools/check_install.sh          # (.ci/run calls it)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1

python3.7 -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install -q 'pip<24'
"$WORK/venv/bin/python" -m pip wheel -q --no-deps -w "$WORK/dist" "$ROOT"
rm -rf "$ROOT/build" "$ROOT"/*.egg-info
WHEEL=$(ls "$WORK"/dist/clr_optimizers-*.whl)
echo "check_install: built $(basename "$WHEEL")"
# The wheel holds the module and every file of the package beside it.
"$WORK/venv/bin/python" - "$WHEEL" "$ROOT" <<'PY'
import os
import sys
import zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
root = sys.argv[2]
want = {'clr_optimizers.py'} | {
    os.path.relpath(os.path.join(folder, name), root).replace(os.sep, '/')
    for folder, _, files in os.walk(os.path.join(root, '_clr_optimizers'))
    for name in files if name.endswith('.py')}
missing = sorted(want - names)
assert not missing, 'not in the wheel: %s' % missing
wheel = zipfile.ZipFile(sys.argv[1])
info = [n for n in names if n.endswith('.dist-info/METADATA')][0]
metadata = wheel.read(info).decode('utf8')
assert 'License: MIT' in metadata, metadata[:2000]
assert 'Classifier: License :: OSI Approved :: MIT License' in metadata
licence = [n for n in names if n.endswith('.dist-info/LICENSE')]
assert licence and wheel.read(licence[0]).decode('utf8').startswith(
    'MIT License'), sorted(names)
print('check_install: the wheel has clr_optimizers.py, %d files of '
      '_clr_optimizers, and the MIT licence in its metadata'
      % (len(want) - 1))
PY
"$WORK/venv/bin/python" -m pip install -q "$WHEEL"

mkdir "$WORK/elsewhere"
cd "$WORK/elsewhere"
"$WORK/venv/bin/python" - "$ROOT" <<'PY'
import os
import sys
import warnings
os.environ['TF_CPP_MIN_LOG_LEVEL'] = '2'
warnings.filterwarnings('ignore')
import numpy as np
import _clr_optimizers
import clr_optimizers
from clr_optimizers import Adam, clr_schedule
from keras.layers import Dense, Input
from keras.models import Model

root = os.path.realpath(sys.argv[1])
where = os.path.realpath(clr_optimizers.__file__)
assert not where.startswith(root + os.sep), where        # the installed copy
assert 'site-packages' in where, where
parts = os.path.realpath(_clr_optimizers.__file__)
assert os.path.dirname(os.path.dirname(parts)) == os.path.dirname(where)
inp = Input(shape=(4,))
model = Model(inp, Dense(1)(inp))
clr = {'max_lr': 0.006, 'step_size': 4}
model.compile(optimizer=Adam(lr=0.001, clr=clr), loss='mse')
rng = np.random.RandomState(0)
x, y = rng.rand(64, 4), rng.rand(64, 1)
before = model.get_weights()[0].copy()
model.fit(x, y, batch_size=8, epochs=1, verbose=0)
config = model.optimizer.get_config()
assert config['iterations'] == 8, config
want = clr_schedule([7], 0.001, clr)[0]
assert np.float32(config['current_lr']) == want, (config, want)
assert not np.array_equal(before, model.get_weights()[0])
print('check_install: clr_optimizers %s from %s: 8 updates, LR %r'
      % (clr_optimizers.__version__, where, config['current_lr']))
PY
