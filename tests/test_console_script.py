"The installed `sparsify` console script: the README's main job, and a clean failure on bad input."
import shutil, subprocess
import pandas as pd
import pytest

EXE = shutil.which('sparsify')
pytestmark = pytest.mark.skipif(EXE is None, reason='the sparsify console script is not installed (pip install -e .)')

def test_train_default(tmp_path):
    r = subprocess.run([EXE, 'train', '--epochs', '2', '--quiet', '--out', str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'accuracy: sparse' in r.stdout and 'dense' in r.stdout
    rep = pd.read_csv(tmp_path / 'report.csv')
    assert abs(rep.achieved.iloc[-1] - 0.9) * rep.params.iloc[-1] <= 0.5
    assert (tmp_path / 'model.pth').stat().st_size > 0

def test_sweep(tmp_path):
    r = subprocess.run([EXE, 'sweep', '--sparsities', '0.5,0.9', '--epochs', '1', '--out', str(tmp_path)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    df = pd.read_csv(tmp_path / 'sweep.csv')
    assert list(df.sparsity) == [0.5, 0.9] and df.accuracy.between(0, 1).all()
    assert (tmp_path / 'accuracy_vs_sparsity.png').stat().st_size > 1000

def test_bad_option_is_one_line_and_status_2(tmp_path):
    r = subprocess.run([EXE, 'sweep', '--sparsities', '0.5,x', '--out', str(tmp_path)], capture_output=True, text=True)
    assert r.returncode == 2 and '--sparsities 0.5,x' in r.stderr and 'Traceback' not in r.stderr
