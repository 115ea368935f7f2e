"""Training overhead of SparsifyCallback, per built-in schedule and for two run lengths.

torchvision resnet18 (random init, 10 classes), batch 64, 32x32 synthetic images, 50% global weight sparsity,
the callback's defaults otherwise (window [0, 0.75], about 25 mask updates). Dense and sparse fits are interleaved
in one process so that machine noise hits both alike; medians over `--reps`. Two figures per schedule:
- wall ratio: fit time with the callback / dense fit time (noisy on a shared machine);
- in-callback: 1 + (time spent inside the callback's own events) / dense fit time: the callback's cost, which
  noise can hardly move; measured twice, in wall time and in CPU time (`time.process_time`: the time the process
  ran, not the time it waited for a core, so a shared machine cannot inflate it; run with OMP_NUM_THREADS=1 so that
  no thread spins). Its parts are printed too: mask updates (count, median ms each) and re-applying the masks after
  an optimizer step (median ms per step).
- paired: 1 + (time inside the callback) / (the same fit's time outside it), per run, then the median: no dense run
  enters it, so a dense run slowed by another job cannot flatter it (CPU time; wall time agrees within noise).
- floor: what any re-apply must cost, measured in the same process: one plain pass `w.mul_(1.0)` over the masked weights
  (reads and writes every weight once, as masking does) against the dense step; at 1,000 steps this alone is most of a 2% budget.
Prints one table per run length; `--quick` is a smoke run.
"""
import argparse, collections, statistics, time
import torch
from torch import nn
import torchvision
from fastai.learner import Learner
from fastai.callback.progress import ProgressCallback  # adds Learner.no_bar
from fastai.data.core import DataLoaders
from fastai.data.load import DataLoader
from sparsify.callback import SparsifyCallback
from sparsify.schedules import schedules
from sparsify.data import TensorPairs

EVENTS = ('before_fit', 'before_train', 'before_batch', 'after_step', 'after_fit', 'finish')

class TimedSparsify(SparsifyCallback):
    "SparsifyCallback that adds up the wall time spent in its own events, per event, and times each mask update"
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs); self.spent, self.cpu_s, self.update_s = collections.defaultdict(list), 0.0, []
    def _timed(self, event):
        t0, c0 = time.perf_counter(), time.process_time()
        getattr(super(), event)()
        self.spent[event].append(time.perf_counter() - t0); self.cpu_s += time.process_time() - c0
    def update(self, step, at=None):
        t0 = time.perf_counter()
        if not super().update(step, at): return False
        self.update_s.append(time.perf_counter() - t0); return True
    def before_fit(self): self._timed('before_fit')
    def before_train(self): self._timed('before_train')
    def before_batch(self): self._timed('before_batch')
    def after_step(self): self._timed('after_step')
    def after_fit(self): self._timed('after_fit')
    def finish(self): self._timed('finish')


def make_learner(n_batches, bs, size, seed=0):
    torch.manual_seed(seed)
    x, y = torch.randn(n_batches * bs, 3, size, size), torch.randint(0, 10, (n_batches * bs,))
    dls = DataLoaders(DataLoader(TensorPairs(x, y), bs=bs, shuffle=True, drop_last=True), DataLoader(TensorPairs(x[:bs], y[:bs]), bs=bs))
    return Learner(dls, torchvision.models.resnet18(num_classes=10), loss_func=nn.CrossEntropyLoss())


def timed_fit(cb, n_batches, epochs, args):
    learn = make_learner(n_batches, args.bs, args.size)
    with learn.no_bar(), learn.no_logging():
        t0, c0 = time.perf_counter(), time.process_time()
        learn.fit(epochs, 1e-3, cbs=[cb] if cb else [])
        return time.perf_counter() - t0, time.process_time() - c0


def run_length(steps, args):
    epochs = 2 if steps >= 20 else 1
    n_batches = steps // epochs
    configs = {'dense': None} | {k: v for k, v in schedules.items() if k in args.schedules}
    fit_s, fit_cpu = {k: [] for k in configs}, {k: [] for k in configs}
    inside, inside_cpu, paired, upd_ms, apply_ms, n_upd = {}, {}, {}, {}, {}, {}
    timed_fit(None, n_batches, 1, args)                                # warm-up: first-use costs out of the figures
    for rep in range(args.reps):
        for name in (list(configs) if rep % 2 == 0 else list(reversed(configs))):
            cb = None if configs[name] is None else TimedSparsify(args.sparsity, 'weight', 'global', schedule=configs[name], verbose=False)
            wall, cpu = timed_fit(cb, n_batches, epochs, args)
            fit_s[name].append(wall); fit_cpu[name].append(cpu)
            if cb is None: continue
            inside.setdefault(name, []).append(sum(sum(v) for v in cb.spent.values()))
            inside_cpu.setdefault(name, []).append(cb.cpu_s)
            paired.setdefault(name, []).append(cb.cpu_s / (cpu - cb.cpu_s))
            n_upd[name] = len(cb.history)
            upd_ms.setdefault(name, []).append(1e3 * statistics.median(cb.update_s or [float('nan')]))
            apply_ms.setdefault(name, []).append(1e3 * statistics.median(cb.spent['after_step'][-steps // 4:]))   # after the window: every mask in place
    dense, dense_cpu = statistics.median(fit_s['dense']), statistics.median(fit_cpu['dense'])
    print(f"\n{steps} steps ({epochs} epochs x {n_batches} batches): resnet18, batch {args.bs}, {args.size}x{args.size} images, "
          f"{args.sparsity:.0%} global weight sparsity, {torch.get_num_threads()} threads, median of {args.reps} interleaved runs")
    print(f"{'schedule':<10} {'fit s':>8} {'wall ratio':>11} {'in-callback':>12} {'in-cb (CPU)':>12} {'paired':>8} {'updates':>8} {'ms/update':>10} {'ms/re-apply':>12}")
    print(f"{'dense':<10} {dense:>8.2f} {1:>11.3f} {'-':>12} {'-':>12} {'-':>8} {'-':>8} {'-':>10} {'-':>12}")
    for name in [k for k in schedules if k in args.schedules]:
        t = statistics.median(fit_s[name])
        print(f"{name:<10} {t:>8.2f} {t / dense:>11.3f} {1 + statistics.median(inside[name]) / dense:>12.4f} "
              f"{1 + statistics.median(inside_cpu[name]) / dense_cpu:>12.4f} {1 + statistics.median(paired[name]):>8.4f} {n_upd[name]:>8} "
              f"{statistics.median(upd_ms[name]):>10.1f} {statistics.median(apply_ms[name]):>12.2f}")
    floor = plain_pass_ms(args)
    step_ms = 1e3 * dense / (epochs * n_batches)
    print(f"floor: one plain pass over the masked weights (w.mul_(1.0)) {floor:.2f} ms = {floor / step_ms:.1%} of a dense step ({step_ms:.0f} ms); "
          f"the masks' re-apply {statistics.median(sum(apply_ms.values(), [])):.2f} ms = {statistics.median(sum(apply_ms.values(), [])) / step_ms:.1%}")


def plain_pass_ms(args, reps=21):
    "Median ms of one `w.mul_(1.0)` over the weights the benchmark masks (resnet18's Conv2d and Linear weights)"
    ws = [m.weight.detach() for m in make_learner(1, args.bs, args.size).model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for w in ws: w.mul_(1.0)
        ts.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(ts)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--lengths', default='200,1000', help='run lengths in training steps, comma-separated')
    p.add_argument('--bs', type=int, default=64)
    p.add_argument('--size', type=int, default=32, help='image size')
    p.add_argument('--sparsity', type=float, default=0.5)
    p.add_argument('--reps', type=int, default=3)
    p.add_argument('--schedules', default=','.join(schedules), help='built-in schedules to time, comma-separated')
    p.add_argument('--quick', action='store_true')
    args = p.parse_args()
    args.schedules = args.schedules.split(',')
    if bad := [s for s in args.schedules if s not in schedules]: p.error(f'--schedules: unknown {bad}; choose from {list(schedules)}')
    if args.quick: args.lengths, args.bs, args.size, args.reps = '4,8', 8, 32, 1
    for steps in (int(s) for s in args.lengths.split(',')): run_length(steps, args)


if __name__ == '__main__': main()
