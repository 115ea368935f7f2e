"""The cost of structural pruning: CPU seconds to build a `StructuralPruner` (trace, units, every group tried on a copy) and of one
`prune_to(2.0)` (2x fewer MACs), per model, with random weights and one example input.

    python bench/prune_cost.py            # resnet50, vgg11_bn, DeiT-tiny (timm), 224x224, 1 thread
    python bench/prune_cost.py --quick    # resnet18 at 64x64: a smoke run
"""
import argparse, time
import torch, torchvision, timm
from sparsify.structural import StructuralPruner

ap = argparse.ArgumentParser(); ap.add_argument('--quick', action='store_true'); ap.add_argument('--threads', type=int, default=1)
args = ap.parse_args()
torch.set_num_threads(args.threads)
MODELS = {'resnet50': lambda: torchvision.models.resnet50(), 'vgg11_bn': lambda: torchvision.models.vgg11_bn(),
          'deit_tiny (timm)': lambda: timm.create_model('deit_tiny_patch16_224', pretrained=False)}
if args.quick: MODELS = {'resnet18': lambda: torchvision.models.resnet18()}
size = 64 if args.quick else 224

def cpu(fn):
    t0, w0 = time.process_time(), time.perf_counter()
    r = fn()
    return r, time.process_time() - t0, time.perf_counter() - w0

print(f"structural pruning cost, {args.threads} thread(s), input 1x3x{size}x{size}, CPU seconds (wall in brackets)\n")
print(f"{'model':18} {'params':>8} {'build':>14} {'prune_to(2.0)':>16} {'reached':>8}")
for name, make in MODELS.items():
    torch.manual_seed(0); m = make().eval(); x = torch.randn(1, 3, size, size)
    p, c1, w1 = cpu(lambda: StructuralPruner(m, x))
    s, c2, w2 = cpu(lambda: p.prune_to(2.0))
    print(f"{name:18} {sum(q.numel() for q in make().parameters()) / 1e6:7.1f}M {c1:8.1f} ({w1:4.1f}) {c2:10.1f} ({w2:4.1f}) {s:7.2f}x", flush=True)
