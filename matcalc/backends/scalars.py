"""Emitters of plain scalar expressions: numbers, scalar symbols, sums, products, powers
and scalar functions (``log det X`` through ``slogdet``).  Mixed into
:class:`~.codegen.Printer`.
"""
from __future__ import annotations

import sympy
from sympy.matrices.expressions import Determinant, MatrixExpr

from ..errors import CompileError
from .describe import short
from .values import Val


class ScalarEmitters:
    """Plain scalar expressions (mixed into the printer)."""

    # -- plain scalar expressions

    def scalar_value(self, expr) -> Val:
        expr = sympy.sympify(expr)
        if expr in self.values:
            return self.values[expr]
        if expr in self.dimensions:
            return Val(self.dimensions[expr], scalar=True)
        if isinstance(expr, MatrixExpr):
            raise CompileError(f"expected a scalar, got the matrix {short(expr, 60)}")
        val = self.emit(expr)
        self.values[expr] = val
        return val

    def scalar_code(self, expr) -> str:
        return self.scalar_value(expr).code

    def emit_Number(self, expr):
        if expr.is_Integer:
            code = str(int(expr))
        else:
            code = repr(float(expr))
        if code.startswith("-"):
            code = f"({code})"
        return Val(code, scalar=True)

    def emit_NumberSymbol(self, expr):   # pi, E
        return Val(repr(float(expr)), scalar=True)

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
            if coeff.is_Rational:
                if coeff.p != 1:
                    num.append(str(coeff.p))
                den.append(str(coeff.q)) if coeff.q != 1 else None
            else:
                num.append(self.scalar_code(coeff))
        for a in sympy.Mul.make_args(rest):
            if a.is_Pow and a.exp.is_number and a.exp.is_negative:
                den.append(self.scalar_code(1 / a))
            elif a != 1:
                num.append(self.scalar_code(a))
        code = sign + (" * ".join(num) if num else "1.0")
        if den:
            code += " / " + (den[0] if len(den) == 1 else "(" + " * ".join(den) + ")")
        return self.scalar(code, expr)

    def emit_Pow(self, expr):
        base = self.scalar_value(expr.base).code
        p = expr.exp
        if p == -1:
            return self.scalar(f"1.0 / {base}", expr)
        if p == sympy.Rational(1, 2):
            return self.scalar(f"np.sqrt({base})", expr)
        if p == 2:
            return self.scalar(f"{base} * {base}", expr)
        return self.scalar(f"{base} ** {self.scalar_value(p).code}", expr)

    def emit_log(self, expr):
        arg = expr.args[0]
        if isinstance(arg, Determinant):          # log det X via slogdet
            v = self.full(self.value(arg.arg), arg.arg.shape)
            return self.scalar(f"_logdet({v})", expr)
        return self.scalar(f"np.log({self.scalar_code(arg)})", expr)

    def _scalar_function(name):
        def emit(self, expr):
            return self.scalar(f"{name}({self.scalar_code(expr.args[0])})", expr)
        return emit

    emit_exp = _scalar_function("np.exp")
    emit_tanh = _scalar_function("np.tanh")
    emit_Abs = _scalar_function("np.abs")
    emit_sin = _scalar_function("np.sin")
    emit_cos = _scalar_function("np.cos")
    del _scalar_function
