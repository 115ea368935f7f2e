"""Run by tests/test_ddp.py under `torchrun --nproc_per_node 2`: sparsify's callbacks trained through fastai's own
`DistributedTrainer` (`learn.distrib_ctx()`, entered by `sparsify.distributed.distrib_cpu_ctx` on CPU processes, gloo).

    torchrun --nproc_per_node 2 tests/ddp_worker.py OUT_DIR    # each rank writes OUT_DIR/rank{N}.json
    python tests/ddp_worker.py OUT_DIR                         # one process (no launcher): the same cases, for timing

Every case trains a fresh small CNN for two epochs on the same generated data, with a different initialisation on
every rank (the wrapper must make them equal), and records digests of what the rank ends with and what it printed.
"""
import contextlib, hashlib, io, json, sys, time
import torch
from torch import nn
from fastai.callback.core import Callback
from fastai.callback.progress import ProgressCallback  # adds Learner.no_bar
from fastai.learner import Learner
from fastai.torch_core import rank_distrib
from sparsify.callback import SparsifyCallback
from sparsify.data import small_cnn, tensor_dls
from sparsify.distributed import distrib_cpu_ctx
from sparsify.regularize import RegularizeCallback
from sparsify.prune import PruneCallback

# (criteria, context) of the SparsifyCallback cases: each pair is one case, checked by tests/test_ddp.py for
# rank-identical masks and weights and a single report. taylor, fisher and wanda read training-time statistics.
CRITERIA = [('large_final', 'global'), ('random', 'local'), ('movement', 'global'), ('taylor', 'global'), ('fisher', 'local'),
            ('wanda', 'global')]

CASES = {
    **{f'sparsify-{c}-{x}': lambda c=c, x=x: SparsifyCallback(0.7, 'weight', x, c, 'cos', update_every=2) for c, x in CRITERIA},
    'regularize-group': lambda: RegularizeCallback('group', 1e-3, warmup=0.0),
    'regularize-growing': lambda: RegularizeCallback('growing', 1e-2, delta=1e-3, update_every=2, sparsity=0.5, criteria='movement', warmup=0.0),
    'prune': lambda: PruneCallback(1.5, steps=1, start=0.5, end=0.5),   # one structural prune at the start of the second epoch
}


class EpochTimer(Callback):
    "Wall seconds of every epoch (training and validation), without the set-up of the fit"
    order = 100
    def before_fit(self): self.times = []
    def before_epoch(self): self.t0 = time.perf_counter()
    def after_epoch(self): self.times.append(time.perf_counter() - self.t0)


def digest(tensors) -> str: return hashlib.sha256(b''.join(t.detach().contiguous().numpy().tobytes() for t in tensors)).hexdigest()


def run(make_cb, epochs: int = 2) -> dict:
    torch.manual_seed(0)                                    # the same data on every rank
    x = torch.randn(256, 1, 8, 8); y = (x.mean((1, 2, 3)) > 0).long()
    dls = tensor_dls(x, y, bs=16, valid_pct=0.25)
    torch.manual_seed(100 + rank_distrib())                 # a different initialisation on every rank
    model = small_cnn(widths=(8, 16))
    shapes0 = [list(p.shape) for p in model.parameters()]
    cb, timer = make_cb(), EpochTimer()
    learn = Learner(dls, model, loss_func=nn.CrossEntropyLoss(), cbs=timer)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), learn.no_bar(), learn.no_logging(), distrib_cpu_ctx(learn):
        learn.fit(epochs, 1e-2, cbs=cb)
    sd = learn.model.state_dict()
    res = dict(params=digest([p for p in learn.model.parameters()]), state={k: digest([v]) for k, v in sd.items()},
               printed=printed.getvalue(), epoch_s=timer.times, model_type=type(learn.model).__name__,
               shapes=[list(p.shape) for p in learn.model.parameters()], shapes0=shapes0,
               opt_is_model={id(q) for pl in learn.opt.param_lists for q in pl} == {id(q) for q in learn.model.parameters()})
    if isinstance(cb, SparsifyCallback):
        sp = cb.sparsifier
        res.update(masks=digest([sp.masks[n] for n in sorted(sp.masks)]), achieved=sp.achieved(), report=cb.report.to_string())
    if isinstance(cb, RegularizeCallback): res.update(strengths=[lam for _, lam in cb.history])
    if isinstance(cb, PruneCallback): res.update(prunes=cb.done)
    return res


def main(out: str):
    res = {name: run(make) for name, make in CASES.items()}
    with open(f'{out}/rank{rank_distrib()}.json', 'w') as f: json.dump(res, f, indent=1)


if __name__ == '__main__': main(sys.argv[1])
