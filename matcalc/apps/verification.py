"""What :func:`matcalc.verify` returns: the verdict on a claimed derivative, its
counterexample, and the reports that say them — text (``str``; ``repr`` is one line),
Markdown with ``$…$`` math and HTML with MathML for notebooks.  All three are written from
one list of rows, so they say the same thing.  Nothing here computes a derivative.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import escape

import numpy as np
import sympy
from sympy import Basic
from sympy.matrices.expressions import MatrixExpr

from ..core.symbols import shape_str
from ..output.latex import latex, shape_space
from ..output.mathml import to_mathml
from ..output.text import to_text

CONVENTION_TEXT = {
    "unconstrained": "unconstrained (every entry of {X} an independent variable)",
    "symmetric": "symmetric (only the n(n+1)/2 free entries of {X} vary: G + Gᵀ − G ⊙ I, "
                 "Matrix Cookbook §2.8.2)",
}

# Relative error allowed between matcalc's derivative and central differences: the
# fourth-order stencil below is accurate to about 1e-10 on these small, well-conditioned
# instances, so a larger gap means a wrong rule, not rounding.
DIFFERENCE_TOLERANCE = 1e-6


# ---------------------------------------------------------------- results

@dataclass
class Instance:
    """One numeric test: the concrete sizes and the relative errors found there."""
    sizes: dict
    error: float                 # claimed vs correct
    derivation_error: float      # matcalc's derivative vs central differences


@dataclass
class Counterexample:
    """Small concrete arrays where the claim fails, with both values.  ``symbols``: the
    symbol of each input, by name (for printing its name as matcalc does)."""
    sizes: dict
    inputs: dict
    claimed: object
    correct: object
    error: float
    symbols: dict = field(default_factory=dict, repr=False)

    def __str__(self):
        lines = []
        if self.sizes:
            lines.append("sizes: " + _sizes_text(self.sizes, ", ", " = "))
        lines += [equation.text() for equation in self._equations()]
        lines.append(f"claimed = {_array_text(self.claimed, 10)}")
        lines.append(f"correct = {_array_text(self.correct, 10)}")
        lines.append(f"relative error {self.error:.3g}")
        return "\n".join(lines)

    def _rows(self) -> list:
        """The counterexample as report rows (see :meth:`VerificationResult._rows`)."""
        rows = [("sizes", (_sizes_text(self.sizes, ", ", " = "),))] if self.sizes else []
        inputs = [part for equation in self._equations() for part in (", ", equation)][1:]
        if inputs:
            rows.append(("inputs", tuple(inputs)))
        return rows + [("claimed", (_Array(self.claimed),)), ("correct", (_Array(self.correct),)),
                       ("relative error", (f"{self.error:.3g}",))]

    def _equations(self) -> list:
        return [_Equation(self.symbols.get(name) or sympy.Symbol(name), value)
                for name, value in self.inputs.items()]


def _array_text(value, indent):
    if np.ndim(value) == 0:
        return f"{float(value):.6g}"
    text = np.array2string(np.asarray(value), precision=4, suppress_small=True, max_line_width=100)
    return text.replace("\n", "\n" + " " * indent)


def _array_tex(value) -> str:
    """A number, or an array as a ``bmatrix``, to four significant digits."""
    if np.ndim(value) == 0:
        return _number_tex(float(value))
    rows = np.atleast_2d(np.asarray(value, dtype=float))
    body = r" \\ ".join(" & ".join(_number_tex(v) for v in row) for row in rows)
    return r"\begin{bmatrix} %s \end{bmatrix}" % body


def _number_tex(value: float) -> str:
    text = f"{value + 0.0:.4g}"      # + 0.0 turns −0 into 0
    mantissa, e, exponent = text.partition("e")
    return rf"{mantissa} \cdot 10^{{{int(exponent)}}}" if e else text


# A report is a list of rows (label, parts); a part is plain text, a _Formula, an _Array or
# an _Equation.  The text, Markdown and HTML renderings below share the rows, so the three
# say the same thing; only the text one prints formulas with matcalc's text printer, the
# others with its LaTeX printer ($…$ for Markdown, MathML for HTML).

@dataclass(frozen=True)
class _Formula:
    """An expression of a report; ``space``: also say where it lives (w (d×1), w ∈ ℝ^{d×1})."""
    expr: object
    space: bool = False

    def text(self) -> str:
        text = to_text(self.expr)
        if not self.space:
            return text
        return f"{text} ({shape_str(self._shape)})" if self._shape else f"{text} (a scalar)"

    def tex(self) -> str:
        tex = latex(self.expr)
        return rf"{tex} \in {shape_space(self._shape)}" if self.space else tex

    @property
    def _shape(self) -> tuple:
        return tuple(self.expr.shape) if isinstance(self.expr, MatrixExpr) else ()


@dataclass(frozen=True)
class _Array:
    """A number or an array of a counterexample."""
    value: object

    def text(self) -> str:
        return _array_text(self.value, 0)

    def tex(self) -> str:
        return _array_tex(self.value)


@dataclass(frozen=True)
class _Equation:
    """``X = [[…]]``: the value of one input of a counterexample."""
    symbol: object
    value: object

    def text(self) -> str:
        name = to_text(self.symbol)
        return f"{name} = {_array_text(self.value, len(name) + 3)}"

    def tex(self) -> str:
        return f"{latex(self.symbol)} = {_array_tex(self.value)}"


def _parts_text(parts) -> str:
    return "".join(part if isinstance(part, str) else part.text() for part in parts)


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|$&#~])")


def _markdown_text(text: str) -> str:
    """Plain text for Markdown: every character Markdown (or the HTML inside it) would read
    as markup is backslash-escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def _markdown_rows(rows) -> list:
    lines = []
    for label, parts in rows:
        if any(isinstance(part, str) and "\n" in part for part in parts):
            # lines aligned by a caret: a fenced block keeps them, longer than any run of backticks inside
            text = _parts_text(parts)
            fence = "`" * max(3, 1 + max((len(run) for run in re.findall("`+", text)), default=0))
            lines += [f"- {label}:", "", f"  {fence}", *("  " + line for line in text.splitlines()), f"  {fence}"]
        else:
            lines.append(f"- {label}: " + "".join(
                _markdown_text(part) if isinstance(part, str) else f"${part.tex()}$" for part in parts))
    return lines


def _markdown_report(headline, sections) -> str:
    lines = [f"**{_markdown_text(headline)}**", ""]
    for title, rows in sections:
        if title:
            lines += [f"{_markdown_text(title)}:", ""]
        lines += _markdown_rows(rows) + [""]
    return "\n".join(lines)


def _html_parts(parts) -> str:
    out = []
    for part in parts:
        if not isinstance(part, str):
            out.append(to_mathml(part.tex()))
        elif "\n" in part:
            out.append(f"<pre>{escape(part)}</pre>")
        else:
            out.append(escape(part))
    return "".join(out)


def _html_report(headline, sections) -> str:
    out = ['<div class="matcalc-verification">', f"<p><strong>{escape(headline)}</strong></p>"]
    for title, rows in sections:
        if title:
            out.append(f"<p>{escape(title)}:</p>")
        out.append("<table>")
        out += [f'<tr><th style="text-align: left; vertical-align: top">{escape(label)}</th>'
                f'<td style="text-align: left">{_html_parts(parts)}</td></tr>' for label, parts in rows]
        out.append("</table>")
    out.append("</div>")
    return "\n".join(out)


def _shortened(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


_WHAT = {"gradient": "gradient", "jacobian": "Jacobian", "hessian": "Hessian", "stationary": "stationary point"}


@dataclass
class VerificationResult:
    """The outcome of :func:`verify`.

    ``ok`` is True only when the numeric check passes.  ``diagnosis`` is one of
    ``"holds"``, ``"wrong shape"``, ``"transposed"``, ``"off by a factor of c"``,
    ``"holds only for symmetric A"`` or ``"different"``; ``factor`` is c for the factor
    diagnosis.  ``symbolic_equal`` is True/False (None when the claim could not be
    formed).  ``derived`` is matcalc's own result, in the chosen convention.

    ``str(result)`` is the full report (:meth:`explain`), ``repr(result)`` one line; in a
    notebook the result shows as a table with the formulas typeset (``_repr_html_`` with
    MathML, ``_repr_markdown_`` with ``$…$``).
    """
    ok: bool
    diagnosis: str
    symbolic_equal: bool | None
    max_rel_error: float
    tolerance: float
    function: Basic
    wrt: Basic
    kind: str
    layout: str
    convention: str | None
    expected: Basic | None
    derived: Basic
    instances: list = field(default_factory=list)
    counterexample: Counterexample | None = None
    factor: object = None
    detail: str = ""
    derivation_error: float = 0.0
    derivation: object = None
    entry: object = None

    def __bool__(self):
        return self.ok

    @property
    def derivation_agrees(self) -> bool:
        """matcalc's own derivative agrees with central differences."""
        return self.derivation_error <= DIFFERENCE_TOLERANCE

    def _headline(self) -> str:
        """``✓ the claimed gradient holds``, ``✗ the claimed Hessian is transposed``, …"""
        what = _WHAT[self.kind]
        headline = {
            "holds": f"the claimed {what} holds",
            "wrong shape": f"the claimed {what} has the wrong shape",
            "transposed": f"the claimed {what} is transposed",
            "different": f"the claimed {what} is wrong",
        }.get(self.diagnosis)
        if headline is None and self.diagnosis.startswith("off by a factor"):
            headline = f"the claimed {what} is {self.diagnosis}"
            if self.factor == -1:
                headline += " (the sign is wrong)"
        elif headline is None:
            headline = f"the claimed {what} {self.diagnosis}"
        return f"{self._mark} {headline}"

    @property
    def _mark(self) -> str:
        return "✓" if self.ok else "✗"

    def _rows(self) -> list:
        """The report as (label, parts) rows: what was checked, both verdicts and notes.  A
        part is text or a formula (with ``text()`` and ``tex()``)."""
        rows = [("function", (_Formula(self.function),)),
                ("with respect to", (_Formula(self.wrt, space=True),))]
        if self.kind == "jacobian":
            rows.append(("layout", (self.layout,)))
        if self.convention is not None:
            before, after = CONVENTION_TEXT[self.convention].split("{X}", 1)
            rows.append(("convention", (before, _Formula(self.wrt), after)))
        claimed = _Formula(self.expected) if self.expected is not None else "(cannot be formed)"
        rows += [("claimed", (claimed,)), ("matcalc", (_Formula(self.derived),)),
                 ("symbolic check", (self._symbolic_text(),))]
        numeric = self._numeric_text()
        if numeric:
            rows.append(("numeric check", (numeric,)))
        if self.instances:
            reference = "central differences of the function" if self.kind != "stationary" else \
                "the gradient at the solution"
            agree = "agrees with" if self.derivation_agrees else "DISAGREES with"
            rows.append(("cross-check", (f"matcalc's result {agree} {reference} "
                                         f"(max relative error {self.derivation_error:.2g})",)))
        if self.detail:
            rows.append(("note", (self.detail,)))
        return rows

    def _symbolic_text(self) -> str:
        if self.symbolic_equal is None:
            return "not done (the claim could not be formed)"
        if self.symbolic_equal:
            return "equal (simplify(claimed − derived) = 0)"
        return "not shown equal by the simplifier (the numbers agree)" if self.ok else "not equal"

    def _numeric_text(self) -> str:
        if self.diagnosis == "wrong shape":
            return "not done: the shapes differ"
        if not self.instances:
            return ""
        where = "; ".join(_sizes_text(i.sizes) or "fixed sizes" for i in self.instances)
        verdict = "passed" if self.ok else "failed"
        return (f"{verdict}: max relative error {self.max_rel_error:.3g} (tolerance {self.tolerance:g}) "
                f"at {len(self.instances)} random instance{'s' * (len(self.instances) != 1)} ({where})")

    def _sections(self) -> list:
        sections = [(None, self._rows())]
        if self.counterexample is not None:
            sections.append(("counterexample", self.counterexample._rows()))
        return sections

    def explain(self) -> str:
        """A readable account: what was checked, both verdicts, and where the claim fails."""
        lines = [self._headline()]
        lines += [f"  {label + ':':<17}{_parts_text(parts)}" for label, parts in self._rows()]
        if self.counterexample is not None:
            lines.append("  counterexample:")
            lines.extend("    " + line for line in str(self.counterexample).splitlines())
        return "\n".join(lines)

    def __str__(self):
        return self.explain()

    def __repr__(self):
        claimed = _shortened(to_text(self.expected)) if self.expected is not None else "(cannot be formed)"
        text = (f"<VerificationResult {self._mark} {self.diagnosis}: {_WHAT[self.kind]} of "
                f"{_shortened(to_text(self.function))} with respect to {to_text(self.wrt)}; claimed {claimed}")
        if not self.ok:
            text += f"; matcalc {_shortened(to_text(self.derived))}"
        return text + ">"

    def _repr_markdown_(self):
        return _markdown_report(self._headline(), self._sections())

    def _repr_html_(self):
        return _html_report(self._headline(), self._sections())


def _sizes_text(sizes, separator=", ", equals="=") -> str:
    return separator.join(f"{k}{equals}{v}" for k, v in sizes.items())


