"""Write README.md from nbs/index.ipynb, without Quarto and without executing anything.

    python tools/build_readme.py          # write README.md
    python tools/build_readme.py --check  # exit 1 if README.md is not what would be written (for CI)

The notebook goes through nbdev's doc processors (hidden cells and `#| hide` lines go, backticked names become
links to the docs site), its front matter becomes `# title` and `> description`, and nbconvert's markdown exporter
writes the rest: code cells as code, with their saved outputs if any (images go to `README_files/`).
"""
from __future__ import annotations
import argparse, difflib, re, sys, tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_docs import (ROOT, NBS, apply_directives, clean_metadata, map_markdown, pop_front_matter,  # noqa: E402
                        process_notebooks, read_nb, strip_quarto_syntax)

README = ROOT/'README.md'


def processed_index(src: Path):
    "`src` after nbdev's doc processors, as an nbformat notebook"
    with tempfile.TemporaryDirectory() as tmp:
        return read_nb(process_notebooks([src], Path(tmp)/'proc', workers=0)[0])


def title_cell(fm: dict):
    "A markdown cell with `# title` and `> description`, as nbdev's Quarto README shows the front matter"
    from nbformat.v4 import new_markdown_cell
    desc = ' '.join(str(fm.get('description', '')).split())
    return new_markdown_cell(f"# {fm.get('title', ROOT.name)}" + (f'\n\n> {desc}' if desc else ''))


def exporter():
    "nbconvert's markdown exporter, dropping the inputs of `echo: false` cells and the outputs of `output: false` ones"
    from nbconvert import MarkdownExporter
    from traitlets.config import Config
    return MarkdownExporter(config=Config({'TagRemovePreprocessor': {
        'enabled': True, 'remove_input_tags': {'remove-input'}, 'remove_all_outputs_tags': {'remove-output'}}}))


def tidy(md: str) -> str:
    "No trailing spaces, at most one blank line in a row, one final newline"
    md = re.sub(r'[ \t]+$', '', md, flags=re.M)
    return re.sub(r'\n{3,}', '\n\n', md).strip() + '\n'


def render(src: Path = NBS/'index.ipynb') -> tuple[str, dict[str, bytes]]:
    "The README text for `src` and the image files it refers to (name relative to the repo -> bytes)"
    nb = processed_index(src)
    fm = pop_front_matter(nb)
    clean_metadata(nb)
    apply_directives(nb)
    nb.cells.insert(0, title_cell(fm))
    map_markdown(nb, strip_quarto_syntax)
    body, res = exporter().from_notebook_node(nb, resources={'unique_key': 'README', 'output_files_dir': 'README_files'})
    return tidy(body), res.get('outputs', {})


def check(text: str, path: Path) -> int:
    "0 if `path` holds `text`, else 1 with a diff"
    old = path.read_text() if path.exists() else ''
    if old == text: return 0
    diff = difflib.unified_diff(old.splitlines(True), text.splitlines(True), path.name, 'from nbs/index.ipynb')
    sys.stderr.write(''.join(list(diff)[:80]) + f'\n{path.name} is out of date: run python tools/build_readme.py\n')
    return 1


def write(text: str, files: dict[str, bytes], path: Path):
    "Write the README to `path` and its images next to it"
    path.write_text(text)
    for name, data in files.items():
        (path.parent/name).parent.mkdir(parents=True, exist_ok=True)
        (path.parent/name).write_bytes(data)
    print(f'wrote {path}' + (f' and {len(files)} image(s)' if files else ''))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--check', action='store_true', help='exit 1 if the README differs from what would be written')
    p.add_argument('--out', type=Path, default=README, help='where the README goes (default: README.md)')
    args = p.parse_args(argv)
    text, files = render()
    if args.check: sys.exit(check(text, args.out))
    write(text, files, args.out)


if __name__ == '__main__': main()
