"""Emitters of plain scalar expressions: numbers, scalar symbols, sums, products, powers
and scalar functions (``log det X`` through ``slogdet``).  Mixed into
:class:`~.codegen.Printer`.

A number is printed so that Python reads back the float nearest to it (``repr``), and is
refused with :class:`CompileError` when no float can stand for it: a constant beyond the
float range would otherwise compile and fail (or give ∞) only when called.
"""
from __future__ import annotations

import math

import sympy
from sympy.core.sympify import _sympify
from sympy.matrices.expressions import Determinant, MatrixExpr

from ..core.functions import Exp, Norm, SumAll
from ..errors import CompileError
from .describe import short
from .values import Val


class ScalarEmitters:
    """Plain scalar expressions (mixed into the printer)."""

    # -- plain scalar expressions

    def scalar_value(self, expr) -> Val:
        expr = _sympify(expr)
        if expr in self.values:
            return self.values[expr]
        if expr in self.dimensions:
            return Val(self.dimensions[expr], scalar=True)
        if isinstance(expr, MatrixExpr):
            raise CompileError(f"expected a scalar, got the matrix {short(expr, 60)}")
        if expr.is_number and not expr.is_Number and expr.is_real and math.isfinite(float(expr)):
            val = Val(_literal(expr), scalar=True)     # √2/(2√π): one constant, folded here
        else:
            val = self.emit(expr)
        self.values[expr] = val
        return val

    def scalar_code(self, expr) -> str:
        return self.scalar_value(expr).code

    def emit_Number(self, expr):
        return Val(_literal(expr), scalar=True)

    def emit_NumberSymbol(self, expr):   # pi, E
        return Val(_literal(expr), scalar=True)

    def emit_Symbol(self, expr):
        raise CompileError(f"symbol {expr} is not an input")

    def emit_Add(self, expr):
        terms = [self.scalar_value(a).code for a in expr.args]
        return self.scalar(" + ".join(terms), expr)

    def emit_Mul(self, expr):
        coeff, rest = expr.as_coeff_Mul()
        sign = "-" if coeff.is_negative else ""
        coeff = abs(coeff)
        num, den = [], []
        if coeff != 1:
            if coeff.is_Rational and max(abs(coeff.p), coeff.q) <= _EXACT_INTEGER:
                if coeff.p != 1:
                    num.append(str(coeff.p))
                if coeff.q != 1:
                    den.append(str(coeff.q))
            else:
                num.append(self.scalar_code(coeff))
        for a in sympy.Mul.make_args(rest):
            if a.is_Pow and a.exp.is_number and a.exp.is_negative:
                den.append(self.divisor_code(1 / a))
            elif a != 1:
                num.append(self.scalar_code(a))
        code = sign + (" * ".join(num) if num else "1.0")
        if den:
            code += " / " + (den[0] if len(den) == 1 else "(" + " * ".join(den) + ")")
        return self.scalar(code, expr)

    def divisor_code(self, expr) -> str:
        """The code of a scalar the formula divides by; a norm (or a power of one) is checked
        for 0 by ``_divisor_norm`` (see the prelude: ‖x‖ has no gradient at 0)."""
        base, power = (expr.base, expr.exp) if expr.is_Pow and expr.exp.is_number and expr.exp.is_positive \
            else (expr, None)
        if not isinstance(base, Norm):
            return self.scalar_code(expr)
        self.helpers.add("_divisor_norm")
        checked = self.assign(f"_divisor_norm({self.scalar_code(base)})")
        return checked if power is None else self.scalar(f"{checked} ** {self.scalar_value(power).code}", expr).code

    def emit_Pow(self, expr):
        p = expr.exp
        if p.is_number and p.is_negative and isinstance(expr.base, Norm):
            divisor = self.divisor_code(expr.base)
            return self.scalar(f"1.0 / {divisor}" if p == -1 else f"{divisor} ** {self.scalar_value(p).code}", expr)
        base_value = self.scalar_value(expr.base)
        base = base_value.code
        if p == -1:
            return self.scalar(f"1.0 / {base}", expr)
        if p == sympy.Rational(1, 2):
            return self.scalar(self.apply("sqrt", self.operand(base_value)), expr)
        if p == 2:
            return self.scalar(f"{base} * {base}", expr)
        return self.scalar(f"{base} ** {self.scalar_value(p).code}", expr)

    def emit_log(self, expr):
        arg = expr.args[0]
        if isinstance(arg, Determinant):          # log det X via slogdet
            v = self.full(self.value(arg.arg), arg.arg.shape)
            return self.scalar(f"_logdet({v})", expr)
        if isinstance(arg, SumAll) and isinstance(arg.arg, Exp):   # log Σ exp(X) = m + log Σ exp(X − m)
            z = self.full(self.value(arg.arg.arg), arg.arg.arg.shape)
            m = self.assign(self.spell("extreme", x=z, extreme="max"))
            total = self.spell("total", x=self.apply("exp", f"{z} - {m}"))
            return self.scalar(f"{m} + {self.apply('log', total)}", expr)
        return self.scalar(self.apply("log", self.operand(self.scalar_value(arg))), expr)

    def emit_Function(self, expr):
        """f(x) for a SymPy function the namespaces have (see SCALAR_FUNCTIONS)."""
        function = SCALAR_FUNCTIONS.get(type(expr).__name__)
        if function is None or len(expr.args) != 1:
            self.untranslatable(expr)
        return self.scalar(self.apply(function, self.operand(self.scalar_value(expr.args[0]))), expr)

    def emit_Max(self, expr):
        return self.scalar(self._folded("maximum", expr.args), expr)

    def emit_Min(self, expr):
        return self.scalar(self._folded("minimum", expr.args), expr)

    def _folded(self, function, args) -> str:
        """f(f(a, b), c) …: NaN propagates, unlike Python's max and min."""
        code = self.operand(self.scalar_value(args[0]))
        for a in args[1:]:
            code = self.apply(function, code, self.scalar_code(a))
        return code

    def emit_Heaviside(self, expr):
        """H(x), with the value at 0 SymPy gives it: its second argument (0 for matcalc's
        step), else ½."""
        x = self.operand(self.scalar_value(expr.args[0]))
        at_zero = self.scalar_code(expr.args[1]) if len(expr.args) > 1 else "0.5"
        return self.scalar(self.spell("heaviside", x=x, at_zero=at_zero), expr)


# SymPy's scalar functions of one argument that the namespaces have, by the standard's name
# (:mod:`.spelling` spells them).  They take the 0-d values scalars are in generated code.
SCALAR_FUNCTIONS = {
    "exp": "exp", "log": "log", "Abs": "abs", "sign": "sign", "sin": "sin", "cos": "cos", "tan": "tan",
    "asin": "asin", "acos": "acos", "atan": "atan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh",
    "asinh": "asinh", "acosh": "acosh", "atanh": "atanh", "floor": "floor", "ceiling": "ceil", "erf": "erf",
}

# Integers up to 2**53 are exact in floating point: a rational coefficient p/q with both
# this small is printed as the division itself.
_EXACT_INTEGER = 2 ** 53


def _literal(number) -> str:
    """The Python literal of a SymPy number, or CompileError when float arithmetic cannot
    hold it (beyond ±1.8e308, below the smallest subnormal, ∞, NaN)."""
    value = float(number)
    problem = ("is not a number" if math.isnan(value) else
               "is beyond the floating-point range (about ±1.8e308)" if math.isinf(value) and number.is_finite else
               "is not finite" if math.isinf(value) else
               "underflows to 0 in floating point" if value == 0 and number != 0 else None)
    if problem:
        text = str(number)
        shown = text if len(text) <= 30 else str(sympy.Float(number, 6))
        raise CompileError(f"cannot compile the constant {shown}: it {problem}")
    code = str(int(number)) if number.is_Integer else repr(value)
    return f"({code})" if code.startswith("-") else code
