"""The pages of ``docs/gallery/``: each entry of :mod:`.gallery` as

* ``<key>.md``: Markdown with ``$$`` math (:func:`~matcalc.output.render.to_latex` with the
  "markdown" template), which GitHub renders;
* ``<key>.html``: a page with MathML (:func:`~matcalc.output.html.to_html` with
  ``full=False``), which any browser shows offline, with no JavaScript;
* ``<key>.tex`` and ``<key>.pdf``: the "article" template, compiled by pdflatex;

and the index, ``README.md`` (for GitHub) and ``index.html`` (for a browser).  The pages put the entry's title and description around
what the printers write, and add the stationary point a part asks for; nothing here does
calculus but ask :func:`~matcalc.apps.solve.solve_stationary` for that point.

:func:`write_gallery` writes everything (through :mod:`matcalc.files`, atomically);
:func:`stale_files` lists the files that differ from what it would write (the PDFs, which
are binary, only when missing).
"""
from __future__ import annotations

import html
from pathlib import Path

from tqdm import tqdm

from .. import files
from ..errors import MatcalcError
from ..output.html import formula, sentence, to_html
from ..output.latex import escape_text, latex, partial
from ..output.render import compile_pdf, escape_markdown, to_latex
from .gallery import entries as all_entries
from .solve import solve_stationary

__all__ = ["TEXT_SUFFIXES", "INDEX", "INDEX_PAGE", "render_entry", "index", "index_page", "write_gallery",
           "stale_files"]

TEXT_SUFFIXES = (".md", ".html", ".tex")
"""The generated text files of an entry; its ``.pdf`` is made from the ``.tex``."""

INDEX = "README.md"
INDEX_PAGE = "index.html"
MAX_PAGE_BYTES = 16 * files.MiB

_LINKS = (("Markdown", ".md"), ("HTML", ".html"), ("PDF", ".pdf"), ("LaTeX", ".tex"))
_KIND_NOUNS = {"gradient": "gradient", "hessian": "Hessian", "jacobian": "Jacobian",
               "vjp": "vector-Jacobian product"}


# ================================================================ one entry

def render_entry(entry) -> dict[str, str]:
    """``{file name: text}`` of the ``.md``, ``.html`` and ``.tex`` of ``entry``."""
    parts = entry.parts()
    items = [(part.derive(), part.options()) for part in parts]
    stationary = [_stationary(part) for part in parts if part.solve_for is not None]
    return {f"{entry.key}.md": _markdown(entry, items, stationary),
            f"{entry.key}.html": _html(entry, items, stationary),
            f"{entry.key}.tex": _article(entry, items, stationary)}


def _stationary(part) -> tuple[str, str]:
    """(LaTeX sentence, LaTeX formula) of the point where the part's gradient vanishes."""
    w = part.solve_for
    solution = solve_stationary(part.function, w)
    fname = part.function_name or "L"
    return (r"Setting $%s = 0$ and solving for $%s$ gives the stationary point"
            % (partial(fname, w), latex(w)),
            r"\hat{%s} = %s" % (latex(w), latex(solution)))


def _links(key) -> str:
    return " · ".join(f"[{label}]({key}{suffix})" for label, suffix in _LINKS) + f" · [all examples]({INDEX})"


def _markdown(entry, items, stationary) -> str:
    lines = [f"# {escape_markdown(entry.title)}", "", entry.description, "", _links(entry.key), "",
             to_latex(items, template="markdown").strip("\n")]
    for text, math in stationary:
        lines += ["", "## Stationary point", "", text + ":", "", "$$", math, "$$"]
    return "\n".join(lines) + "\n"


_PAGE = """<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" lang="en">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<title>{title} · matcalc gallery</title>
<style>body {{ margin: 2rem auto; padding: 0 1.5rem; max-width: 52rem; background: #fff; }}</style>
</head>
<body>
<main class="matcalc">
<p><a href="{index}">matcalc gallery</a></p>
<h1>{title}</h1>
<p>{description}</p>
<p>{links}</p>
{derivations}{stationary}</main>
</body>
</html>
"""


def _html(entry, items, stationary) -> str:
    links = " · ".join(f'<a href="{entry.key}{suffix}">{label}</a>' for label, suffix in _LINKS
                       if suffix != ".html")
    closing = "".join(f'<h2>Stationary point</h2>\n<p>{sentence(text)}:</p>\n'
                      f'<div class="display">{formula(math)}</div>\n' for text, math in stationary)
    return _PAGE.format(title=html.escape(entry.title), index=html.escape(INDEX_PAGE),
                        description=sentence(entry.description), links=links,
                        derivations=to_html(items, full=False), stationary=closing)


_BEGIN, _END = "\\begin{document}\n", "\\end{document}"


def _article(entry, items, stationary) -> str:
    """The article template's document, with the title and description after
    ``\\begin{document}`` and the stationary points before ``\\end{document}``."""
    source = to_latex(items, template="article")
    start, end = source.find(_BEGIN), source.rfind(_END)
    if start < 0 or end < start:
        raise MatcalcError("the article template wrote no \\begin{document} … \\end{document}")
    start += len(_BEGIN)
    head = "\\begin{center}\n{\\Large %s}\n\\end{center}\n\n%s\n" % (escape_text(entry.title), entry.description)
    tail = "".join("\\section*{Stationary point}\n%s:\n\\[\n%s\n\\]\n" % (text, math)
                   for text, math in stationary)
    return source[:start] + head + source[start:end] + tail + source[end:]


# ================================================================ the index

def _shows(parts) -> str:
    """What an entry shows, from its parts: "gradient with respect to $W$, $b$; Hessian …"."""
    phrases = []
    layouts = {part.layout for part in parts if part.kind == "jacobian"}
    for part in parts:
        phrase = "%s with respect to %s" % (_KIND_NOUNS[part.kind], ", ".join(f"${latex(x)}$" for x in part.wrt))
        if part.kind == "jacobian" and len(layouts) > 1:
            phrase += f" ({part.layout} layout)"
        if part.solve_for is not None:
            phrase += "; stationary point"
        if phrase not in phrases:
            phrases.append(phrase)
    return "; ".join(phrases)


_ABOUT = ("Derivations people look for, each written out by matcalc step by step: the forward pass "
          "with named intermediates, one line per step with its rule, and the results with their "
          "shapes. Each example is a Markdown page (math rendered by GitHub), an HTML page with "
          "MathML (for a browser, offline), a PDF and its LaTeX source.")
_GENERATED = ("Generated by `make gallery` (`python scripts/gallery.py --out docs/gallery`) from the "
              "entries of `matcalc/apps/gallery.py`; do not edit these files by hand. "
              "`python scripts/gallery.py --check` and `tests/apps/test_gallery.py` check that they "
              "are up to date, and that every derivation agrees with finite differences.")


def index() -> str:
    """The gallery's ``README.md``: a table of the entries with links to their files."""
    lines = ["# The matcalc gallery", "", _ABOUT, "", _GENERATED, "",
             "| example | what it shows | files |", "|---|---|---|"]
    for entry in all_entries():
        links = " · ".join(f"[{label}]({entry.key}{suffix})" for label, suffix in _LINKS)
        lines.append(f"| [{escape_markdown(entry.title)}]({entry.key}.md) | {_shows(entry.parts())} | {links} |")
    return "\n".join(lines) + "\n"


_INDEX_PAGE = """<!DOCTYPE html>
<html xmlns="http://www.w3.org/1999/xhtml" lang="en">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1" />
<title>matcalc gallery</title>
<style>
body {{ margin: 2rem auto; padding: 0 1.5rem; max-width: 60rem; font-family: Georgia, serif; line-height: 1.5; }}
math {{ font-family: "Latin Modern Math", "STIX Two Math", "Cambria Math", math; font-size: 1.1em; }}
td, th {{ padding: 0.35em 0.8em 0.35em 0; text-align: left; vertical-align: top; }}
td:last-child {{ white-space: nowrap; }}
</style>
</head>
<body>
<h1>The matcalc gallery</h1>
<p>{about}</p>
<table>
<tr><th>example</th><th>what it shows</th><th>files</th></tr>
{rows}
</table>
</body>
</html>
"""


def index_page() -> str:
    """``index.html``: the index for a browser, offline, linking to the HTML pages."""
    rows = []
    for entry in all_entries():
        links = " · ".join(f'<a href="{entry.key}{suffix}">{label}</a>' for label, suffix in _LINKS
                           if suffix != ".html")
        rows.append(f'<tr><td><a href="{entry.key}.html">{html.escape(entry.title)}</a></td>'
                    f"<td>{sentence(_shows(entry.parts()))}</td><td>{links}</td></tr>")
    return _INDEX_PAGE.format(about=html.escape(_ABOUT), rows="\n".join(rows))


def _indexes() -> dict[str, str]:
    return {INDEX: index(), INDEX_PAGE: index_page()}


# ================================================================ writing and checking

def _rendered(selection, progress):
    """(entry, {file name: text}) for each entry, with a progress bar when asked."""
    bar = tqdm(selection, desc="gallery", unit="example", disable=not progress, leave=False)
    for entry in bar:
        bar.set_postfix_str(entry.key)
        yield entry, render_entry(entry)


def write_gallery(out, *, selection=None, pdf=True, progress=False) -> list[Path]:
    """Write the pages of the entries ``selection`` (default: all; with ``pdf`` their PDFs
    too) and the index of the whole gallery into the directory ``out``; returns the paths
    written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    selection = list(selection if selection is not None else all_entries())
    written = []
    for entry, texts in _rendered(selection, progress):
        for name, text in texts.items():
            written.append(files.write(out / name, text, what="gallery page"))
        if pdf:
            written.append(compile_pdf(texts[f"{entry.key}.tex"], out / f"{entry.key}.pdf"))
    for name, text in _indexes().items():
        written.append(files.write(out / name, text, what="gallery index"))
    return written


def stale_files(out, *, selection=None, progress=False) -> list[tuple[str, str]]:
    """``(file name, why)`` for each file of ``out`` that :func:`write_gallery` would
    change: a text file of the entries ``selection`` (default: all) or the index that
    differs or is missing, a missing PDF, and a page or PDF that no entry of the gallery
    writes.  Empty when the gallery is up to date."""
    out = Path(out)
    selection = list(selection if selection is not None else all_entries())
    expected = _indexes()
    for entry, texts in _rendered(selection, progress):
        expected.update(texts)
    stale = []
    for name, text in expected.items():
        path = out / name
        if not path.exists():
            stale.append((name, "missing"))
        elif files.read(path, limit=MAX_PAGE_BYTES, what="gallery page").decode("utf-8") != text:
            stale.append((name, "differs"))
    stale += [(f"{entry.key}.pdf", "missing") for entry in selection if not (out / f"{entry.key}.pdf").exists()]
    if out.is_dir():
        known = {INDEX, INDEX_PAGE} | {entry.key + suffix for entry in all_entries() for suffix in TEXT_SUFFIXES + (".pdf",)}
        stale += [(path.name, "written by no entry") for path in sorted(out.iterdir())
                  if path.suffix in TEXT_SUFFIXES + (".pdf",) and path.name not in known]
    return stale
