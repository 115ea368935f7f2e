"""The docs site, as a reader's browser shows it.

Builds `_site/` with `tools/build_docs.py` when it is missing or older than the notebooks, serves it on a free
localhost port and loads the home page, the callback's API page and the first tutorial in headless Chromium:
`--dump-dom` for the checks, `--screenshot` for a look by eye (saved to `.screenshots/`).
Skipped where Chromium is not installed (`apt-get install chromium`).
"""
from __future__ import annotations
import functools, html, http.server, json, os, re, shutil, subprocess, sys, tempfile, threading, urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SITE, NBS, SHOTS = ROOT/'_site', ROOT/'nbs', ROOT/'.screenshots'
BUILD_INPUTS = [ROOT/'tools'/'build_docs.py', *(p for p in (ROOT/'docs').rglob('*') if p.is_file())]
CHROMIUM = shutil.which('chromium') or next((p for p in ('/usr/bin/chromium',) if Path(p).exists()), None)
CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic',
                  '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
                  '--hide-scrollbars']

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason='needs Chromium for the headless-browser test '
                                '(Debian: apt-get install chromium)')


def page_of(nb: Path) -> str:
    "The page nbdev renders a notebook to: `05_callback.ipynb` -> `callback.html`"
    return re.sub(r'^\d+[a-z]?_', '', nb.stem) + '.html'


def nb_title(nb: Path) -> str:
    "The text of the notebook's H1"
    cells = json.loads(nb.read_text())['cells']
    src = next(''.join(c['source']) for c in cells if c['cell_type'] == 'markdown' and ''.join(c['source']).startswith('# '))
    return re.sub(r'[`*]', '', src.splitlines()[0][2:]).strip()


def notebooks() -> list[Path]: return sorted(NBS.glob('[!._]*.ipynb'))


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


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args): pass


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


def test_search(base_url, home):
    "Sphinx's search (run by the page's JavaScript) finds the Sparsifier page"
    dom = dump_dom(home, base_url + 'search.html?q=Sparsifier')
    results = re.search(r'<ul\b[^>]*class="search".*?</ul>', dom, re.S)
    assert results and 'href="sparsifier.html' in results[0], 'search for Sparsifier does not list sparsifier.html'
