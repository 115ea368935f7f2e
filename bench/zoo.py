"""The model zoo: every family users prune, each technique of the library, counted from the models themselves.

For each model (random weights, synthetic batches, CPU-friendly input sizes, no downloads) and each column, a fresh copy:
- coverage: the share of the model's weights (entries of its ≥2-d parameters, each tensor once) the default layer set
  covers, and what is left out;
- weight global / filter (row for a model without convolutions) local / 2:4: `SparsifyCallback` in a short fastai fit, then a second fit; the zeros are counted
  in the weights over the covered layers (exact target: `round_half_down(s × weights)` for `weight`; whole filters for
  `filter`; every group of 4 inputs with exactly 2 zeros for 2:4, layers whose input dim is not a multiple of 4 left
  out and counted), and over all of the model's weights;
- dependency groups: `SparsifyCallback(granularity=DependencyGroups())` to 30% of the channels, then `remove_zeroed`:
  the largest |masked − removed| output difference and the MACs falling;
- PruneCallback: a fastai fit with `PruneCallback` to 2× fewer MACs, then one more training step on the pruned model.
A cell reads `ok …`, `refused: …` (a ValueError raised before training, naming what cannot be done) or `CRASH: …`
(anything else: a defect). The total time per model is printed.

    python bench/zoo.py                  # every model (about 10 min on 2 cores)
    python bench/zoo.py --models gpt2 vit_b_16
    python bench/zoo.py --quick          # a smoke run: two tiny models
"""
import argparse, copy, math, time, warnings
import torch
from torch import nn

ap = argparse.ArgumentParser()
ap.add_argument('--models', nargs='*', help='model names (default: all)')
ap.add_argument('--columns', nargs='*', help='columns (default: all)')
ap.add_argument('--threads', type=int, default=2)
ap.add_argument('--quick', action='store_true')
args = ap.parse_args()
torch.set_num_threads(args.threads)
warnings.simplefilter('ignore')

from fastai.learner import Learner
from fastai.data.core import DataLoaders
from fastai.data.load import DataLoader
from fastai.callback.core import Callback
from sparsify.callback import SparsifyCallback
from sparsify.schedules import lin
from sparsify.sparsifier import Sparsifier, round_half_down
from sparsify.groups import DependencyGroups, remove_zeroed
from sparsify.structural import build_graph
from sparsify.prune import PruneCallback
from sparsify.measure import count_macs
from sparsify.weights import uncovered_share, layer_dims


def tv(name, size=64, **kw):
    def make():
        import torchvision
        return getattr(torchvision.models, name)(weights=None, num_classes=10, **kw)
    return make, lambda: torch.randn(2, 3, size, size)

def timm_model(name, size=64):
    def make():
        import timm
        return timm.create_model(name, pretrained=False, num_classes=10, **({'img_size': size} if 'vit' in name or 'deit' in name else {}))
    return make, lambda: torch.randn(2, 3, size, size)

def bert():
    from transformers import BertConfig, BertForSequenceClassification
    return BertForSequenceClassification(BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                                    intermediate_size=64, max_position_embeddings=32, num_labels=3))

def gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel
    return GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=100, n_positions=32, bos_token_id=0, eos_token_id=0))

def encoder():
    return nn.Sequential(nn.TransformerEncoder(nn.TransformerEncoderLayer(32, 4, 64, batch_first=True), 2), nn.Flatten(), nn.Linear(32 * 8, 3))

def awd_lstm():
    from fastai.text.models.core import get_text_classifier
    from fastai.text.models.awdlstm import AWD_LSTM, awd_lstm_clas_config
    return get_text_classifier(AWD_LSTM, 100, 3, config=dict(awd_lstm_clas_config, emb_sz=16, n_hid=24, n_layers=2))

def fastai_resnet():
    from fastai.vision.learner import create_vision_model
    from torchvision.models import resnet18
    return create_vision_model(resnet18, 10, pretrained=False)

tokens = lambda: torch.randint(0, 100, (2, 8))
MODELS = {
    'resnet18': tv('resnet18'), 'resnet50': tv('resnet50'), 'mobilenet_v2': tv('mobilenet_v2'), 'mobilenet_v3_small': tv('mobilenet_v3_small'),
    'efficientnet_b0': tv('efficientnet_b0'), 'densenet121': tv('densenet121'), 'squeezenet1_0': tv('squeezenet1_0'),
    'regnet_y_400mf': tv('regnet_y_400mf'), 'resnext50_32x4d': tv('resnext50_32x4d'), 'vgg11_bn': tv('vgg11_bn'),
    'shufflenet_v2_x0_5': tv('shufflenet_v2_x0_5'), 'convnext_tiny': tv('convnext_tiny'), 'swin_t': tv('swin_t'),
    'vit_b_16': tv('vit_b_16', 224),
    'timm_resnet18': timm_model('resnet18'), 'timm_efficientnet_b0': timm_model('efficientnet_b0'),
    'vit_tiny': timm_model('vit_tiny_patch16_224'), 'deit_tiny': timm_model('deit_tiny_patch16_224'),
    'convnext_atto': timm_model('convnext_atto'), 'mobilevitv2_050': timm_model('mobilevitv2_050'),
    'bert': (bert, tokens), 'gpt2': (gpt2, tokens), 'transformer_encoder': (encoder, lambda: torch.randn(2, 8, 32)),
    'awd_lstm': (awd_lstm, tokens), 'fastai_resnet18': (fastai_resnet, lambda: torch.randn(2, 3, 64, 64)),
}
QUICK = ['transformer_encoder', 'gpt2']
COLUMNS = ['coverage', 'weight global', 'filter/row local', '2:4', 'dependency groups', 'PruneCallback']


def out_tensor(y):
    "The tensor a model returns (Hugging Face models return an output object)"
    if isinstance(y, torch.Tensor): return y
    if hasattr(y, 'logits'): return y.logits
    return y[0]

def loss_func(pred, *_): return out_tensor(pred).float().pow(2).mean()

def learner(model, x):
    "A Learner on 3 synthetic batches of `x`'s kind (the loss is the mean square of the output: the weights move, nothing is learned)"
    xs = [(x() if callable(x) else x, torch.zeros(1)) for _ in range(3)]
    dl = DataLoader(xs, bs=None)
    return Learner(DataLoaders(dl, DataLoader(xs[:1], bs=None)), model, loss_func=loss_func, lr=1e-3)

def matrices(model): return [p for p in model.parameters() if p.ndim >= 2]
def zeros_over(ws): return sum(int((w == 0).sum()) for w in ws), sum(w.numel() for w in ws)
def pct(a, b): return f'{100 * a / max(b, 1):.1f}%'

def fit_twice(model, x, cb):
    learn = learner(model, x)
    with learn.no_bar(), learn.no_logging(): learn.fit(1, cbs=cb)
    first = zeros_over(matrices(model))[0]
    with learn.no_bar(), learn.no_logging(): learn.fit(1, cbs=cb)
    assert zeros_over(matrices(model))[0] >= first, 'a second fit lost zeros'
    return learn


def coverage_cell(make, x):
    sp = Sparsifier(make())
    cov = sp.coverage()
    left = sorted(cov['left_out'].items(), key=lambda kv: -kv[1][0])
    what = '; '.join(f"{kv[0].split(':')[0].split(' (')[0]} {pct(kv[1][0], cov['total'])}" for kv in left[:2])
    return f"ok {pct(cov['covered'], cov['total'])}" + (f" (left out: {what})" if what else ''), uncovered_share(cov)

def weight_cell(make, x):
    model = make()
    cb = SparsifyCallback(0.5, 'weight', 'global', verbose=False)
    fit_twice(model, x, cb)
    ws = [l.weight for l in cb.sparsifier.layers.values()]
    z, n = zeros_over(ws)
    assert z == round_half_down(0.5 * n), f'{z} zeros of {n}, not {round_half_down(0.5 * n)}'
    za, na = zeros_over(matrices(model))
    return f"ok {pct(z, n)} (model {pct(za, na)})"

def filter_cell(make, x):
    "Whole filters of the convolutions; for a model without any, whole rows (output units) of its weight matrices"
    model = make()
    g = 'filter' if any(isinstance(m, nn.modules.conv._ConvNd) for m in model.modules()) else 'row'
    cb = SparsifyCallback(0.5, g, 'local', verbose=False)
    fit_twice(model, x, cb)
    for name, l in cb.sparsifier.layers.items():
        w, o = l.weight, layer_dims(l)[0]
        dead = int((w.movedim(o, 0).flatten(1) == 0).all(1).sum())
        assert dead == round_half_down(0.5 * w.shape[o]), f'{name}: {dead} of {w.shape[o]} filters'
    z, n = zeros_over([l.weight for l in cb.sparsifier.layers.values()])
    za, na = zeros_over(matrices(model))
    return f"ok {g}: {len(cb.sparsifier.layers)} layers {pct(z, n)} (model {pct(za, na)})"

def nm_cell(make, x):
    from sparsify.granularity import get_granularity
    from sparsify.sparsifier import scan_layers
    model, g = make(), get_granularity('2:4')
    layers, _ = scan_layers(model, g, check_fit=False)
    unfit = [n for n, l in layers.items() if l.weight.shape[layer_dims(l)[1]] % 4]
    if len(unfit) == len(layers): raise ValueError(f'no layer has a multiple of 4 inputs')
    cb = SparsifyCallback(granularity='2:4', exclude=unfit or None, verbose=False)
    fit_twice(model, x, cb)
    for name, l in cb.sparsifier.layers.items():
        w = l.weight.movedim(layer_dims(l)[1], -1).reshape(-1, 4)
        assert bool(((w == 0).sum(1) == 2).all()), f'{name}: a group of 4 without exactly 2 zeros'
    za, na = zeros_over(matrices(model))
    return f"ok {len(cb.sparsifier.layers)} layers" + (f", {len(unfit)} unfit left out" if unfit else '') + f" (model {pct(za, na)})"

def groups_cell(make, x):
    model = make()
    xb = x()
    cb = SparsifyCallback(0.3, DependencyGroups(), 'local', schedule=lin, verbose=False)
    learn = fit_twice(model, x, cb)
    model.eval()
    with torch.no_grad(): masked = out_tensor(model(xb)).clone()
    base = count_macs(copy.deepcopy(model), xb)[0]
    remove_zeroed(model, xb, cb.sparsifier.ignored)
    with torch.no_grad(): removed = out_tensor(model(xb))
    diff = float((masked - removed).abs().max())
    assert diff <= 1e-4 * max(1.0, float(masked.abs().max())), f'masked and removed differ by {diff:.2g}'
    return f"ok {base / count_macs(model, xb)[0]:.2f}x MACs, diff {diff:.1e}"

def prune_cell(make, x):
    model = make()
    xb = x()
    try: dense = copy.deepcopy(model)
    except RuntimeError: dense = None       # computed weights (fastai's WeightDropout) do not deep-copy: PruneCallback is asked all the same
    if dense is not None:
        build_graph(dense, xb[:1] if isinstance(xb, torch.Tensor) else xb)   # Swin computes attention in a function: traced, it calls its layers and they count
        base = count_macs(dense, xb)[0]
    learn = learner(model, x)
    cb = PruneCallback(speedup=2.0, steps=2, end=0.5, verbose=False)
    with learn.no_bar(), learn.no_logging(): learn.fit(2, cbs=cb)
    model = learn.model
    if dense is None: return f"ok {cb.pruner.speedup():.2f}x MACs (the pruner's count)"
    macs = count_macs(copy.deepcopy(model), xb)[0]
    assert base / macs >= 2.0 - 1e-9, f'{base / macs:.2f}x MACs, not 2x'
    model.train(); loss_func(model(xb)).backward(); learn.opt.step()            # trains on after removal
    return f"ok {base / macs:.2f}x MACs"

CELLS = {'coverage': coverage_cell, 'weight global': weight_cell, 'filter/row local': filter_cell, '2:4': nm_cell,
         'dependency groups': groups_cell, 'PruneCallback': prune_cell}


def message(e: Exception) -> str:
    "The first line of the error itself (fastai prefixes the callback and the event)"
    msg = str(e)
    if msg.startswith('Exception occured in') and '\n' in msg: msg = msg.split('\n', 1)[1]
    return msg.strip().splitlines()[0][:200] if msg.strip() else ''

def run_cell(fn, make, x):
    torch.manual_seed(0)
    try:
        r = fn(make, x)
        return r[0] if isinstance(r, tuple) else r
    except ValueError as e: return f"refused: {message(e)}"
    except Exception as e: return f"CRASH: {type(e).__name__}: {message(e)}"


names = args.models or (QUICK if args.quick else list(MODELS))
cols = args.columns or COLUMNS
print(f"model zoo: random weights, synthetic batches, {args.threads} threads; cells: ok / refused (before training, with the reason) / CRASH (a defect)\n")
print('| model | ' + ' | '.join(cols) + ' | seconds |')
print('|' + '---|' * (len(cols) + 2))
t_all, counts = time.time(), {'ok': 0, 'refused': 0, 'CRASH': 0}
for name in names:
    make, x = MODELS[name]
    t0, row = time.time(), []
    for c in cols:
        cell = run_cell(CELLS[c], make, x)
        counts[cell.split(':')[0].split(' ')[0]] += 1
        row.append(cell.replace('|', '/'))
    print(f"| {name} | " + ' | '.join(row) + f" | {time.time() - t0:.0f} |", flush=True)
print(f"\n{counts['ok']} ok, {counts['refused']} refused, {counts['CRASH']} crashed; {time.time() - t_all:.0f} s in all")
