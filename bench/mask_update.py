"""Cost of one global weight-magnitude mask update, in passes over the weights.

All Conv2d weights of torchvision's resnet50 (23.5M). One "pass" is `w.mul_(c)` over every weight. Timed
interleaved, best of N: the pass, `torch.kthvalue` over the concatenated |w| (the naive exact threshold),
the Sparsifier's mask computation alone and with the masks applied, and a second update from 70% to 75%
sparsity (nested: the pruned weights stay pruned), and the same first update with per-layer floors and ceilings
(`min_layer_sparsity`/`max_layer_sparsity`, the bounded path) against the unbounded one. Prints a table; `--quick` is a smoke run.
"""
import argparse, time
import torch
from torch import nn
import torchvision
from sparsify.sparsifier import Sparsifier


def best(fn, reps):
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
    return min(ts)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--reps', type=int, default=7)
    p.add_argument('--quick', action='store_true')
    args = p.parse_args()
    torch.manual_seed(0)
    model = torchvision.models.resnet18() if args.quick else torchvision.models.resnet50()
    ws = [m.weight.data for m in model.modules() if isinstance(m, nn.Conv2d)]
    n = sum(w.numel() for w in ws)
    k = round(0.7 * n)
    sp = Sparsifier(model, 'weight', 'global', layer_type=nn.Conv2d)
    bounded = Sparsifier(model, 'weight', 'global', layer_type=nn.Conv2d, min_layer_sparsity=0.2, max_layer_sparsity=0.9)
    factor = {'c': 2.0}
    def one_pass():
        c = factor['c']; factor['c'] = 0.5 if c == 2.0 else 2.0
        for w in ws: w.mul_(c)
    def kth(): torch.cat([w.abs().reshape(-1) for w in ws]).kthvalue(k)
    def masks_only(): sp.masks = {}; sp._global_keep({n: sp._live_scores(n) for n in sp.layers}, 0.7, 1.0)
    def masks_bounded(): bounded.masks = {}; bounded._global_keep({n: bounded._live_scores(n) for n in bounded.layers}, 0.7, 1.0)
    dense = [w.clone() for w in ws]
    def restore():
        for w, d in zip(ws, dense): w.copy_(d)
    rows = {}
    for rep in range(2):   # interleave the kinds of measurement twice, keep the best
        for name, fn in [('pass: w.mul_(c)', one_pass), ('torch.kthvalue on cat(|w|)', kth),
                         ('sparsifier: scores + exact masks', masks_only),
                         ('same, with per-layer floors and ceilings', masks_bounded)]:
            rows[name] = min(rows.get(name, 1e9), best(fn, args.reps))
        ts = []
        for _ in range(args.reps):
            restore(); sp.masks = {}; t0 = time.perf_counter(); sp.sparsify(0.7); ts.append(time.perf_counter() - t0)
        rows['sparsifier.sparsify(0.7): masks + apply'] = min(rows.get('sparsifier.sparsify(0.7): masks + apply', 1e9), min(ts))
        ts = []
        for _ in range(args.reps):
            restore(); sp.masks = {}; sp.sparsify(0.7); t0 = time.perf_counter(); sp.sparsify(0.75); ts.append(time.perf_counter() - t0)
        rows['second update 0.70 -> 0.75 (nested)'] = min(rows.get('second update 0.70 -> 0.75 (nested)', 1e9), min(ts))
    restore(); sp.masks = {}; sp.sparsify(0.7)
    pruned = sum(int((w == 0).sum()) for w in ws)
    base = rows['pass: w.mul_(c)']
    print(f"{type(model).__name__} Conv2d weights: {n:,}; target 70% -> pruned {pruned:,} (exact k = {k:,}); "
          f"{torch.get_num_threads()} threads, best of {args.reps}")
    print(f"{'operation':<42} {'ms':>9} {'passes':>8}")
    for name, t in rows.items(): print(f"{name:<42} {1e3 * t:>9.2f} {t / base:>8.1f}")
    print(f"bounded / unbounded: {rows['same, with per-layer floors and ceilings'] / rows['sparsifier: scores + exact masks']:.2f}")
    assert pruned == k, (pruned, k)


if __name__ == '__main__': main()
