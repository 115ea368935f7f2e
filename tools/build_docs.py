"""Build the documentation site offline, without Quarto.

    python tools/build_docs.py [--out _site] [--no-exec] [--workers N] [--allow-errors] [--no-strict]

1. copy `nbs/` to `build/docs/nbs/` and execute every notebook there, as `nbdev-test --save` does
   (cells flagged with the `tst_flags` of `[tool.nbdev]` are skipped), so plots and tables exist;
2. process the executed notebooks with nbdev's doc processors (show_doc, hidden cells, doc links)
   into `build/docs/proc/`, as `nbdev-proc-nbs` does but without touching the repo's `_proc/`;
3. turn them into notebooks that Sphinx + myst-nb render like Quarto would (`build/docs/src/`):
   front matter becomes the H1 and a description line, `#| echo: false` inputs are hidden,
   Quarto-only syntax is rewritten, nbdev's anchors (`callback.html#sparsifycallback`) are kept;
   and into what a reader needs (`reader_view`): the tests that follow the code in each notebook stay in the
   notebooks (cells that call `fastcore.test` or import it or `nbdev`, and on API pages cells with an `assert`,
   then the setup cells only they used), a "Tests" heading over the prose that is left becomes "Behaviour in detail",
   a link nbdev made inside a link's text is unwrapped, signatures read `class X(...)` for a class, one parameter
   per line when they do not fit on one, without `:NoneType`, and nbdev's automatic entries come in source order;
4. render them with Sphinx (myst-nb without execution, furo theme; config in `docs/conf.py`)
   and copy the HTML to `--out`.

Pages are named after nbdev's `output-file` (`50_callback.ipynb` -> `callback.html`); the sidebar lists
the notebooks whose names start with `0` under "API", then those starting with `1` under "Tutorials".
`tools/build_readme.py` reuses the notebook helpers of this module.
"""
from __future__ import annotations
import argparse, functools, json, os, re, shutil, sys, time
from html import escape as html_escape
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT/'nbs'
BUILD = ROOT/'build'/'docs'
CONF_DIR = ROOT/'docs'
ASSET_SUFFIXES = {'.png', '.jpg', '.jpeg', '.gif', '.svg', '.webp'}
SECTIONS = {'': 'API', 'tutorials': 'Tutorials', 'contributing': 'Contributing'}  # folder of a notebook under nbs/ -> sidebar caption
OTHER_SECTION = 'More'
_NBDEV_HINT = 'Found cells containing imports'  # nbdev's warning for each such cell (they run again to render show_doc)

# ---------------------------------------------------------------- notebook helpers (shared with build_readme)

_re_directive = re.compile(r'^\s*#\|\s*([\w-]+)\s*:\s*(.*?)\s*$')
_re_link_attrs = re.compile(r'(\]\([^()\s]*(?:\([^()\s]*\)[^()\s]*)*(?:\s+"[^"]*")?\))\{[^{}\n]*\}')  # `[a](b){target=..}`
_re_callout = re.compile(r'^(:{3,})\s*\{\.callout-(\w+)[^}\n]*\}\s*$', re.M)                          # `::: {.callout-note}`
_re_sd_heading = re.compile(r'^(#{2,6}) +(.+?) *$', re.M)
_re_rule = re.compile(r'^ {0,3}(?:-{3,}|\*{3,}|_{3,}) *$', re.M)
_re_inner_link = re.compile(r'\[(`[^`\n]+`)\]\([^()\s]*\)')                                             # [`name`](url)
_re_nested_link = re.compile(r'\[((?:[^\[\]\n]|' + _re_inner_link.pattern + r')*?' + _re_inner_link.pattern + r'(?:[^\[\]\n]|'
                             + _re_inner_link.pattern + r')*?)\](\([^()\s]*\))')                   # [text with [`a`](u) in it](v)


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


def unnest_links(md: str) -> str:
    "`md` without links inside a link's text: nbdev links a backticked name even there (`[[`X`](x.html#x)](x.html)` -> `[`X`](x.html)`)"
    return _re_nested_link.sub(lambda m: '[' + _re_inner_link.sub(r'\1', m[1]) + ']' + m[m.lastindex], md)


def strip_quarto_syntax(md: str) -> str:
    "Markdown without Quarto-only syntax (`{target=...}` after links and images, `::: {.callout-x}` fences) and without nested links"
    md = _re_link_attrs.sub(r'\1', md)
    return unnest_links(_re_callout.sub(r'\1{\2}', md))


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


_re_test_code = re.compile(r'\btest_\w+\(|^\s*(?:from|import)\s+(?:fastcore\.test|nbdev)\b', re.M)   # fastcore.test calls, test imports
_re_heading = re.compile(r'^(#{1,6}) +(.+?) *$', re.M)
TESTS_HEADING = 'Behaviour in detail'   # what a notebook's "Tests" section is called on its page, when prose is left in it


def is_test_cell(source: str, api_page: bool) -> bool:
    "Whether a code cell is a test: calls or imports `fastcore.test`, imports `nbdev`, or (on an API page) asserts anything"
    import ast
    if _re_test_code.search(source): return True
    if not api_page: return False
    try: return any(isinstance(n, ast.Assert) for n in ast.walk(ast.parse(source)))
    except SyntaxError: return bool(re.search(r'^\s*assert\b', source, re.M))


def cell_names(source: str) -> tuple[set[str], set[str]]:
    "The names a code cell defines at top level (imports, functions, classes, assignments) and every name it reads"
    import ast
    try: tree = ast.parse(source)
    except SyntaxError: return set(), set(re.findall(r'\b\w+\b', source))
    defined = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)): defined |= {(a.asname or a.name).split('.')[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): defined.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                defined |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
    return defined, {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def _is_setup(source: str) -> bool:
    "A cell of imports, definitions and assignments only: it shows nothing by itself"
    import ast
    try: body = ast.parse(source).body
    except SyntaxError: return False
    return all(isinstance(n, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign))
               for n in body)


def _visible_code(cell) -> bool:
    "A code cell whose input the page shows (not a show_doc cell)"
    return cell.cell_type == 'code' and 'remove-input' not in cell.metadata.get('tags', [])


def reader_view(nb, api_page: bool = True):
    """Keep what a reader needs of a processed notebook: drop its test cells (`is_test_cell`), then on API pages the setup cells
    (imports, definitions) that no remaining cell uses; a markdown cell that ended with ':' before a dropped cell ends with '.';
    a "Tests" heading over prose that is left becomes `TESTS_HEADING`, one over nothing is dropped with its section"""
    cells, drop = nb.cells, set()
    for i, c in enumerate(cells):
        if _visible_code(c) and is_test_cell(c.source, api_page): drop.add(i)
    if api_page:   # setup cells that only tests used: from the last cell up, keep a setup cell only if a kept cell reads a name it defines
        used = set()
        for i in reversed(range(len(cells))):
            c = cells[i]
            if c.cell_type != 'code' or i in drop: continue
            defined, reads = cell_names(c.source)
            if _visible_code(c) and not c.get('outputs') and _is_setup(c.source) and not defined & used: drop.add(i)
            else: used |= reads
    for i, c in enumerate(cells):
        if c.cell_type == 'markdown' and i + 1 in drop and c.source.rstrip().endswith(':'): c.source = c.source.rstrip()[:-1] + '.'
    for i, c in enumerate(cells):   # a heading over tests only: its words stay, as a sentence
        if i in drop or c.cell_type != 'markdown' or not (m := _re_heading.fullmatch(c.source.strip())) or m[2].strip().lower() in ('tests', 'test'): continue
        j = i + 1
        while j < len(cells) and j in drop: j += 1
        nxt = cells[j] if j < len(cells) else None
        if j > i + 1 and (nxt is None or nxt.cell_type == 'markdown' and (h := _re_heading.match(nxt.source)) and len(h[1]) <= len(m[1])):
            c.source = m[2].rstrip('.:') + '.'
    kept = [c for i, c in enumerate(cells) if i not in drop]
    nb.cells = _rename_test_sections(kept)


def _rename_test_sections(cells: list) -> list:
    "Rename each 'Tests' heading as `TESTS_HEADING` if its section still holds text or output, else drop the section"
    out, i = [], 0
    while i < len(cells):
        c = cells[i]
        m = _re_heading.match(c.source) if c.cell_type == 'markdown' else None
        if not (m and m[2].strip().lower() in ('tests', 'test')):
            out.append(c); i += 1; continue
        level, j = len(m[1]), i + 1   # the section: up to the next heading of the same level or above
        while j < len(cells) and not (cells[j].cell_type == 'markdown' and (h := _re_heading.match(cells[j].source)) and len(h[1]) <= level): j += 1
        rest = c.source[m.end():].strip()
        if rest or any(x.cell_type == 'markdown' or x.get('outputs') for x in cells[i + 1:j]):
            c.source = f'{m[1]} {TESTS_HEADING}' + (f'\n{rest}' if rest else '')
            out += cells[i:j]
        i = j
    return out


def source_order(nb, page: str):
    """Put the show_doc cells nbdev adds after each exported cell (it adds them last first) in the order of the source file,
    using the module index of the package (`_modidx`) to find it"""
    lines = _definition_lines(page)
    def key(c): return lines.get(re.fullmatch(r'(?:#\|.*\n)*show_doc\(([\w.]+)\)\s*', c.source)[1] if c.get('has_sd') else '', 10**9)
    cells, i = nb.cells, 0
    while i < len(cells):
        j = i
        while j < len(cells) and cells[j].get('has_sd'): j += 1
        if j > i + 1: cells[i:j] = sorted(cells[i:j], key=key)
        i = max(j, i + 1)


def lib_name() -> str:
    "The package's import name (the folder of `lib_path`: `sparsify`)"
    return Path(nbdev_cfg().lib_path).name


@functools.lru_cache(maxsize=None)
def _modidx() -> dict:
    "The package's module index written by nbdev-export (`{module: {symbol: (doc link, source file)}}`)"
    import importlib
    try: return importlib.import_module(f'{lib_name()}._modidx').d['syms']
    except Exception: return {}


def _definition_lines(page: str) -> dict[str, int]:
    "The line of the top-level `def`/`class` of each symbol documented on `page` (`data`), by name"
    out = {}
    for syms in _modidx().values():
        for sym, (link, py) in syms.items():
            if not link.startswith(f'{page}.html#') or not (ROOT/py).is_file(): continue
            name = sym.split('.')[-1]
            m = re.search(rf'^(?:async def|def|class) {re.escape(name)}\b', (ROOT/py).read_text(encoding='utf-8'), re.M)
            if m: out[name] = (ROOT/py).read_text(encoding='utf-8').count('\n', 0, m.start())
    return out


def _split_params(text: str) -> list[str]:
    "The parameters of a signature's text, split at the commas outside brackets and quotes"
    parts, depth, quote, cur = [], 0, None, ''
    for ch in text:
        if quote: quote = None if ch == quote else quote
        elif ch in '\'"': quote = ch
        elif ch in '([{': depth += 1
        elif ch in ')]}': depth -= 1
        elif ch == ',' and depth == 0: parts.append(cur); cur = ''; continue
        cur += ch
    return [p.strip() for p in parts + [cur] if p.strip()]


SIGNATURE_WIDTH = 88


def tidy_signature(code: str, is_class: bool = False) -> str:
    """A show_doc signature (`def name(\n    a:NoneType=None, b:int=1,\n    c=2\n)->int:`) as a reader wants it: `class name(...)`
    for a class, no `:NoneType` (nbdev's guess for a parameter defaulting to None), the package's module paths dropped from
    annotations, on one line if it fits in `SIGNATURE_WIDTH` characters, else one parameter per line. Signatures with
    parameter comments (docments) keep their layout."""
    m = re.fullmatch(r'((?:async )?def) ([\w.]+)\((.*)\)((?:->.*?)?):', code.strip(), re.S)
    if not m or '#' in m[3]: return code
    lib = lib_name()
    params = [re.sub(rf'\b{lib}\.(?:\w+\.)+(?=\w)', '', p.replace(':NoneType', '')) for p in _split_params(m[3])]
    params = [re.sub(r'<(?:function|class) ([\w.]+)(?: at 0x[0-9a-f]+)?>', r'\1', p) for p in params]   # a default's repr: its name
    head, tail = (f'class {m[2]}(', ')') if is_class else (f'{m[1]} {m[2]}(', f'){m[4]}:')
    one_line = head + ', '.join(params) + tail
    if len(one_line) <= SIGNATURE_WIDTH or not params: return one_line
    return head + '\n' + ''.join(f'    {p},\n' for p in params) + tail


def _is_class(module_file: str | None, name: str) -> bool:
    "Whether `name` (`X` or `X.method`) in the package's file `module_file` (`sparsify/callback.py`) is a class"
    import importlib, inspect
    if not module_file: return False
    try:
        obj = importlib.import_module(module_file.removesuffix('.py').replace('/', '.'))
        for part in name.split('.'): obj = getattr(obj, part)
        return inspect.isclass(obj)
    except Exception: return False


_re_sd_source = re.compile(r'\[source\]\([^)]*/blob/[^/)]+/([^#)]+\.py)#L\d+\)')


def fix_signatures(md: str) -> str:
    "The python code blocks of a show_doc output through `tidy_signature` (a class told by importing it from its source file)"
    if not (h := _re_sd_heading.search(md)): return md
    src = _re_sd_source.search(md)
    is_class = _is_class(src[1] if src else None, h[2].strip('`'))
    return re.sub(r'```python\n(.*?)\n```', lambda m: f'```python\n{tidy_signature(m[1], is_class)}\n```', md, count=1, flags=re.S)


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
    source_order(nb, page)
    clean_metadata(nb)
    apply_directives(nb)
    reader_view(nb, api_page=SECTIONS.get(path.parent.name, SECTIONS['']) == 'API' and page != 'index')   # tutorials keep their asserts
    nb.cells.insert(0, header_cell(title, fm.get('description')))
    map_markdown(nb, lambda md: local_links(strip_quarto_syntax(md), site_url))
    map_outputs(nb, fix_signatures)
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
