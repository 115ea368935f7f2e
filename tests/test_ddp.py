"""Data-parallel training through fastai's own `DistributedTrainer` (`learn.distrib_ctx()`): two CPU processes (gloo)
under `torchrun`, one launch for every case of `tests/ddp_worker.py` (sparsify with several criteria, regularize, one
structural prune followed by training). Every rank must end with bitwise the same model, and only rank 0 may print."""
import json, os, shutil, socket, subprocess, sys
from pathlib import Path
import pytest

pytest.importorskip('accelerate', reason="fastai's distributed training needs accelerate (a dev dependency)")
TORCHRUN = shutil.which('torchrun') or (str(Path(sys.executable).with_name('torchrun')) if Path(sys.executable).with_name('torchrun').exists() else None)
WORKER = Path(__file__).with_name('ddp_worker.py')
sys.path.insert(0, str(WORKER.parent))
from ddp_worker import CASES  # noqa: E402

pytestmark = pytest.mark.skipif(TORCHRUN is None, reason='torchrun is not on PATH')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def ranks(tmp_path_factory) -> list[dict]:
    "What each of the two ranks ended with, per case"
    out = tmp_path_factory.mktemp('ddp')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    r = subprocess.run([TORCHRUN, '--nproc_per_node', '2', '--master_addr', '127.0.0.1', '--master_port', str(free_port()),
                        str(WORKER), str(out)], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    return [json.loads((out/f'rank{i}.json').read_text()) for i in (0, 1)]


@pytest.mark.parametrize('case', list(CASES))
def test_ranks_identical(ranks, case):
    a, b = ranks[0][case], ranks[1][case]
    assert a['shapes'] == b['shapes']
    assert a['params'] == b['params'], 'parameters differ across ranks'
    diff = [k for k in a['state'] if a['state'][k] != b['state'][k]]
    assert not diff, f'state_dict entries differ across ranks: {diff}'
    for k in ('masks', 'report', 'strengths'):
        assert a.get(k) == b.get(k), f'{k} differ across ranks'
    assert a['model_type'] == 'Sequential', 'learn.model is still wrapped after the fit'
    assert a['opt_is_model'], 'the optimizer holds other parameters than the model'


@pytest.mark.parametrize('case', [c for c in CASES if c.startswith('sparsify-')])
def test_sparsify(ranks, case):
    a, b = ranks[0][case], ranks[1][case]
    assert abs(a['achieved'] - 0.7) < 0.01
    assert 'total' in a['printed'] and '%' in a['printed'], 'rank 0 printed no report'
    assert a['printed'].count('the total row covers') == 1, 'rank 0 printed the report more than once'
    assert b['printed'] == '', f'rank 1 printed: {b["printed"][:200]!r}'


def test_data_split(ranks):
    "Each rank trained on half of the 12 batches of an epoch (DistributedDL), for 2 epochs"
    for r in ranks: assert len(r['regularize-group']['strengths']) == 2 * 6


def test_prune_then_train(ranks):
    a, b = ranks[0]['prune'], ranks[1]['prune']
    assert a['prunes'] == 1
    assert sum(map(len, a['shapes'])) == sum(map(len, a['shapes0'])) and a['shapes'] != a['shapes0'], 'nothing was removed'
    assert all(x <= y for s, s0 in zip(a['shapes'], a['shapes0']) for x, y in zip(s, s0))
    assert a['printed'].startswith('PruneCallback: ') and 'of the channels (units of the dependency groups) removed' in a['printed'] and ' MACs ' in a['printed'] and a['printed'].count('PruneCallback') == 1
    assert a['printed'].count('theoretical_speedup') == 1, 'rank 0 printed no compression report, or more than one'
    assert b['printed'] == ''
    assert len(a['epoch_s']) == 2
