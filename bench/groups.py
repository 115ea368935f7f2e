"""Training overhead of SparsifyCallback with granularity=DependencyGroups(), against layer-wise 'filter' masks.

Two nets: sparsify's small_cnn on scikit-learn's digits (8x8, 22 batches of 64 per epoch) and torchvision resnet18
(10 classes) on synthetic 32x32 images, batch 64. 50% sparsity (channels for dependency groups, filters for 'filter'),
'local' and 'global', agp, the callback's defaults otherwise (about 25 mask updates). Dense and sparse fits are
interleaved in one process, medians over `--reps`. Figures:
- in-callback (CPU): 1 + (CPU time inside the callback's own events) / dense fit CPU time: the callback's cost;
- wall ratio: fit wall time with the callback / dense (noisy on a shared machine);
- setup ms: the first training batch's before_batch, where dependency groups trace the model;
- ms/update: median mask update; ms/re-apply: median after_step.
Run with OMP_NUM_THREADS=1. `--quick` is a smoke run.
"""
import argparse, collections, statistics, time
import torch
from torch import nn
import torchvision
from fastai.learner import Learner
from fastai.callback.progress import ProgressCallback  # adds Learner.no_bar
from fastai.data.core import DataLoaders
from fastai.data.load import DataLoader
from sparsify.groups import DependencyGroups
from sparsify.data import TensorPairs, digits_dls, small_cnn
from overhead import TimedSparsify   # bench/ is on sys.path when a script there runs


def make_learner(net, args, seed=0):
    torch.manual_seed(seed)
    if net == 'small_cnn': return Learner(digits_dls(bs=64), small_cnn(), loss_func=nn.CrossEntropyLoss())
    n = args.batches * 64
    x, y = torch.randn(n, 3, 32, 32), torch.randint(0, 10, (n,))
    dls = DataLoaders(DataLoader(TensorPairs(x, y), bs=64, shuffle=True, drop_last=True), DataLoader(TensorPairs(x[:64], y[:64]), bs=64))
    return Learner(dls, torchvision.models.resnet18(num_classes=10), loss_func=nn.CrossEntropyLoss())


def timed_fit(net, cb, epochs, args):
    learn = make_learner(net, args)
    with learn.no_bar(), learn.no_logging():
        t0, c0 = time.perf_counter(), time.process_time()
        learn.fit(epochs, 1e-3, cbs=[cb] if cb else [])
        return time.perf_counter() - t0, time.process_time() - c0


CONFIGS = {'dense': None, 'filter local': ('filter', 'local'), 'filter global': ('filter', 'global'),
           'groups local': ('groups', 'local'), 'groups global': ('groups', 'global')}

def run(net, epochs, args):
    wall, cpu, inside, setup, upd, reapply, n_upd = (collections.defaultdict(list) for _ in range(7))
    timed_fit(net, None, 1, args)                                                   # warm-up
    for rep in range(args.reps):
        for name in (list(CONFIGS) if rep % 2 == 0 else list(reversed(CONFIGS))):
            c = CONFIGS[name]
            cb = None if c is None else TimedSparsify(0.5, DependencyGroups() if c[0] == 'groups' else c[0], c[1], verbose=False)
            w, p = timed_fit(net, cb, epochs, args)
            wall[name].append(w); cpu[name].append(p)
            if cb is None: continue
            inside[name].append(cb.cpu_s); n_upd[name] = len(cb.history)
            bb = cb.spent['before_batch']
            setup[name].append(1e3 * bb[0])
            upd[name].append(1e3 * statistics.median(cb.update_s or [float('nan')]))
            reapply[name].append(1e3 * statistics.median(cb.spent['after_step']))
    d_wall, d_cpu = statistics.median(wall['dense']), statistics.median(cpu['dense'])
    print(f"\n{net}: {epochs} epochs, 50% sparsity, agp, {torch.get_num_threads()} threads, median of {args.reps} interleaved runs")
    print(f"{'config':<14} {'fit s':>7} {'wall ratio':>11} {'in-callback (CPU)':>18} {'updates':>8} {'setup ms':>9} {'ms/update':>10} {'ms/re-apply':>12}")
    print(f"{'dense':<14} {d_wall:>7.2f} {1:>11.3f} {'-':>18} {'-':>8} {'-':>9} {'-':>10} {'-':>12}")
    for name in list(CONFIGS)[1:]:
        m = statistics.median
        print(f"{name:<14} {m(wall[name]):>7.2f} {m(wall[name]) / d_wall:>11.3f} {1 + m(inside[name]) / d_cpu:>18.4f} {n_upd[name]:>8} "
              f"{m(setup[name]):>9.1f} {m(upd[name]):>10.2f} {m(reapply[name]):>12.3f}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--reps', type=int, default=5)
    p.add_argument('--batches', type=int, default=20, help='batches per epoch of the synthetic resnet18 data')
    p.add_argument('--quick', action='store_true')
    args = p.parse_args()
    if args.quick: args.reps, args.batches = 1, 2
    run('small_cnn', 1 if args.quick else 5, args)
    run('resnet18', 1 if args.quick else 2, args)


if __name__ == '__main__': main()
