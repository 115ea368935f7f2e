"""Structural pruning: the cost of a pruning step, and measured CPU latency speed-up ÷ MACs speed-up at 2× fewer MACs.

1. Cost on torchvision resnet50 (random init): building the dependency graph, counting MACs (at two input sizes),
   scoring every group, planning and executing one local step of 1% of the channels. Median of --reps runs.
2. torchvision resnet18 and resnet50 (random init) pruned to 2× fewer MACs: local, and global with max_layer_sparsity=0.75,
   each with round_to None / 8 / 16; then dense and pruned timed interleaved (`sparsify.measure.measure_latency`: warm-up,
   median CPU time) at batch 1 and 32 with --threads threads, both in the default (NCHW, contiguous) memory format and
   channels-last. --rounds separate measurements; the table gives the median ratio and its min–max over the rounds.
   ratio = latency speed-up ÷ MACs speed-up (1 means the MACs saved are all turned into time).
3. Where the time goes: torch.profiler self CPU time per aten op, dense vs pruned resnet18 (local), batch 1.
Run with OMP_NUM_THREADS=1 for single-thread figures. `--quick` is a smoke run (tiny sizes), not a measurement.
"""
import argparse, statistics, time, warnings
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


def pruned_pair(arch, x, context, round_to):
    dense, pruned = arch(), arch()
    pruned.load_state_dict(dense.state_dict())
    p = StructuralPruner(pruned, x)
    macs_x = p.prune_to(2.0, context=context, round_to=round_to, **({} if context == 'local' else dict(max_layer_sparsity=0.75)))
    return dense.eval(), pruned.eval(), macs_x


def latency_table(args):
    x = torch.randn(1, 3, args.size, args.size)
    print(f"\n2. latency speed-up ÷ MACs speed-up at 2x fewer MACs, {args.size}x{args.size} images, {args.threads} thread(s), "
          f"CPU time, median of {args.reps} interleaved runs after warm-up; {args.rounds} rounds: ratio median [min–max]")
    print(f"{'arch':<9} {'context':<7} {'round_to':>8} {'format':<13} {'batch':>5} {'MACs x':>7} {'dense ms':>9} {'pruned ms':>9} "
          f"{'latency x':>9} {'ratio':>5} {'[min–max]':>11}")
    for name in args.archs:
        arch = getattr(torchvision.models, name)
        for context in args.contexts:
            for rt in args.round_to:
                torch.manual_seed(0)
                dense, pruned, macs_x = pruned_pair(arch, x, context, rt or None)
                for cl in args.formats:
                    for bs in args.batch_sizes:
                        runs = [measure_latency({'dense': dense, 'pruned': pruned}, x, bs, args.threads, args.reps,
                                                channels_last=cl == 'channels_last').set_index('model').cpu_ms for _ in range(args.rounds)]
                        ratios = sorted(r['dense'] / r['pruned'] / macs_x for r in runs)
                        d, q = (statistics.median(r[k] for r in runs) for k in ('dense', 'pruned'))
                        print(f"{name:<9} {context:<7} {str(rt or None):>8} {cl:<13} {bs:>5} {macs_x:>7.2f} {d:>9.1f} {q:>9.1f} "
                              f"{d / q:>9.2f} {statistics.median(ratios):>5.2f} {f'[{ratios[0]:.2f}–{ratios[-1]:.2f}]':>11}", flush=True)


def op_profile(args):
    from torch.profiler import profile, ProfilerActivity
    x = torch.randn(1, 3, args.size, args.size)
    torch.manual_seed(0)
    dense, pruned, macs_x = pruned_pair(torchvision.models.resnet18, x, 'local', None)
    print(f"\n3. where the time goes: resnet18 local ({macs_x:.2f}x fewer MACs), batch 1, self CPU ms per forward "
          f"(torch.profiler, {args.threads} thread(s), median of {args.rounds} profiles of 3 passes)")
    torch.set_num_threads(args.threads)
    res = {}
    for fmt in args.formats:
        cl = fmt == 'channels_last'
        xx = x.contiguous(memory_format=torch.channels_last) if cl else x
        ms = {k: (m.to(memory_format=torch.channels_last) if cl else m) for k, m in (('dense', dense), ('pruned', pruned))}
        with torch.no_grad():
            for _ in range(args.rounds):
                for k, m in ms.items():
                    for _ in range(2): m(xx)
                    with profile(activities=[ProfilerActivity.CPU]) as pf:
                        for _ in range(3): m(xx)
                    for e in pf.key_averages(): res.setdefault((fmt, e.key, k), []).append(e.self_cpu_time_total / 3000)
        for k, m in ms.items(): m.to(memory_format=torch.contiguous_format)
    med = {k: statistics.median(v) for k, v in res.items()}
    print(f"{'format':<13} {'aten op':<32} {'dense ms':>9} {'pruned ms':>9} {'x':>6}")
    for fmt in args.formats:
        ops = sorted({o for f, o, _ in med if f == fmt}, key=lambda o: -max(med.get((fmt, o, 'dense'), 0), med.get((fmt, o, 'pruned'), 0)))
        tot = [sum(v for (f, o, kk), v in med.items() if f == fmt and kk == k) for k in ('dense', 'pruned')]
        for o in ops[:6]:
            d, q = med.get((fmt, o, 'dense'), 0), med.get((fmt, o, 'pruned'), 0)
            print(f"{fmt:<13} {o:<32} {d:>9.2f} {q:>9.2f} {(f'{d / q:.2f}' if q else '-'):>6}")
        print(f"{fmt:<13} {'all ops':<32} {tot[0]:>9.2f} {tot[1]:>9.2f} {tot[0] / tot[1]:>6.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--size', type=int, default=224, help='image size')
    ap.add_argument('--reps', type=int, default=7, help='timed runs per model and batch size (interleaved)')
    ap.add_argument('--rounds', type=int, default=3, help='separate latency measurements per configuration')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 32])
    ap.add_argument('--archs', nargs='+', default=['resnet18', 'resnet50'])
    ap.add_argument('--contexts', nargs='+', default=['local', 'global'])
    ap.add_argument('--round-to', type=int, nargs='+', default=[0, 8, 16], help='0 means None')
    ap.add_argument('--formats', nargs='+', default=['contiguous', 'channels_last'])
    ap.add_argument('--sections', type=int, nargs='+', default=[1, 2, 3])
    ap.add_argument('--quick', action='store_true')
    args = ap.parse_args()
    warnings.filterwarnings('ignore', module='torch_pruning')
    cost_arch, small = torchvision.models.resnet50, 64
    if args.quick:
        args.size, args.reps, args.rounds, args.batch_sizes, cost_arch, small = 32, 1, 1, [1, 2], torchvision.models.resnet18, 16
        args.archs, args.round_to = ['resnet18'], [0, 8]
    torch.manual_seed(0)

    if 1 in args.sections:
        rows, n_groups = step_cost(cost_arch, args.size, small, args.reps)
        print(f"1. cost of a pruning step: {cost_arch.__name__} ({n_groups} prunable groups), {torch.get_num_threads()} threads, median of {args.reps}")
        print(f"{'operation':<42} {'seconds':>8}")
        for op, s in rows: print(f"{op:<42} {s:>8.3f}")
    if 2 in args.sections: latency_table(args)
    if 3 in args.sections: op_profile(args)


if __name__ == '__main__': main()
