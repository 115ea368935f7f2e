"""Build the documentation site offline, without Quarto.

    python tools/build_docs.py [--out _site] [--no-exec] [--workers N] [--allow-errors] [--no-strict]

1. copy `nbs/` to `build/docs/nbs/` and execute every notebook there, as `nbdev-test --save` does
   (cells flagged with the `tst_flags` of `[tool.nbdev]` are skipped), so plots and tables exist;
2. process the executed notebooks with nbdev's doc processors (show_doc, hidden cells, doc links)
   into `build/docs/proc/`, as `nbdev-proc-nbs` does but without touching the repo's `_proc/`;
3. turn them into notebooks that Sphinx + myst-nb render like Quarto would (`build/docs/src/`):
   front matter becomes the H1 and a description line, `#| echo: false` inputs are hidden,
   Quarto-only syntax is rewritten, nbdev's anchors (`callback.html#sparsifycallback`) are kept;
4. render them with Sphinx (myst-nb without execution, furo theme; config in `docs/conf.py`)
   and copy the HTML to `--out`.

Pages are named after nbdev's `output-file` (`05_callback.ipynb` -> `callback.html`); the sidebar lists
the notebooks whose names start with `0` under "API", then those starting with `1` under "Tutorials".
`tools/build_readme.py` reuses the notebook helpers of this module.
"""
from __future__ import annotations
import argparse, json, os, re, shutil, sys, time
from html import escape as html_escape
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT/'nbs'
BUILD = ROOT/'build'/'docs'
CONF_DIR = ROOT/'docs'
ASSET_SUFFIXES = {'.png', '.jpg', '.jpeg', '.gif', '.svg', '.webp'}
SECTIONS = {'': 'API', 'tutorials': 'Tutorials'}  # folder of a notebook under nbs/ -> sidebar caption
OTHER_SECTION = 'More'
_NBDEV_HINT = 'Found cells containing imports'  # nbdev's warning for each such cell (they run again to render show_doc)

# ---------------------------------------------------------------- notebook helpers (shared with build_readme)

_re_directive = re.compile(r'^\s*#\|\s*([\w-]+)\s*:\s*(.*?)\s*$')
_re_link_attrs = re.compile(r'(\]\([^()\s]*(?:\([^()\s]*\)[^()\s]*)*(?:\s+"[^"]*")?\))\{[^{}\n]*\}')  # `[a](b){target=..}`
_re_callout = re.compile(r'^(:{3,})\s*\{\.callout-(\w+)[^}\n]*\}\s*$', re.M)                          # `::: {.callout-note}`
_re_sd_heading = re.compile(r'^(#{2,6}) +(.+?) *$', re.M)
_re_rule = re.compile(r'^ {0,3}(?:-{3,}|\*{3,}|_{3,}) *$', re.M)


def read_nb(path: Path):
    "The notebook at `path` as an `nbformat` node, with an id for every cell (nbformat 4.5 wants them)"
    import nbformat
    nb = json.loads(path.read_text(encoding='utf-8'))
    for i, cell in enumerate(nb['cells']): cell.setdefault('id', f'cell-{i}')
    return nbformat.reads(json.dumps(nb), as_version=4)


def write_nb(nb, path: Path):
    "Write `nb` to `path` after checking it against the nbformat schema"
    import nbformat
    nbformat.validate(nb)
    nbformat.write(nb, path)


def pop_front_matter(nb) -> dict:
    "Remove the raw YAML front-matter cell nbdev puts first in a processed notebook and return its fields"
    import yaml
    if not nb.cells or nb.cells[0].cell_type != 'raw': return {}
    src = nb.cells[0].source.strip()
    if not (src.startswith('---') and src.endswith('---')): return {}
    nb.cells.pop(0)
    return yaml.safe_load(src.strip('-')) or {}


def split_directives(source: str) -> tuple[dict, str]:
    "The leading Quarto `#| key: value` directives of a code cell and the code after them"
    lines, directives = source.splitlines(), {}
    while lines and (m := _re_directive.match(lines[0])):
        directives[m[1]] = m[2].strip('\'"').lower()
        lines.pop(0)
    return directives, '\n'.join(lines)


def strip_quarto_syntax(md: str) -> str:
    "Markdown without Quarto-only syntax: `{target=...}` after links and images, `::: {.callout-x}` fences"
    md = _re_link_attrs.sub(r'\1', md)
    return _re_callout.sub(r'\1{\2}', md)


def clean_metadata(nb):
    "Drop the execution timings and the `has_sd` keys nbdev leaves behind, which fail nbformat validation"
    nb.metadata.pop('execution', None)
    for cell in nb.cells:
        cell.pop('has_sd', None)
        cell.metadata.pop('execution', None)
    nb.metadata.setdefault('kernelspec', {'display_name': 'Python 3', 'language': 'python', 'name': 'python3'})
    nb.metadata.setdefault('language_info', {'name': 'python'})


def apply_directives(nb, hide_input_tag: str | None = 'remove-input', hide_output_tag: str = 'remove-output'):
    """Apply the Quarto cell directives nbdev keeps: drop `include: false` cells, tag `echo: false` inputs
    (show_doc cells) and `output: false` outputs, and remove the directive lines from the code"""
    kept = []
    for cell in nb.cells:
        if cell.cell_type == 'code':
            directives, cell.source = split_directives(cell.source)
            if directives.get('include') == 'false': continue
            tags = cell.metadata.setdefault('tags', [])
            if directives.get('echo') == 'false' and hide_input_tag: tags.append(hide_input_tag)
            if directives.get('output') == 'false': tags.append(hide_output_tag)
            if not tags: del cell.metadata['tags']
        kept.append(cell)
    nb.cells = kept


def map_outputs(nb, fn):
    "Apply `fn` to every `text/markdown` output of `nb`"
    for cell in nb.cells:
        for out in cell.get('outputs', []):
            md = out.get('data', {}).get('text/markdown')
            if md is not None: out.data['text/markdown'] = fn(''.join(md))


def map_markdown(nb, fn):
    "Apply `fn` to every markdown cell and every `text/markdown` output of `nb`"
    for cell in nb.cells:
        if cell.cell_type == 'markdown': cell.source = fn(cell.source)
    map_outputs(nb, fn)

# ---------------------------------------------------------------- steps 1 and 2: execute and process


def nbdev_cfg():
    "This project's nbdev config"
    from nbdev.config import get_config
    return get_config(ROOT)


def notebooks(folder: Path) -> list[Path]:
    "The notebooks in `folder` and its subfolders (`tutorials/`), sorted, without hidden or underscore-prefixed files or folders"
    return sorted(p for p in folder.rglob('*.ipynb') if not any(part.startswith(('.', '_')) for part in p.relative_to(folder).parts))


def skip_flags() -> set[str]:
    "The flags (`tst_flags` of `[tool.nbdev]`, e.g. `slow`) of cells that nbdev-test skips"
    flags = nbdev_cfg().tst_flags
    return set(flags.split() if isinstance(flags, str) else flags)


def cell_flags(source: str) -> set[str]:
    "The names of the leading `#| name ...` directives of a cell"
    return {m[1] for line in source.splitlines() if (m := re.match(r'\s*#\|\s*([\w-]+)', line))}


def mark_skipped(path: Path, flags: set[str]):
    """Add `#| eval: false` to the code cells flagged with `flags`: nbdev-test skips them, and so then does nbdev's
    doc processing, which otherwise runs every cell with an import to render show_doc (a slow cell's training too)"""
    nb = read_nb(path)
    for cell in nb.cells:
        if cell.cell_type == 'code' and cell_flags(cell.source) & flags: cell.source = '#| eval: false\n' + cell.source
    write_nb(nb, path)


def copy_notebooks(src: Path, dst: Path) -> list[Path]:
    "Replace `dst` by a copy of `src` (without checkpoints) with test-skipped cells marked; return the copied notebooks"
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns('.ipynb_checkpoints', '__pycache__', '_proc'))
    nbs, flags = notebooks(dst), skip_flags()
    for nb in nbs: mark_skipped(nb, flags)
    return nbs


def execute_notebooks(nbs: list[Path], workers: int, allow_errors: bool = False):
    """Run `nbs` in place with execnb, as `nbdev-test --save` does (cwd: the notebook's folder); exit on failure,
    or with `allow_errors` go on with the failed notebooks left without outputs"""
    from fastcore.parallel import parallel
    from nbdev.test import test_nb
    os.environ.setdefault('MPLBACKEND', 'Agg')
    results = parallel(test_nb, nbs, skip_flags=list(skip_flags()), save=True,
                       basepath=ROOT, n_workers=min(workers, len(nbs)), pause=0.01)
    print('  ' + ', '.join(f'{p.stem} {t:.0f}s' for p, (_, t) in zip(nbs, results)), flush=True)
    if failed := [p.name for p, (ok, _) in zip(nbs, results) if not ok]:
        msg = f"build_docs: these notebooks failed to execute: {', '.join(failed)}"
        if not allow_errors: sys.exit(msg)
        print(f'{msg} (rendered without outputs)', file=sys.stderr)


def process_notebooks(nbs: list[Path], dst: Path, workers: int) -> list[Path]:
    """Run nbdev's doc processors (`FilterDefaults`, as `nbdev.serve.proc_nbs` does) on `nbs`, writing to `dst`.
    Each notebook is processed in a fresh process, as nbdev does, since show_doc cells are executed
    (`workers=0`: one after the other in this process)."""
    import nbdev.serve_drv, warnings
    from fastcore.foundation import working_directory
    from fastcore.parallel import parallel
    from nbdev.processors import FilterDefaults
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    jobs = [(p, dst/p.parent.name/p.name if p.parent.name in SECTIONS else dst/p.name, FilterDefaults) for p in nbs]
    for _, d, _ in jobs: d.parent.mkdir(parents=True, exist_ok=True)
    os.environ['PYTHONWARNINGS'] = f'ignore:{_NBDEV_HINT}:UserWarning'  # in the worker processes
    with working_directory(ROOT), warnings.catch_warnings():  # the processors read the config of the current dir
        warnings.filterwarnings('ignore', _NBDEV_HINT, UserWarning)
        parallel(nbdev.serve_drv.main, jobs, n_workers=min(workers, len(nbs)), method='spawn', pause=0.01)
    return [d for _, d, _ in jobs]

# ---------------------------------------------------------------- step 3: notebooks Sphinx can render


def pandoc_slug(text: str) -> str:
    "The id Quarto/pandoc gives a heading, which nbdev's doc links point at (`Sparsifier.sparsify` -> `sparsifier.sparsify`)"
    text = re.sub(r'[`*\\]', '', text).strip().lower()
    text = re.sub(r'[^\w\s.-]', '', text)
    return re.sub(r'^[^a-z]+', '', re.sub(r'\s+', '-', text))


def fix_show_doc(md: str, used: set[str] | None = None) -> str:
    """A show_doc output Sphinx renders like Quarto: its `---` rules as HTML (docutils allows no transition inside
    an output), and each `### name` heading as a rubric that carries nbdev's anchor (`say_hello`; Sphinx would make it
    `say-hello` and add ids of its own), unique on the page as pandoc makes it (`criterion`, then `criterion-1`).
    `used` holds the ids the page has so far, and gets the new ones."""
    used = set() if used is None else used
    def rubric(m):
        slug = base = pandoc_slug(m[2])
        n = 0
        while slug in used: n, slug = n + 1, f'{base}-{n + 1}'
        used.add(slug)
        return f'<p class="rubric" id="{slug}">{html_escape(m[2])}</p>\n'
    return outside_fences(md, lambda text: _re_sd_heading.sub(rubric, _re_rule.sub('<hr class="docutils">', text)))


def page_ids(nb) -> set[str]:
    "The ids Sphinx gives the sections of a notebook's markdown cells (show_doc anchors must not repeat them)"
    from docutils.nodes import make_id
    ids = set()
    for cell in nb.cells:
        if cell.cell_type != 'markdown': continue
        prose = re.sub(r'^```.*?^```[^\n]*$', '', cell.source, flags=re.M | re.S)
        ids |= {make_id(m[1]) for m in re.finditer(r'^#{1,6} +(.+?) *$', prose, re.M)}
    return ids


def outside_fences(md: str, fn) -> str:
    "`md` with `fn` applied to the text outside its fenced code blocks"
    parts = re.split(r'(^```.*?^```[^\n]*$)', md, flags=re.M | re.S)
    return ''.join(p if i % 2 else fn(p) for i, p in enumerate(parts))


def local_links(md: str, site_url: str) -> str:
    "Links to pages of the deployed site (nbdev's doc links) made relative, so they work on any copy of the site"
    if not site_url: return md
    md = re.sub(r'\]\(' + re.escape(site_url) + r'(?=[)#])', '](index.html', md)
    return md.replace('](' + site_url, '](')


def header_cell(title: str, desc: str | None):
    "A markdown cell with the page's H1 and its description (nbdev's front matter), styled by `docs/_static`"
    from nbformat.v4 import new_markdown_cell
    return new_markdown_cell(f'# {title}' + (f'\n\n{{.description}}\n{desc}' if desc else ''))


def toctree_cell(pages: list[tuple[str, str]]):
    "A markdown cell with one hidden toctree per sidebar section, in page order; `pages` holds (file name, page)"
    from nbformat.v4 import new_markdown_cell
    sections: dict[str, list[str]] = {}
    for fname, page in pages: sections.setdefault(SECTIONS.get(Path(fname).parent.name, OTHER_SECTION), []).append(page)
    trees = [f"```{{toctree}}\n:hidden:\n:caption: {cap}\n\n" + '\n'.join(ps) + '\n```' for cap, ps in sections.items()]
    return new_markdown_cell('\n\n'.join(trees))


def to_sphinx_nb(path: Path, site_url: str):
    "The processed notebook at `path` prepared for myst-nb, and its page name (nbdev's `output-file` without `.html`)"
    nb = read_nb(path)
    fm = pop_front_matter(nb)
    page = Path(fm.get('output-file', path.stem + '.html')).stem
    title = fm.get('title') or page
    clean_metadata(nb)
    apply_directives(nb)
    nb.cells.insert(0, header_cell(title, fm.get('description')))
    map_markdown(nb, lambda md: local_links(strip_quarto_syntax(md), site_url))
    used = page_ids(nb)
    map_outputs(nb, lambda md: fix_show_doc(md, used))
    return nb, page


def site_url() -> str:
    "The deployed docs' root URL with a trailing slash (`doc_host` + `doc_baseurl`), or '' if not configured"
    cfg = nbdev_cfg()
    host, base = (cfg.get('doc_host') or '').rstrip('/'), (cfg.get('doc_baseurl') or '').strip('/')
    if not host: return ''
    return f'{host}/{base}/' if base else f'{host}/'


def copy_assets(src: Path, dst: Path):
    "Copy the images next to the notebooks (and in their subfolders) that markdown cells may show"
    for p in src.rglob('*'):
        if p.suffix.lower() in ASSET_SUFFIXES and not any(s.startswith('.') for s in p.relative_to(src).parts):
            (dst/p.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(p, dst/p.relative_to(src))


def write_sources(proc: list[Path], dst: Path, assets: Path) -> list[str]:
    "Write the Sphinx sources for the processed notebooks `proc` to `dst`; the index gets the toctrees. Returns the pages."
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    url = site_url()
    nbs = {(f'{p.parent.name}/' if p.parent.name in SECTIONS else '') + p.name: to_sphinx_nb(p, url) for p in proc}   # key: folder/name
    pages = [(name, page) for name, (_, page) in nbs.items() if page != 'index']
    if not any(page == 'index' for _, page in nbs.values()): sys.exit('build_docs: no notebook renders to index.html')
    for nb, page in nbs.values():
        if page == 'index': nb.cells.append(toctree_cell(pages))
        write_nb(nb, dst/f'{page}.ipynb')
    copy_assets(assets, dst)
    return ['index'] + [page for _, page in pages]

# ---------------------------------------------------------------- step 4: Sphinx


def run_sphinx(src: Path, html: Path, strict: bool = True):
    "Render `src` to `html` with the config in `docs/`; exit on errors (and on warnings if `strict`)"
    from sphinx.cmd.build import build_main
    shutil.rmtree(html, ignore_errors=True)
    args = ['-b', 'html', '-q', '-c', str(CONF_DIR), '-d', str(html.parent/'doctrees'), '-E', str(src), str(html)]
    if strict: args[:0] = ['-W', '--keep-going']
    if rc := build_main(args): sys.exit(f'build_docs: sphinx-build failed ({rc})')


def publish(html: Path, out: Path):
    "Replace `out` by a copy of the rendered site"
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(html, out)
    (out/'.nojekyll').touch()

# ---------------------------------------------------------------- command line


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--out', type=Path, default=ROOT/'_site', help='folder the site is written to (default: _site)')
    p.add_argument('--no-exec', action='store_true', help='do not execute the notebooks (pages show no outputs)')
    p.add_argument('--workers', type=int, default=min(os.cpu_count() or 1, 8), help='notebooks run in parallel')
    p.add_argument('--allow-errors', action='store_true', help='render notebooks that fail to execute without outputs')
    p.add_argument('--no-strict', action='store_true', help='do not turn Sphinx warnings into errors')
    return p.parse_args(argv)


def step(msg: str, t0: float): print(f'build_docs: {msg} ({time.time()-t0:.1f}s)', flush=True)


def main(argv=None):
    args, t0 = parse_args(argv), time.time()
    nbs = copy_notebooks(NBS, BUILD/'nbs')
    if not args.no_exec:
        execute_notebooks(nbs, args.workers, args.allow_errors)
        step(f'executed {len(nbs)} notebooks', t0)
    proc = process_notebooks(nbs, BUILD/'proc', args.workers)
    step('processed them with nbdev', t0)
    pages = write_sources(proc, BUILD/'src', NBS)
    run_sphinx(BUILD/'src', BUILD/'html', strict=not args.no_strict)
    publish(BUILD/'html', args.out.resolve())
    step(f"built {len(pages)} pages into {args.out}: {', '.join(pages)}", t0)


if __name__ == '__main__': main()
