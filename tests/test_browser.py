"""The docs site, as a reader's browser shows it.

Builds `_site/` with `tools/build_docs.py` when it is missing or older than the notebooks, serves it on a free
localhost port and loads the home page, the callback's API page and the first tutorial in headless Chromium:
`--dump-dom` for the checks, `--screenshot` for a look by eye (saved to `.screenshots/`); measures every code block of
every page in a desktop and a narrow window (none may be cut off). The Chromium tests are skipped where it is not
installed (`apt-get install chromium`), with that reason in pytest's summary. Two checks read the built HTML of every
page and run anywhere: every internal link and `#anchor` resolves and no id repeats on a page; and every page reads as
a page for readers (`page_defects`): no raw markdown, no "Tests" section, no test code or test imports, no empty
section, no backticked name linked to an object of the package that is not its public API (`sparsify.all`), and
show_doc signatures that read cleanly. `test_page_defects_are_found` keeps a concrete example of each defect, taken
from the site as it was when these checks were written, so the checks are known to catch them.
"""
from __future__ import annotations
import ast, collections, functools, html, html.parser, http.server, importlib, importlib.util, inspect, json, os, re, shutil, subprocess, sys
import tempfile, threading, urllib.parse, urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE, NBS, SHOTS = ROOT/'_site', ROOT/'nbs', ROOT/'.screenshots'
BUILD_INPUTS = [ROOT/'tools'/'build_docs.py', *(p for p in (ROOT/'docs').rglob('*') if p.is_file())]
CHROMIUM = shutil.which('chromium') or next((p for p in ('/usr/bin/chromium',) if Path(p).exists()), None)
CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic',
                  '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
                  '--hide-scrollbars']

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason='needs Chromium for the headless-browser test '
                                    '(Debian: apt-get install chromium)')


def page_of(nb: Path) -> str:
    "The page nbdev renders a notebook to: `50_callback.ipynb` -> `callback.html`"
    return re.sub(r'^\d+[a-z]?_', '', nb.stem) + '.html'


def nb_title(nb: Path) -> str:
    "The text of the notebook's H1"
    cells = json.loads(nb.read_text())['cells']
    src = next(''.join(c['source']) for c in cells if c['cell_type'] == 'markdown' and ''.join(c['source']).startswith('# '))
    return re.sub(r'[`*]', '', src.splitlines()[0][2:]).strip()


def notebooks() -> list[Path]:
    return sorted(p for p in NBS.rglob('*.ipynb') if not any(part.startswith(('.', '_')) for part in p.relative_to(NBS).parts))


def first_tutorial() -> Path:
    return next(nb for nb in notebooks() if page_of(nb).startswith('tutorial_'))


PAGES = {  # which page -> the notebook it comes from
    'home': lambda: NBS/'index.ipynb',
    'api': lambda: next(nb for nb in notebooks() if page_of(nb) == 'callback.html'),
    'tutorial': first_tutorial,
    'distributed': lambda: NBS/'41_distributed.ipynb',   # "Training on several GPUs or machines"
}


def site_is_stale() -> bool:
    index = SITE/'index.html'
    if not index.exists(): return True
    return index.stat().st_mtime < max(p.stat().st_mtime for p in notebooks() + BUILD_INPUTS)


@pytest.fixture(scope='module')
def site() -> Path:
    "The built site, rebuilt first if stale"
    if site_is_stale():
        subprocess.run([sys.executable, str(ROOT/'tools'/'build_docs.py')], cwd=ROOT, check=True, timeout=1200)
    return SITE


OVERFLOW_CHECK = '/__overflow_check.html'
OVERFLOW_PAGE = """<!doctype html><html><body><pre id="result"></pre><script>
const pages = %s, result = {}, code = 'article div[class*="highlight-"]:not(.output) pre';
for (const page of pages) {
  const f = document.createElement('iframe');
  f.style.cssText = 'width: %dpx; height: 900px; border: 0';
  f.addEventListener('load', () => {
    const blocks = [...f.contentDocument.querySelectorAll(code)];
    result[page] = {blocks: blocks.length,
                    cut: blocks.filter(b => b.scrollWidth > b.clientWidth + 1).map(b => b.textContent.slice(0, 100))};
    if (Object.keys(result).length == pages.length) document.getElementById('result').textContent = JSON.stringify(result);
  });
  f.src = page;
  document.body.appendChild(f);
}
</script></body></html>"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    "Serves the site, and at `OVERFLOW_CHECK?width=W` a page that loads every page in a W-px frame and measures its code blocks"
    def log_message(self, *args): pass
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path != OVERFLOW_CHECK: return super().do_GET()
        pages = sorted(p.name for p in Path(self.directory).glob('*.html') if p.name not in ('genindex.html', 'search.html'))
        width = int(urllib.parse.parse_qs(url.query).get('width', ['1280'])[0])
        body = (OVERFLOW_PAGE % (json.dumps(pages), width)).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'text/html; charset=utf-8')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope='module')
def base_url(site):
    "The site served over HTTP on a free localhost port, for the time of the module"
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(_QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{server.server_address[1]}/'
    server.shutdown()
    server.server_close()


@pytest.fixture(scope='module')
def home(tmp_path_factory) -> Path:
    "A scratch home folder, so that Chromium writes nothing into the real one"
    return tmp_path_factory.mktemp('home')


def chromium(home: Path, url: str, *args: str) -> str:
    "Run headless Chromium on `url` with a fresh profile; return its stdout"
    env = {**os.environ, 'HOME': str(home), 'XDG_CONFIG_HOME': str(home/'.config'),
           'XDG_CACHE_HOME': str(home/'.cache'), 'XDG_DATA_HOME': str(home/'.local'/'share')}
    profile = tempfile.mkdtemp(dir=home, prefix='profile-')
    res = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f'--user-data-dir={profile}', *args, url],
                         capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


def dump_dom(home: Path, url: str) -> str:
    return chromium(home, url, '--virtual-time-budget=5000', '--dump-dom')


def text_of(fragment: str) -> str:
    "Visible text of an HTML fragment: no scripts, styles or tags"
    fragment = re.sub(r'<(script|style)\b.*?</\1>', '', fragment, flags=re.S | re.I)
    return html.unescape(re.sub(r'<[^>]+>', '', fragment))


def article(dom: str) -> str:
    "The main content of a furo page"
    m = re.search(r'<article\b.*?</article>', dom, re.S)
    assert m, 'no <article> in the page'
    return m[0]


def check_title(dom: str, title: str):
    h1 = re.search(r'<h1\b[^>]*>(.*?)</h1>', dom, re.S)
    assert h1 and text_of(h1[1]).replace('¶', '').strip() == title, f'H1 is not {title!r}'
    assert re.search(rf'<title>\s*{re.escape(html.escape(title, quote=False))}', dom), f'<title> does not start with {title!r}'


def check_no_raw_markdown(dom: str):
    body = text_of(article(dom))
    assert '{target=' not in body, 'Quarto link attributes leak'
    code = '\n'.join(text_of(b) for b in re.findall(r'<pre\b.*?</pre>', article(dom), re.S))
    assert not re.search(r'^\s*#\|', code, re.M), 'cell directives (show_doc inputs) leak into code blocks'
    leaks = [l for l in body.splitlines() if l.strip() == '---' or re.match(r'\s*(title|description|output-file):', l)]
    assert not leaks, f'front matter leaks: {leaks[:5]}'


def check_sidebar(dom: str, page: str):
    "Every other notebook's page is linked from the sidebar"
    others = [page_of(nb) for nb in notebooks() if nb.name != 'index.ipynb' and page_of(nb) != page]
    missing = [p for p in others if f'href="{p}"' not in dom]
    assert not missing, f'sidebar lacks {missing}'


def check_signature(dom: str, name: str = 'SparsifyCallback'):
    blocks = [text_of(b) for b in re.findall(r'<pre\b.*?</pre>', article(dom), re.S)]
    assert any(f'{name}(' in b for b in blocks), f'no show_doc signature of {name} in a code block'


def check_plot(dom: str, base_url: str):
    "An image output that is a PNG plot, served by the site (or inlined)"
    srcs = re.findall(r'<img\b[^>]*\bsrc="([^"]+)"', article(dom))
    pngs = [s for s in srcs if s.startswith('data:image/png') or s.endswith('.png')]
    assert pngs, f'no PNG image in the tutorial page (images: {srcs})'
    if pngs[0].startswith('data:'): return
    with urllib.request.urlopen(base_url + pngs[0]) as r: assert r.read(8) == b'\x89PNG\r\n\x1a\n'


def check_commands(dom: str):
    "The launch commands are shown as code"
    code = '\n'.join(text_of(b) for b in re.findall(r'<pre\b.*?</pre>', article(dom), re.S))
    for cmd in ('torchrun --nproc_per_node', 'accelerate launch --multi_gpu', 'learn.distrib_ctx()'):
        assert cmd in code, f'{cmd!r} is not in a code block of the page'


def check_screenshot(path: Path):
    data = path.read_bytes()
    assert data[:8] == b'\x89PNG\r\n\x1a\n', f'{path} is not a PNG'
    assert int.from_bytes(data[16:20], 'big') == 1280, 'screenshot is not 1280 px wide'
    assert len(data) > 20_000, f'{path} is only {len(data)} bytes: a blank page?'


@needs_chromium
@pytest.mark.parametrize('which', list(PAGES))
def test_page(which, base_url, home):
    nb = PAGES[which]()
    page = 'index.html' if which == 'home' else page_of(nb)
    dom = dump_dom(home, base_url + page)
    check_title(dom, nb_title(nb))
    check_no_raw_markdown(dom)
    check_sidebar(dom, page)
    if which == 'api': check_signature(dom)
    if which == 'tutorial': check_plot(dom, base_url)
    if which == 'distributed': check_commands(dom)
    SHOTS.mkdir(exist_ok=True)
    shot = SHOTS/f'{which}.png'
    shot.unlink(missing_ok=True)
    chromium(home, base_url + page, f'--screenshot={shot}', '--window-size=1280,900')
    check_screenshot(shot)


def site_url() -> str:
    "The deployed site's root URL, which nbdev writes into the docs for backticked names (`tools/build_docs.py` knows it)"
    spec = importlib.util.spec_from_file_location('build_docs', ROOT/'tools'/'build_docs.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.site_url()


class _Refs(html.parser.HTMLParser):
    "The ids (and `<a name>`s) of a page, and the URLs its `href`s and `src`s point at"
    def __init__(self):
        super().__init__()
        self.ids, self.refs = [], []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get('id'): self.ids.append(a['id'])
        if tag == 'a' and a.get('name'): self.ids.append(a['name'])
        for k in ('href', 'src'):
            if a.get(k): self.refs.append(a[k])


def parse_site(site: Path) -> dict[str, _Refs]:
    pages = {}
    for p in sorted(site.rglob('*.html')):
        parser = _Refs()
        parser.feed(p.read_text(encoding='utf-8'))
        pages[p.relative_to(site).as_posix()] = parser
    return pages


def broken_refs(site: Path, pages: dict[str, _Refs], url: str) -> list[str]:
    "Every internal link, anchor and asset of the site that does not resolve, as 'page: ref'"
    broken = []
    for page, refs in pages.items():
        for ref in refs.refs:
            if url and ref.startswith(url): ref = os.path.relpath(ref[len(url):] or 'index.html', Path(page).parent.as_posix() or '.')
            parts = urllib.parse.urlsplit(ref)
            if parts.scheme or parts.netloc or ref.startswith(('mailto:', 'javascript:', 'data:')): continue  # external
            target = os.path.normpath(os.path.join(os.path.dirname(page), urllib.parse.unquote(parts.path))) if parts.path else page
            target = Path(target).as_posix()
            if (site/target).is_dir(): target = f'{target}/index.html'
            if not (site/target).is_file(): broken.append(f'{page}: {ref} (no file {target})')
            elif parts.fragment and target in pages and urllib.parse.unquote(parts.fragment) not in pages[target].ids:
                broken.append(f'{page}: {ref} (no id {parts.fragment!r} in {target})')
    return broken


def test_internal_links_and_anchors_resolve(site):
    """Every relative link, asset and `#anchor` of every page resolves, and so do the absolute links to the deployed
    site that nbdev writes for backticked names (mapped onto the built site); no id appears twice on a page"""
    pages = parse_site(site)
    assert {'index.html', 'criteria.html', 'schedules.html'} <= set(pages), sorted(pages)
    broken = broken_refs(site, pages, site_url())
    assert not broken, f'{len(broken)} broken internal links:\n' + '\n'.join(broken[:40])
    dups = {page: [i for i, n in collections.Counter(r.ids).items() if n > 1] for page, r in pages.items()}
    dups = {page: ids for page, ids in dups.items() if ids}
    assert not dups, f'ids that appear more than once on a page: {dups}'
    for page, names in [('criteria.html', 'large_final small_final large_init small_init movement signed_movement random'),
                        ('schedules.html', 'one_shot lin cos agp one_cycle')]:
        missing = [n for n in names.split() if n not in pages[page].ids]
        assert not missing, f'{page} has no entry (anchor) for {missing}'


@needs_chromium
@pytest.mark.parametrize('width', [1280, 700])
def test_code_blocks_fit_their_column(width, base_url, home):
    "No code block of any page is wider than its column (long lines wrap), on a desktop and a narrow window"
    dom = chromium(home, f'{base_url}{OVERFLOW_CHECK[1:]}?width={width}', '--virtual-time-budget=20000', '--dump-dom')
    m = re.search(r'<pre id="result">(.*?)</pre>', dom, re.S)
    assert m and m[1], 'the overflow check did not finish (pages did not load?)'
    result = json.loads(html.unescape(m[1]))
    assert result['index.html']['blocks'] >= 2, result['index.html']            # the README's commands are measured
    cut = {page: r['cut'] for page, r in result.items() if r['cut']}
    assert not cut, f'code blocks wider than their column at {width}px (cut off): {cut}'


@needs_chromium
def test_search(base_url, home):
    "Sphinx's search (run by the page's JavaScript) finds the Sparsifier page"
    dom = dump_dom(home, base_url + 'search.html?q=Sparsifier')
    results = re.search(r'<ul\b[^>]*class="search".*?</ul>', dom, re.S)
    assert results and 'href="sparsifier.html' in results[0], 'search for Sparsifier does not list sparsifier.html'


# ---------------------------------------------------------------- every page, as a reader sees it (no Chromium needed)

class Node:
    "An element of a page: tag, attributes, children (elements and strings)"
    def __init__(self, tag, attrs, parent=None): self.tag, self.attrs, self.children, self.parent = tag, dict(attrs), [], parent
    @property
    def classes(self) -> list[str]: return (self.attrs.get('class') or '').split()
    def text(self) -> str: return ''.join(c if isinstance(c, str) else c.text() for c in self.children)
    def iter(self):
        yield self
        for c in self.children:
            if isinstance(c, Node): yield from c.iter()
    def elements(self) -> list: return [c for c in self.children if isinstance(c, Node)]
    def ancestors(self):
        n = self.parent
        while n is not None: yield n; n = n.parent


class _Tree(html.parser.HTMLParser):
    VOID = {'area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr'}
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.cur = Node('root', {})
    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.cur)
        self.cur.children.append(node)
        if tag not in self.VOID: self.cur = node
    def handle_startendtag(self, tag, attrs): self.cur.children.append(Node(tag, attrs, self.cur))
    def handle_endtag(self, tag):
        n = self.cur
        while n is not None and n.tag != tag: n = n.parent
        if n is not None and n.parent is not None: self.cur = n.parent
    def handle_data(self, data): self.cur.children.append(data)


def article_tree(page_html: str) -> Node:
    "The `<article>` of a furo page as a tree (or the whole document for a fragment)"
    t = _Tree()
    t.feed(page_html)
    return next((n for n in t.root.iter() if n.tag == 'article'), t.root)


def prose_text(node: Node) -> str:
    "The visible text outside code (`<pre>`, `<code>`), scripts and styles"
    if isinstance(node, str): return node
    if node.tag in ('pre', 'code', 'script', 'style'): return ' '
    return ''.join(prose_text(c) for c in node.children)


def _in_output(n: Node) -> bool: return any('cell_output' in a.classes for a in n.ancestors())


@functools.lru_cache(maxsize=None)
def doc_symbols() -> dict[str, str]:
    "'page.html#anchor' -> the package's symbol it documents (`sparsify.cli.fit`), from nbdev's module index"
    from sparsify._modidx import d
    return {link: sym for mod in d['syms'].values() for sym, (link, _) in mod.items()}


@functools.lru_cache(maxsize=None)
def public_names() -> frozenset[str]:
    import sparsify.all
    return frozenset(sparsify.all.__all__)


def _symbol_object(sym: str):
    "The object `sparsify.x.Name.attr` names, or None"
    parts = sym.split('.')
    for i in range(len(parts) - 1, 0, -1):
        try: obj = importlib.import_module('.'.join(parts[:i]))
        except ImportError: continue
        try:
            for p in parts[i:]: obj = getattr(obj, p)
            return obj
        except AttributeError: return None
    return None


def _one_parameter(line: str) -> bool:
    "Whether a line of a signature holds exactly one parameter (or a lone `*` or `/` marker)"
    line = re.sub(r'<[^<>]*>', 'x', line.strip().removesuffix(','))   # a default shown by its repr (`<factory>`)
    if line in ('*', '/'): return True
    try: a = ast.parse(f'def f({line}): pass').body[0].args
    except SyntaxError: return False
    return len(a.posonlyargs + a.args + a.kwonlyargs) + (a.vararg is not None) + (a.kwarg is not None) == 1


def signature_defects(node: Node, page: str, syms: dict) -> list[str]:
    "A show_doc signature after each rubric: `class` for a class, no `NoneType`, one line or one parameter per line"
    bad = []
    for rubric in (n for n in node.iter() if 'rubric' in n.classes and n.attrs.get('id')):
        siblings = rubric.parent.elements()
        block = next((b for b in siblings[siblings.index(rubric) + 1:] if b.tag == 'div' and any(x.tag == 'pre' for x in b.iter())), None)
        if block is None: continue
        sig = next(x for x in block.iter() if x.tag == 'pre').text().strip()
        name = rubric.text().strip()
        obj = _symbol_object(syms.get(f"{page}#{rubric.attrs['id']}", ''))
        if 'NoneType' in sig: bad.append(f'{page}: {name}: NoneType in its signature')
        if inspect.isclass(obj) and not sig.startswith(f'class {name}('): bad.append(f'{page}: {name} is a class, its signature reads {sig[:40]!r}')
        lines = sig.splitlines()
        if len(lines) > 1 and '#' not in sig and not all(_one_parameter(l) for l in lines[1:-1]):
            bad.append(f'{page}: {name}: a signature over several lines with several parameters on a line: {sig[:300]!r}')
    return bad


_re_raw_markdown = re.compile(r'\]\(|\{target=|`|\*\*\w|\.;(?=\s|$)|^#{1,6} ', re.M)
_re_test_code = re.compile(r'\btest_\w+\(|\bfastcore\.test\b|\bnbdev\.showdoc\b|\bfrom nbdev\b|\bshow_doc\(')


def page_defects(page_html: str, page: str, api_page: bool = True, url: str = '', symbols: dict | None = None) -> list[str]:
    """What a reader should not see on `page`: raw markdown in the prose (a link inside a link's text, backticks, `**`, `.;`),
    a "Tests" heading, test code in a code block (on an API page, an `assert` too), a section with nothing in it, a backticked
    name linked to an object of the package outside its public API, a signature that does not read cleanly. `symbols` maps
    'page.html#anchor' to the symbol documented there (default: the package's module index)"""
    art, bad = article_tree(page_html), []
    for p in (n for n in art.iter() if n.tag in ('p', 'li', 'td', 'th', 'dd', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6')):
        if p.tag in ('li', 'td', 'dd') and any(c.tag == 'p' for c in p.elements()): continue   # its paragraphs are checked
        text = ' '.join(prose_text(p).split())
        if m := _re_raw_markdown.search(text): bad.append(f'{page}: raw markdown {m[0]!r} in {text[max(0, m.start() - 60):m.end() + 60]!r}')
    for h in (n for n in art.iter() if re.fullmatch(r'h[1-6]', n.tag)):
        if h.text().replace('¶', '').strip().lower() in ('tests', 'test'): bad.append(f'{page}: a "Tests" section')
    for pre in (n for n in art.iter() if n.tag == 'pre' and not _in_output(n)):
        code = pre.text()
        if m := _re_test_code.search(code): bad.append(f'{page}: test code {m[0]!r} shown: {code[:120]!r}')
        elif api_page and re.search(r'^\s*assert\b', code, re.M): bad.append(f'{page}: an assert shown: {code[:120]!r}')
    for sec in (n for n in art.iter() if n.tag == 'section'):
        content = [c for c in sec.children if (isinstance(c, str) and c.strip()) or (isinstance(c, Node) and not re.fullmatch(r'h[1-6]', c.tag))]
        if not content: bad.append(f"{page}: an empty section {sec.text().replace('¶', '').strip()!r}")
    syms, public = symbols or doc_symbols(), public_names()
    for a in (n for n in art.iter() if n.tag == 'a' and n.attrs.get('href')):
        kids = [c for c in a.children if not (isinstance(c, str) and not c.strip())]
        if len(kids) != 1 or not isinstance(kids[0], Node) or kids[0].tag != 'code': continue   # a backticked name's link
        href = a.attrs['href'].removeprefix(url) if url else a.attrs['href']
        target, _, frag = href.partition('#')
        if not frag or target in ('', page) or (sym := syms.get(f'{target}#{frag}')) is None: continue
        owner = sym.split('.')[2] if sym.count('.') >= 2 else sym
        if owner not in public:
            bad.append(f"{page}: `{a.text().strip()}` links to {href}, the package's internal {sym}, not a public name")
    return bad + signature_defects(art, page, syms)


def _api_page(page: str) -> bool:
    "Pages of API notebooks (not the home page, not tutorials): no asserts there"
    return page != 'index.html' and not page.startswith('tutorial_')


def test_every_page_reads_cleanly(site):
    "No page shows raw markdown, a Tests section, test code, an empty section, a wrong link or a ragged signature"
    pages = sorted(p for p in site.glob('*.html') if p.name not in ('genindex.html', 'search.html'))
    assert len(pages) >= 20, pages
    bad = [d for p in pages for d in page_defects(p.read_text(encoding='utf-8'), p.name, _api_page(p.name), site_url())]
    assert not bad, f'{len(bad)} defects:\n' + '\n'.join(bad[:60])


# Concrete examples, cut from the pages as they were built before these checks existed (2026-12-03): each must be found.
DEFECTS = {
    'nested link': ('index.html', '<article><p><strong>Sparse training first</strong>: [<a class="reference external" '
                    'href="regularize.html#regularizecallback"><code class="docutils literal notranslate"><span class="pre">'
                    'RegularizeCallback</span></code></a>](regularize.html) (L1, BatchNorm scales).</p></article>', "raw markdown ']('"),
    'wrong link': ('index.html', '<article><p>masks outlive a fit (<a class="reference external" href="cli.html#fit"><code class='
                   '"docutils literal notranslate"><span class="pre">fit</span></code></a> twice)</p></article>', 'internal sparsify.cli.fit',
                   {'cli.html#fit': 'sparsify.cli.fit'}),   # the module index then had the command line's `fit(args, learn, ...)`
    'tests section': ('callback.html', '<article><section id="tests"><h2>Tests<a class="headerlink" href="#tests">¶</a></h2>'
                      '<p><code>synth_learner</code> is fastai’s quick fixture.</p></section></article>', 'a "Tests" section'),
    'bullet ending .;': ('callback.html', '<article><ul><li><p><code>after_step</code>: the stored masks are re-applied, so momentum '
                         'cannot revive pruned weights.;</p></li></ul></article>', "raw markdown '.;'"),
    'test imports': ('structural.html', '<article><div class="cell docutils container"><div class="cell_input docutils container">'
                     '<div class="highlight-python notranslate"><div class="highlight"><pre>import copy\nfrom fastcore.test import '
                     'test_eq, test_close, test_fail\nfrom nbdev.showdoc import show_doc</pre></div></div></div></div></article>',
                     "test code 'fastcore.test'"),
    'test code': ('regularize.html', '<article><div class="cell_input docutils container"><pre>g = penalty_grads(RegularizeCallback('
                  "'l1', 0.1, warmup=0))\ntest_close(g['0.weight'].flatten(), torch.tensor([0.1, 0.1, 0., -0.1]))</pre></div></article>",
                  "test code 'test_close('"),
    'empty section': ('groups.html', '<article><section id="the-granularity"><h2>The granularity<a class="headerlink" '
                      'href="#the-granularity">¶</a></h2>\n</section><section id="the-sparsifier"><h2>The sparsifier</h2><p>Each '
                      'group is read once.</p></section></article>', "an empty section 'The granularity'"),
    'class as def, NoneType, ragged': ('callback.html', '<article><div class="cell_output docutils container"><p class="rubric" '
        'id="sparsifycallback">SparsifyCallback</p><div class="highlight-python notranslate"><div class="highlight"><pre>'
        "def SparsifyCallback(\n    sparsity:NoneType=None, granularity:str='weight', context:str='local',\n    seed:int=0, "
        'verbose:bool=True\n):</pre></div></div></div></article>', 'SparsifyCallback is a class'),
}


@pytest.mark.parametrize('defect', list(DEFECTS))
def test_page_defects_are_found(defect):
    "Each defect of the site as it was is found by `page_defects` (so `test_every_page_reads_cleanly` would have failed)"
    page, fragment, wanted, *symbols = DEFECTS[defect]
    found = page_defects(fragment, page, _api_page(page), symbols={**doc_symbols(), **symbols[0]} if symbols else None)
    assert any(wanted in f for f in found), found
    if defect.startswith('class'): assert any('NoneType' in f for f in found) and any('several parameters on a line' in f for f in found), found


def test_readme_shows_no_raw_markdown():
    "README.md (GitHub renders it, not Sphinx): no link inside a link's text, no '.;', no Quarto attributes, outside code blocks"
    text = re.sub(r'^```.*?^```', '', (ROOT/'README.md').read_text(encoding='utf-8'), flags=re.M | re.S)
    bad = [m[0] for m in re.finditer(r'\[[^\]\n]*\[[^\]\n]*\]\([^)\n]*\)[^\]\n]*\]\(|\.;(?=\s)|\{target=', text)]
    assert not bad, bad
    assert not re.search(r'\[`fit`\]\(', text), 'README links `fit` (fastai\'s Learner.fit) to an object of the package'
