"Run by tests/test_ddp.py under torchrun: train with SparsifyCallback inside DistributedDataParallel on CPU (gloo)."
import hashlib, json, os, sys
import torch
import torch.distributed as dist
from torch import nn
from fastai.callback.core import Callback
from fastai.learner import Learner
from fastai.data.core import DataLoaders
from fastai.data.load import DataLoader
from sparsify.callback import SparsifyCallback


class DDPWrap(Callback):
    "Wrap the model in DistributedDataParallel for the fit (order 11, like fastai's DistributedTrainer)"
    order = 11
    def before_fit(self): self.learn.model = nn.parallel.DistributedDataParallel(self.learn.model)
    def after_fit(self): self.learn.model = self.learn.model.module


def main(out, criteria, context):
    dist.init_process_group('gloo')
    rank = dist.get_rank()
    torch.manual_seed(100 + rank)                      # different data and different init on every rank
    x = torch.randn(128, 1, 8, 8); y = (x.mean((1, 2, 3)) > 0).long()
    dls = DataLoaders(DataLoader(list(zip(x, y)), bs=16, shuffle=True), DataLoader(list(zip(x[:32], y[:32])), bs=16))
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))
    learn = Learner(dls, model, loss_func=nn.CrossEntropyLoss(), cbs=DDPWrap())
    cb = SparsifyCallback(0.7, 'weight', context, criteria, 'cos', update_every=2, verbose=False)
    with learn.no_bar(), learn.no_logging(): learn.fit(2, 1e-2, cbs=cb)
    h = hashlib.sha256()
    for n in sorted(cb.sparsifier.masks): h.update(cb.sparsifier.masks[n].numpy().tobytes())
    w = hashlib.sha256(b''.join(p.detach().numpy().tobytes() for p in model.parameters())).hexdigest()
    json.dump(dict(masks=h.hexdigest(), weights=w, achieved=cb.sparsifier.achieved()), open(f'{out}/rank{rank}.json', 'w'))
    dist.destroy_process_group()


if __name__ == '__main__':
    from fastai.callback.progress import ProgressCallback  # adds Learner.no_bar
    main(*sys.argv[1:])
