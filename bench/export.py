"""Exported sparse models on this CPU: latency of CSR sparse layers vs the dense model with zeros, and size on disk.

An MLP (784-1024-1024-10) and `small_cnn()` (conv-BN-ReLU 32-64-128 on 28×28, global pooling, linear head), random
weights, masked by `Sparsifier` (magnitude, every layer at the same sparsity: 'weight' granularity at 50%, 90%, 95%,
and 2:4). `to_sparse_layers(min_sparsity=0)` turns every Linear/Conv2d into its CSR version (a 1-input-channel conv
or a 2:4-incompatible layer stays dense where the mask skipped it). Dense-with-zeros and sparse models are timed
interleaved (`sparsify.measure.measure_latency`, --threads threads, median CPU time of --reps runs after warm-up),
--rounds times: speed-up = dense ms ÷ sparse ms, median [min–max] over the rounds. Sizes: `torch.save(state_dict)` of the
dense model, of the CSR model, and `save_packed` (nonzeros + bitmask). `--quick` is a smoke run.
"""
import argparse, io, statistics, warnings
import torch
from torch import nn
from sparsify.data import small_cnn
from sparsify.export import packed_size, to_sparse_layers
from sparsify.measure import measure_latency, size_on_disk
from sparsify.sparsifier import Sparsifier


def mlp(): return nn.Sequential(nn.Flatten(), nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--reps', type=int, default=20)
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 32])
    ap.add_argument('--quick', action='store_true')
    args = ap.parse_args()
    warnings.filterwarnings('ignore')
    if args.quick: args.reps, args.rounds, args.batch_sizes = 2, 1, [1, 2]
    x = torch.randn(1, 1, 28, 28)
    print(f"Exported sparse layers (CSR, MKL) vs dense with zeros, {args.threads} thread(s), CPU time, median of {args.reps} "
          f"interleaved runs, {args.rounds} rounds: speed-up median [min–max]; sizes in kB")
    print(f"{'model':<10} {'sparsity':>8} {'batch':>5} {'dense ms':>9} {'CSR ms':>9} {'speed-up':>8} {'[min–max]':>11} "
          f"{'dense kB':>9} {'CSR kB':>8} {'packed kB':>9}")
    for name, arch in (('mlp', mlp), ('small_cnn', small_cnn)):
        for spec in ('weight:0.5', 'weight:0.9', 'weight:0.95', '2:4'):
            torch.manual_seed(0)
            dense = arch().eval()
            g, s = spec.split(':') if spec.startswith('weight') else (spec, '0.5')
            kw = dict(exclude=['0']) if g == '2:4' and name == 'small_cnn' else {}   # 1 input channel: no 2:4 along it
            Sparsifier(dense, g, **kw).sparsify(float(s))
            sparse = to_sparse_layers(dense, min_sparsity=0.0)
            with torch.no_grad():
                xb = torch.randn(4, 1, 28, 28)
                err = (sparse(xb) - dense(xb)).abs().max().item()
            assert err < 1e-3, err
            buf = io.BytesIO(); torch.save(sparse.state_dict(), buf)
            sizes = [size_on_disk(dense) / 1e3, buf.getbuffer().nbytes / 1e3, packed_size(dense) / 1e3]
            for bs in args.batch_sizes:
                runs = [measure_latency({'dense': dense, 'csr': sparse}, x, bs, args.threads, args.reps).set_index('model').cpu_ms
                        for _ in range(args.rounds)]
                sp = sorted(r['dense'] / r['csr'] for r in runs)
                d, c = (statistics.median(r[k] for r in runs) for k in ('dense', 'csr'))
                print(f"{name:<10} {spec.replace('weight:', ''):>8} {bs:>5} {d:>9.3f} {c:>9.3f} {statistics.median(sp):>8.2f} "
                      f"{f'[{sp[0]:.2f}–{sp[-1]:.2f}]':>11} {sizes[0]:>9.1f} {sizes[1]:>8.1f} {sizes[2]:>9.1f}", flush=True)


if __name__ == '__main__': main()
