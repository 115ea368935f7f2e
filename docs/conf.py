"""Sphinx config for the docs site that `tools/build_docs.py` builds from the processed notebooks.

The sources are generated notebooks (in `build/docs/src/`), already executed: myst-nb only renders them.
Everything the pages need is served from the site itself (MathJax too, via sphinx-mathjax-offline), so it works offline.
"""
import importlib.util, tomllib
from pathlib import Path

_pyproject = tomllib.loads((Path(__file__).resolve().parent.parent/'pyproject.toml').read_text())
_nbdev, _project = _pyproject['tool']['nbdev'], _pyproject['project']

project = _nbdev.get('title', _project['name'])
html_title = project
author = ', '.join(a['name'] for a in _project.get('authors', []))
copyright = author

extensions = ['myst_nb']
if importlib.util.find_spec('sphinx-mathjax-offline'): extensions.append('sphinx-mathjax-offline')  # MathJax in _static/
# (without that package the pages load MathJax from its CDN: math then needs a network connection to render)
root_doc = 'index'
exclude_patterns = ['_build', '**.ipynb_checkpoints']

# myst-nb: render the stored outputs; text/markdown outputs (show_doc) are MyST too
nb_execution_mode = 'off'
nb_render_markdown_format = 'myst'
nb_merge_streams = True
myst_enable_extensions = ['dollarmath', 'colon_fence', 'attrs_block', 'html_image']
myst_all_links_external = True  # nbdev links pages as `page.html#anchor`: keep them as they are
suppress_warnings = ['mystnb.unknown_mime_type']

html_theme = 'furo'
html_static_path = ['_static']
html_css_files = ['custom.css']
html_copy_source = False
html_show_sourcelink = False
html_theme_options = {'top_of_page_buttons': []}
