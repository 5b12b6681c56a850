"""Emitters of entrywise functions, softmax and log-sum-exp, and sums of entries.

Entrywise nodes keep their argument's layout (a collapsed value stays collapsed).  The
stable forms live here: softmax subtracts the row maximum, log∘softmax is
Z − logsumexp(Z), log σ(z) = −logaddexp(0, −z), log(1 − σ(z)) = −logaddexp(0, z) and
1 − σ(z) = 1 / (1 + u) with u = e^min(z, cap), σ(z) = u (1 − σ(z)).  Mixed into
:class:`~.codegen.Printer`.
"""
from __future__ import annotations

import sympy
from sympy import Integer
from sympy.matrices.expressions import Identity, MatAdd, OneMatrix
from sympy.matrices.expressions.hadamard import HadamardPower

from ..core import algebra
from ..core.functions import Exp, Log, Sigmoid, Softmax
from .values import ONES, ZEROS, Val, stored_like


class EntrywiseEmitters:
    """Entrywise functions, along-an-axis functions and sums of entries (mixed into the printer)."""

    # -- elementwise

    def emit_HadamardProduct(self, expr):
        powers: dict = {}
        for f in expr.args:
            base, p = (f.base, f.exp) if isinstance(f, HadamardPower) else (f, Integer(1))
            powers[base] = powers.get(base, 0) + p   # X ⊙ X^(-1) cancels exactly
        factors = [b if p == 1 else HadamardPower(b, p) for b, p in powers.items() if p != 0]
        factors = [f for f in factors if not isinstance(f, OneMatrix)]
        if not factors:
            return ONES
        if len(factors) == 1:
            return self.value(factors[0])
        vals = [self.value(f) for f in factors]
        if any(v.zero for v in vals):
            return ZEROS
        codes = [v.code for v in vals]
        logs = [i for i, f in enumerate(factors) if isinstance(f, Log) and isinstance(f.arg, Softmax)]
        if logs and len(logs) < len(factors):
            # Y ⊙ log softmax(Z) with 0 log p = 0: where Z − logsumexp(Z) overflows to −∞ (float32
            # logits near ±1e38) a zero weight must give 0, not 0·(−∞) = NaN
            weights = [c for i, c in enumerate(codes) if i not in logs]
            weight = weights[0] if len(weights) == 1 else self.assign(" * ".join(weights))
            codes = [weight] + [self.spell("where_zero", weight=weight, x=codes[i]) for i in logs]
        return self.matrix(" * ".join(codes), expr, **stored_like(*vals))

    def emit_HadamardPower(self, expr):
        base, p = expr.base, expr.exp
        v = self.value(base)
        if p == 1:
            return v
        if p == 2:
            code = f"{v.code} * {v.code}"
        elif p == -1:
            code = f"1.0 / {v.code}"
        elif p == sympy.Rational(1, 2):
            code = self.apply("sqrt", self.operand(v))
        else:
            code = f"{v.code} ** {self.scalar_value(p).code}"
        return self.matrix(code, expr, **stored_like(v))

    def elementwise(self, function, expr):
        """``function`` (the standard's name, see :mod:`.spelling`) entry by entry."""
        v = self.value(expr.arg)
        return self.matrix(self.apply(function, self.operand(v)), expr, **stored_like(v))

    def emit_Exp(self, expr):
        if isinstance(expr.arg, Log):
            return self.value(expr.arg.arg)
        return self.elementwise("exp", expr)

    def emit_Log(self, expr):
        arg = expr.arg
        if isinstance(arg, Exp):
            return self.value(arg.arg)
        if isinstance(arg, Sigmoid):              # log σ(z) = −log(1 + e^(−z))
            v = self.value(arg.arg)
            return self.matrix("-" + self.spell("softplus", x=f"-{self.operand(v)}"), expr, **stored_like(v))
        z = one_minus_sigmoid_arg(arg)
        if z is not None:                          # log(1 − σ(z)) = −log(1 + e^z)
            v = self.value(z)
            return self.matrix("-" + self.spell("softplus", x=self.operand(v)), expr, **stored_like(v))
        if isinstance(arg, Softmax):               # log softmax(Z) = Z − logsumexp(Z)
            lse = self.logsumexp_code(arg.arg, arg.axis)
            zv = self.full(self.value(arg.arg), arg.arg.shape)
            return self.matrix(f"{zv} - {lse}", expr)
        return self.elementwise("log", expr)

    def emit_Tanh(self, expr):
        return self.elementwise("tanh", expr)

    def emit_Elementwise(self, expr):
        """A function the namespaces have under another name (see ``ELEMENTWISE``)."""
        function = ELEMENTWISE.get(type(expr).__name__)
        if function is None:
            self.untranslatable(expr)
        return self.elementwise(function, expr)

    def emit_Softplus(self, expr):              # log(1 + e^z) without overflow
        v = self.value(expr.arg)
        return self.matrix(self.spell("softplus", x=self.operand(v)), expr, **stored_like(v))

    def emit_Erf(self, expr):
        return self.elementwise("erf", expr)

    def emit_NormalCdf(self, expr):             # Φ(z) = erfc(−z/√2)/2: accurate on the lower tail
        v = self.value(expr.arg)
        return self.matrix(f"0.5 * {self.apply('erfc', f'{self.operand(v)} * -{_SQRT_HALF!r}')}", expr,
                           **stored_like(v))

    def emit_Gelu(self, expr):                  # z Φ(z)
        v = self.value(expr.arg)
        erfc = self.apply("erfc", f"{self.operand(v)} * -{_SQRT_HALF!r}")
        return self.matrix(f"0.5 * {v.code} * {erfc}", expr, **stored_like(v))

    def emit_ElementwiseApplyFunction(self, expr):
        """f∘(X) for any SymPy scalar function f: f's body printed by the scalar emitters,
        with its variable standing for the array (the NumPy functions work entry by entry)."""
        (d,), body = expr.function.variables, expr.function.expr
        v = self.full(self.value(expr.expr), expr.expr.shape)
        stand_in = sympy.Dummy(d.name)
        self.values[stand_in] = Val(v, scalar=True)
        code = self.scalar_code(body.subs(d, stand_in))
        if d not in body.free_symbols:     # a constant function: an array all the same
            code = f"{code} + {self.spell('zeros_like', x=v)}"
        return self.matrix(code, expr)

    def emit_Maximum(self, expr):       # and minimum(A, B)
        a, b = (self.value(x) for x in expr.args)
        function = {"max": "maximum", "min": "minimum"}[expr.extreme]
        return self.matrix(self.apply(function, self.operand(a), b.code), expr, **stored_like(a, b))

    emit_Minimum = emit_Maximum

    def emit_Sigmoid(self, expr):
        """σ(z), exact in relative terms on both tails (no cancellation).  Eager code (NumPy,
        PyTorch), where each operation is a pass over the array: u = e^min(z, cap) and
        σ(z) = u / (1 + u), or σ(z) = u r where r = 1 − σ(z) = 1 / (1 + u) is printed too.
        Fused code (under jax.jit), where fewer arrays count more than fewer operations:
        t = e^min(−z, cap), σ(z) = 1 / (1 + t) and 1 − σ(z) = t σ(z)."""
        u = self.capped_exp(expr)
        if self.fused:
            return self.matrix(f"1.0 / (1.0 + {u.name})", expr, **stored_like(u))
        if expr in self.complemented:
            r = self.one_minus_sigmoid(expr, None)
            return self.matrix(f"{u.name} * {r.code}", expr, **stored_like(u))
        return self.matrix(f"{u.name} / (1.0 + {u.name})", expr, **stored_like(u))

    def capped_exp(self, sigmoid) -> Val:
        """e^min(z, cap) of σ(z) (e^min(−z, cap) in fused code), printed once: the cap
        (EXPCAP) keeps it finite."""
        u = self.capped_exps.get(sigmoid)
        if u is None:
            v = self.value(sigmoid.arg)
            z = f"-{self.operand(v)}" if self.fused else self.operand(v)
            u = Val(self.assign(f"_exp_capped({z}, EXPCAP)"), **stored_like(v))
            if not v.scalar:
                self.note_array(u, sigmoid.shape)
            self.capped_exps[sigmoid] = u
        return u

    def one_minus_sigmoid(self, sigmoid, expr) -> Val:
        """1 − σ(z) (see emit_Sigmoid), printed once, commented with ``expr`` (or the formula)."""
        r = self.complements.get(sigmoid)
        if r is None:
            u = self.capped_exp(sigmoid)
            expr = expr if expr is not None else algebra.add(OneMatrix(*sigmoid.shape), algebra.neg(sigmoid))
            code = f"{u.name} * {self.value(sigmoid).code}" if self.fused else f"1.0 / (1.0 + {u.name})"
            r = self.complements[sigmoid] = self.matrix(code, expr, **stored_like(u))
        return r

    def expect(self, outputs):
        """Look ahead over the expressions to print for the sigmoids whose complement
        1 − σ(z) is printed too (log(1 − σ(z)) is a softplus and needs none): their σ(z)
        is printed as u (1 − σ(z)), see emit_Sigmoid."""
        seen, stack = set(), list(outputs)
        while stack:
            e = stack.pop()
            if e in seen:
                continue
            seen.add(e)
            if isinstance(e, Log) and one_minus_sigmoid_arg(e.arg) is not None:
                stack.append(one_minus_sigmoid_arg(e.arg))
                continue
            z = one_minus_sigmoid_arg(e)
            if z is not None:
                self.complemented.add(Sigmoid(z))
            stack.extend(e.args)

    def emit_Sqrt(self, expr):
        return self.elementwise("sqrt", expr)

    def emit_Relu(self, expr):
        v = self.value(expr.arg)
        return self.matrix(self.apply("maximum", self.operand(v), "0.0"), expr, **stored_like(v))

    def emit_Step(self, expr):
        v = self.value(expr.arg)
        z = self.full(v, expr.arg.shape)
        return self.matrix(self.spell("astype", x=f"{z} > 0"), expr)

    # -- along an axis: max-shifted, sharing the shift and the sum between softmax and lse

    def _shifted(self, z_expr, axis):
        z = self.full(self.value(z_expr), z_expr.shape)
        m = self.assign(self.spell("extreme_along", x=z, extreme="max", axis=axis))
        e = self.assign(self.apply("exp", f"{z} - {m}"))
        self.note_array(Val(e), z_expr.shape)
        s = self.assign(self.spell("sum_along", x=e, axis=axis))
        return m, e, s

    def logsumexp_code(self, z_expr, axis) -> str:
        m, _, s = self._shifted(z_expr, axis)
        return self.assign(f"{m} + {self.apply('log', s)}")

    def emit_Softmax(self, expr):
        _, e, s = self._shifted(expr.arg, expr.axis)
        return self.matrix(f"{e} / {s}", expr)

    def emit_LogSumExp(self, expr):
        return Val(self.logsumexp_code(expr.arg, expr.axis))

    # -- sums of entries

    def emit_SumAll(self, expr):
        return self.sum_all(self.value(expr.arg), expr.arg.shape, expr)

    def emit_Norm(self, expr):
        v = self.full(self.value(expr.arg), expr.arg.shape)
        return self.scalar(self.apply("sqrt", self.spell("total", x=f"{v} * {v}")), expr)

    def emit_Norm1(self, expr):
        v = self.full(self.value(expr.arg), expr.arg.shape)
        return self.scalar(self.spell("total", x=self.apply("abs", v)), expr)

    # -- the largest and smallest entries, and where they are

    def emit_MaxAll(self, expr):        # and min(X)
        z = self.full(self.value(expr.arg), expr.arg.shape)
        return self.scalar(self.spell("extreme", x=z, extreme=expr.extreme), expr)

    def emit_MaxAlong(self, expr):      # and min(X, axis)
        z = self.full(self.value(expr.arg), expr.arg.shape)
        return self.matrix(self.spell("extreme_along", x=z, extreme=expr.extreme, axis=expr.axis), expr)

    emit_MinAll, emit_MinAlong = emit_MaxAll, emit_MaxAlong

    def emit_ArgMax(self, expr):
        """The indicator of the maxima, ties sharing the weight equally."""
        z = self.full(self.value(expr.arg), expr.arg.shape)
        if expr.axis == -1:
            extreme = self.spell("extreme_method", x=z, extreme=expr.extreme)
        else:
            extreme = self.spell("extreme_along", x=z, extreme=expr.extreme, axis=expr.axis)
        hit = self.assign(self.spell("astype", x=f"{z} == {extreme}"))
        total = self.spell("sum", x=hit) if expr.axis == -1 else self.spell("sum_along", x=hit, axis=expr.axis)
        return self.matrix(f"{hit} / {total}", expr)

    emit_ArgMin = emit_ArgMax


# Elementwise functions the namespaces have, by matcalc node name (the standard's names;
# see :mod:`.spelling` for NumPy's).
ELEMENTWISE = {
    "Sin": "sin", "Cos": "cos", "Tan": "tan", "Arcsin": "asin", "Arccos": "acos", "Arctan": "atan",
    "Sinh": "sinh", "Cosh": "cosh", "Absolute": "abs", "Sign": "sign", "Log1p": "log1p", "Expm1": "expm1",
}

_SQRT_HALF = 0.7071067811865476   # 1/√2


def one_minus_sigmoid_arg(expr):
    """z if expr is 1 − σ(z) (OneMatrix minus a sigmoid), else None."""
    if not isinstance(expr, MatAdd) or len(expr.args) != 2:
        return None
    def is_ones(a):   # a 1×1 identity is the 1×1 matrix of ones
        return isinstance(a, OneMatrix) or (isinstance(a, Identity) and a.shape == (1, 1))
    ones = [a for a in expr.args if is_ones(a)]
    rest = [a for a in expr.args if not is_ones(a)]
    if len(ones) != 1 or len(rest) != 1:
        return None
    neg = algebra.neg(rest[0])
    if isinstance(neg, Sigmoid):
        return neg.arg
    return None
