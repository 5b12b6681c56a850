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
import unicodedata

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

__all__ = ["MatcalcLatexPrinter", "latex", "partial", "shape_space", "escape_text", "rule_text"]


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
        if isinstance(coefficient, MatrixExpr):
            return False
        # a scalar coefficient (−1/‖x − a‖²) is small: SymPy's own test is cheap on it
        return bool(coefficient.is_Number and coefficient.is_extended_negative) or \
            bool(not coefficient.is_Number and coefficient.could_extract_minus_sign())
    if isinstance(term, MatAdd):
        negative = sum(1 for t in term.args if _could_extract_minus_sign(t))
        if 2 * negative != len(term.args):
            return 2 * negative > len(term.args)
    return term.could_extract_minus_sign()


def term_order(term):
    """Where a term goes in a printed sum, as a sort key: positive terms first, broadcast
    rows (𝟏 b) and constants after the rest (A₁ W₂ + 𝟏 b₂ − Y).  Every printer sorts by it."""
    negative = _could_extract_minus_sign(term)
    factors = term.args if isinstance(term, MatMul) else (term,)
    constant = any(isinstance(f, (OneMatrix, Identity, ZeroMatrix)) for f in factors)
    return (negative, constant)


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

    _term_order = staticmethod(lambda term: term_order(term))

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
