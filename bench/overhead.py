"""Training overhead of SparsifyCallback: epoch time with the callback ÷ dense epoch time, per built-in schedule.

torchvision resnet18 (random init, 10 classes), batch 64, synthetic images; dense and sparse runs are
interleaved in one process so machine noise hits both alike. Prints a table; `--quick` is a smoke run.
"""
import argparse, statistics, time
import torch
from torch import nn
import torchvision
from fastai.learner import Learner
from fastai.callback.progress import ProgressCallback  # adds Learner.no_bar
from fastai.data.core import DataLoaders
from fastai.data.load import DataLoader
from sparsify.callback import SparsifyCallback
from sparsify.schedules import schedules


class TimedSparsify(SparsifyCallback):
    "SparsifyCallback that adds up the wall time spent in its own events (mask updates and re-application)"
    def __init__(self, *args, **kwargs): super().__init__(*args, **kwargs); self.spent = 0.0
    def _timed(self, event):
        t0 = time.perf_counter(); getattr(super(), event)(); self.spent += time.perf_counter() - t0
    def before_fit(self): self._timed('before_fit')
    def before_batch(self): self._timed('before_batch')
    def after_step(self): self._timed('after_step')
    def after_fit(self): self._timed('after_fit')


def make_learner(n_batches, bs, size, seed=0):
    torch.manual_seed(seed)
    x = torch.randn(n_batches * bs, 3, size, size)
    y = torch.randint(0, 10, (n_batches * bs,))
    dls = DataLoaders(DataLoader(list(zip(x, y)), bs=bs, shuffle=True, drop_last=True),
                      DataLoader(list(zip(x[:bs], y[:bs])), bs=bs))
    return Learner(dls, torchvision.models.resnet18(num_classes=10), loss_func=nn.CrossEntropyLoss())


def timed_fit(cb, args):
    learn = make_learner(args.batches, args.bs, args.size)
    with learn.no_bar(), learn.no_logging():
        t0 = time.perf_counter()
        learn.fit(args.epochs, 1e-3, cbs=[cb] if cb else [])
        return (time.perf_counter() - t0) / args.epochs, cb


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--batches', type=int, default=20, help='batches per epoch')
    p.add_argument('--epochs', type=int, default=2)
    p.add_argument('--bs', type=int, default=64)
    p.add_argument('--size', type=int, default=64, help='image size')
    p.add_argument('--reps', type=int, default=3)
    p.add_argument('--quick', action='store_true')
    args = p.parse_args()
    if args.quick: args.batches, args.epochs, args.bs, args.size, args.reps = 3, 1, 8, 32, 1
    configs = {'dense': None} | {name: s for name, s in schedules.items()}
    times = {k: [] for k in configs}
    updates, inside = {}, {}
    for rep in range(args.reps):
        order = list(configs) if rep % 2 == 0 else list(reversed(configs))
        for name in order:
            cb = None if configs[name] is None else TimedSparsify(0.9, 'weight', 'global', schedule=configs[name], verbose=False)
            t, cb = timed_fit(cb, args)
            times[name].append(t)
            if cb: updates[name] = len(cb.history); inside.setdefault(name, []).append(cb.spent / args.epochs)
    dense = statistics.median(times['dense'])
    print(f"resnet18, batch {args.bs}, {args.size}x{args.size} images, {args.batches} batches x {args.epochs} epochs, "
          f"{torch.get_num_threads()} threads, median of {args.reps} interleaved runs; 90% global weight sparsity")
    print("ratio = median epoch with the callback / median dense epoch (wall clock, noisy); in-callback = time spent inside\n"
          "the callback's events per epoch (mask updates + re-applying masks) / median dense epoch: its own cost, free of noise")
    print(f"{'schedule':<10} {'s/epoch':>9} {'ratio':>7} {'in-callback':>12} {'mask updates':>13}")
    print(f"{'dense':<10} {dense:>9.3f} {1:>7.3f} {'-':>12} {'-':>13}")
    for name in schedules:
        t, own = statistics.median(times[name]), statistics.median(inside[name])
        print(f"{name:<10} {t:>9.3f} {t / dense:>7.3f} {1 + own / dense:>12.4f} {updates[name]:>13}")


if __name__ == '__main__': main()
