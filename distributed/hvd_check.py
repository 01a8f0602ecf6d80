"""Two-worker check of the CLR optimizers under Horovod (run by horovodrun).

    horovodrun -np 2 -H localhost:2 --gloo python distributed/hvd_check.py

For each of the seven optimizers with `clr`, wrapped in
`hvd.DistributedOptimizer` with `BroadcastGlobalVariablesCallback(0)`, each
worker trains on its own shard (and starts from different weights, which the
broadcast makes equal). It checks that both ranks apply the same LR sequence,
equal to the single-process schedule `clr_schedule`, and end with identical
weights, optimizer state and step counts; then rank 0 saves, every rank
reloads with `hvd.load_model(..., custom_optimizers=...)` and training
continues on schedule, again identical on both ranks.

Prints 'N passed, M failed' (rank 0) and exits non-zero on any failure.
"""
import os
import sys
import tempfile
import traceback
import warnings

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
warnings.filterwarnings('ignore')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import horovod.keras as hvd  # noqa: E402
import numpy as np  # noqa: E402
from keras import backend as K  # noqa: E402

import clr_optimizers as co  # noqa: E402
from clr_testing import Trace, make_model  # noqa: E402

CASES = [
    (co.SGD, dict(lr=0.01, momentum=0.9, decay=1e-3,
                  clr=dict(max_lr=0.05, step_size=3))),
    (co.RMSprop, dict(lr=0.001, clr=dict(max_lr=0.01, step_size=2,
                                         step_size_down=4))),
    (co.Adagrad, dict(lr=0.01, clr=dict(max_lr=0.05, step_size=3,
                                        mode='triangular2'))),
    (co.Adadelta, dict(lr=0.5, clr=dict(max_lr=1.5, step_size=4))),
    (co.Adam, dict(lr=0.001, clr=dict(max_lr=0.01, step_size=3,
                                      base_momentum=0.85,
                                      max_momentum=0.95))),
    (co.Adamax, dict(lr=0.002, clr=dict(max_lr=0.01, step_size=5,
                                        mode='exp_range', gamma=0.9))),
    (co.Nadam, dict(lr=0.002, clr=dict(max_lr=0.01, step_size=2))),
    (co.SGD, dict(lr=0.004, clr=dict(policy='one_cycle', max_lr=0.1,
                                     total_steps=12, base_momentum=0.85,
                                     max_momentum=0.95))),
    (co.RMSprop, dict(lr=0.001, clr=dict(policy='cosine_restarts',
                                         first_decay_steps=3, m_mul=0.8))),
    # decoupled weight decay without the biases, a slower first layer
    (co.SGD, dict(lr=0.01, momentum=0.9, weight_decay=0.05,
                  weight_decay_exclude=['bias'],
                  lr_multipliers={'dense_1/': 0.1},
                  clr=dict(max_lr=0.05, step_size=3))),
    # a warm-up for large batches (Goyal et al.) before a cycle
    (co.Adam, dict(lr=0., clr=dict(policy='phases', phases=[
        dict(steps=5, to=0.004), dict(steps=4, to=0.001, shape='cos'),
        dict(policy='cyclic', max_lr=0.003, step_size=3, base_momentum=0.85,
             max_momentum=0.95)]))),
]
BATCH, FIRST, SECOND = 4, 9, 7       # updates before and after the reload


def shard(updates, offset):
    """This rank's rows: a different shard on each worker."""
    rng = np.random.RandomState(100 + hvd.rank())
    x = rng.rand((offset + updates) * BATCH, 15).astype(np.float32)
    y = rng.randint(0, 2, size=len(x)).astype(np.float32)
    return x[offset * BATCH:], y[offset * BATCH:]


def fit(model, updates, offset, broadcast):
    x, y = shard(updates, offset)
    trace = Trace()
    callbacks = [hvd.callbacks.BroadcastGlobalVariablesCallback(0)] \
        if broadcast else []
    model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0,
              callbacks=callbacks + [trace])
    return np.array(trace.lr, np.float32)


def same_on_all_ranks(value, what):
    """Gathers `value` from every rank and asserts they are bit-identical."""
    flat = np.ascontiguousarray(np.asarray(value).ravel())
    gathered = hvd.allgather(flat[None, :], name='check_%s' % what)
    for other in gathered[1:]:
        assert np.array_equal(other.view(np.uint8), gathered[0].view(np.uint8)), \
            '%s differs between ranks' % what


def state_vector(model):
    return np.concatenate([np.ravel(w).astype(np.float64) for w in
                           model.get_weights() + model.optimizer.get_weights()])


def check(cls, kwargs, folder):
    K.clear_session()
    name = '%s_%s' % (cls.__name__, kwargs['clr'].get('policy', 'cyclic'))
    model = make_model(seed=hvd.rank())         # different until broadcast
    model.compile(optimizer=hvd.DistributedOptimizer(cls(**kwargs)),
                  loss='binary_crossentropy')
    assert isinstance(model.optimizer, cls)
    lr_first = fit(model, FIRST, 0, broadcast=True)
    want = co.clr_schedule(np.arange(FIRST + SECOND), kwargs['lr'],
                           kwargs['clr'], decay=kwargs.get('decay', 0.))
    assert np.array_equal(lr_first, want[:FIRST]), (lr_first, want[:FIRST])
    same_on_all_ranks(lr_first, name + '_lr1')
    same_on_all_ranks(state_vector(model), name + '_state1')
    assert K.get_value(model.optimizer.iterations) == FIRST
    path = os.path.join(folder, name + '.h5')
    if hvd.rank() == 0:
        model.save(path)
    hvd.allreduce(np.zeros(1), name=name + '_saved')    # a barrier
    K.clear_session()
    model = hvd.load_model(
        path, custom_optimizers=list(co.custom_objects().values()))
    assert isinstance(model.optimizer, cls)
    assert K.get_value(model.optimizer.iterations) == FIRST
    lr_second = fit(model, SECOND, FIRST, broadcast=False)
    assert np.array_equal(lr_second, want[FIRST:]), (lr_second, want[FIRST:])
    same_on_all_ranks(lr_second, name + '_lr2')
    same_on_all_ranks(state_vector(model), name + '_state2')
    assert K.get_value(model.optimizer.iterations) == FIRST + SECOND


def main():
    hvd.init()
    folder = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        tempfile.gettempdir(), 'clr_optimizers_hvd_check')
    if hvd.rank() == 0 and not os.path.isdir(folder):
        os.makedirs(folder)
    passed = failed = 0
    for cls, kwargs in CASES:
        try:
            check(cls, kwargs, folder)
            passed += 1
            status = 'ok'
        except Exception:
            failed += 1
            status = 'FAILED\n' + traceback.format_exc()
        print('rank %d/%d %s %s: %s' % (
            hvd.rank(), hvd.size(), cls.__name__,
            kwargs['clr'].get('policy', 'cyclic'), status), flush=True)
    if hvd.rank() == 0:
        print('horovod: %d passed, %d failed' % (passed, failed), flush=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
