"Every benchmark script runs and prints its table (in --quick mode: a smoke test, not a measurement)."
import subprocess, sys
from pathlib import Path
import pytest

BENCH = Path(__file__).parent.parent / 'bench'

@pytest.mark.parametrize('script, header', [('overhead.py', 'ratio'), ('mask_update.py', 'passes'),
                                            ('memory.py', 'bytes/weight'), ('accuracy.py', 'vs dense'),
                                            ('regularize.py', 'right after'), ('structural.py', 'ratio'),
                                            ('criteria.py', 'taylor (old)'), ('groups.py', 'in-callback'),
                                            ('structural_accuracy.py', 'progressive'), ('export.py', 'speed-up'),
                                            ('oneshot.py', 'sparsegpt vs wanda'), ('zoo.py', ' 0 crashed;'),
                                            ('prune_cost.py', 'prune_to(2.0)')])
def test_bench_quick(script, header):
    r = subprocess.run([sys.executable, str(BENCH / script), '--quick'], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert header in r.stdout, r.stdout


def test_peer_quick():
    "bench/peer.py runs fasterai beside us when it is installed; fasterai is no dependency, so without it only our side runs, and says so"
    import importlib.util
    r = subprocess.run([sys.executable, str(BENCH / 'peer.py'), '--quick'], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'diff vs fasterai' in r.stdout, r.stdout
    has_peer = importlib.util.find_spec('fasterai') is not None
    assert ('fasterai is not installed' in r.stdout) != has_peer, r.stdout
