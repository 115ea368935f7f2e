"""The installed `sparsify` console script, as a user runs it: the README's main job, every option checked before any
training (one line on stderr, status 2), every granularity, reproducible runs, and image folders that cannot work."""
import os, re, shutil, subprocess, textwrap
from pathlib import Path
import numpy as np
import pandas as pd
import pytest
from PIL import Image

EXE = shutil.which('sparsify')
ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(EXE is None, reason='the sparsify console script is not installed (pip install -e .)')


def sparsify(*args, env=None, timeout=600):
    return subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env)


def accuracy_lines(stdout: str) -> list[str]: return [l for l in stdout.splitlines() if 'accuracy' in l]


def check_clean_output(r):
    "No raw fastai log rows (`[0, 1.25, ...]`), no FutureWarning from fastai's import"
    assert not [l for l in r.stdout.splitlines() if l.lstrip().startswith('[')], r.stdout
    assert 'FutureWarning' not in r.stderr and 'torch.jit.script' not in r.stderr, r.stderr[-2000:]


def check_one_line_error(r, *wanted):
    "Status 2, one line on stderr holding `wanted`, and nothing trained (no output on stdout)"
    assert r.returncode == 2, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and 'Traceback' not in r.stderr, r.stderr[-3000:]
    for w in wanted: assert w in lines[0], lines[0]
    assert r.stdout == '', r.stdout[-2000:]


def test_train_default_quiet_and_reproducible(tmp_path):
    "The README's command (short): a report, an accuracy line, files; the same seed gives the same accuracies"
    runs = [sparsify('train', '--epochs', 2, '--quiet', '--out', tmp_path / f'run{i}') for i in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr[-3000:]
        check_clean_output(r)
        assert 'lr 0.01 (default for the small CNN' in r.stdout and 'accuracy: sparse' in r.stdout and 'dense' in r.stdout
    rep = pd.read_csv(tmp_path / 'run0' / 'report.csv')
    assert abs(rep.achieved.iloc[-1] - 0.9) * rep.params.iloc[-1] <= 0.5
    assert (tmp_path / 'run0' / 'model.pth').stat().st_size > 0
    assert accuracy_lines(runs[0].stdout) == accuracy_lines(runs[1].stdout), (runs[0].stdout, runs[1].stdout)
    assert len(accuracy_lines(runs[0].stdout)) == 2                         # dense baseline, then sparse vs dense


def test_sweep(tmp_path):
    r = sparsify('sweep', '--sparsities', '0.5,0.9', '--epochs', 1, '--out', tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    check_clean_output(r)
    assert r.stdout.startswith('sparsify sweep: digits, small CNN, lr 0.01'), r.stdout
    assert re.search(r'^sparsity 90%: accuracy \d+\.\d\d% \(dense \d+\.\d\d%\)$', r.stdout, re.M), r.stdout
    df = pd.read_csv(tmp_path / 'sweep.csv')
    assert list(df.sparsity) == [0.5, 0.9] and df.accuracy.between(0, 1).all()
    assert (tmp_path / 'accuracy_vs_sparsity.png').stat().st_size > 1000


@pytest.mark.parametrize('args, wanted', [
    (['train', '--granularity', 'filtre'], ["granularity='filtre' is unknown", "'filter'"]),
    (['train', '--sparsity', '1.0'], ['sparsity=1.0', '[0, 1)']),
    (['train', '--sparsity', '-0.1'], ['sparsity=-0.1']),
    (['sweep', '--sparsities', '0.5,1.2'], ['--sparsities 0.5,1.2', 'sparsity=1.2']),
    (['sweep', '--sparsities', '0.5,x'], ['--sparsities 0.5,x', 'comma-separated numbers']),
    (['train', '--granularity', '2:4', '--sparsity', '0.9'], ["sparsity=0.9 disagrees with granularity '2:4'=0.5"]),
    (['train', '--granularity', '2:4', '--context', 'global'], ["context='local'"]),
    (['train', '--granularity', 'block:7x7'], ['--granularity block:7x7: fits no layer']),
    (['train', '--exclude', 'nosuchlayer'], ["exclude='nosuchlayer' matches no layer", "'13'"]),
    (['train', '--epochs', '0'], ['--epochs 0: must be >= 1']),
    (['train', '--lr', '0'], ['--lr 0.0: must be > 0']),
    (['train', '--bs', '5000'], ['the digits', 'training images do not fill one batch of --bs 5000', 'use --bs']),
    (['train', '--arch', 'resnet9000'], ['--arch resnet9000: not a torchvision classification architecture']),
    (['train', '--data', '/nonexistent'], ['--data /nonexistent: not a folder']),
    (['prune', '--speedup', '0.5'], ['--speedup 0.5: must be > 1']),
    (['prune', '--speedup', '1'], ['--speedup 1: must be > 1']),
    (['prune', '--speedup', '500'], ['--speedup 500', 'cannot be reached', 'max_fraction=0.9']),
    (['prune', '--steps', '0'], ['--steps 0: must be >= 1']),
    (['prune', '--arch', 'resnet9000'], ['--arch resnet9000: not a torchvision classification architecture']),
])
def test_bad_options_fail_before_training(args, wanted, tmp_path):
    r = sparsify(*args, '--out', tmp_path / 'out', timeout=120)
    check_one_line_error(r, *wanted)
    assert not (tmp_path / 'out').exists(), 'the output folder was created before the options were checked'


def test_prune_default(tmp_path):
    "The default `sparsify prune` (2x fewer MACs, digits, small CNN): the report, the files, and a saved model that reloads to the printed accuracy"
    import torch
    from sparsify.data import digits_dls, small_cnn
    from sparsify.structural import load_pruned
    r = sparsify('prune', '--quiet', '--out', tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    check_clean_output(r)
    assert r.stdout.startswith('sparsify prune: digits, small CNN, lr 0.01'), r.stdout
    for row in ('theoretical_speedup', 'speedup_bs1', 'speedup_bs32', 'size', 'accuracy_delta'): assert re.search(rf'^{row} ', r.stdout, re.M), row
    rep = pd.read_csv(tmp_path / 'compression.csv', index_col='model')
    assert rep.theoretical_speedup['compressed'] >= 2.0 and rep.macs['dense'] / rep.macs['compressed'] >= 2.0, rep
    assert rep.size_bytes['compressed'] < rep.size_bytes['dense'] and rep.params['compressed'] < rep.params['dense']
    dense, pruned = map(float, re.search(r'^accuracy: pruned ([\d.]+)%, dense ([\d.]+)%, delta', r.stdout, re.M).groups()[::-1])
    assert pruned > 90 and dense > 90, r.stdout
    assert (tmp_path / 'compression.png').stat().st_size > 1000
    d = torch.load(tmp_path / 'pruned.pth', weights_only=True)
    model = load_pruned(tmp_path / 'pruned.pth', small_cnn(1, 10)).eval()
    assert sum(p.numel() for p in model.parameters()) == rep.params['compressed']
    with torch.no_grad():
        xs, ys = zip(*digits_dls(seed=42).valid)
        hits = sum(int((model(x).argmax(1) == y).sum()) for x, y in zip(xs, ys))
    assert f'{100 * hits / sum(len(y) for y in ys):.2f}' == f'{pruned:.2f}', (hits, r.stdout)   # the saved model is the one reported
    assert set(d) >= {'state_dict', 'pruning_history'}


def test_prune_image_folder(tmp_path):
    "An image folder (fastai `TensorImage` batches, 3 channels) pruned to 2x fewer MACs"
    _images(tmp_path / 'images', 12, 'cats', 'dogs')
    r = sparsify('prune', '--data', tmp_path / 'images', '--bs', 8, '--epochs', 1, '--steps', 1, '--no-baseline', '--quiet', '--out', tmp_path / 'out')
    assert r.returncode == 0, r.stderr[-3000:]
    rep = pd.read_csv(tmp_path / 'out' / 'compression.csv', index_col='model')
    assert rep.macs['dense'] / rep.macs['compressed'] >= 2.0, rep


TORCHRUN = shutil.which('torchrun')


@pytest.mark.skipif(TORCHRUN is None, reason='torchrun is not on PATH')
@pytest.mark.parametrize('command, report, files', [
    (['train'], 'total', ['model.pth', 'report.csv', 'schedule.png']),
    (['prune', '--steps', '1'], 'theoretical_speedup', ['compression.csv', 'compression.png', 'pruned.pth'])])
def test_under_torchrun(command, report, files, tmp_path):
    "Two CPU processes (gloo) under torchrun: the console script runs unchanged, one report, files from rank 0 only"
    import socket
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
    r = subprocess.run([TORCHRUN, '--nproc_per_node', '2', '--master_addr', '127.0.0.1', '--master_port', str(port), EXE, *command,
                        '--epochs', '1', '--quiet', '--no-baseline', '--out', tmp_path], capture_output=True, text=True, timeout=300,
                       env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    assert r.stdout.count(f'sparsify {command[0]}:') == 1 and r.stdout.count('saved ') == 1, r.stdout
    assert len(re.findall(rf'^{report}\b', r.stdout, re.M)) == 1, r.stdout
    assert sorted(os.listdir(tmp_path)) == files


def test_argparse_errors_are_one_line_too(tmp_path):
    r = sparsify('train', '--context', 'wide', '--out', tmp_path, timeout=120)
    assert r.returncode == 2 and "invalid choice: 'wide'" in r.stderr and 'Traceback' not in r.stderr


@pytest.mark.parametrize('granularity, skipped, kept', [('2:4', ['0'], ['4', '8', '13']), ('block:4x4', ['0', '13'], ['4', '8'])])
def test_every_granularity_works_with_the_default_model(granularity, skipped, kept, tmp_path):
    "N:M implies its sparsity and the local context; the layers the pattern cannot cut stay dense and are named"
    r = sparsify('train', '--granularity', granularity, '--epochs', 1, '--quiet', '--no-baseline', '--out', tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    for name in skipped: assert re.search(rf'^granularity {granularity} does not fit layer {name} \(', r.stdout, re.M), r.stdout
    rep = pd.read_csv(tmp_path / 'report.csv', dtype={'layer': str})
    assert list(rep.layer.iloc[:-1]) == kept, rep
    if granularity == '2:4':
        assert 'sparse: 50% 2:4 local' in r.stdout, r.stdout
        assert np.allclose(rep.achieved.iloc[:-1], 0.5), rep


def test_exclude_names_and_regexes(tmp_path):
    r = sparsify('train', '--exclude', '0,1[0-9]', '--exclude', '4', '--epochs', 1, '--quiet', '--no-baseline', '--out', tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    rep = pd.read_csv(tmp_path / 'report.csv', dtype={'layer': str})
    assert list(rep.layer.iloc[:-1]) == ['8'], rep


def _images(folder: Path, n: int, *classes: str):
    for c in classes or ('',):
        (folder / c).mkdir(parents=True, exist_ok=True)
        for i in range(n): Image.fromarray(np.random.randint(0, 255, (16, 16, 3), dtype=np.uint8)).save(folder / c / f'{i}.png')


def _corrupt(folder: Path):
    _images(folder, 6, 'cats', 'dogs')
    (folder / 'dogs' / 'broken.png').write_bytes(b'this is not a png')


@pytest.mark.parametrize('make, wanted', [
    (lambda d: _images(d, 6, 'cats'), ['one class (cats)', 'one subfolder of images per class']),
    (lambda d: _images(d, 6), ['6 images sit directly in', 'one subfolder per class']),
    (_corrupt, ['broken.png as an image', 'fix or remove it']),
    (lambda d: d.mkdir(), ['no images in it', 'one subfolder per class']),
    (lambda d: _images(d, 5, 'cats', 'dogs'), ['8 training images do not fill one batch of --bs 64', 'use --bs 4 or less']),
])
def test_image_folders_that_cannot_work(make, wanted, tmp_path):
    data = tmp_path / 'images'
    make(data)
    check_one_line_error(sparsify('train', '--data', data, '--out', tmp_path / 'out', timeout=120), f'--data {data}', *wanted)


def test_errors_while_training_keep_their_traceback(tmp_path):
    "Only bad options become one-line errors: a bug that shows up during training is not hidden as one"
    (tmp_path / 'sitecustomize.py').write_text(textwrap.dedent('''
        import sparsify.cli
        def train_one(*args, **kwargs): raise TypeError('a bug while training')
        sparsify.cli.train_one = train_one
    '''))
    env = {**os.environ, 'PYTHONPATH': os.pathsep.join(filter(None, [str(tmp_path), os.environ.get('PYTHONPATH')]))}
    r = sparsify('train', '--epochs', 1, '--out', tmp_path / 'out', env=env, timeout=120)
    assert r.returncode == 1 and 'Traceback' in r.stderr and 'TypeError: a bug while training' in r.stderr, r.stderr[-3000:]


def test_torchvision_arch_learns_on_the_digits(tmp_path):
    "resnet18 at its default lr learns the digits (made 3-channel 32x32 images) in 3 epochs: far above chance (10%)"
    r = sparsify('train', '--arch', 'resnet18', '--epochs', 3, '--sparsity', 0.5, '--no-baseline', '--quiet', '--out', tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'resnet18, lr 0.001 (default for torchvision models' in r.stdout, r.stdout
    acc = float(re.search(r'accuracy: sparse ([\d.]+)%', r.stdout)[1])
    assert acc > 80, r.stdout


def test_help_shows_defaults():
    r = sparsify('train', '--help', timeout=120)
    assert r.returncode == 0
    for default in ('(default: 8)', '(default: weight)', '(default: agp)', '(default: large_final)', '(default: 64)',
                    '(default: sparsify_out)', '(default: 0.9;'):
        assert default in ' '.join(r.stdout.split()), default
    assert 'FutureWarning' not in r.stderr, r.stderr


@pytest.mark.skipif(not (ROOT / '.git').exists(), reason='not a git checkout')
def test_default_output_folder_is_git_ignored():
    r = subprocess.run(['git', 'check-ignore', '-q', 'sparsify_out/model.pth'], cwd=ROOT)
    assert r.returncode == 0, 'sparsify_out/ (the default --out) is not in .gitignore'
