"""One-shot pruning of a small language model with no fine-tuning: held-out perplexity after magnitude, Wanda and SparseGPT
(`prune_oneshot`) at 50% and 60% unstructured, 2:4 and 4:8, and what each method costs.

The benchmark of the SparseGPT and Wanda papers (LLaMA-7B, WikiText-2) in miniature: a byte-level causal transformer
(4 blocks, width 128, 4 heads, context 128 bytes; 0.9M parameters) trained here from scratch, seed 0, for 600 steps of
16 x 128 bytes (AdamW, one-cycle lr 3e-3, one CPU thread) on the .py files at the top of Python's own standard library,
every 10th file held out. Calibration: 128 windows of 128 bytes drawn from the training files (seed = calibration seed),
8 batches of 16. Perplexity per byte on 256 windows of 128 bytes spread over the held-out files. Every linear layer of
the blocks is pruned (qkv, attention projection, both MLP layers); embeddings and head stay dense, as in the papers.
Cost: CPU seconds (process time, one thread; wall seconds beside them; each method warmed up once first), and peak
memory: in a fresh process per method and setting (calibration seed 0), after loading the model and the calibration
batches and a warm-up call on a copy, the peak resident memory of the call above what the process held just before it
(VmHWM after resetting it through /proc/self/clear_refs; glibc set to map every block of 64 KiB or more on its own,
MALLOC_MMAP_THRESHOLD_=65536, and freed heap handed back with malloc_trim, so that the figure follows live tensors): the
calibration forward passes, the Hessian or input norms of one layer, the masks, and the copy of each pruned layer's
weights prune_oneshot keeps in CPU memory to put the model back if anything fails.

Trained weights are cached in bench/.cache/ (gitignored; --retrain trains again). --quick: a 2-block width-32 model
trained for 30 steps, one calibration seed, 50% and 2:4: a smoke test, not a measurement.
"""
import argparse, copy, ctypes, gc, glob, hashlib, json, math, os, statistics, subprocess, sys, sysconfig, tempfile, time
from pathlib import Path
import torch
from torch import nn
import torch.nn.functional as F
from sparsify.oneshot import prune_oneshot, ONESHOT_METHODS
from sparsify.sparsifier import Sparsifier

CACHE = Path(__file__).parent / '.cache'
PUBLISHED = "published, LLaMA-7B on WikiText-2 (dense 5.68): 50%: magnitude 17.29, Wanda 7.26, SparseGPT 7.22; 2:4: magnitude 42.13, Wanda 11.53, SparseGPT 11.00"


class Block(nn.Module):
    "Pre-norm transformer block: causal self-attention (one qkv Linear, one projection) and a GELU MLP"
    def __init__(self, d, heads):
        super().__init__()
        self.heads, self.ln1, self.ln2 = heads, nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
    def forward(self, x):
        B, L, D = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(B, L, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, L, D)
        x = x + self.proj(a)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class ByteLM(nn.Module):
    "Byte-level causal language model: 256 tokens, learned positions"
    def __init__(self, d=128, n_layer=4, heads=4, ctx=128):
        super().__init__()
        self.emb, self.pos = nn.Embedding(256, d), nn.Embedding(ctx, d)
        self.blocks = nn.Sequential(*[Block(d, heads) for _ in range(n_layer)])
        self.ln, self.head = nn.LayerNorm(d), nn.Linear(d, 256)
    def forward(self, x): return self.head(self.ln(self.blocks(self.emb(x) + self.pos.weight[:x.shape[1]])))


def stdlib_bytes():
    "(train, held-out) byte tensors: the .py files at the top of the standard library, sorted by name, every 10th held out"
    files = sorted(glob.glob(sysconfig.get_paths()['stdlib'] + '/*.py'))
    parts = [[], []]
    for i, f in enumerate(files): parts[i % 10 == 0].append(Path(f).read_bytes())
    return [torch.frombuffer(bytearray(b''.join(p)), dtype=torch.uint8).long() for p in parts], len(files)


def windows(data, n, ctx, seed=None):
    "`n` windows of `ctx + 1` bytes: at random offsets drawn with `seed`, or (seed None) spread evenly over `data`"
    if seed is None: starts = torch.linspace(0, len(data) - ctx - 2, n).long()
    else: starts = torch.randint(0, len(data) - ctx - 1, (n,), generator=torch.Generator().manual_seed(seed))
    return torch.stack([data[s:s + ctx + 1] for s in starts])


def train(cfg, data, steps, bs, seed=0):
    torch.manual_seed(seed)
    model = ByteLM(**cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.1, betas=(0.9, 0.95))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=steps, pct_start=0.1)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = windows(data, bs, cfg['ctx'], int(torch.randint(0, 2**31, (1,), generator=g)))
        loss = F.cross_entropy(model(x[:, :-1]).reshape(-1, 256), x[:, 1:].reshape(-1))
        opt.zero_grad(); loss.backward(); opt.step(); sched.step()
    return model.eval()


def perplexity(model, held):
    with torch.no_grad():
        nll = sum(F.cross_entropy(model(w[:, :-1]).reshape(-1, 256), w[:, 1:].reshape(-1), reduction='sum') for w in held.split(64))
    return math.exp(float(nll) / (held.shape[0] * (held.shape[1] - 1)))


def _status(key):
    return int(next(l for l in open('/proc/self/status') if l.startswith(key)).split()[1]) * 1024


def _trim():
    "Hand the heap memory freed so far back to the system (glibc), so the peak below counts what the call itself touches"
    try: ctypes.CDLL('libc.so.6').malloc_trim(0)
    except (OSError, AttributeError): pass


def timed(fn):
    "`(result, cpu s, wall s)`"
    c, t = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c, time.perf_counter() - t


def peak_child(job: dict):
    "In this fresh process: the peak resident bytes of one `prune_oneshot` call above those held just before it (printed)"
    torch.set_num_threads(1)
    (train_data, _), _ = stdlib_bytes()
    model = ByteLM(**job['cfg']); model.load_state_dict(torch.load(job['state'])); model.eval()
    calib = list(windows(train_data, job['n_calib'], job['cfg']['ctx'], 0)[:, :-1].split(16))
    run = lambda m: prune_oneshot(m, calib, job['sparsity'], job['granularity'], job['method'], exclude='head')
    run(copy.deepcopy(model)); gc.collect(); _trim()                            # warm-up on a copy
    open('/proc/self/clear_refs', 'w').write('5')
    base = _status('VmRSS')
    run(model)
    print(max(0, _status('VmHWM') - base))


def peak_memory(job: dict):
    "Peak bytes of one call measured in a fresh process, or None where /proc/self/clear_refs cannot be written"
    try: open('/proc/self/clear_refs', 'w').write('5')
    except OSError: return None
    env = {**os.environ, 'MALLOC_MMAP_THRESHOLD_': '65536'}                  # big blocks mmap'd: a freed tensor leaves the resident set at once
    r = subprocess.run([sys.executable, __file__, '--child', json.dumps(job)], capture_output=True, text=True, env=env)
    if r.returncode: raise RuntimeError(r.stderr[-2000:])
    return int(r.stdout.split()[-1])


def input_spread(model, calib):
    "Per pruned layer: the largest input channel norm over the median one (outlier features make Wanda differ from magnitude)"
    norms, hooks = {}, []
    for n, m in model.named_modules():
        if isinstance(m, nn.Linear) and n.startswith('blocks'):
            hooks.append(m.register_forward_hook(lambda mod, a, o, n=n: norms.__setitem__(n, norms.get(n, 0) + a[0].reshape(-1, a[0].shape[-1]).square().sum(0))))
    with torch.no_grad():
        for x in calib: model(x)
    for h in hooks: h.remove()
    return {n: float(v.sqrt().max() / v.sqrt().median()) for n, v in norms.items()}


def wanda_per_layer(model, dense_sd, calib, s, gran, held):
    model.load_state_dict(dense_sd)
    g = Sparsifier(model, gran, 'local', 'wanda', exclude='head').calibrate(calib, len(calib))
    g.sparsify(s if s is not None else g.granularity.sparsity)
    return perplexity(model, held)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--quick', action='store_true')
    p.add_argument('--retrain', action='store_true', help='train again even if the weights are cached')
    p.add_argument('--calib-seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--child', help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child: return peak_child(json.loads(args.child))
    torch.set_num_threads(1)
    cfg, steps, bs = (dict(d=32, n_layer=2, heads=2, ctx=64), 30, 8) if args.quick else (dict(d=128, n_layer=4, heads=4, ctx=128), 600, 16)
    n_calib, n_held = (16, 32) if args.quick else (128, 256)
    seeds = args.calib_seeds[:1] if args.quick else args.calib_seeds
    settings = [('50%', 0.5, 'weight'), ('2:4', None, '2:4')] if args.quick else \
               [('50%', 0.5, 'weight'), ('60%', 0.6, 'weight'), ('2:4', None, '2:4'), ('4:8', None, '4:8')]
    (train_data, held_data), n_files = stdlib_bytes()
    key = hashlib.sha1(repr((cfg, steps, bs, len(train_data), sys.version_info[:2], torch.__version__)).encode()).hexdigest()[:12]
    cached = CACHE / f'oneshot_lm_{key}.pt'
    t = time.process_time()
    if cached.exists() and not args.retrain and not args.quick:
        model = ByteLM(**cfg); model.load_state_dict(torch.load(cached)); model.eval(); how = f'loaded from {cached.name}'
    else:
        model = train(cfg, train_data, steps, bs)
        how = f'trained in {time.process_time() - t:.0f} CPU s'
        if not args.quick: CACHE.mkdir(exist_ok=True); torch.save(model.state_dict(), cached)
    dense_sd = copy.deepcopy(model.state_dict())
    state = cached if not args.quick else Path(tempfile.mkdtemp()) / 'quick_lm.pt'
    if args.quick: torch.save(dense_sd, state)
    measure_memory = lambda label: not args.quick or label == settings[0][0]       # --quick: one setting
    held = windows(held_data, n_held, cfg['ctx'])
    n_params = sum(p.numel() for p in model.parameters())
    print(f"byte-level LM: {cfg['n_layer']} blocks, width {cfg['d']}, {cfg['heads']} heads, context {cfg['ctx']}, {n_params:,} parameters; "
          f"{steps} steps of {bs} x {cfg['ctx']} bytes, seed 0 ({how}); Python {sys.version.split()[0]} stdlib: {n_files} files, "
          f"{len(train_data):,} bytes to train, {len(held_data):,} held out; torch {torch.__version__}, 1 CPU thread")
    print(f"calibration: {n_calib} windows of {cfg['ctx']} bytes from the training files, batches of 16, calibration seeds {seeds}; "
          f"perplexity per byte on {n_held} held-out windows; pruned: every Linear in the blocks (head and embeddings dense); no fine-tuning")
    dense = perplexity(model, held)
    calibs = {s: list(windows(train_data, n_calib, cfg['ctx'], s)[:, :-1].split(16)) for s in seeds}
    for m in ONESHOT_METHODS:                                                   # warm-up: first-call costs out of the timings
        prune_oneshot(copy.deepcopy(model), calibs[seeds[0]][:1], 0.5, method=m, exclude='head')
    rows = {}
    for label, s, gran in settings:
        for m in ONESHOT_METHODS:
            ppls, costs = [], []
            for seed in (seeds[:1] if m == 'magnitude' else seeds):             # magnitude reads no data
                model.load_state_dict(dense_sd)
                df, cpu, wall = timed(lambda: prune_oneshot(model, calibs[seed], s, gran, m, exclude='head'))
                ppls.append(perplexity(model, held)); costs.append((cpu, wall))
            peak = peak_memory(dict(state=str(state), cfg=cfg, n_calib=n_calib, sparsity=s, granularity=gran, method=m)) if measure_memory(label) else None
            rows[label, m] = (ppls, costs, float(df.iloc[-1].achieved), peak)
    model.load_state_dict(dense_sd)

    def ppl_cell(ppls): return f"{statistics.mean(ppls):7.3f}" + (f" ±{(max(ppls) - min(ppls)) / 2:.3f}" if len(ppls) > 1 else '       ')
    print(f"\nheld-out perplexity (mean over calibration seeds, ± half the range); dense {dense:.3f}")
    print(f"{'sparsity':<9}{'achieved':>9}  " + ''.join(f"{m:>16}" for m in ONESHOT_METHODS) + f"  {'sparsegpt vs wanda':>19} {'wanda vs magnitude':>19}")
    for label, _, _ in settings:
        r = {m: rows[label, m] for m in ONESHOT_METHODS}
        mean = {m: statistics.mean(r[m][0]) for m in ONESHOT_METHODS}
        print(f"{label:<9}{r['sparsegpt'][2]:>9.2%}  " + ''.join(f"{ppl_cell(r[m][0]):>16}" for m in ONESHOT_METHODS)
              + f"  {mean['sparsegpt'] - mean['wanda']:>+19.3f} {mean['wanda'] - mean['magnitude']:>+19.3f}")
    print(PUBLISHED)
    print(f"\ncost per call: CPU s and wall s (median over calls), peak resident memory above the start (one call in a fresh process)")
    print(f"{'sparsity':<9}" + ''.join(f"{m + ' cpu':>15}{'wall':>7}{'peak MB':>9}" for m in ONESHOT_METHODS))
    for label, _, _ in settings:
        cells = []
        for m in ONESHOT_METHODS:
            _, costs, _, peak = rows[label, m]
            cells.append(f"{statistics.median(c[0] for c in costs):>15.2f}{statistics.median(c[1] for c in costs):>7.1f}"
                         + (f"{peak / 2**20:>9.1f}" if peak is not None else f"{'-':>9}"))
        print(f"{label:<9}" + ''.join(cells))
    pruned = [m for n, m in model.named_modules() if isinstance(m, nn.Linear) and n.startswith('blocks')]
    biggest = max(m.in_features for m in pruned)
    print(f"held by prune_oneshot besides the forward passes: the largest Hessian {biggest} x {biggest} float32 = {biggest ** 2 * 4 / 2**20:.1f} MB "
          f"(one layer at a time), a 1-byte mask per weight and the CPU copy of the pruned weights, {sum(m.weight.numel() for m in pruned) * 5 / 2**20:.1f} MB together")
    print("for reference, the library's `wanda` criterion ranked per layer from the dense model's statistics (Sparsifier(..., 'wanda').calibrate, "
          f"calibration seed {seeds[0]}, no sequential pass): " + ', '.join(
              f"{label} {wanda_per_layer(model, dense_sd, calibs[seeds[0]], s, gran, held):.3f}" for label, s, gran in settings))
    model.load_state_dict(dense_sd)
    spread = input_spread(model, calibs[seeds[0]])
    print(f"\ninput channel norms of the pruned layers, largest / median (dense model, calibration seed {seeds[0]}): "
          + ', '.join(f"{n.replace('blocks.', '')} {v:.1f}" for n, v in spread.items()))
    if args.quick: print("(--quick: a smoke test, not a measurement)")


if __name__ == '__main__': main()
