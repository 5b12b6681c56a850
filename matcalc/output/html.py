"""Derivations as HTML: a self-contained page, or a fragment for Jupyter, with every
formula in MathML, so that a browser shows the mathematics with no network and no
JavaScript.

The page is made from the same data as the LaTeX documents (:func:`.render.present`: a
dict of LaTeX strings and sentences) in three steps, none of which does any mathematics:

1. every formula is converted to MathML on its own (:func:`.mathml.to_mathml`); an
   aligned block is never converted, as latex2mathml cannot align.  A row of a derivation
   is laid out as a row of an HTML table instead (lhs | = rhs | rule), and a right-hand
   side that the LaTeX printer broke into lines (``\\\\ & \\quad …``) as one line each;
2. the sentences (LaTeX text with ``$…$`` math) become escaped HTML text with inline
   MathML, and a rule name (``\\text{chain rule through }\\sigma``) escaped text with its
   symbols in MathML;
3. the template ``derivation.html.j2`` (found and sandboxed as the LaTeX templates are, see
   :mod:`.render`) arranges these pieces.  Every string it is given is already HTML.
"""
from __future__ import annotations

import html

from ..core import budget
from .mathml import _TEXT_COMMAND, group_end, plain_text, to_mathml
from .render import environment, present
from .sandbox import render as render_template

__all__ = ["to_html", "repr_html", "TEMPLATE"]

TEMPLATE = "derivation.html.j2"


@budget.budgeted("rendering")
def to_html(derivation, *, full=True, template_dir=None, bold_vectors=False, names=None,
            function_name=None, title=None, compact=True, detail="textbook") -> str:
    """A derivation (or a list of them) as HTML with MathML: a complete page, or with
    ``full=False`` a fragment (no ``<html>`` or ``<head>``, its style included) for a
    notebook or another page.

    ``title``, ``names``, ``function_name``, ``bold_vectors``, ``compact`` and ``detail`` are those of
    :func:`~matcalc.output.render.to_latex`, and so is a list of derivations or
    ``(derivation, options)`` pairs; ``template_dir`` is looked in first for
    ``derivation.html.j2``.
    """
    with budget.stage("rendering"):
        several = isinstance(derivation, (list, tuple))
        documents = []
        for item in derivation if several else [derivation]:
            item, options = item if isinstance(item, tuple) else (item, {})
            settings = {"names": names, "function_name": function_name,
                        "title": None if several else title, **options}
            documents.append(_page_parts(present(item, bold_vectors=bold_vectors, compact=compact,
                                                 escape=html.escape, detail=detail, **settings)))
        from .._version import __version__
        return render_template(
            environment(template_dir), TEMPLATE, derivations=documents, full=full,
            title=html.escape(title) if title and several else None,
            page_title=html.escape(title) if title else "Derivation", version=__version__)


def repr_html(derivation) -> str:
    """Jupyter's ``_repr_html_``: the fragment."""
    return to_html(derivation, full=False)


def _page_parts(document) -> dict:
    """The dict of :func:`~matcalc.output.render.present` (LaTeX), as pieces of HTML."""
    results = document["results"]
    return {
        "title": document["title"],   # escaped by present, with html.escape
        "heading": sentence(document["heading"]),
        "let": sentence(document["let"]),
        "definitions": [row(f["name"], f["expression"]) for f in document["forward"]]
        + [row(document["function"]["name"], document["function"]["expression"])],
        "layout": sentence(document["layout"]),
        "sections": [{"intro": sentence(s["intro"]),
                      "rows": [row(r["lhs"], r["rhs"], rule=r["rule"], defines=r["defines"])
                               for r in s["rows"]]}
                     for s in document["sections"]],
        "where": [row(w["name"], w["expression"]) for w in document["where"]],
        "results_label": "Results" if len(results) > 1 else "Result",
        "results": [row(r["lhs"], r["rhs"], space=r["space"]) for r in results],
    }


# ---------------------------------------------------------------- formulas

def formula(tex: str) -> str:
    """One formula of a row, as inline MathML set in display style."""
    return to_mathml(tex, displaystyle=True)


def row(lhs, rhs, *, rule="", defines=None, space=None) -> dict:
    """A row ``lhs = rhs [=: defines] [∈ space]``, with its rule: ``lhs`` as MathML, the
    right-hand side as one MathML line per line of the LaTeX (the first starting with
    "="), the rule as HTML."""
    lines = lines_of(rhs)
    lines[-1] += (r" \mathrel{=:} " + defines if defines else "") + (r" \in " + space if space else "")
    return {"lhs": formula(lhs) if lhs else "",
            "lines": [formula("{} = " + lines[0])] + [formula(line) for line in lines[1:]],
            "rule": math_text(rule) if rule else ""}


def _top_level(tex):
    """``(index, character)`` for each character of ``tex`` outside braces and
    ``\\begin…\\end`` environments; a backslash comes with the character after it."""
    depth, i = 0, 0
    while i < len(tex):
        if tex.startswith(r"\begin", i):
            depth += 1
        elif tex.startswith(r"\end", i):
            depth -= 1
        char = tex[i]
        if char == "\\":
            if depth == 0:
                yield i, tex[i:i + 2]
            i += 2
            continue
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth == 0 and char not in "{}":
            yield i, char
        i += 1


def lines_of(tex: str) -> list[str]:
    r"""The lines of a right-hand side the LaTeX printer broke with ``\\`` (``&`` alignment
    marks dropped: each line is laid out by the page), at least one."""
    lines, start, marks = [], 0, []
    for i, token in _top_level(tex):
        if token == "\\\\":
            lines.append(_without(tex[start:i], marks, start))
            start, marks = i + 2, []
        elif token == "&":
            marks.append(i)
    lines.append(_without(tex[start:], marks, start))
    return [line.strip() for line in lines]


def _without(text, positions, offset):
    """``text`` without the characters at ``positions`` (indices into the whole, less ``offset``)."""
    for position in reversed(positions):
        text = text[:position - offset] + text[position - offset + 1:]
    return text


# ---------------------------------------------------------------- text with math

def math_text(tex: str) -> str:
    r"""A math-mode rule name (``\text{chain rule through }\sigma``) as HTML: the texts
    escaped, the rest MathML."""
    out, i = [], 0
    for match in _TEXT_COMMAND.finditer(tex):
        if match.start() < i:
            continue
        out.append(_math(tex[i:match.start()]))
        end = group_end(tex, match.end() - 1)
        if end < 0:   # not LaTeX the printer writes: let the converter say what is wrong
            return to_mathml(tex)
        out.append(html.escape(plain_text(tex[match.end():end - 1])))
        i = end
    out.append(_math(tex[i:]))
    return "".join(out)


def _math(tex):
    return to_mathml(tex) if tex.strip() else ""


def sentence(text: str) -> str:
    """LaTeX text with ``$…$`` math (escaped as by
    :func:`~matcalc.output.latex.escape_text`) as HTML: the text escaped, the math MathML."""
    parts = _dollar_split(text)
    return "".join(_math(part) if k % 2 else html.escape(plain_text(part)) for k, part in enumerate(parts))


def _dollar_split(text):
    """Text and math in turn: ``a $x$ b`` → ``["a ", "x", " b"]`` (``\\$`` is a dollar)."""
    parts, start = [], 0
    for i, token in _top_level(text):
        if token == "$":
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts
