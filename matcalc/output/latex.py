"""LaTeX for matrix expressions, in textbook notation.

A subclass of SymPy's ``LatexPrinter`` with one ``_print_<Class>`` method per matcalc node
and per SymPy matrix node whose default output is not what a textbook writes: ``X^{\\top}``
rather than ``X^{T}``, ``\\odot`` rather than ``\\circ``, ``\\mathbf{1}_{N} b`` for a
broadcast row, ``I_{n}``, ``\\operatorname{tr}``, ``\\det``, ``X^{-\\top}``, ``\\sigma(Z)``.
Symbol names are typeset by :mod:`.symbols`, the rule the text printer shares (``W1`` →
``W_{1}``, ``Yhat`` → ``\\hat{Y}``, ``lam`` → ``\\lambda``, ``loss`` → ``\\mathrm{loss}``; two
symbols that would print alike keep their literal names); ``bold_vectors=True`` sets row
and column vectors in bold.

The printer only *prints*: it never simplifies, reorders factors or changes a value.  The
one liberty it takes is the order of the terms of a sum (positive terms first, broadcast
and constant terms last), which is how people write ``X W_{1} + \\mathbf{1}_{N} b_{1}``
and ``\\hat{Y} - Y``.

Also here: the small notation helpers the templates need (``\\frac{\\partial L}{\\partial X}``,
``\\mathbb{R}^{n \\times m}``, escaped text and rule names) so that every piece of LaTeX
matcalc writes comes from one module.
"""
from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass

import sympy
from sympy.core.sympify import _sympify
from sympy import Add, Mul, Pow
from sympy.matrices.expressions import (
    Determinant, HadamardProduct, Identity, Inverse, KroneckerProduct, MatAdd, MatMul,
    MatrixExpr, MatrixSymbol, OneMatrix, Trace, Transpose, ZeroMatrix,
)
from sympy.matrices.expressions.diagonal import DiagMatrix
from sympy.matrices.expressions.hadamard import HadamardPower
from sympy.printing.latex import LatexPrinter

from ..core import budget
from ..core.functions import Elementwise, LogSumExp, Norm, Norm1, Softmax, SumAll
from .numbers import decimal_text
from .symbols import spellings_of, typeset
from ..core.kronecker import CommutationMatrix, Vec

__all__ = ["MatcalcLatexPrinter", "latex", "partial", "shape_space", "escape_text", "rule_text",
           "width", "latex_lines", "partial_lines", "narrowest", "narrowest_partial", "LINE_WIDTH",
           "TEXT_WIDTH"]


_TALL = (r"\frac", r"\left", r"\sum", r"\sqrt", r"\begin", r"\dfrac")

# Where a line may break, in breakable mode (see latex_lines), best first: before a term of
# a sum, before an entrywise (or Kronecker) factor, between the factors of a product.
_SUM, _ENTRYWISE, _PRODUCT = "\ue000", "\ue001", "\ue002"


def _is_vector(expr) -> bool:
    rows, cols = expr.shape
    return (rows == 1) != (cols == 1)


def _is_matrix_scalar(expr) -> bool:
    """A scalar computed from a matrix (sum, norm, trace, det, log det), or a power of one."""
    if isinstance(expr, Pow):
        return _is_matrix_scalar(expr.base) and expr.exp.is_positive is True
    if isinstance(expr, sympy.log):
        return isinstance(expr.args[0], Determinant)
    return isinstance(expr, (SumAll, Norm, Norm1, Trace, Determinant))


def _could_extract_minus_sign(term) -> bool:
    """``term.could_extract_minus_sign()``, without SymPy's way for a product: negate the
    whole product, deep (``doit``), to compare it with itself.  A product can lose a minus
    sign when its leading coefficient is a negative number; a sum when more of its terms
    can than cannot (SymPy's rule; on a tie SymPy compares the sum with its negation)."""
    if isinstance(term, MatMul):
        coefficient = term.args[0]
        return bool(coefficient.is_Number and coefficient.is_extended_negative)
    if isinstance(term, MatAdd):
        negative = sum(1 for t in term.args if _could_extract_minus_sign(t))
        if 2 * negative != len(term.args):
            return 2 * negative > len(term.args)
    return term.could_extract_minus_sign()


class MatcalcLatexPrinter(LatexPrinter):
    """SymPy's LaTeX printer, with matcalc's nodes and textbook matrix notation.

    Settings beyond SymPy's: ``bold_vectors`` (vectors as ``\\boldsymbol{x}``),
    ``ones_sizes`` (``\\mathbf{1}_{N}`` rather than a bare ``\\mathbf{1}`` in products) and
    ``spellings`` (``{name: Spelling}`` of :func:`.symbols.spellings`, for a document that
    prints many expressions with one spelling per name; by default the expression's own) and
    ``breakable`` (mark the places where a line may break, for :func:`latex_lines`).
    """

    printmethod = "_matcalc_latex"
    _default_settings = {**LatexPrinter._default_settings, "bold_vectors": False, "ones_sizes": True,
                         "spellings": None, "breakable": False}

    def doprint(self, expr):
        given = self._settings["spellings"]
        self._spellings = given if given is not None else spellings_of([expr])
        return super().doprint(expr)

    def _print(self, expr, **kwargs):
        budget.charge(1)   # a printer walks the tree: a runaway output trips the budget
        return super()._print(expr, **kwargs)

    # ------------------------------------------------------------ symbols

    def _spelling(self, name):
        return getattr(self, "_spellings", {}).get(name) or typeset(name)

    def _print_MatrixSymbol(self, expr):
        given = self._settings["symbol_names"].get(expr)
        if given is not None:
            return given
        return self._spelling(str(expr.name)).latex(bold=self._settings["bold_vectors"] and _is_vector(expr))

    def _print_Symbol(self, expr, style="plain"):
        given = self._settings["symbol_names"].get(expr)
        if given is not None:
            return given
        return self._spelling(expr.name).latex()

    def _print_OneMatrix(self, expr):
        rows, cols = expr.shape
        if rows == cols == 1:
            return "1"
        if not self._settings["ones_sizes"]:
            return r"\mathbf{1}^{\top}" if rows == 1 and cols != 1 else r"\mathbf{1}"
        if cols == 1:
            return r"\mathbf{1}_{%s}" % self._print(rows)
        if rows == 1:
            return r"\mathbf{1}_{%s}^{\top}" % self._print(cols)
        return r"\mathbf{1}_{%s \times %s}" % (self._print(rows), self._print(cols))

    def _print_Identity(self, expr):
        # The 1×1 identity is the number 1 (SymPy turns a 1×1 matrix of ones into it).
        return "1" if expr.rows == 1 else r"I_{%s}" % self._print(expr.rows)

    def _print_ZeroMatrix(self, expr):
        return r"\mathbf{0}"

    # ------------------------------------------------------------ sums and products

    def _break(self, kind) -> str:
        """Where a line may break (see :func:`latex_lines`), marked in breakable mode:
        before a term of a sum, an entrywise or Kronecker factor, a factor of a product."""
        return kind if self._settings["breakable"] else ""

    def _add_parens(self, s) -> str:
        # Big \left( \right) only around tall content; (\hat{Y}) needs none.
        if any(tall in s for tall in _TALL):
            return r"\left(%s\right)" % s
        return "(%s)" % s

    def _term(self, expr):
        """A term of a sum or an entrywise product: ones need no size there."""
        if isinstance(expr, OneMatrix):
            return "1" if expr.shape == (1, 1) else r"\mathbf{1}"
        if isinstance(expr, MatMul):
            coeff, factors = expr.as_coeff_matrices()
            if len(factors) == 1 and isinstance(factors[0], OneMatrix):
                sign = "- " if coeff.could_extract_minus_sign() else ""
                coeff = -coeff if sign else coeff
                return sign + ("" if coeff == 1 else self._coefficient(coeff) + " ") + r"\mathbf{1}"
        if isinstance(expr, (MatAdd, Add)):
            return self._add_parens(self._print(expr))
        return self._print(expr)

    @staticmethod
    def _term_order(term):
        """Positive terms first; broadcast rows (1 b) and constants after the rest."""
        negative = _could_extract_minus_sign(term)
        factors = term.args if isinstance(term, MatMul) else (term,)
        constant = any(isinstance(f, (OneMatrix, Identity, ZeroMatrix)) for f in factors)
        return (negative, constant)

    def _print_MatAdd(self, expr):
        out = ""
        for i, term in enumerate(sorted(expr.args, key=self._term_order)):
            text = self._term(term)
            if text.startswith("-"):
                out += (self._break(_SUM) + " - " if i else "- ") + text[1:].lstrip()
            else:
                out += (self._break(_SUM) + " + " if i else "") + text
        return out

    def _print_Add(self, expr, order=None):
        # SymPy's, with the place before each term where a line may break.
        tex = ""
        for i, term in enumerate(self._as_ordered_terms(expr, order=order)):
            if i and term.could_extract_minus_sign():
                tex, term = tex + self._break(_SUM) + " - ", -term
            elif i:
                tex += self._break(_SUM) + " + "
            term_tex = self._print(term)
            tex += r"\left(%s\right)" % term_tex if self._needs_add_brackets(term) else term_tex
        return tex

    def _coefficient(self, coeff):
        if isinstance(coeff, Add):
            return self._add_parens(self._print(coeff))
        return self._print(coeff)

    def _factor(self, expr):
        """A factor of a matrix product, in parentheses when it is itself a sum or product."""
        if isinstance(expr, (MatAdd, HadamardProduct, KroneckerProduct, MatMul, Add)):
            return self._add_parens(self._print(expr))
        return self._print(expr)

    def _print_MatMul(self, expr):
        coeff, factors = expr.as_coeff_matrices()
        sign = ""
        if coeff.could_extract_minus_sign():
            sign, coeff = "- ", -coeff
        parts = [] if coeff == 1 else [self._coefficient(coeff)]
        # A 1×1 identity or ones factor is the number 1: no need to print it.
        ones = [f for f in factors if isinstance(f, (Identity, OneMatrix)) and f.shape == (1, 1)]
        if ones and len(ones) < len(factors) + len(parts):
            factors = [f for f in factors if f not in ones]
        if len(factors) == 1 and isinstance(factors[0], HadamardProduct):
            # c (A ⊙ B) = (c A) ⊙ B: the parentheses would only add noise.
            return sign + (self._break(_PRODUCT) + " ").join(parts + [self._print(factors[0])])
        parts += [self._factor(f) for f in factors]
        return sign + (self._break(_PRODUCT) + " ").join(parts)

    def _print_Mul(self, expr):
        # ``-sum(Y ⊙ log Ŷ)/N`` reads as -\frac{1}{N} sum(...), not -\frac{sum(...)}{N}.
        # SymPy also routes a negative power (‖x‖⁻¹) here: that is a fraction, not a product.
        # A decimal coefficient stays the decimal the user wrote (1.702 x, not \frac{851 x}{500}).
        if isinstance(expr, Mul):
            number, rest = expr.as_coeff_Mul()
            if rest != 1 and decimal_text(number) is not None:
                sign = "- " if number < 0 else ""
                return f"{sign}{decimal_text(abs(number))} {self._coefficient(rest)}"
        matrix_scalars = [a for a in expr.args if _is_matrix_scalar(a)] if isinstance(expr, Mul) else []
        if not matrix_scalars:
            return super()._print_Mul(expr)
        coeff = Mul(*[a for a in expr.args if not _is_matrix_scalar(a)])
        sign = ""
        if coeff.could_extract_minus_sign():
            sign, coeff = "- ", -coeff
        parts = [] if coeff == 1 else [self._coefficient(coeff)]
        parts += [self._print(a) for a in matrix_scalars]
        return sign + (self._break(_PRODUCT) + " ").join(parts)

    def _print_HadamardProduct(self, expr):
        numerators, denominators = [], []
        for factor in expr.args:
            if isinstance(factor, HadamardPower) and factor.exp == -1:
                denominators.append(factor.base)
            else:
                numerators.append(factor)

        def operand(f):
            if isinstance(f, OneMatrix):
                return r"\mathbf{1}"
            if isinstance(f, (MatAdd, MatMul, HadamardProduct, KroneckerProduct, Add)):
                return self._add_parens(self._print(f))
            return self._print(f)

        entrywise = self._break(_ENTRYWISE)
        text = (entrywise + r" \odot ").join(operand(f) for f in numerators) if numerators else r"\mathbf{1}"
        for d in denominators:
            text += entrywise + r" \oslash " + operand(d)
        return text

    def _print_KroneckerProduct(self, expr):
        return (self._break(_ENTRYWISE) + r" \otimes ").join(self._factor(f) for f in expr.args)

    def _print_Vec(self, expr):
        return self._call(r"\operatorname{vec}", expr.arg)

    def _print_CommutationMatrix(self, expr):
        return r"K_{%s,%s}" % (self._print(expr.args[0]), self._print(expr.args[1]))

    # ------------------------------------------------------------ superscripts

    def _superscript(self, base, sup):
        """``base^{sup}``, with parentheses around anything that is not a single symbol
        or function call, and braces around a base that has a superscript already."""
        atomic = isinstance(base, (MatrixSymbol, OneMatrix, Identity, Elementwise, Softmax,
                                   LogSumExp, DiagMatrix, Vec, CommutationMatrix))
        text = self._print(base)
        if not atomic:
            return r"%s^{%s}" % (self._add_parens(text), sup)
        if "^" in text and not isinstance(base, OneMatrix):
            return r"{%s}^{%s}" % (text, sup)
        if isinstance(base, OneMatrix) and "^" in text:
            return r"\left(%s\right)^{%s}" % (text, sup)
        return r"%s^{%s}" % (text, sup)

    def _print_Transpose(self, expr):
        if isinstance(expr.arg, Inverse):
            return self._superscript(expr.arg.arg, r"-\top")
        return self._superscript(expr.arg, r"\top")

    def _print_Inverse(self, expr):
        if isinstance(expr.arg, Transpose):
            return self._superscript(expr.arg.arg, r"-\top")
        return self._superscript(expr.arg, "-1")

    def _print_MatPow(self, expr):
        return self._superscript(expr.base, self._print(expr.exp))

    def _print_HadamardPower(self, expr):
        exponent = self._print(expr.exp)
        if isinstance(expr.exp, Add):   # X^{⊙(p − 1)}: the ⊙ applies to the whole exponent
            exponent = self._add_parens(exponent)
        return self._superscript(expr.base, r"\odot %s" % exponent)

    # ------------------------------------------------------------ functions of matrices

    def _call(self, name, arg):
        return name + self._add_parens(self._print(arg))

    def _print_Trace(self, expr):
        return self._call(r"\operatorname{tr}", expr.arg)

    def _print_Determinant(self, expr):
        return self._call(r"\det", expr.arg)

    def _print_log(self, expr, exp=None):
        if isinstance(expr.args[0], Determinant):
            tex = self._call(r"\log\det", expr.args[0].arg)
            return tex if exp is None else r"\left(%s\right)^{%s}" % (tex, exp)
        return super()._print_log(expr, exp)

    def _print_DiagMatrix(self, expr):
        return self._call(r"\operatorname{diag}", expr.args[0])

    def _print_SumAll(self, expr):
        return self._call(r"\operatorname{sum}", expr.arg)

    def _print_Norm(self, expr):
        text = self._print(expr.arg)
        if any(tall in text for tall in _TALL):
            return r"\left\lVert %s\right\rVert" % text
        return r"\lVert %s\rVert" % text

    def _print_Exp(self, expr):
        return self._call(r"\exp", expr.arg)

    def _print_Log(self, expr):
        return self._call(r"\log", expr.arg)

    def _print_Tanh(self, expr):
        return self._call(r"\tanh", expr.arg)

    def _print_Sigmoid(self, expr):
        return self._call(r"\sigma", expr.arg)

    def _print_Relu(self, expr):
        return self._call(r"\operatorname{relu}", expr.arg)

    def _print_Step(self, expr):
        return self._call(r"\operatorname{step}", expr.arg)

    def _print_Sqrt(self, expr):
        return r"\sqrt{%s}" % self._print(expr.arg)

    def _print_Absolute(self, expr):
        return r"\left|%s\right|" % self._print(expr.arg)

    def _print_Maximum(self, expr):     # and minimum(A, B)
        return r"\%s\left(%s, %s\right)" % (expr.extreme, self._print(expr.args[0]), self._print(expr.args[1]))

    def _print_MaxAll(self, expr):      # and min(X)
        return self._call("\\" + expr.extreme, expr.arg)

    def _print_MaxAlong(self, expr):    # and min(X, axis)
        return self._call(r"\%s_{\mathrm{%s}}" % (expr.extreme, "row" if expr.axis == 1 else "col"), expr.arg)

    def _print_ArgMax(self, expr):      # and the indicator of the minimum
        axis = {1: r",\mathrm{row}", 0: r",\mathrm{col}"}.get(expr.axis, "")
        return self._call(r"\mathbb{I}_{\%s%s}" % (expr.extreme, axis), expr.arg)

    _print_Minimum, _print_MinAll, _print_MinAlong, _print_ArgMin = \
        _print_Maximum, _print_MaxAll, _print_MaxAlong, _print_ArgMax

    def _print_Norm1(self, expr):
        text = self._print(expr.arg)
        if any(tall in text for tall in _TALL):
            return r"\left\lVert %s\right\rVert_1" % text
        return r"\lVert %s\rVert_1" % text

    def _print_Pi(self, expr):       # SymPy writes these through their own _latex methods,
        return r"\pi"                  # which this printer's printmethod does not call

    def _print_Infinity(self, expr):
        return r"\infty"

    def _print_Rational(self, expr):
        decimal = decimal_text(expr)
        return decimal if decimal is not None else super()._print_Rational(expr)

    def _print_Elementwise(self, expr):
        """A subclass without its own method: its ``latex_name`` applied entrywise."""
        return self._call(expr.latex_name or r"\operatorname{%s}" % type(expr).__name__.lower(), expr.arg)

    def _along_axis(self, name, expr):
        # The axis is shown only when it is not the one a reader would assume.
        rows, cols = expr.arg.shape
        usual = 0 if (cols == 1 and rows != 1) else 1
        if expr.axis != usual:
            name += r"_{\mathrm{%s}}" % ("col" if expr.axis == 0 else "row")
        return self._call(name, expr.arg)

    def _print_Softmax(self, expr):
        return self._along_axis(r"\operatorname{softmax}", expr)

    def _print_LogSumExp(self, expr):
        return self._along_axis(r"\operatorname{logsumexp}", expr)


def latex(expr, *, bold_vectors: bool = False, **settings) -> str:
    """The LaTeX of a matrix or scalar expression (math mode, no delimiters)."""
    return MatcalcLatexPrinter({"bold_vectors": bold_vectors, **settings}).doprint(expr)


# ---------------------------------------------------------------- notation helpers

def partial(numerator: str, target, *, bold_vectors: bool = False, order: int = 1, **settings) -> str:
    """``\\frac{\\partial L}{\\partial X}`` (``order=2``: ``\\frac{\\partial^{2} f}{\\partial x \\partial x^{\\top}}``);
    ``settings`` are the printer's (see :func:`latex`)."""
    target_tex = latex(target, bold_vectors=bold_vectors, **settings)
    if isinstance(target, (MatAdd, MatMul, HadamardProduct, KroneckerProduct, Add, Mul)):
        target_tex = MatcalcLatexPrinter()._add_parens(target_tex)
    if order == 2:
        second = latex(Transpose(target) if isinstance(target, MatrixExpr) else target,
                       bold_vectors=bold_vectors, **settings)
        return r"\frac{\partial^{2} %s}{\partial %s \, \partial %s}" % (numerator, target_tex, second)
    return r"\frac{\partial %s}{\partial %s}" % (numerator, target_tex)


def shape_space(shape) -> str:
    """``(n, m)`` → ``\\mathbb{R}^{n \\times m}``; a scalar shape ``()`` → ``\\mathbb{R}``."""
    if not shape:
        return r"\mathbb{R}"
    return r"\mathbb{R}^{%s}" % r" \times ".join(latex(_sympify(s)) for s in shape)


_TEXT_ESCAPES = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
    "^": r"\^{}", "_": r"\_", "%": r"\%", "~": r"\textasciitilde{}",
}

# Characters people type in rule names and titles that LaTeX text mode cannot take.
_MATH_CHARACTERS = {
    "⊙": r"\odot", "⊗": r"\otimes", "⊘": r"\oslash", "∂": r"\partial", "∇": r"\nabla",
    "×": r"\times", "·": r"\cdot", "ᵀ": r"^{\top}", "⁻¹": r"^{-1}", "√": r"\surd",
    "∑": r"\sum", "Σ": r"\Sigma", "≤": r"\leq", "≥": r"\geq", "≠": r"\neq", "→": r"\to",
    "∈": r"\in", "ℝ": r"\mathbb{R}", "‖": r"\|", "²": "^{2}", "⁻": "^{-}", "−": "-",
    "ŷ": r"\hat{y}", "Ŷ": r"\hat{Y}", "λ": r"\lambda",
}


def _math_for(char: str) -> str | None:
    if char in _MATH_CHARACTERS:
        return _MATH_CHARACTERS[char]
    name = unicodedata.name(char, "")
    match = re.fullmatch(r"GREEK (SMALL|CAPITAL) LETTER (\w+)", name)
    if match:
        letter = match.group(2).lower()
        if letter == "final sigma":
            letter = "sigma"
        if match.group(1) == "CAPITAL":
            letter = letter.capitalize()
        return "\\" + letter
    return None


def _split_text(text: str):
    """Split user text into ('text', s) and ('math', tex) runs."""
    runs: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        two = text[i:i + 2]
        math = _MATH_CHARACTERS.get(two) if len(two) == 2 else None
        step = 2 if math else 1
        math = math or _math_for(text[i])
        if math:
            runs.append(("math", math))
        elif runs and runs[-1][0] == "text":
            runs[-1] = ("text", runs[-1][1] + text[i])
        else:
            runs.append(("text", text[i]))
        i += step
    return runs


def escape_text(text: str) -> str:
    """User text for LaTeX text mode: specials escaped, math characters as ``$\\sigma$``."""
    out = []
    for kind, run in _split_text(str(text)):
        if kind == "math":
            out.append("$%s$" % run)
        else:
            out.append("".join(_TEXT_ESCAPES.get(c, c) for c in run))
    return "".join(out)


def rule_text(rule: str) -> str:
    """A rule name for math mode: ``chain rule through σ`` → ``\\text{chain rule through }\\sigma``."""
    out = []
    for kind, run in _split_text(str(rule)):
        if kind == "math":
            out.append(run)
        else:
            out.append(r"\text{%s}" % "".join(_TEXT_ESCAPES.get(c, c) for c in run))
    return "".join(out)


# ---------------------------------------------------------------- widths

# Widths in points of the article template's 11 pt Computer Modern, measured with pdflatex
# (\setbox0\hbox{$\displaystyle …$}): an estimate, a little on the wide side.
_ITALIC = dict(zip(string.ascii_letters, (
    5.8, 4.7, 4.8, 5.7, 5.1, 6.6, 5.7, 6.4, 3.8, 5.2, 6.1, 3.5, 9.7, 6.6, 5.4, 5.6, 5.3, 5.3, 5.2, 4.0,
    6.3, 5.7, 8.2, 6.3, 5.8, 5.6,
    8.3, 8.9, 8.7, 9.4, 8.8, 8.6, 8.7, 10.0, 5.7, 7.2, 10.1, 7.5, 11.9, 10.0, 8.7, 8.6, 8.7, 8.4, 7.4, 8.0,
    8.7, 8.9, 11.9, 10.0, 8.8, 8.3)))
_ROMAN = dict(zip(string.ascii_letters, (
    5.5, 6.1, 4.9, 6.1, 4.9, 4.2, 5.6, 6.1, 3.0, 3.3, 5.8, 3.0, 9.1, 6.1, 5.5, 6.1, 5.8, 4.3, 4.3, 4.3,
    6.1, 5.9, 8.1, 5.8, 5.9, 4.9,
    8.2, 7.8, 7.9, 8.4, 7.5, 7.1, 8.6, 8.2, 4.0, 5.6, 8.5, 6.8, 10.0, 8.2, 8.5, 7.5, 8.5, 8.1, 6.1, 7.9,
    8.2, 8.4, 11.4, 8.2, 8.5, 6.7)))
_DIGIT, _TEXT_SPACE = 5.5, 3.7
_BINARY, _RELATION, _OPERATOR, _DELIMITER = 13.3, 14.5, 8.6, 10.0  # \left( only around tall things
_SCRIPT = 0.72   # the size of a sub- or superscript, and of a fraction inside a fraction

_BINARIES = {r"\odot", r"\oslash", r"\otimes", r"\times", r"\cdot", r"\pm", r"\mp", r"\circ", "+", "-", "*"}
_RELATIONS = {r"\in", r"\leq", r"\geq", r"\neq", r"\to", r"\mapsto", r"\approx", r"\equiv", "=", "<", ">"}
_SPACES = {r"\quad": 11.0, r"\qquad": 22.0, r"\,": 1.9, r"\;": 3.1, r"\:": 2.5, r"\!": -1.9, "\\ ": 3.7}
_SYMBOLS = {r"\top": 9.8, r"\partial": 6.3, r"\nabla": 9.2, r"\infty": 11.0, r"\ell": 4.6, r"\lVert": 5.5,
            r"\rVert": 5.5, r"\|": 5.5, r"\langle": 4.3, r"\rangle": 4.3, r"\{": 5.5, r"\}": 5.5,
            r"\_": 5.5, r"\%": 9.2, r"\#": 9.2, r"\&": 8.6, r"\$": 5.5, r"\surd": 9.2, r"\ldots": 14.0,
            r"\cdots": 14.0}
_NAMED_OPERATORS = {r"\log", r"\exp", r"\det", r"\tanh", r"\sin", r"\cos", r"\max", r"\min", r"\ln",
                    r"\sinh", r"\cosh", r"\tan", r"\arctan"}
_SAME_WIDTH = {r"\hat", r"\bar", r"\tilde", r"\vec", r"\dot", r"\ddot", r"\widehat", r"\widetilde",
               r"\overline", r"\mathit", r"\mathcal", r"\mathnormal", r"\phantom", r"\hphantom",
               r"\ensuremath"}
_UPRIGHT = {r"\mathrm", r"\mathbb", r"\mathsf", r"\mathtt", r"\operatorname", r"\mathbf", r"\text",
            r"\textrm", r"\mbox", r"\textnormal"}
_BOLD = {r"\boldsymbol", r"\bm", r"\mathbf"}
_OPENERS = {"(", "[", ",", r"\left", r"\lVert", r"\langle", r"\mathrel", r"\mathbin"}
_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|\s+|.", re.S)
_DISPLAY, _TEXT_STYLE, _SCRIPT_STYLE = 0, 1, 2


def width(tex: str) -> float:
    """The estimated width in points of LaTeX math ``tex`` typeset in display style in the
    article template (11 pt), to decide where to break lines; a little on the wide side."""
    return _Widths(_TOKEN.findall(tex)).group(1.0, _DISPLAY, False)


class _Widths:
    """A reader of LaTeX tokens that adds up their widths (see :func:`width`); ``scale`` is
    the font size relative to 11 pt, ``style`` display, text or script, ``upright`` set
    for roman letters (\\mathrm, \\operatorname, \\text)."""

    def __init__(self, tokens):
        self.tokens, self.i = tokens, 0

    def _next(self):
        token = self.tokens[self.i] if self.i < len(self.tokens) else "}"
        self.i += 1
        return token

    def _skip_spaces(self):
        while self.i < len(self.tokens) and self.tokens[self.i].isspace():
            self.i += 1

    def argument(self, scale, style, upright) -> float:
        """The width of the next argument: a braced group or one token."""
        self._skip_spaces()
        if self.i >= len(self.tokens):
            return 0.0
        token = self._next()
        return self.group(scale, style, upright) if token == "{" else self.token(token, scale, style, upright)

    def group(self, scale, style, upright) -> float:
        """The width up to the closing brace (or the end)."""
        total, script, operand_next = 0.0, None, True
        while self.i < len(self.tokens):
            token = self._next()
            if token == "}":
                break
            if token in ("^", "_"):   # a subscript and a superscript stack: the wider counts
                added = self.argument(scale * _SCRIPT, _SCRIPT_STYLE, upright) + 0.5 * scale
                total += added if script is None else max(0.0, added - script)
                script = added if script is None else None
                continue
            if token.isspace() and upright != "text":
                continue
            script = None
            if token in _BINARIES and operand_next and not upright:   # a sign, - x: no spacing
                total += scale * _OPERATOR
                continue
            total += self.token(token, scale, style, upright)
            operand_next = token in _BINARIES or token in _RELATIONS or token in _OPENERS
        return total

    def token(self, token, scale, style, upright) -> float:
        if token == "{":
            return self.group(scale, style, upright)
        if token in ("^", "_"):
            return self.argument(scale * _SCRIPT, _SCRIPT_STYLE, upright)
        if token.isspace():
            return scale * _TEXT_SPACE if upright == "text" else 0.0
        if token in ("&", "}", "$"):
            return 0.0
        if token.startswith("\\"):
            return self.command(token, scale, style, upright)
        return scale * _character(token, style, upright)

    def command(self, name, scale, style, upright) -> float:   # noqa: C901  (a table of cases)
        spaced = style < _SCRIPT_STYLE
        if name in (r"\frac", r"\dfrac", r"\tfrac"):
            inner_style = _TEXT_STYLE if style == _DISPLAY and name != r"\tfrac" else _SCRIPT_STYLE
            inner = scale if inner_style == _TEXT_STYLE else scale * _SCRIPT
            numerator = self.argument(inner, inner_style, upright)
            denominator = self.argument(inner, inner_style, upright)
            return max(numerator, denominator) + 2.4 * scale
        if name == r"\sqrt":
            return self.argument(scale, style, upright) + 11.0 * scale
        if name in (r"\left", r"\right", r"\bigl", r"\bigr", r"\Bigl", r"\Bigr", r"\big", r"\Big"):
            return scale * (1.2 if self._next() == "." else _DELIMITER)
        if name in _SAME_WIDTH:
            return self.argument(scale, style, upright)
        if name in _UPRIGHT:
            text = "text" if name.startswith((r"\text", r"\mbox")) else True
            return (1.15 if name in _BOLD else 1.0) * self.argument(scale, style, text)
        if name in _BOLD:
            return 1.15 * self.argument(scale, style, upright)
        if name in (r"\vphantom", r"\label"):
            self.argument(scale, style, upright)
            return 0.0
        if name in (r"\mathrel", r"\mathbin"):
            spacing = (_RELATION if name == r"\mathrel" else _BINARY) - _OPERATOR if spaced else 0.0
            return self.argument(scale, _SCRIPT_STYLE, upright) + scale * spacing   # spaced once
        if name in _BINARIES:
            return scale * (_BINARY if spaced else _OPERATOR)
        if name in _RELATIONS:
            return scale * (_RELATION if spaced else _OPERATOR)
        if name in _SPACES:
            return scale * _SPACES[name]
        if name in _SYMBOLS:
            return scale * _SYMBOLS[name]
        if name in _NAMED_OPERATORS:
            return scale * sum(_ROMAN[c] for c in name[1:])
        if name[1:].islower() and len(name) > 2:     # \alpha, \sigma, …
            return scale * 6.6
        return scale * 8.2                            # \Sigma, \Delta, anything else


def _character(char, style, upright) -> float:
    spaced = style < _SCRIPT_STYLE
    if upright == "text" and not char.isalnum():
        return 4.5
    if char in _BINARIES:
        return _BINARY if spaced else _OPERATOR
    if char in _RELATIONS:
        return _RELATION if spaced else _OPERATOR
    if char in "()[]":
        return 4.3
    if char.isdigit():
        return _DIGIT
    if char.isalpha():
        return (_ROMAN if upright else _ITALIC).get(char, 6.6)
    if char in ",;":
        return 5.0 if spaced else 3.1
    if char in ".|'!:":
        return 3.1
    return 8.6


# ---------------------------------------------------------------- line breaks

TEXT_WIDTH = 498.0
"""The points of math a line of the article template holds (its text is 500.5 pt wide): a
block of lines that :func:`width` finds narrower is left as it is."""
LINE_WIDTH = 480.0
"""The points of math a line that must be broken is fitted to: the text width less room for
the error of :func:`width` (a few percent)."""
QUAD = 11.0   # the indentation of a continuation line, \quad
_RANKS = {_SUM: 0, _ENTRYWISE: 1, _PRODUCT: 2}
_BINARY_START = ("+", "-", r"\odot", r"\oslash", r"\otimes")
_OPENING = {"(": ")", "[": "]", r"\lVert": r"\rVert"}


def latex_lines(expr, room: float, *, reserve: float = 0.0, **settings) -> list[str]:
    """The LaTeX of ``expr`` as lines each at most ``room`` points wide (by :func:`width`),
    the lines after the first ``QUAD`` narrower (they are indented) and the last one leaving
    ``reserve`` for what follows it.  Lines break where the expression's structure allows,
    best first: at the top-level terms of a sum (``+``, ``-``), then its entrywise factors
    (``\\odot``), then the factors of a product, and inside parentheses only where the
    level above has no break that fits.  A continuation line starts with its operator
    (``{} + B``); ``\\left(`` … ``\\right)`` split over lines is closed and reopened with
    ``\\right.`` and ``\\left.``, sized as the whole group by a ``\\vphantom``.  One line when
    the whole fits."""
    plain = latex(expr, **settings)
    if width(plain) + reserve <= room:
        return [plain]
    return _broken(latex(expr, breakable=True, **settings), room, reserve)


def partial_lines(numerator: str, target, room: float, **settings) -> list[str]:
    """``\\frac{\\partial L}{\\partial X}`` when it fits in ``room`` points, else the
    derivative written inline, ``\\partial L / \\partial (…)``, broken like
    :func:`latex_lines` (a fraction cannot be broken)."""
    whole = partial(numerator, target, **settings)
    if width(whole) <= room:
        return [whole]
    return _broken(_inline_partial(numerator, target, **settings), room, 0.0)


def _inline_partial(numerator, target, **settings) -> str:
    marked = latex(target, breakable=True, **settings)
    if isinstance(target, (MatAdd, MatMul, HadamardProduct, KroneckerProduct, Add, Mul)):
        marked = r"\left(%s\right)" % marked
    return r"\partial %s / \partial %s" % (numerator, marked)


def narrowest(expr, **settings) -> float:
    """The width of the widest piece of ``expr``'s LaTeX that no line break can split
    (:func:`latex_lines` cannot make its lines narrower), continuation indent included."""
    return _narrowest(latex(expr, breakable=True, **settings))


def narrowest_partial(numerator: str, target, **settings) -> float:
    """:func:`narrowest` for the derivative of :func:`partial_lines`."""
    return min(width(partial(numerator, target, **settings)),
               _narrowest(_inline_partial(numerator, target, **settings)))


def _narrowest(marked: str) -> float:
    plain, places, _ = _places(marked)
    stops = [0, *(p.position for p in places), len(plain)]
    return max(width("{}" + plain[a:b]) for a, b in zip(stops, stops[1:])) + (QUAD if places else 0.0)


@dataclass(frozen=True)
class _Place:
    """A place where a line may break: ``position`` in the text without marks, ``rank`` of
    the operator (0 sum, 1 entrywise, 2 product), ``depth`` of the delimiters around it and
    the ``\\left`` groups open there (indices into the groups)."""
    position: int
    rank: int
    depth: int
    groups: tuple


def _places(marked: str):
    """The text without its marks, the places where it may break (never inside braces:
    a fraction, a root, a script) and the ``\\left`` groups as (start, end) of their content."""
    plain, places, groups = [], [], []
    length, braces, open_delimiters, open_groups = 0, 0, [], []
    tokens = iter(re.findall(r"\\(?:left|right)(?![A-Za-z])|\\[A-Za-z]+|\\.|[\ue000-\ue002]|.", marked, re.S))
    for token in tokens:
        if token in _RANKS:
            if braces == 0:
                places.append(_Place(length, _RANKS[token], len(open_delimiters), tuple(open_groups)))
            continue
        if token in (r"\left", r"\right"):
            token += next(tokens, "")
            if token.startswith(r"\left"):
                open_delimiters.append(token)
                open_groups.append(len(groups))
                groups.append([length + len(token), None])
            elif open_groups:
                open_delimiters.pop()
                groups[open_groups.pop()][1] = length
        elif token in "{}":
            braces += 1 if token == "{" else -1
        elif braces == 0 and token in _OPENING:
            open_delimiters.append(token)
        elif braces == 0 and open_delimiters and token == _OPENING.get(open_delimiters[-1]):
            open_delimiters.pop()
        plain.append(token)
        length += len(token)
    return "".join(plain), places, [tuple(g) for g in groups]


def _broken(marked: str, room: float, reserve: float) -> list[str]:
    """``marked`` (printed in breakable mode) as lines: see :func:`latex_lines`."""
    plain, places, groups = _places(marked)
    start = _Place(0, 0, 0, ())
    end = _Place(len(plain), 0, 0, ())
    stops = [start, *places, end]
    # Widths add up across the places (they are outside every brace); "{}" keeps an
    # operator at the start of a piece binary, as it is in the whole.
    widths = [width("{}" + plain[a.position:b.position]) for a, b in zip(stops, stops[1:])]
    before = [0.0]
    for w in widths:
        before.append(before[-1] + w)
    lines, first = [], 0
    while True:
        available = room - (QUAD if lines else 0.0)
        if before[-1] - before[first] + reserve <= available:
            lines.append((stops[first], end))
            break
        last = _best_break(stops, before, first, available)
        if last is None:
            lines.append((stops[first], end))
            break
        lines.append((stops[first], stops[last]))
        first = last
    return [_line(plain, groups, a, b, continued=i > 0) for i, (a, b) in enumerate(lines)]


def _best_break(stops, before, first, available):
    """The index of the place to end a line that starts at ``stops[first]``: among those
    that fit, the shallowest and best-ranked, preferring lines at least a third full, the
    latest; the first place after the start if none fits; None if there is none."""
    fitting = [j for j in range(first + 1, len(stops) - 1) if before[j] - before[first] <= available]
    if not fitting:
        return first + 1 if first + 1 < len(stops) - 1 else None
    full = [j for j in fitting if before[j] - before[first] >= available / 3] or fitting
    return min(full, key=lambda j: (stops[j].depth, stops[j].rank, -j))


def _line(plain, groups, start, end, continued) -> str:
    """The text between two places, its ``\\left``/``\\right`` balanced."""
    text = plain[start.position:end.position].strip()
    if continued and text.startswith(_BINARY_START):
        text = "{}" + text          # still a binary operator at the start of a line
    common = 0
    while common < min(len(start.groups), len(end.groups)) and start.groups[common] == end.groups[common]:
        common += 1
    phantom = lambda g: r"\vphantom{%s}" % plain[groups[g][0]:groups[g][1]]  # noqa: E731
    closing = start.groups[common:]      # opened on an earlier line, closed on this one
    opening = end.groups[common:]        # opened on this line, closed on a later one
    return ("".join(r"\left.%s " % phantom(g) for g in closing) + text
            + "".join(r" %s\right." % phantom(g) for g in reversed(opening)))
