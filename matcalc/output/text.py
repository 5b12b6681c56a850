"""Plain-text (Unicode) printing of matrix expressions, as a textbook would write them.

``to_text(x * (A + A.T))`` → ``'x (A + Aᵀ)'``.  A SymPy ``StrPrinter`` subclass with one
``_print_<Class>`` method per construct; it does no math.  LaTeX lives in ``latex.py``.
Symbol names are typeset by :mod:`.symbols`, as in LaTeX: ``W1`` → W₁, ``lam`` → λ,
``Yhat`` → Ŷ.

:func:`derivation_text` (``str(derivation)``) names the subexpressions that would make a
result too long to print (see :func:`matcalc.output.naming.shared_names`).
"""
from __future__ import annotations

import sympy
from sympy import Basic
from sympy.matrices.expressions import (
    Determinant, HadamardProduct, Identity, Inverse, MatAdd, MatMul, MatPow, OneMatrix,
    Trace, Transpose, ZeroMatrix,
)
from sympy.matrices.expressions.diagonal import DiagMatrix
from sympy.matrices.expressions.matexpr import MatrixSymbol
from sympy.printing.str import StrPrinter

from ..core import budget
from ..core import functions as F
from ..core.kronecker import CommutationMatrix, Vec
from ..core.symbols import matrix_symbols
from ..core.walk import scalar_symbols
from .naming import _nodes, _symbol_for, per_call, shared_names, substitute
from .numbers import decimal_text
from .latex import term_order
from .symbols import spellings_of, typeset

_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_NAMES = {F.Exp: "exp", F.Log: "log", F.Tanh: "tanh", F.Sigmoid: "σ", F.Relu: "relu",
          F.Step: "step", F.Sqrt: "√", F.NormalCdf: "Φ"}
_INDICATORS = {"max": "𝕀ₘₐₓ", "min": "𝕀ₘᵢₙ"}


class TextPrinter(StrPrinter):
    """Unicode text: ᵀ, ⁻¹, ⊙, σ, 𝟏, ‖·‖, tr, det.

    Setting ``spellings``: ``{name: Spelling}`` of :func:`.symbols.spellings`, to print
    several expressions with one spelling per name (by default the expression's own)."""

    printmethod = "_matcalc_text"
    _default_settings = {**StrPrinter._default_settings, "spellings": None}

    def doprint(self, expr):
        given = self._settings["spellings"]
        self._spellings = given if given is not None else spellings_of([expr])
        return super().doprint(expr)

    def _spelling(self, name):
        return getattr(self, "_spellings", {}).get(name) or typeset(name)

    def _print(self, expr, **kwargs):
        budget.charge(1)   # a printer walks the tree: a runaway output trips the budget
        return super()._print(expr, **kwargs)

    def _atomic(self, expr) -> bool:
        return isinstance(expr, (MatrixSymbol, OneMatrix, Identity, ZeroMatrix, F.Elementwise,
                                 F.Softmax, F.LogSumExp, Transpose, Inverse, MatPow, sympy.Symbol,
                                 F.Norm, F.Norm1, F.SumAll, Trace, Determinant, DiagMatrix,
                                 F._AlongAxis, F.Maximum, F.Minimum, F.MaxAll, F.MinAll,
                                 sympy.NumberSymbol, Vec, CommutationMatrix)) or (
            getattr(expr, "is_Number", False) and expr >= 0 and not (expr.is_Rational and not expr.is_Integer
                                                                     and decimal_text(expr) is None))

    def _wrap(self, expr) -> str:
        text = self._print(expr)
        return text if self._atomic(expr) else f"({text})"

    def _print_MatrixSymbol(self, expr):
        return self._spelling(str(expr.name)).text

    def _print_Symbol(self, expr):
        return self._spelling(expr.name).text

    def _print_Transpose(self, expr):
        if isinstance(expr.arg, Inverse):
            return f"{self._wrap(expr.arg.arg)}⁻ᵀ"
        return f"{self._wrap(expr.arg)}ᵀ"

    def _print_Inverse(self, expr):
        if isinstance(expr.arg, Transpose):
            return f"{self._wrap(expr.arg.arg)}⁻ᵀ"
        return f"{self._wrap(expr.arg)}⁻¹"

    def _print_MatPow(self, expr):
        base = expr.base
        text = f"({self._print(base)})" if isinstance(base, Transpose) else self._wrap(base)
        if not expr.exp.is_Integer:   # a real or symbolic power (of a 1×1), as a scalar's
            exponent = self._print(expr.exp).replace("-", "−")
            return f"{text}^{exponent}" if expr.exp.is_Symbol else f"{text}^({exponent})"
        return text + str(expr.exp).translate(_SUPERSCRIPT)

    def _print_OneMatrix(self, expr):
        rows, cols = expr.shape
        return "𝟏ᵀ" if rows == 1 and cols != 1 else "𝟏"

    def _print_Identity(self, expr):
        return "1" if expr.shape == (1, 1) else "I"

    def _print_ZeroMatrix(self, expr):
        return "0"

    def _coefficient(self, c):
        if c == 1:
            return ""
        if c == -1:
            return "−"
        text = self._print(c)
        if c.is_Number and c.is_negative:
            plain = (-c).is_Integer or decimal_text(-c) is not None
            return f"−{self._print(-c)} " if plain else f"−({self._print(-c)}) "
        if c.is_Rational and not c.is_Integer and decimal_text(c) is None:
            return f"({text}) "
        return f"{text} " if (c.is_Integer or c.is_Symbol or self._atomic(c)) else f"({text}) "

    def _print_MatMul(self, expr):
        c, matrices = expr.as_coeff_matrices()
        # A 1×1 identity or ones factor is the number 1 (as in the LaTeX printer).
        ones = [m for m in matrices if isinstance(m, (Identity, OneMatrix)) and m.shape == (1, 1)]
        if ones and len(ones) < len(matrices) + (c != 1):
            matrices = [m for m in matrices if m not in ones]
        if not matrices:
            return self._print(c)
        factors = [self._wrap(m) if isinstance(m, (MatAdd, HadamardProduct, MatMul)) or not self._atomic(m)
                   else self._print(m) for m in matrices]
        return self._coefficient(c) + " ".join(factors)

    def _print_Pow(self, expr):
        base, exponent = expr.args
        if exponent == sympy.S.Half:
            return f"√{self._wrap(base)}"
        if exponent.is_Integer and exponent < 0:
            power = "" if exponent == -1 else str(-exponent).translate(_SUPERSCRIPT)
            return f"1/{self._wrap(base)}{power}"
        if exponent.is_Integer:
            return f"{self._wrap(base)}{str(exponent).translate(_SUPERSCRIPT)}"
        return super()._print_Pow(expr).replace("**", "^")

    def _print_MatAdd(self, expr):
        parts = []
        # in the LaTeX printer's order: x − a, not −a + x; A₁ W₂ + 𝟏 b₂
        terms = sorted(expr.args, key=term_order)
        for i, term in enumerate(terms):
            c = term.as_coeff_mmul()[0] if isinstance(term, MatMul) else sympy.S.One
            negative = c.could_extract_minus_sign()
            body = self._print(_without_sign(term) if negative else term)
            if i == 0:
                parts.append(("−" if negative else "") + body)
            else:
                parts.append((" − " if negative else " + ") + body)
        return "".join(parts)

    def _print_HadamardProduct(self, expr):
        return " ⊙ ".join(self._wrap(f) for f in expr.args)

    def _print_HadamardPower(self, expr):
        base, exponent = expr.args
        if exponent == -1:
            return f"1 ⊘ {self._wrap(base)}"
        if exponent.is_Integer:
            return f"{self._wrap(base)}∘{str(exponent).translate(_SUPERSCRIPT)}"
        return f"{self._wrap(base)}∘({self._print(exponent)})"

    def _print_KroneckerProduct(self, expr):
        return " ⊗ ".join(self._wrap(f) for f in expr.args)

    def _print_Vec(self, expr):
        return f"vec({self._print(expr.arg)})"

    def _print_CommutationMatrix(self, expr):
        return f"K₍{self._print(expr.args[0])},{self._print(expr.args[1])}₎"

    def _print_Elementwise(self, expr):
        return f"{_NAMES.get(type(expr), type(expr).__name__.lower())}({self._print(expr.arg)})"

    _print_Exp = _print_Log = _print_Tanh = _print_Sigmoid = _print_Relu = _print_Step = \
        _print_Sqrt = _print_Elementwise

    def _print_Absolute(self, expr):
        return f"|{self._print(expr.arg)}|"

    def _print_ElementwiseApplyFunction(self, expr):
        (d,), body = expr.function.variables, expr.function.expr
        return f"({d.name} ↦ {self._print(body)})∘({self._print(expr.expr)})"

    def _print_Dummy(self, expr):
        return expr.name

    def _print_Maximum(self, expr):     # and minimum(A, B)
        return f"{expr.extreme}({self._print(expr.args[0])}, {self._print(expr.args[1])})"

    def _print_MaxAll(self, expr):      # and min(X)
        return f"{expr.extreme}({self._print(expr.arg)})"

    def _print_MaxAlong(self, expr):    # and min(X, axis)
        return f"{expr.extreme}({self._print(expr.arg)}, axis={expr.axis})"

    def _print_ArgMax(self, expr):      # and the indicator of the minimum
        axis = "" if expr.axis == -1 else f", axis={expr.axis}"
        return f"{_INDICATORS[expr.extreme]}({self._print(expr.arg)}{axis})"

    _print_Minimum, _print_MinAll, _print_MinAlong, _print_ArgMin = \
        _print_Maximum, _print_MaxAll, _print_MaxAlong, _print_ArgMax

    def _print_Norm1(self, expr):
        return f"‖{self._print(expr.arg)}‖₁"

    def _print_Rational(self, expr):
        decimal = decimal_text(expr)
        return decimal if decimal is not None else super()._print_Rational(expr)

    def _print_Pi(self, expr):
        return "π"

    def _print_Exp1(self, expr):
        return "e"

    def _print_Softmax(self, expr):
        return f"softmax({self._print(expr.arg)})"

    def _print_LogSumExp(self, expr):
        return f"logsumexp({self._print(expr.arg)})"

    def _print_SumAll(self, expr):
        if expr.arg.shape == (1, 1):
            return self._wrap(expr.arg)   # the sum of a 1×1 matrix is its entry: −(a + b), not −a + b
        return f"sum({self._print(expr.arg)})"

    def _print_Norm(self, expr):
        return f"‖{self._print(expr.arg)}‖"

    def _print_Trace(self, expr):
        return f"tr({self._print(expr.arg)})"

    def _print_Determinant(self, expr):
        return f"det({self._print(expr.arg)})"

    def _print_log(self, expr):
        if isinstance(expr.args[0], Determinant):
            return f"log det({self._print(expr.args[0].arg)})"
        return f"log({self._print(expr.args[0])})"

    def _print_DiagMatrix(self, expr):
        return f"diag({self._print(expr.args[0])})"

    def _print_DiagonalOf(self, expr):
        return f"diagonal({self._print(expr.args[0])})"

    def _print_Mul(self, expr):
        number, rest = expr.as_coeff_Mul()
        if rest != 1 and decimal_text(number) is not None:   # 1.702·τ, not 851·τ/500
            sign = "−" if number < 0 else ""
            return f"{sign}{decimal_text(abs(number))}·{self._wrap(rest) if rest.is_Add else self._print(rest)}"
        return super()._print_Mul(expr).replace("*", "·").replace("-", "−")

    def _print_Add(self, expr):
        # a term printed with a leading "−" by _print_Mul is subtracted, not added
        return super()._print_Add(expr).replace(" - ", " − ").replace("-", "−").replace("+ −", "− ")


def _without_sign(term):
    """−term for a product with a negative coefficient, built as it stands (SymPy's
    ``-term`` would also evaluate everything below it)."""
    coefficient, matrices = term.as_coeff_matrices()
    if -coefficient == 1:
        return matrices[0] if len(matrices) == 1 else Basic.__new__(MatMul, *matrices)
    return Basic.__new__(MatMul, -coefficient, *matrices)


def to_text(expr, *, spellings=None) -> str:
    """A one-line Unicode rendering of a matrix or scalar expression (``spellings``: see
    :class:`TextPrinter`)."""
    return TextPrinter({"spellings": spellings}).doprint(expr)


def named_texts(exprs) -> tuple[list[str], list[tuple[str, str]]]:
    """``exprs`` as text, each written with the shared names, and the names' definitions
    as (name, text) pairs.

    A subexpression that would be written over and over (a derivative shares its forward
    intermediates, so its printed tree may be exponentially larger than it is) is named
    once, R1, R2, …; expressions with nothing that large print as they are.  The work is
    charged to the budget as the stage "printing"."""
    texts, shared, _ = _named_texts(exprs)
    return texts, shared


def _named_texts(exprs, also=()):
    """:func:`named_texts`, and the spellings of the names in them and in ``also``, one per
    name for all the lines (λ for lam, unless a λ is there too)."""
    with budget.stage("printing"), per_call():
        fresh = _fresh_names(exprs)
        names, written = shared_names(list(exprs), lambda node: _symbol_for(next(fresh), node))
        spelt = spellings_of([*written, *(n.symbol for n in names), *(n.definition for n in names), *also])
        return ([to_text(e, spellings=spelt) for e in written],
                [(to_text(name.symbol, spellings=spelt), to_text(name.definition, spellings=spelt))
                 for name in names], spelt)


def derivation_text(derivation, *, names=None, function_name=None) -> str:
    """A derivation as text: a heading, then the lines of :func:`derivation_lines`."""
    fname = function_name or _function_name(derivation)
    return "\n".join([_heading(derivation, fname), *(
        "  " + line for line in derivation_lines(derivation, names=names, function_name=fname))])


def derivation_repr(derivation) -> str:
    """``repr(derivation)``: one line saying what it is (``print`` it for the result)."""
    steps = len(derivation.steps)
    return f"<Derivation: {_heading(derivation, _function_name(derivation))}; {steps} step{'s' * (steps != 1)}>"


def _heading(derivation, fname) -> str:
    spelt = spellings_of([derivation.function, *derivation.wrt, *derivation.results.values(),
                          *([derivation.cotangent] if derivation.kind == "vjp" else [])])
    wrt = ", ".join(to_text(x, spellings=spelt) for x in derivation.wrt)
    if derivation.kind == "vjp":
        cotangent = to_text(derivation.cotangent, spellings=spelt)
        return f"vector-Jacobian product of {fname} with cotangent {cotangent}, with respect to {wrt}"
    return f"{derivation.kind} of {fname} with respect to {wrt}"


def derivation_lines(derivation, *, names=None, function_name=None) -> list[str]:
    """The derivation as a textbook writes it, one ``name = expression`` per line: the named
    intermediates the function needs (Z₁, A₁, Ŷ), the function, the other intermediates
    (the backpropagated errors G₁, G₂, …) and the derivatives written with them.  The names
    are those of every printer (:func:`matcalc.output.render.derivation_names`); ``names``
    adds the user's (``{expression: "A1"}``).  What is still too long is named R1, R2, …
    (:func:`named_texts`) and defined last."""
    from .render import derivation_names   # render imports this module's printer
    fname = function_name or _function_name(derivation)
    with budget.stage("printing"), per_call():
        return named_lines(derivation_names(derivation, names), derivation.function, fname,
                           [derivation.results[x] for x in derivation.wrt], derivation.wrt,
                           lambda x: _derivative_label(derivation, fname, x))


def named_lines(chosen, function, fname, results, variables, label) -> list[str]:
    """``fname = function`` and ``label(x) = result`` lines, one per variable, written with
    the names ``chosen`` (:class:`~matcalc.output.naming.Name`), each name defined on a line
    of its own before its first use; what is still too long is named R1, R2, …
    (:func:`named_texts`).  ``label`` gets the variable as printed (W₁)."""
    with per_call():
        function = substitute(function, chosen)
        results = [substitute(r, chosen) for r in results]
        definitions = {n.symbol: substitute(n.definition, [m for m in chosen if m is not n])
                       for n in chosen}
        before, after = _in_reading_order(definitions, [function], results)
        exprs = [*(definitions[s] for s in before), function, *(definitions[s] for s in after), *results]
        texts, shared, spelt = _named_texts(exprs, also=[*before, *after, *variables])
        lhs = [to_text(s, spellings=spelt) for s in before] + [fname] + \
            [to_text(s, spellings=spelt) for s in after] + [label(to_text(x, spellings=spelt)) for x in variables]
        lines = [f"{left} = {right}" for left, right in zip(lhs, texts)]
        return lines + [f"where {name} = {text}" for name, text in shared]


def _in_reading_order(definitions, first, then):
    """The named symbols ``first`` uses, each after those its definition uses; then the
    others ``then`` uses.  Names nothing uses are left out."""
    order, placed = [], set()

    def place(expr):
        for node in _nodes(expr):
            if node in definitions and node not in placed:
                placed.add(node)
                place(definitions[node])
                order.append(node)

    for expr in first:
        place(expr)
    count = len(order)
    for expr in then:
        place(expr)
    return order[:count], order[count:]


def _function_name(derivation) -> str:
    if derivation.kind == "vjp":
        return "Y" if isinstance(derivation.function, sympy.MatrixBase | sympy.MatrixExpr) else "y"
    return "y" if derivation.kind == "jacobian" else "L"


def _derivative_label(derivation, fname, name) -> str:
    if derivation.kind == "hessian":
        return f"∂²{fname}/∂{name}²"
    if derivation.kind == "jacobian" and derivation.layout == "denominator":
        return f"∂{fname}/∂{name} (denominator layout)"
    if derivation.kind == "vjp":
        return f"∂⟨G, {fname}⟩/∂{name}"
    return f"∂{fname}/∂{name}"


def _fresh_names(exprs):
    """R1, R2, … (Q1, … or T1, … where a symbol of ``exprs`` prints like one)."""
    taken = {to_text(s) for s in matrix_symbols(*exprs)} | {to_text(s) for s in scalar_symbols(exprs)}
    k = 0
    while True:
        k += 1
        name = next((f"{letter}{k}" for letter in "RQT" if typeset(f"{letter}{k}").text not in taken),
                    f"R{k}_")
        taken.add(typeset(name).text)
        yield name
