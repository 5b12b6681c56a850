"""Derivations as documents: LaTeX articles, ``align*`` fragments and Markdown.

A :class:`~matcalc.derive.Derivation` is data (function, variables, steps, results).
This module turns it into text in three stages, none of which does any calculus:

1. **Naming** (:func:`~matcalc.output.naming.name_intermediates`, in :mod:`.naming`): a
   pure-structure pass that finds the subexpressions a textbook would name and substitutes
   named symbols for them — the forward pass (``Z_1 = X W_1 + 1 b_1``, ``A_1 = σ(Z_1)``,
   ``Ŷ = softmax(Z_2)``), the backpropagated errors (``G_2 = ∂L/∂Z_2``) and any large
   subexpression that repeats.  Names come from the user's ``names={expr: "G"}`` first,
   then from these defaults.
2. **Presenting** (:func:`present`): every expression printed once by
   :mod:`matcalc.latex`, arranged as a plain dict of LaTeX strings and sentences.
3. **Templating** (:func:`to_latex`): a Jinja2 template arranges the strings.  Delimiters
   that do not fight LaTeX braces (``<% %>``, ``<%= %>``, ``<# #>``), ``autoescape`` off,
   ``StrictUndefined``, sandboxed.  User text (titles) is escaped; math never is.

Templates are looked up in the user's ``template_dir``, then in the installed package
(``matcalc/templates``, where the wheel puts the top-level ``templates/``), then in the
``templates/`` of a source checkout.

Every walk over an expression visits each distinct node once (results are DAGs whose
trees may be exponentially larger), within tables that last one call of :func:`present`;
the work is charged to the work budget as the stage "rendering".
"""
from __future__ import annotations

import functools
import itertools
import os
import re
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import sympy
from sympy.matrices.expressions import HadamardProduct, MatAdd, MatMul, MatrixExpr
from sympy.matrices.expressions.matexpr import MatrixSymbol as SympyMatrixSymbol

from .. import files
from ..core import budget
from ..core.symbols import matrix_symbols
from ..core.walk import scalar_symbols
from ..errors import ArgumentError, MatcalcError
from .latex import MatcalcLatexPrinter, escape_text, latex, partial, rule_text, shape_space
from .linebreak import (
    LINE_WIDTH, TEXT_WIDTH, latex_lines, narrowest, narrowest_partial, partial_lines, width,
)
from .symbols import spellings_of
from .sandbox import BudgetedSandbox, TemplateError, load as load_template, render as render_template
from .naming import (  # noqa: F401  (Name, substitute and name_intermediates are re-exported)
    _LEAVES, Name, _canonical, _NamePool, _postorder, _symbol_for, _taken_tex, name_intermediates,
    per_call, shared_names, substitute,
)

__all__ = [
    "LatexError", "TemplateError", "to_latex", "write_pdf", "compile_pdf", "present", "name_intermediates",
    "template_exists", "repr_latex", "repr_markdown", "overfull_boxes", "OverfullBoxWarning",
]

TEMPLATES = {
    "article": "article.tex.j2",
    "fragment": "fragment.tex.j2",
    "markdown": "markdown.md.j2",
    "notebook": "notebook.tex.j2",
}


class LatexError(MatcalcError, RuntimeError):
    """pdflatex is missing or rejected a document (the message quotes its log)."""


# ================================================================ presentation

def _function_name(derivation, given):
    if given:
        return given
    name = getattr(derivation, "name", None)
    if isinstance(name, str) and name:
        return latex(sympy.Symbol(name))
    if derivation.kind == "vjp":
        return "Y" if isinstance(derivation.function, MatrixExpr) else "y"
    return "y" if derivation.kind == "jacobian" else "L"


def _numerator(derivation, fname, show):
    """What the reverse steps differentiate: the function, or ⟨G, Y⟩ for a vector-Jacobian
    product with cotangent G."""
    if derivation.kind == "vjp":
        return r"\langle %s, %s \rangle" % (show(derivation.cotangent), fname)
    return fname


def _results(derivation):
    results = getattr(derivation, "results", None)
    if results:
        return dict(results)
    values = derivation.result if isinstance(derivation.result, tuple) else (derivation.result,)
    return dict(zip(derivation.wrt, values))


def _sections(derivation):
    """Split the steps into one run per variable and mode: reverse-mode steps end at a
    variable or at the gradient step of a Hessian; forward-mode steps end where the
    Jacobian is read off."""
    sections, current = [], []
    forward = derivation.kind == "jacobian"
    variables = list(derivation.wrt)
    for step in derivation.steps:
        current.append(step)
        if step.rule == "gradient" and derivation.kind == "hessian":
            sections.append(("reverse", current))
            current, forward = [], True
        elif step.rule.startswith("read off the Jacobian"):
            sections.append(("forward", current))
            current = []
            forward = derivation.kind == "jacobian"
    if current:
        sections.append(("forward" if forward else "reverse", current))
    # Attach the variable each run belongs to, in the order the engine walked them.
    labelled, k = [], 0
    for mode, steps in sections:
        wrt = variables[min(k, len(variables) - 1)] if variables else None
        one_pass = derivation.kind in ("gradient", "vjp")   # one reverse pass for every variable
        labelled.append((mode, steps, wrt if not one_pass else None))
        if mode == "forward" or one_pass:
            k += 1
    return labelled


def _differential_symbols(derivation, bold_vectors):
    """The engine writes dx as a symbol named "d" + the variable's name; print it as d x."""
    by_name = {}
    expressions = [e for step in derivation.steps for e in (step.before, step.after)]
    given = set(scalar_symbols([derivation.function]))   # a scalar the user named d…
    for s in matrix_symbols(*expressions) + [s for s in scalar_symbols(expressions) if s not in given]:
        by_name.setdefault(str(s.name), []).append(s)
    names = {}
    for x in derivation.wrt:
        tex = latex(x, bold_vectors=bold_vectors)
        for s in by_name.get("d" + str(x.name), ()):
            transposed = (isinstance(x, MatrixExpr) and s.shape != x.shape and s.shape == x.shape[::-1])
            names[s] = r"\mathrm{d}%s%s" % (tex, r"^{\top}" if transposed else "")
    return names


@dataclass
class _Printer:
    """The LaTeX of the expressions of a document, each written as ``rewritten`` says
    (with the names that keep it short, see :func:`present`) and printed once, every symbol
    name spelt one way throughout; then the lines too wide for the page broken
    (:meth:`break_long_lines`)."""
    bold_vectors: bool
    symbol_names: dict = field(default_factory=dict)
    rewritten: dict = field(default_factory=dict)
    definitions: dict = field(default_factory=dict)   # the symbols of those names → definitions
    printed: dict = field(default_factory=dict)
    collecting = False

    def __post_init__(self):
        # One spelling per symbol name for the whole document: two symbols that would print
        # alike keep their literal names in every expression, not only where both occur.
        self.spellings = spellings_of([*self.rewritten.values(), *self.definitions.values(),
                                       *self.definitions])
        self.sources: dict = {}    # printed LaTeX → the expression, to print it again in lines
        self.partials: dict = {}   # printed derivative → (numerator, target)

    def __call__(self, expr) -> str:
        try:
            return self.printed[expr]
        except KeyError:
            pass
        except TypeError:   # unhashable
            return self.exact(expr)
        text = self.printed[expr] = self.exact(self.rewritten.get(expr, expr))
        return text

    def exact(self, expr) -> str:
        """``expr`` printed as it is."""
        text = latex(expr, **self._settings())
        self.sources.setdefault(text, expr)
        return text

    def partial(self, numerator, target):
        target = self.rewritten.get(target, target)
        text = partial(numerator, target, **self._settings())
        self.partials.setdefault(text, (numerator, target))
        return text

    def _settings(self):
        return {"bold_vectors": self.bold_vectors, "symbol_names": self.symbol_names,
                "spellings": self.spellings}

    # ------------------------------------------------------------ lines

    def break_long_lines(self, document) -> dict:
        """``document`` with every aligned block fitted to the page (``LINE_WIDTH``): a
        right-hand side too long for its line goes on over continuation lines
        (``\\\\ &\\quad {}+ …``, broken by :func:`~matcalc.output.linebreak.latex_lines`), and a
        derivative too long to leave room for them moves to lines of its own above its
        ``&=``.  A block that fits is left as it is.  The blocks are those of the article
        template: the forward pass with the function, each section, "where", the results."""
        forward = [(row, "name", "expression", "") for row in document.get("forward", [])]
        if document.get("function"):
            forward.append((document["function"], "name", "expression", "."))
        blocks = [forward, [(row, "name", "expression", "") for row in document.get("where", [])],
                  [(row, "lhs", "rhs", r" \in " + row["space"]) for row in document.get("results", [])]]
        blocks += [[(row, "lhs", "rhs", r" \mathrel{=:} " + row["defines"] if row.get("defines") else "")
                    for row in section["rows"]] for section in document.get("sections", [])]
        for block in blocks:
            self._fit_block(block)
        return document

    def _fit_block(self, rows):
        """Fit one align block: (row, lhs key, rhs key, what follows the rhs) for each row."""
        if not rows:
            return
        left = [width(row[lhs]) for row, lhs, _, _ in rows]
        right = [width(r"= %s%s" % (row[rhs], suffix)) for row, _, rhs, suffix in rows]
        rules = max(width(row.get("rule") or "") for row, _, _, _ in rows)
        rule_column = rules + _COLUMN_SEPARATION if rules else 0.0
        if max(left) + max(right) + rule_column <= TEXT_WIDTH:
            return
        moved = self._derivatives_to_move(rows, left, right, LINE_WIDTH - rule_column)
        room = LINE_WIDTH - rule_column - max((w for i, w in enumerate(left) if i not in moved), default=0.0)
        for i, (row, lhs, rhs, suffix) in enumerate(rows):
            if i in moved:
                numerator, target = self.partials[row[lhs]]
                row[lhs] = "& " + _CONTINUE.join(partial_lines(numerator, target, room, **self._settings())) \
                    + " \\\\\n"
            if right[i] > room and row[rhs] in self.sources:
                row[rhs] = _CONTINUE.join(latex_lines(self.sources[row[rhs]], room - width("= "),
                                                      reserve=width(suffix), **self._settings()))

    def _derivatives_to_move(self, rows, left, right, available) -> set:
        """The rows whose derivative (left-hand side) goes on lines of its own, above its
        ``&=``: every long one, then shorter ones, widest first, while the right-hand sides
        have less room than a fair share or than their pieces that cannot be broken need."""
        movable = sorted((i for i, (row, lhs, _, _) in enumerate(rows) if row[lhs] in self.partials),
                         key=lambda i: -left[i])
        moved = {i for i in movable if left[i] > _LONG_LEFT}

        def room():
            return available - max((w for i, w in enumerate(left) if i not in moved), default=0.0)

        needed = max([width("= ") + narrowest(self.sources[row[rhs]], **self._settings())
                      for i, (row, _, rhs, _) in enumerate(rows)
                      if right[i] > room() and row[rhs] in self.sources] + [_MINIMUM_ROOM])
        for i in movable:
            derivatives = [narrowest_partial(*self.partials[rows[j][0][rows[j][1]]], **self._settings())
                           for j in moved]
            if room() >= max([needed, *derivatives]):
                break
            moved.add(i)
        return moved


_COLUMN_SEPARATION = 10.0   # points between the rule column and the rest, at the least
_LONG_LEFT = 0.3 * LINE_WIDTH      # a derivative this wide has a line of its own if a block is too wide
_MINIMUM_ROOM = 0.35 * LINE_WIDTH  # for the right-hand sides, before shorter derivatives move too
_CONTINUE = " \\\\\n&\\quad "  # from one line of a right-hand side to the next


class _Collector:
    """Stands in for the printer on a first run of :func:`_document`: records the
    expressions the document will print (``seen``) and prints nothing."""

    collecting = True

    def __init__(self):
        self.seen: dict = {}

    def __call__(self, expr) -> str:
        return "⟨%d⟩" % self.seen.setdefault(expr, len(self.seen))

    def partial(self, numerator, target):
        return r"\partial %s / \partial %s" % (numerator, self(target))


def _needs_parens(expr) -> bool:
    return isinstance(expr, (MatAdd, MatMul, HadamardProduct, sympy.Add, sympy.Mul))


def _join_and(items):
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


_ASSUMPTION_TEXT = {
    "symmetric": "is symmetric",
    "spd": "is symmetric positive definite",
    "positive": "has positive entries",
    "onehot": "has one-hot rows",
    "binary": "has entries in $\\{0, 1\\}$",
}


DETAILS = ("textbook", "full")


def check_detail(detail) -> str:
    """``detail`` if it is one of :data:`DETAILS`, else an :class:`ArgumentError`."""
    if detail not in DETAILS:
        raise ArgumentError(f"detail must be 'textbook' or 'full', not {detail!r}")
    return detail


def present(derivation, *, names=None, function_name=None, bold_vectors=False, compact=True,
            title=None, escape=escape_text, detail="textbook") -> dict:
    """A derivation as a dict of LaTeX strings and sentences, ready for a template.

    ``names``: ``{expression: "G"}`` for intermediates to name (defaults otherwise);
    ``function_name``: the LaTeX of the function's name (``"L"``, ``r"\\mathcal{L}"``);
    ``compact``: leave out sum-rule steps that only pass a derivative through unchanged;
    ``detail``: "textbook" leaves out the steps a textbook does not write (see
    :attr:`~matcalc.calculus.derivation.Step.bookkeeping`: sums, constant factors, the inner
    steps of a fused loss rule), "full" shows every step;
    ``title``: user text, escaped with ``escape``.

    Where what the document would print is still too long (a derivative may share
    subexpressions so deeply that its tree is millions of nodes), the shared
    subexpressions that make it long are named R_1, R_2, … (see
    :func:`~matcalc.output.naming.shared_names`) and defined under "where".  To find
    them, the document is laid out once without printing, to collect its expressions.
    """
    check_detail(detail)
    with per_call():
        results = _results(derivation)
        sections = _sections(derivation)
        chosen = derivation_names(derivation, names)
        layout = (derivation, results, sections, chosen, function_name, compact, title, escape, detail)
        collector = _Collector()
        _document(collector, *layout)
        printed = list(collector.seen)
        fresh = _fresh_repeated_names(_NamePool(_taken_tex(printed)))
        extra, rewritten = shared_names(printed, lambda node: _symbol_for(fresh(node), node))
        show = _Printer(bold_vectors, _differential_symbols(derivation, bold_vectors),
                        dict(zip(printed, rewritten)), {n.symbol: n.definition for n in extra})
        document = _document(show, *layout)
        document["where"] += [{"name": show.exact(n.symbol), "expression": show.exact(n.definition)}
                              for n in extra]
        return show.break_long_lines(document)


def derivation_names(derivation, names=None) -> list[Name]:
    """The intermediates every printer of ``derivation`` names, in the order a reader meets
    them: the forward pass (Z₁, A₁, Ŷ), the user's ``names``, the backpropagated errors
    (G₁, G₂) and large repeated subexpressions (see
    :func:`~matcalc.output.naming.name_intermediates`).  The text, LaTeX, Markdown and HTML
    outputs all call this, so they name the same things the same way."""
    with per_call():
        reverse_steps = [(s.target, s.before, s.after) for mode, steps, _ in _sections(derivation)
                         if mode == "reverse" for s in steps if s.rule != "gradient"]
        return name_intermediates(derivation.function, reverse_steps, list(_results(derivation).values()),
                                  names=names, definitions=getattr(derivation, "definitions", None))


def _fresh_repeated_names(pool):
    """A source of names R_1, R_2, … (r_k for a vector) that no symbol prints like."""
    numbers = itertools.count(1)

    def fresh(node):
        lower = isinstance(node, MatrixExpr) and (node.shape[0] == 1 or node.shape[1] == 1)
        for k in numbers:
            name = f"{'r' if lower else 'R'}_{k}"
            if pool.claim(name):
                return name

    return fresh


def _document(show, derivation, results, sections, chosen, function_name, compact, title, escape,
              detail):
    """The dict of :func:`present`, every expression printed by ``show``."""
    fname = _function_name(derivation, function_name)
    sub = lambda e: substitute(e, chosen)  # noqa: E731

    # The reverse steps as the naming pass saw them, so "defines" indices line up.
    defined_at = {n.step: n for n in chosen if n.step is not None and n.role != "forward"}
    # Names not tied to a step and not built from step names are defined up front.
    step_symbols = {n.symbol for n in chosen if n.step is not None}
    forward = [n for n in chosen if n.role == "forward" or (
        n.step is None and not (matrix_symbols(n.definition) and
                                set(matrix_symbols(n.definition)) & step_symbols))]
    function_tex = show(substitute(derivation.function, forward))
    numerator = _numerator(derivation, fname, show)

    variables = set(derivation.wrt)
    named = {n.symbol for n in chosen}
    rendered_sections, reverse_index = [], 0
    gradient_names = []
    names_in_use = _NamePool({latex(s) for s in matrix_symbols(
        *(e for step in derivation.steps for e in (step.target, step.before, step.after)))}
        | {latex(n.symbol) for n in chosen})
    for mode, steps, wrt in sections:
        rows, seen_afters = [], set()
        for step in steps:
            budget.tick()
            if mode == "reverse" and step.rule == "gradient":
                g = _symbol_for(names_in_use.fresh(["g", "h", "q"], None, True), step.after)
                value = sub(step.after)
                rows.append({"lhs": show.partial(numerator, step.target), "rhs": show(value),
                             "rule": rule_text("gradient"), "defines": show(g)})
                gradient_names.append(Name(g, value, "gradient"))
                continue
            if mode == "reverse":
                index, reverse_index = reverse_index, reverse_index + 1
                earlier = [n for n in chosen if n.role == "forward"
                           or (n.step is not None and n.step < index)
                           or (n.step is None and n.role != "forward")]
                target, before, after = (substitute(e, earlier) for e in
                                         (step.target, step.before, step.after))
                lhs = show.partial(numerator, target)
                defines = defined_at.get(index)
                # A variable's own step always shows, even when it only passes G on (b̄ = g).
                kept = defines is not None or step.target in variables or target in named
                if not kept and (detail == "textbook" and step.bookkeeping or compact and
                                 step.rule == "sum rule" and _canonical(after) in seen_afters):
                    continue
                seen_afters.add(_canonical(after))
                if defines is not None:
                    seen_afters.add(defines.symbol)
            else:
                target = substitute(sub(step.target), gradient_names)
                before = substitute(sub(step.before), gradient_names)
                after = substitute(sub(step.after), gradient_names)
                defines = None
                if step.rule.startswith("read off the Jacobian"):
                    row = isinstance(target, MatrixExpr) and target.shape[0] == 1 != target.shape[1]
                    name = fname if step.target == derivation.function else _paren(show, target)
                    rows.append({"lhs": r"\mathrm{d}%s%s" % (name, r"^{\top}" if row else ""),
                                 "rhs": show(before), "rule": "", "defines": None})
                    rows.append({"lhs": _jacobian_lhs(derivation, fname, wrt, show),
                                 "rhs": show(after), "rule": rule_text(step.rule), "defines": None})
                    continue
                if step.target != derivation.function and step.target not in variables and (
                        detail == "textbook" and step.bookkeeping or
                        compact and step.rule == "sum rule" and _canonical(after) in seen_afters):
                    continue
                seen_afters.add(_canonical(after))
                name = fname if step.target == derivation.function else _paren(show, target)
                lhs = r"\mathrm{d}%s" % name
            rule = rule_text(step.rule) if step.rule else ""
            if before is not None and show(before) != show(after):
                rows.append({"lhs": lhs, "rhs": show(before), "rule": rule, "defines": None})
                rows.append({"lhs": "", "rhs": show(after), "rule": "",
                             "defines": show(defines.symbol) if defines else None})
            else:
                rows.append({"lhs": lhs, "rhs": show(after), "rule": rule,
                             "defines": show(defines.symbol) if defines else None})
        rows = _merge_repeated_rows(rows)
        if rows:
            rendered_sections.append({
                "mode": mode,
                "wrt": show(wrt) if wrt is not None else None,
                "intro": _section_intro(mode, fname, wrt, show, derivation.kind, _in_vec_layout(steps),
                                        numerator,
                                        show(derivation.cotangent) if derivation.kind == "vjp" else "1"),
                "rows": rows,
            })

    where = [{"name": show(n.symbol), "expression": show(n.definition)}
             for n in chosen if n.step is None and n not in forward]
    result_rows = []
    for x in derivation.wrt:
        value = sub(results[x])
        shape = value.shape if isinstance(value, MatrixExpr) else ()
        result_rows.append({"lhs": _result_lhs(derivation, numerator, x, show),
                            "rhs": show(value), "space": shape_space(shape)})

    return {
        "title": escape(title) if title else None,
        "heading": _heading(derivation, fname, show),
        "kind": derivation.kind,
        "givens": [] if show.collecting else _givens(derivation, show, forward),
        "let": "" if show.collecting else _let_sentence(derivation, show, forward),
        "function": {"name": fname, "expression": function_tex},
        "layout": _layout_sentence(derivation, fname, show),
        "forward": [{"name": show(n.symbol), "expression": show(n.definition)} for n in forward],
        "sections": rendered_sections,
        "where": where,
        "results": result_rows,
    }


def _merge_repeated_rows(rows):
    """One row where two consecutive rows say the same thing (keeping both annotations)."""
    merged = []
    for row in rows:
        if merged and (row["lhs"], row["rhs"]) == (merged[-1]["lhs"], merged[-1]["rhs"]):
            last = merged[-1]
            last["defines"] = last["defines"] or row["defines"]
            last["rule"] = last["rule"] or row["rule"]
            continue
        merged.append(dict(row))
    return merged


def _paren(show, expr):
    text = show(expr)
    return MatcalcLatexPrinter()._add_parens(text) if _needs_parens(expr) else text


def _jacobian_lhs(derivation, fname, wrt, show):
    if derivation.kind == "hessian":
        return _hessian_lhs(fname, wrt, show)
    return show.partial(fname, wrt)


def _result_lhs(derivation, fname, x, show):
    if derivation.kind == "hessian":
        return _hessian_lhs(fname, x, show)
    return show.partial(fname, x)


def _hessian_lhs(fname, x, show):
    if not isinstance(x, MatrixExpr):   # a scalar variable: the second derivative
        return r"\frac{\partial^{2} %s}{\partial %s^{2}}" % (fname, show(x))
    return r"\nabla^{2}_{%s} %s" % (show(x), fname)


def _heading(derivation, fname, show):
    variables = _join_and("$%s$" % show(x) for x in derivation.wrt)
    noun = {"gradient": "Gradient", "jacobian": "Jacobian", "hessian": "Hessian",
            "vjp": "Vector-Jacobian product"}[derivation.kind]
    plural = "s" if len(derivation.wrt) > 1 else ""
    heading = f"{noun}{plural} of ${fname}$ with respect to {variables}"
    if derivation.kind == "vjp":
        heading += " with cotangent $%s$" % show(derivation.cotangent)
    return heading


def _reading_order(expr, expand=None):
    """Matrix symbols in the order a reader meets them in the printed expression (the
    terms of a sum in the order the printer writes them); a symbol in ``expand`` is read
    as its definition there."""
    expand = expand or {}

    def children(node):
        if node in expand:
            return (expand[node],)
        if isinstance(node, MatAdd):
            return sorted(node.args, key=MatcalcLatexPrinter._term_order)
        return () if isinstance(node, _LEAVES) else node.args

    # A symbol is met where its first occurrence in pre-order is; a post-order walk that
    # enters the children in reading order finds the symbols (leaves) in that order too.
    return [n for n in _postorder(expr, set(), children)
            if isinstance(n, SympyMatrixSymbol) and n not in expand]


def _symbols_in_reading_order(derivation, forward, show):
    """The symbols as a reader meets them: through the forward pass, then the function
    (each as the document prints it)."""
    symbols, seen = [], set()
    for expr in [*(n.definition for n in forward), substitute(derivation.function, forward)]:
        for s in _reading_order(show.rewritten.get(expr, expr), show.definitions):
            if s not in seen:
                seen.add(s)
                symbols.append(s)
    named = {n.symbol for n in forward}
    return [s for s in symbols if s not in named]


def _givens(derivation, show, forward=()):
    symbols = _symbols_in_reading_order(derivation, forward, show)
    cotangent = [derivation.cotangent] if derivation.kind == "vjp" else []
    symbols += [x for x in [*derivation.wrt, *matrix_symbols(*cotangent)]
                if x not in symbols and isinstance(x, MatrixExpr)]
    givens = [r"%s \in %s" % (show(s), shape_space(s.shape)) for s in symbols]
    dimensions = {d for s in symbols for d in s.shape}
    scalars = [s for s in _scalar_symbols(derivation.function, dimensions)]
    scalars += [s for e in [*derivation.wrt, *cotangent] for s in _scalar_symbols(e, dimensions)
                if s not in scalars]
    for s in scalars:
        givens.append(r"%s \in \mathbb{R}" % show(s))
    return givens


def _scalar_symbols(expr, dimensions):
    """The scalar symbols of ``expr`` that are not dimensions, in reading order, each once."""
    return [s for s in scalar_symbols([expr], dimensions) if not isinstance(s, sympy.Dummy)]


def _let_sentence(derivation, show, forward=()):
    sentence = "Let " + _join_and("$%s$" % g for g in _givens(derivation, show, forward)) + "."
    notes = []
    for s in _symbols_in_reading_order(derivation, forward, show):
        flags = sorted(getattr(s, "assumptions", ()) or ())
        if "spd" in flags and "symmetric" in flags:
            flags.remove("symmetric")
        for flag in flags:
            notes.append("$%s$ %s" % (show(s), _ASSUMPTION_TEXT.get(flag, escape_text(flag))))
    if notes:
        sentence += " Here " + _join_and(notes) + "."
    return sentence


_VEC_READ_OFF = "read off the Jacobian (vec layout)"   # the engine's rule name for matrix Jacobians


def _in_vec_layout(steps) -> bool:
    return any(step.rule == _VEC_READ_OFF for step in steps)


def _vec_layout_sentence(derivation, fname, x):
    if derivation.kind == "hessian":
        noun, lhs = "The Hessian", r"\nabla^{2}_{%s} %s" % (x, fname)
        what = r"\frac{\partial %s}{\partial %s}" % (fname, x)
    else:
        noun, lhs, what = "The Jacobian", r"\frac{\partial %s}{\partial %s}" % (fname, x), fname
    if getattr(derivation, "layout", "numerator") == "denominator" and derivation.kind == "jacobian":
        return (r"The Jacobian is in the vec layout, transposed (denominator layout): "
                r"$\operatorname{vec}(\mathrm{d}%s)^{\top} = \operatorname{vec}(\mathrm{d}%s)^{\top} %s$, "
                r"with $\operatorname{vec}$ stacking the columns." % (what, x, lhs))
    return (r"%s is in the vec layout: $\operatorname{vec}(\mathrm{d}%s) = %s "
            r"\operatorname{vec}(\mathrm{d}%s)$, with $\operatorname{vec}$ stacking the columns, "
            r"so its $(i, j)$ entry is the derivative of entry $i$ of $\operatorname{vec}(%s)$ with "
            r"respect to entry $j$ of $\operatorname{vec}(%s)$." % (noun, what, lhs, x, what, x))


def _layout_sentence(derivation, fname, show):
    matrices = [w for w in derivation.wrt if isinstance(w, MatrixExpr)]
    if derivation.wrt and not matrices:
        return _scalar_layout_sentence(derivation, fname, show, show(derivation.wrt[0]))
    x = show(matrices[0]) if matrices else "x"
    if derivation.kind not in ("gradient", "vjp") and _in_vec_layout(derivation.steps):
        return _vec_layout_sentence(derivation, fname, x)
    if derivation.kind == "gradient":
        return (r"Each derivative of the scalar $%s$ has the shape of its variable: the $(i, j)$ "
                r"entry of $\frac{\partial %s}{\partial %s}$ is $\partial %s / \partial (%s)_{ij}$."
                % (fname, fname, x, fname, x))
    if derivation.kind == "vjp":
        G, f = show(derivation.cotangent), fname
        return (r"The vector-Jacobian product $\frac{\partial \langle %s, %s \rangle}{\partial %s}$ is the "
                r"gradient of the scalar $\langle %s, %s \rangle = \sum_{ij} %s_{ij} %s_{ij}$ with the "
                r"cotangent $%s$ held constant: it has the shape of $%s$."
                % (G, f, x, G, f, G, f, G, x))
    if derivation.kind == "hessian":
        return (r"The Hessian $\nabla^{2}_{%s} %s$ is the Jacobian of the gradient "
                r"$\frac{\partial %s}{\partial %s}$ in numerator layout: its $(i, j)$ entry is "
                r"$\partial^{2} %s / \partial %s_{i} \partial %s_{j}$." % (x, fname, fname, x, fname, x, x))
    if getattr(derivation, "layout", "numerator") == "denominator":
        return (r"Jacobians are in denominator layout: $\frac{\partial %s}{\partial %s}$ has one row "
                r"per entry of $%s$ and one column per entry of $%s$, with $(i, j)$ entry "
                r"$\partial %s_{j} / \partial %s_{i}$." % (fname, x, x, fname, fname, x))
    return (r"Jacobians are in numerator layout: $\frac{\partial %s}{\partial %s}$ has one row per "
            r"entry of $%s$ and one column per entry of $%s$, with $(i, j)$ entry "
            r"$\partial %s_{i} / \partial %s_{j}$." % (fname, x, fname, x, fname, x))


def _scalar_layout_sentence(derivation, fname, show, b):
    """The layout sentence of derivatives with respect to scalar variables only."""
    if derivation.kind == "hessian":
        return (r"The second derivative $\frac{\partial^{2} %s}{\partial %s^{2}}$ of $%s$ with respect to "
                r"the scalar $%s$ is the derivative of the gradient $\frac{\partial %s}{\partial %s}$."
                % (fname, b, fname, b, fname, b))
    if derivation.kind == "jacobian":
        layout = getattr(derivation, "layout", "numerator")
        vector = "a column" if layout == "numerator" else "a row"
        return (r"The derivative $\frac{\partial %s}{\partial %s}$ with respect to the scalar $%s$ has "
                r"one entry $\partial %s_{i} / \partial %s$ per entry of $%s$: %s for a vector $%s$ "
                r"(%s layout), the shape of $%s$ for a matrix." % (fname, b, b, fname, b, fname, vector, fname,
                                                                  layout, fname))
    return (r"The derivative of the scalar $%s$ with respect to the scalar $%s$ is a scalar."
            % (_numerator(derivation, fname, show), b))


def _section_intro(mode, fname, wrt, show, kind, vec=False, numerator=None, seed="1"):
    numerator = numerator or fname
    if mode == "reverse":
        start = r"$\frac{\partial %s}{\partial %s} = %s$" % (numerator, fname, seed)
        return (r"Reverse mode: starting from %s, each line is the derivative of $%s$ with "
                r"respect to one subexpression, by the rule named on the right." % (start, numerator))
    x = show(wrt) if wrt is not None else "x"
    what = "the gradient" if kind == "hessian" else "$%s$" % fname
    if wrt is not None and not isinstance(wrt, MatrixExpr):
        return (r"Forward mode with respect to the scalar $%s$: each line is the differential of a "
                r"subexpression of %s, and the last one with $\mathrm{d}%s = 1$ is the derivative."
                % (x, what, x))
    if vec:
        differentiated = fname if kind == "jacobian" else r"\frac{\partial %s}{\partial %s}" % (fname, x)
        return (r"Forward mode with respect to $%s$: each line is the differential of a "
                r"subexpression of %s, and the Jacobian $J$ is read off "
                r"$\operatorname{vec}(\mathrm{d}%s) = J \operatorname{vec}(\mathrm{d}%s)$."
                % (x, what, differentiated, x))
    return (r"Forward mode with respect to $%s$: each line is the differential of a "
            r"subexpression of %s, and the Jacobian is read off $\mathrm{d}%s$ as a column." % (x, what, fname))


# ================================================================ templates

def _package_templates() -> Path | None:
    try:
        from importlib.resources import files
        path = Path(str(files("matcalc") / "templates"))
    except (ModuleNotFoundError, TypeError):
        return None
    return path if path.is_dir() else None


def template_dirs(template_dir=None) -> list[Path]:
    """Where templates are looked up, in order: the user's directory, the installed
    package's ``matcalc/templates``, the checkout's top-level ``templates/``."""
    dirs = []
    if template_dir is not None:
        template_dir = Path(template_dir)
        if not template_dir.is_dir():
            raise FileNotFoundError(f"template directory {template_dir} does not exist")
        dirs.append(template_dir)
    packaged = _package_templates()
    if packaged:
        dirs.append(packaged)
    checkout = Path(__file__).resolve().parents[2] / "templates"
    if checkout.is_dir() and checkout not in dirs:
        dirs.append(checkout)
    return dirs


def environment(template_dir=None) -> jinja2.Environment:
    """The Jinja2 environment: LaTeX-safe delimiters, no autoescape, strict, sandboxed, every
    loop step and call charged to the work budget (see :mod:`.sandbox`).

    One environment per list of template directories is kept, so a template is compiled
    once, not on every render; Jinja2 checks the file's modification time on each load, so
    an edited template is read again."""
    return _environment(tuple(str(d) for d in template_dirs(template_dir)))


@functools.lru_cache(maxsize=32)
def _environment(directories: tuple) -> jinja2.Environment:
    return BudgetedSandbox(
        loader=jinja2.FileSystemLoader(list(directories)),
        block_start_string="<%", block_end_string="%>",
        variable_start_string="<%=", variable_end_string="%>",
        comment_start_string="<#", comment_end_string="#>",
        autoescape=False, undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
    )


def _resolve_template(template, template_dir):
    """(environment, template name) for a built-in name, a name in template_dir, or a path."""
    if isinstance(template, Path) or (isinstance(template, str) and (
            os.sep in template or "/" in template or template.endswith(".j2"))):
        path = Path(template)
        if not path.exists():
            raise FileNotFoundError(f"template file {path} does not exist")
        files.check_input(path, limit=MAX_TEMPLATE_BYTES, what="template file")
        return environment(path.parent), path.name
    env = environment(template_dir)
    for candidate in (TEMPLATES.get(template), f"{template}.tex.j2", f"{template}.md.j2", template):
        if candidate and _exists(env, candidate):
            return env, candidate
    known = ", ".join(TEMPLATES)
    raise TemplateError(f"no template named {template!r} (built in: {known}; or pass a path)")


MAX_TEMPLATE_BYTES = files.MiB * 16
"""A template file larger than this is not a template."""


def _exists(env, name):
    try:
        load_template(env, name)
    except jinja2.TemplateNotFound:
        return False
    return True


def template_exists(name, template_dir=None) -> bool:
    """Whether ``to_latex(..., template=name)`` would find a template."""
    try:
        _resolve_template(name, template_dir)
    except (ValueError, OSError):
        return False
    return True


_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]<>#|$~])")


def escape_markdown(text: str) -> str:
    """User text for Markdown: every character Markdown (or its math) might act on, escaped."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", str(text))


@budget.budgeted("rendering")
def to_latex(derivation, template="article", template_dir=None, bold_vectors=False, *,
             names=None, function_name=None, title=None, compact=True, detail="textbook") -> str:
    """A derivation (or a list of them) as a document from a template.

    ``title`` is the heading of a single derivation, or the title of a document of several.
    ``template``: "article" (a complete pdflatex document), "fragment" (``align*`` blocks
    to paste into a paper), "markdown" (``$$`` math for READMEs and notebooks), "notebook"
    (one ``$$\\begin{aligned}`` block, for Jupyter), another name found in
    ``template_dir``, or the path of a template file.  A list may hold derivations or
    ``(derivation, options)`` pairs, the options overriding ``names``, ``function_name``
    and ``title`` for that one.  ``detail``: "textbook" (the steps a reader needs) or
    "full" (every step the engine took); see :func:`present`.

    An expression (what ``mc.gradient`` returns) is typeset on its own, as LaTeX math.
    """
    check_detail(detail)
    if isinstance(derivation, sympy.Basic):
        return latex(derivation, bold_vectors=bold_vectors)
    for item in derivation if isinstance(derivation, (list, tuple)) else [derivation]:
        item = item[0] if isinstance(item, tuple) and item else item
        if not hasattr(item, "steps") or not hasattr(item, "wrt"):
            raise ArgumentError(f"to_latex takes a derivation (mc.derive), a list of them or an expression, "
                                f"not {type(item).__name__}")
    with budget.stage("rendering"):
        return _to_latex(derivation, template, template_dir, bold_vectors, names, function_name,
                         title, compact, detail)


def _to_latex(derivation, template, template_dir, bold_vectors, names, function_name, title, compact,
              detail):
    env, name = _resolve_template(template, template_dir)
    markdown = name.endswith(".md.j2") or name.endswith(".md")
    escape = escape_markdown if markdown else escape_text
    several = isinstance(derivation, (list, tuple))
    items = derivation if several else [derivation]
    documents = []
    for item in items:
        item, options = item if isinstance(item, tuple) else (item, {})
        settings = {"names": names, "function_name": function_name,
                    "title": None if several else title, **options}
        documents.append(present(item, bold_vectors=bold_vectors, compact=compact,
                                 escape=escape, detail=detail, **settings))
    from .._version import __version__
    return render_template(
        env, name, derivations=documents, title=escape(title) if title and several else None,
        bold_vectors=bold_vectors, version=__version__)


def repr_latex(derivation) -> str:
    """Jupyter's ``_repr_latex_``: one display-math block."""
    return to_latex(derivation, template="notebook")


def repr_markdown(derivation) -> str:
    """Jupyter's ``_repr_markdown_``."""
    return to_latex(derivation, template="markdown")


# ================================================================ PDF

def pdflatex() -> str | None:
    """The pdflatex on PATH, or None."""
    return shutil.which("pdflatex")


def compile_pdf(source: str, pdf_path, *, runs=1, timeout=120) -> Path:
    """Compile a complete LaTeX document with ``pdflatex -halt-on-error`` in a temporary
    directory and write the PDF to ``pdf_path`` (atomically, as :mod:`matcalc.files`
    writes).  Raises :class:`LatexError` with the error lines of the log when pdflatex fails
    or is missing; warns (:class:`OverfullBoxWarning`) of each line the log reports wider
    than the page by more than ``OVERFULL_TOLERANCE`` points."""
    engine = pdflatex()
    if engine is None:
        raise LatexError("pdflatex is not on PATH; install a TeX distribution "
                         "(apt-get install texlive-latex-base texlive-latex-recommended)")
    pdf_path = Path(pdf_path)
    with tempfile.TemporaryDirectory(prefix="matcalc-tex-") as work:
        tex = Path(work) / "derivation.tex"
        tex.write_text(source, encoding="utf-8")
        text = ""
        for _ in range(runs):
            left = budget.remaining_seconds()   # pdflatex must not outlast the work budget
            limit = timeout if left is None else min(timeout, max(left, 0.1))
            try:
                done = subprocess.run(
                    [engine, "-halt-on-error", "-interaction=nonstopmode", "-no-shell-escape",
                     tex.name], cwd=work, capture_output=True, timeout=limit)
            except subprocess.TimeoutExpired as exc:
                if limit < timeout:
                    with budget.stage("running pdflatex"):
                        budget.tick()
                raise LatexError(f"pdflatex took more than {limit:g} s") from exc
            log = (Path(work) / "derivation.log")
            text = log.read_text(errors="replace") if log.exists() else done.stdout.decode(errors="replace")
            if done.returncode != 0:
                raise LatexError("pdflatex failed:\n" + _log_errors(text))
        files.write(pdf_path, (Path(work) / "derivation.pdf").read_bytes(), what="PDF")
    _warn_overfull(text, source)
    return pdf_path


class OverfullBoxWarning(UserWarning):
    """pdflatex set a line wider than the page (an Overfull \\hbox of more than
    ``OVERFULL_TOLERANCE`` points)."""


OVERFULL_TOLERANCE = 5.0
"""Points a line may stick out into the margin before :func:`compile_pdf` warns."""

_OVERFULL = re.compile(r"^Overfull \\hbox \((\d+(?:\.\d+)?)pt too wide\).*?lines? (\d+)", re.M)


def overfull_boxes(log: str) -> list[tuple[float, int]]:
    """(points too wide, line of the LaTeX source) for every Overfull \\hbox of a pdflatex log."""
    return [(float(points), int(line)) for points, line in _OVERFULL.findall(log)]


def _warn_overfull(log, source):
    """An :class:`OverfullBoxWarning` for each line too wide by more than the tolerance,
    naming the line of ``source`` (pdflatex names the end of an alignment), quoting its
    start and the heading of its section."""
    lines = source.splitlines()
    for points, line in overfull_boxes(log):
        if points > OVERFULL_TOLERANCE:
            text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
            heading = next((h.strip() for h in reversed(lines[:line]) if h.startswith("\\section")), None)
            where = f" in {_shortened(heading)}" if heading else ""
            warnings.warn(f"pdflatex: line {line} of the LaTeX{where} is {points:.1f} pt wider than the "
                          f"page (Overfull \\hbox): {_shortened(text)}", OverfullBoxWarning, stacklevel=3)


def _shortened(text, limit=80):
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _log_errors(log: str) -> str:
    lines = log.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("!"):
            return "\n".join(lines[i:i + 8])
    return "\n".join(lines[-20:])


@budget.budgeted("rendering")
def write_pdf(derivation, path, template="article", template_dir=None, bold_vectors=False,
              **options) -> Path:
    """Render ``derivation`` with a complete-document template and compile it to ``path``
    (warning, as :func:`compile_pdf` does, of lines wider than the page)."""
    source = to_latex(derivation, template=template, template_dir=template_dir,
                      bold_vectors=bold_vectors, **options)
    return compile_pdf(source, path)
