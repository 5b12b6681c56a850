"""The work behind one page of ``matcalc serve``: a :class:`Question` in, a dict of strings out.

This module runs in a worker process (:mod:`.workers`) under the work budget; it imports
no web framework, and what it returns is plain data (text, and HTML that the output
layer has already escaped) for the page template to arrange.  Nothing the user typed is
evaluated: the expression, the claim and the declarations are read by
:func:`matcalc.parse` and the small reader of declarations below.

Every failure the user can cause comes back as an ``error`` entry (a message, the field
it concerns, and for a parse or shape error the line of text with a caret under the
column), never as an exception; a bug of matcalc's raises, and the server says so.
"""
from __future__ import annotations

import html
import re
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from ..core import budget
from ..errors import BudgetError, MatcalcError, ParseError

__all__ = ["Question", "answer", "pdf", "read_declarations", "read_names", "ACTIONS", "LAYOUTS", "DETAILS",
           "CLAIM_KINDS", "ASSUMPTIONS"]

ACTIONS = ("gradient", "jacobian", "hessian", "verify")
LAYOUTS = ("numerator", "denominator")
DETAILS = ("textbook", "full")
CLAIM_KINDS = ("gradient", "jacobian", "hessian")
ASSUMPTIONS = ("symmetric", "spd", "positive", "onehot", "binary")


@dataclass(frozen=True)
class Question:
    """What a page asks, read and size-checked from its URL (see :mod:`.serve`).

    ``shapes``: name → (rows, cols) or () for a scalar, as :func:`matcalc.parse` takes them;
    ``assumptions``: flag → names; ``convention``: propose shapes for undeclared names by
    matrixcalculus.org's convention (:mod:`.convention`); ``nodes`` and ``seconds``: the
    work budget."""
    expression: str
    action: str = "gradient"
    wrt: tuple = ()
    claim: str = ""
    claim_kind: str = "gradient"
    layout: str = "numerator"
    detail: str = "textbook"
    shapes: dict = field(default_factory=dict)
    assumptions: dict = field(default_factory=dict)
    convention: bool = False
    nodes: int = 1_000_000
    seconds: float = 10.0


# ================================================================ the declarations fields

_SHAPE_SEPARATOR = r"(?:\s*[×*,]\s*|\s+x\s+|\s+by\s+)"
_DECLARATION = re.compile(
    r"(?P<name>[^\s:=;,]+)\s*[:=]\s*(?:(?P<scalar>scalar|\(\s*\))|\(?\s*(?P<rows>\w+)" + _SHAPE_SEPARATOR
    + r"(?P<cols>\w+)\s*\)?)(?=[\s;,]|$)")
_SEPARATORS = re.compile(r"[\s;,]*")


def read_declarations(text: str) -> dict:
    """The shapes field: ``"x: n×1; A: n×n, lam: scalar"`` → ``{"x": ("n", 1), "A": ("n", "n"),
    "lam": ()}``.  Entries are separated by ``;``, ``,`` or new lines; a shape is written
    ``n×1``, ``n*1``, ``n,1``, ``n x 1`` or ``(n, 1)``; ``scalar`` or ``()`` declares a
    scalar.  A mistake is a :class:`ParseError` pointing into the field."""
    shapes, position = {}, _SEPARATORS.match(text).end()
    while position < len(text):
        match = _DECLARATION.match(text, position)
        if match is None:
            end = re.compile(r"[;,\n]|$").search(text, position).start()
            raise ParseError("expected NAME: ROWS×COLS (e.g. x: n×1) or NAME: scalar", text, position,
                             max(1, end - position))
        name = match["name"]
        if name in shapes:
            raise ParseError(f"{name} is declared twice", text, match.start(), len(name))
        shapes[name] = () if match["scalar"] else tuple(_dimension(match[k]) for k in ("rows", "cols"))
        position = _SEPARATORS.match(text, match.end()).end()
    return shapes


def _dimension(text):
    return int(text) if text.isdigit() else text


def read_names(text: str) -> tuple:
    """A field of names (``"A, B"`` or ``"A B"``) → ``("A", "B")``."""
    return tuple(name for name in re.split(r"[\s,;]+", text) if name)


# ================================================================ the answer

def answer(question: Question) -> dict:
    """The page's content for ``question``, computed under its work budget.

    Returns ``{"declarations": [(name, shape text, proposed?)], "wrt": names, "wrt_chosen":
    whether matcalc chose them, "answer": [rows of MathML], "derivation": HTML, "latex": …,
    "markdown": …, "python": …, "python_title": …, "verification": HTML or None, "verdict":
    True/False/None, "error": None or the dict of :func:`describe_error`}``."""
    out = {"declarations": [], "wrt": "", "wrt_chosen": False, "answer": [], "derivation": "", "latex": "",
           "markdown": "", "python": "", "python_title": "", "verification": None, "verdict": None, "error": None}
    try:
        with budget.limit({"nodes": question.nodes, "seconds": question.seconds}, "reading the expression"):
            _answer(question, out)
    except (MatcalcError, RecursionError, MemoryError) as error:
        out["error"] = describe_error(error, question)
    return out


def _answer(question, out):
    from ..output.render import to_latex
    shapes, function, wrt = _read(question, out)
    out["wrt"] = ", ".join(str(symbol) for symbol in wrt)
    out["wrt_chosen"] = not question.wrt
    if question.action == "verify":
        derivation = _verify(question, function, wrt, shapes, out)
    else:
        from ..calculus.derive import derive
        with budget.stage("differentiating"):
            derivation = derive(function, wrt, kind=question.action, layout=question.layout)
    with budget.stage("rendering"):
        out["answer"] = _answer_rows(derivation, question.detail)
        out["derivation"] = derivation.to_html(full=False, detail=question.detail)
        out["latex"] = to_latex(derivation, template="fragment", detail=question.detail)
        out["markdown"] = to_latex(derivation, template="markdown", detail=question.detail)
    with budget.stage("writing the NumPy function"):
        out["python_title"], out["python"] = _python(derivation)


def _read(question, out):
    """(shapes, function, variables) of ``question``; the declarations used go into ``out``."""
    from .parse import declare, parse
    shapes = _shapes(question, out)
    function = parse(question.expression, shapes, **question.assumptions)
    symbols = declare(shapes, **question.assumptions)[0]
    return shapes, function, _variables(question, symbols, function, shapes)


def _shapes(question, out) -> dict:
    """The declared shapes, and with the convention on those it proposes for the rest."""
    shapes = dict(question.shapes)
    proposed = {}
    if question.convention:
        from .convention import propose_declarations
        square = [*question.assumptions.get("symmetric", ()), *question.assumptions.get("spd", ())]
        for text in (question.expression, question.claim if question.action == "verify" else ""):
            if text.strip():
                more = propose_declarations(text, {**shapes, **proposed}, square=square)
                proposed.update((name, shape) for name, shape in more.items() if name not in proposed)
    from ..core.symbols import shape_str
    from .parse import declare
    symbols = declare({**shapes, **proposed})[0]
    out["declarations"] = [(name, "scalar" if shape == () else shape_str(symbols[name].shape),
                            name in proposed) for name, shape in {**shapes, **proposed}.items()]
    return {**shapes, **proposed}


def _variables(question, symbols, function, shapes):
    """The symbols to differentiate with respect to: those named, else the first vector of
    the expression (in reading order), else its first matrix, else its first scalar."""
    from ..core.symbols import matrix_symbols
    from ..core.walk import scalar_symbols
    from .parse import tokenize
    present = {str(s.name) for s in matrix_symbols(function)} | {s.name for s in scalar_symbols([function])}
    if question.wrt:
        for name in question.wrt:
            if name not in symbols:
                raise _FieldError(f"{name} is not a symbol of the expression; declare it or choose another", "wrt")
            if name not in present:
                raise _FieldError(f"the expression does not contain {name}", "wrt")
        if question.action == "verify" and len(question.wrt) != 1:
            raise _FieldError("verify checks one derivative at a time: name one variable", "wrt")
        return [symbols[name] for name in question.wrt]
    names = list(dict.fromkeys(t.text for t in tokenize(question.expression) if t.kind == "name" and t.text in present))
    if not names:
        raise _FieldError("the expression has no variable to differentiate with respect to", "wrt")
    data = {name for flag in ("onehot", "binary") for name in question.assumptions.get(flag, ())}

    def rank(name):
        """Vectors first, then matrices, then scalars; labels (one-hot, binary) last."""
        shape = shapes.get(name, ())
        return 3 if name in data else 2 if shape == () else 0 if 1 in shape and shape != (1, 1) else 1
    return [symbols[min(names, key=rank)]]


def _verify(question, function, wrt, shapes, out):
    """Check the claim (the report goes into ``out``); returns the derivation of matcalc's own
    result, for the rest of the page."""
    from .verify import verify
    if not question.claim.strip():
        raise _FieldError("write the claimed derivative in the claim box, then press verify", "claim")
    with budget.stage("verifying the claim"):
        result = verify(function, wrt[0], question.claim, kind=question.claim_kind, layout=question.layout,
                        shapes=shapes, **question.assumptions)
    out["verification"] = result._repr_html_()
    out["verdict"] = result.ok
    return result.derivation


ANSWER_LENGTH = 300
"""The longest result (in LaTeX characters) that the answer box writes out in full; a longer
one is written with the names the derivation defines (the LaTeX printer's, as in the steps)."""


def _answer_rows(derivation, detail):
    """The result rows of the derivation (∂L/∂x = … ∈ ℝ^{n×1}) as MathML: each result written
    out in full when it is short, else as the derivation's results block writes it."""
    from ..output.html import row
    from ..output.latex import latex
    from ..output.render import present
    document = present(derivation, escape=html.escape, detail=detail)
    rows = []
    for result, value in zip(document["results"], derivation.results.values()):
        whole = latex(value)
        rows.append(row(result["lhs"], whole if len(whole) <= ANSWER_LENGTH else result["rhs"],
                        space=result["space"]))
    return rows


def _python(derivation):
    """(title, source): the standalone NumPy module of a gradient, or the compiled
    function of a Jacobian or Hessian."""
    if derivation.kind == "gradient":
        from ..backends.export import export_numpy
        return ("Standalone NumPy module (loss and gradients, with a finite-difference check)",
                export_numpy(derivation.function, list(derivation.wrt),
                             gradients=[derivation.results[x] for x in derivation.wrt]))
    from ..backends.compile import compile as compile_expression
    results = [derivation.results[x] for x in derivation.wrt]
    return ("NumPy function (generated by matcalc.compile)",
            compile_expression(results if len(results) > 1 else results[0]).source)


# ================================================================ the PDF

def pdf(job) -> bytes:
    """``(question, directory)`` → the derivation as a PDF (pdflatex), made under
    ``directory``, which the server removes afterwards (even if this worker is killed)."""
    question, directory = job
    tempfile.tempdir = directory   # compile_pdf's own temporary directory goes in there too
    out = {}
    try:
        with budget.limit({"nodes": question.nodes, "seconds": question.seconds}, "reading the expression"):
            derivation = _derivation(question, out)
            from ..output.render import write_pdf
            path = Path(directory) / "derivation.pdf"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # lines wider than the page still make a PDF
                write_pdf(derivation, path, detail=question.detail)
            return {"pdf": path.read_bytes(), "error": None}
    except (MatcalcError, RecursionError, MemoryError) as error:
        return {"pdf": None, "error": describe_error(error, question)}
    finally:
        tempfile.tempdir = None


def _derivation(question, out):
    from ..calculus.derive import derive
    _, function, wrt = _read(question, out)
    kind = question.claim_kind if question.action == "verify" else question.action
    return derive(function, wrt, kind=kind, layout=question.layout)


# ================================================================ errors

class _FieldError(MatcalcError, ValueError):
    """A mistake in one field of the form (which variable to differentiate, the claim)."""

    def __init__(self, message, field_name):
        super().__init__(message)
        self.field = field_name


def describe_error(error, question=None, field_name=None) -> dict:
    """An error as the page shows it: the message; the field it concerns (``field_name``,
    or found from the error); for a parse or a shape error the line of text it is in, a
    caret under the culprit, and the column; ``budget``: whether it is a resource running
    out (which another time, on a less busy machine, might not)."""
    from .cli import _one_line
    text, position = getattr(error, "text", None), getattr(error, "position", None)
    described = {"message": _message(error), "field": field_name or getattr(error, "field", None), "line": None,
                 "caret": None, "column": None, "budget": isinstance(error, (BudgetError, MemoryError))}
    if isinstance(error, MatcalcError) and text and position is not None:
        start = text.rfind("\n", 0, position) + 1
        end = text.find("\n", position)
        line = text[start:len(text) if end < 0 else end]
        length = max(1, min(getattr(error, "length", 1), len(line) - (position - start)))
        described.update(line=line, caret=" " * (position - start) + "^" * length,
                         column=position - start + 1, message=getattr(error, "message", None) or _one_line(error))
        if question is not None and field_name is None:
            described["field"] = ("expression" if text == question.expression else
                                  "claim" if text == question.claim else described["field"])
    return described


def _message(error) -> str:
    from .cli import _error_kind, _one_line
    if isinstance(error, BudgetError):
        where = f" while {error.stage}" if error.stage else ""
        return (f"This is more work than the server allows for one page: the work budget ran out{where} "
                f"({error.nodes:,} expression nodes built in {error.seconds:.1f} s). Simplify or split the "
                f"expression, or run matcalc derive on your own machine with a larger --budget.")
    kind = _error_kind(error)
    return _one_line(error) if kind == "error" else f"{kind}: {_one_line(error)}"
