"""The docs site, as a reader's browser shows it.

Builds `_site/` with `tools/build_docs.py` when it is missing or older than the notebooks, serves it on a free
localhost port and loads the home page, the callback's API page and the first tutorial in headless Chromium:
`--dump-dom` for the checks, `--screenshot` for a look by eye (saved to `.screenshots/`); measures every code block of
every page in a desktop and a narrow window (none may be cut off). The Chromium tests are skipped where it is not
installed (`apt-get install chromium`); the check that every internal link and `#anchor` resolves, and that no id
repeats on a page, reads the built HTML and runs anywhere.
"""
from __future__ import annotations
import collections, functools, html, html.parser, http.server, importlib.util, json, os, re, shutil, subprocess, sys
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
    "The page nbdev renders a notebook to: `05_callback.ipynb` -> `callback.html`"
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
    'distributed': lambda: NBS/'09a_distributed.ipynb',   # "Training on several GPUs or machines"
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


@needs_chromium
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
