"""One-line plain-text formulas for the comments and docstrings of generated code.

``short(expr)`` renders an expression the way a textbook would (Xᵀ, A ⊙ B, σ(Z), 1 for a
matrix of ones), cut to a length; :class:`Describer` memoises per node so that describing
every node of a large DAG stays linear.  ``printable`` makes user text (symbol names) safe
inside a comment or a docstring.  This module does no math and generates no code.
"""
from __future__ import annotations

import sympy
from sympy import Integer
from sympy.matrices.expressions import (
    HadamardProduct, Identity, Inverse, MatAdd, MatMul, MatPow, MatrixSymbol, OneMatrix, Transpose,
    ZeroMatrix,
)
from sympy.matrices.expressions.hadamard import HadamardPower

from ..core import algebra


def printable(text: str) -> str:
    """Text safe inside a generated comment or docstring: one line, no quotes or backslashes
    (a symbol name is user text and must not end a comment or a docstring early)."""
    return "".join(c if c.isprintable() and c not in '\\"' else "?" for c in text)


def short(expr, limit=110) -> str:
    """A one-line textbook rendering of ``expr`` for comments, cut at ``limit`` characters."""
    return Describer(limit).text(expr)


class Describer:
    """Plain-text formulas (Xᵀ, A ⊙ B, σ(Z), 1 for ones), memoised per node and cut to a
    length, so that describing every node of a large DAG stays linear.  (SymPy's own str
    printer re-walks every subtree and is quadratic on deep networks.)"""

    FUNCTIONS = {"Exp": "exp", "Log": "log", "Tanh": "tanh", "Sigmoid": "σ", "Relu": "relu",
                 "Step": "step", "Sqrt": "√", "SumAll": "sum", "Trace": "tr", "Determinant": "det",
                 "DiagMatrix": "diag", "DiagonalOf": "diagonal", "Softmax": "softmax",
                 "LogSumExp": "logsumexp", "log": "log", "exp": "exp", "tanh": "tanh", "Abs": "abs",
                 "Absolute": "abs", "NormalCdf": "Φ", "Maximum": "max", "Minimum": "min", "MaxAll": "max",
                 "MinAll": "min", "MaxAlong": "max", "MinAlong": "min", "ArgMax": "𝕀max", "ArgMin": "𝕀min",
                 "Norm1": "norm1", **{name: name.lower() for name in (
                     "Sin", "Cos", "Tan", "Arcsin", "Arccos", "Arctan", "Sinh", "Cosh", "Sign", "Softplus",
                     "Log1p", "Expm1", "Erf", "Gelu")},
                 "Vec": "vec"}

    def __init__(self, limit):
        self.limit = limit
        self.memo = {}

    def text(self, expr):
        if expr not in self.memo:
            t = self._describe(expr)
            self.memo[expr] = t if len(t) <= self.limit else t[: self.limit - 1] + "…"
        return self.memo[expr]

    def _wrapped(self, expr):
        t = self.text(expr)
        simple = isinstance(expr, (MatrixSymbol, sympy.Symbol, sympy.Number, OneMatrix, Identity)) \
            or type(expr).__name__ in self.FUNCTIONS or isinstance(expr, (Transpose, Inverse))
        return t if simple else f"({t})"

    def _describe(self, e):
        name = type(e).__name__
        if isinstance(e, MatrixSymbol):
            return printable(str(e.name))
        if isinstance(e, OneMatrix):
            return "1"
        if isinstance(e, Identity):
            return "I"
        if isinstance(e, ZeroMatrix):
            return "0"
        if isinstance(e, Transpose):
            return self._wrapped(e.arg) + "ᵀ"
        if isinstance(e, Inverse):
            return self._wrapped(e.arg) + "⁻¹"
        if isinstance(e, MatAdd):
            parts = []
            for i, term in enumerate(e.args):
                coeff = term.as_coeff_mmul()[0] if isinstance(term, MatMul) else Integer(1)
                if coeff.could_extract_minus_sign():
                    parts.append(("- " if i else "-") + self._factor_text(algebra.neg(term)))
                else:
                    parts.append(("+ " if i else "") + self.text(term))
            return " ".join(parts)
        if isinstance(e, MatMul):
            coeff, factors = e.as_coeff_matrices()
            body = " ".join(self._factor_text(f) for f in factors)
            if coeff == 1:
                return body
            if coeff == -1:
                return "-" + body
            return f"{self._scalar_factor(coeff)} {body}"
        if isinstance(e, HadamardProduct):
            return " ⊙ ".join(self._wrapped(a) for a in e.args)
        if name == "KroneckerProduct":
            return " ⊗ ".join(self._wrapped(a) for a in e.args)
        if name == "CommutationMatrix":
            return f"K({self.text(e.args[0])},{self.text(e.args[1])})"
        if isinstance(e, HadamardPower):
            return f"{self._wrapped(e.base)}^(∘{self.text(e.exp)})"
        if isinstance(e, MatPow):
            return f"{self._wrapped(e.base)}^{self.text(e.exp)}"
        if name == "Norm":
            return f"‖{self.text(e.args[0])}‖"
        if name in self.FUNCTIONS and e.args:
            if name in ("Maximum", "Minimum"):
                return f"{self.FUNCTIONS[name]}({self.text(e.args[0])}, {self.text(e.args[1])})"
            extra = ", axis=0" if name in ("Softmax", "LogSumExp") and e.args[1] == 0 else ""
            if name in ("MaxAlong", "MinAlong", "ArgMax", "ArgMin") and e.args[1] != -1:
                extra = f", axis={e.args[1]}"
            return f"{self.FUNCTIONS[name]}({self.text(e.args[0])}{extra})"
        if isinstance(e, sympy.Mul):
            coeff, rest = e.as_coeff_Mul()
            num, den = [], []
            for a in sympy.Mul.make_args(rest):
                if a.is_Pow and a.exp == -1:
                    den.append(self._scalar_factor(a.base))
                else:
                    num.append(self._scalar_factor(a))
            sign = "-" if coeff.is_negative else ""
            coeff = abs(coeff)
            if coeff != 1 and coeff.is_Rational:
                if coeff.p != 1:
                    num.insert(0, str(coeff.p))
                if coeff.q != 1:
                    den.insert(0, str(coeff.q))
            elif coeff != 1:
                num.insert(0, str(coeff))
            text = sign + ("·".join(num) or "1")
            if den:
                text += "/" + (den[0] if len(den) == 1 else "(" + "·".join(den) + ")")
            return text
        if isinstance(e, sympy.Add):
            return " + ".join(self.text(a) for a in e.args).replace("+ -", "- ")
        if isinstance(e, sympy.Pow):
            if e.exp == -1:
                return f"1/{self._scalar_factor(e.base)}"
            return f"{self._scalar_factor(e.base)}^{self._scalar_factor(e.exp)}"
        if isinstance(e, (sympy.Symbol, sympy.Number, sympy.NumberSymbol)):
            return printable(str(e))
        args = ", ".join(self.text(a) for a in e.args)
        return f"{name}({args})"

    def _factor_text(self, f):
        wrap = isinstance(f, (MatAdd, HadamardProduct)) or type(f).__name__ == "KroneckerProduct"
        return f"({self.text(f)})" if wrap else self.text(f)

    def _scalar_factor(self, a):
        t = self.text(a)
        return f"({t})" if isinstance(a, (sympy.Add, sympy.Mul)) or (isinstance(a, sympy.Rational) and not a.is_Integer) else t
