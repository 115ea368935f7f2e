"""Extra memory held per masked weight, measured on the tensors a Sparsifier actually holds.

Walks the Sparsifier's attributes for tensors, counts each storage once, leaves out the model's own
parameters, and divides by the number of weights under masks. torchvision resnet18 at 50% sparsity, for
several granularities and criteria. Prints a table; `--quick` is a smoke run.
"""
import argparse
import torch
from torch import nn
import torchvision
from sparsify.sparsifier import Sparsifier


def held_tensors(obj, seen=None, out=None):
    "Every tensor reachable from `obj` through attributes, dicts, lists and tuples (modules are not entered)"
    seen, out = (set(), []) if seen is None else (seen, out)
    if id(obj) in seen or isinstance(obj, nn.Module): return out
    seen.add(id(obj))
    if isinstance(obj, torch.Tensor): out.append(obj)
    elif isinstance(obj, dict):
        for v in obj.values(): held_tensors(v, seen, out)
    elif isinstance(obj, (list, tuple, set)):
        for v in obj: held_tensors(v, seen, out)
    elif hasattr(obj, '__dict__'): held_tensors(vars(obj), seen, out)
    return out


def extra_bytes(sp, model):
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    storages = {}
    for t in held_tensors(sp):
        s = t.untyped_storage()
        if s.data_ptr() not in params: storages[s.data_ptr()] = s.nbytes()
    return sum(storages.values())


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--quick', action='store_true')
    args = p.parse_args()
    cases = [('weight', 'large_final'), ('filter', 'large_final'), ('kernel', 'large_final'), ('channel', 'large_final'),
             ('2:4', 'large_final'), ('block:4x4', 'large_final'), ('weight', 'movement'), ('weight', 'random')]
    if args.quick: cases = cases[:2]
    print("torchvision resnet18, 50% sparsity; bytes the Sparsifier holds beyond the model, per weight under a mask")
    print(f"{'granularity':<12} {'criteria':<12} {'masked weights':>15} {'extra bytes':>12} {'bytes/weight':>13}")
    for g, c in cases:
        torch.manual_seed(0)
        model = torchvision.models.resnet18(num_classes=10)
        # the first conv has 3 input channels (not a multiple of 4) and a 64x147 matrix; fc has 10 rows
        kw = {'2:4': dict(exclude='conv1'), 'block:4x4': dict(exclude=['conv1', 'fc'])}.get(g, {})
        sp = Sparsifier(model, g, 'local', c, **kw).sparsify(0.5)
        n = sum(m.weight.numel() for m in sp.layers.values())
        b = extra_bytes(sp, model)
        print(f"{g:<12} {c:<12} {n:>15,} {b:>12,} {b / n:>13.3f}")


if __name__ == '__main__': main()
