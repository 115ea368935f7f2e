"""Structural pruning: the cost of a pruning step, and measured CPU latency speed-up ÷ MACs speed-up at 2× fewer MACs.

1. Cost on torchvision resnet50 (random init): building the dependency graph, counting MACs (at two input sizes),
   scoring every group, planning and executing one local step of 1% of the channels. Median of --reps runs.
2. torchvision resnet18 (random init) pruned to 2× fewer MACs (local, and global with max_fraction=0.75), then dense and
   pruned timed interleaved (`sparsify.measure.measure_latency`: warm-up, median CPU time and wall time) at batch 1 and
   32 with --threads threads. ratio = latency speed-up ÷ MACs speed-up (1 means the MACs saved are all turned into time).
Run with OMP_NUM_THREADS=1 for single-thread figures. `--quick` is a smoke run (tiny sizes), not a measurement.
"""
import argparse, statistics, time
import torch
import torchvision
from sparsify.measure import count_macs, measure_latency
from sparsify.structural import StructuralPruner, build_graph


def timed(fn, reps):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def step_cost(arch, size, small, reps):
    x, xs = torch.randn(1, 3, size, size), torch.randn(1, 3, small, small)
    m = arch()
    rows = [('build dependency graph', timed(lambda: build_graph(m, x), reps)),
            (f'count MACs at {size}x{size}', timed(lambda: count_macs(m, x), reps)),
            (f'count MACs at {small}x{small}', timed(lambda: count_macs(m, xs), reps))]
    p = StructuralPruner(m, x)
    rows.append(('score every group (large_final)', timed(lambda: p.scores(), reps)))
    rows.append(('plan a 1% local step', timed(lambda: p.plan(0.01), reps)))
    def one_step():
        q = StructuralPruner(arch(), xs)
        todo = q.plan(0.01)
        t0 = time.perf_counter()
        for n, idxs in todo.items(): q.remove(n, idxs)
        return time.perf_counter() - t0
    rows.append(('remove the planned channels (all groups)', statistics.median(one_step() for _ in range(reps))))
    return rows, len(p.roots)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--size', type=int, default=224, help='image size')
    ap.add_argument('--reps', type=int, default=7, help='timed runs per model and batch size (interleaved)')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 32])
    ap.add_argument('--quick', action='store_true')
    args = ap.parse_args()
    cost_arch, small = torchvision.models.resnet50, 64
    if args.quick: args.size, args.reps, args.batch_sizes, cost_arch, small = 32, 1, [1, 2], torchvision.models.resnet18, 16
    torch.manual_seed(0)

    rows, n_groups = step_cost(cost_arch, args.size, small, args.reps)
    name = cost_arch.__name__
    print(f"1. cost of a pruning step: {name} ({n_groups} prunable groups), {torch.get_num_threads()} threads, median of {args.reps}")
    print(f"{'operation':<42} {'seconds':>8}")
    for op, s in rows: print(f"{op:<42} {s:>8.3f}")

    print(f"\n2. resnet18 at 2x fewer MACs, {args.size}x{args.size} images, {args.threads} thread(s), "
          f"median of {args.reps} interleaved runs after warm-up (CPU time; wall in brackets)")
    print(f"{'context':<8} {'batch':>5} {'MACs x':>7} {'dense ms':>18} {'pruned ms':>18} {'latency x':>10} {'ratio':>6}")
    x = torch.randn(1, 3, args.size, args.size)
    for context, kw in (('local', {}), ('global', dict(max_fraction=0.75))):
        dense, pruned = torchvision.models.resnet18(), torchvision.models.resnet18()
        pruned.load_state_dict(dense.state_dict())
        p = StructuralPruner(pruned, x)
        macs_x = p.prune_to(2.0, context=context, **kw)
        for bs in args.batch_sizes:
            lat = measure_latency({'dense': dense, 'pruned': pruned}, x, bs, args.threads, args.reps).set_index('model')
            lat_x = lat.cpu_ms['dense'] / lat.cpu_ms['pruned']
            d, q = (f"{lat.cpu_ms[k]:.1f} ({lat.wall_ms[k]:.1f})" for k in ('dense', 'pruned'))
            print(f"{context:<8} {bs:>5} {macs_x:>7.2f} {d:>18} {q:>18} {lat_x:>10.2f} {lat_x / macs_x:>6.2f}")


if __name__ == '__main__': main()
