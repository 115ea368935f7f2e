"Masks are identical on every process of a data-parallel run (two CPU processes, gloo, torchrun)."
import json, os, shutil, subprocess, sys
from pathlib import Path
import pytest

TORCHRUN = shutil.which('torchrun')

@pytest.mark.skipif(TORCHRUN is None, reason='torchrun is not on PATH')
@pytest.mark.parametrize('criteria, context', [('large_final', 'global'), ('random', 'local'), ('movement', 'global'),
                                                   ('taylor', 'global'), ('wanda', 'global'), ('fisher', 'local')])
def test_masks_identical_across_ranks(tmp_path, criteria, context):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    r = subprocess.run([TORCHRUN, '--nproc_per_node', '2', '--master_port', str(29500 + hash((criteria, context)) % 500),
                        str(Path(__file__).with_name('ddp_worker.py')), str(tmp_path), criteria, context],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    a, b = (json.loads((tmp_path / f'rank{i}.json').read_text()) for i in (0, 1))
    assert a['masks'] == b['masks'] and a['weights'] == b['weights']
    assert abs(a['achieved'] - 0.7) < 0.01
