"""Matrix expressions → readable NumPy source → a fast Python function.

``compile(expr_or_list)`` walks the expression DAG once, bottom-up, and prints one line of
NumPy per *unique* node (hash-consing: SymPy expressions are structurally hashable, so a
subexpression shared by the loss and several gradients becomes one variable).  The result
reads like a hand-written forward/backward pass and runs like one:

* no N×N intermediates where the math needs none: ``1b`` (OneMatrix(N,1)·b) is NumPy
  broadcasting, ``1ᵀG`` is a column sum, ``diag(v)X`` is ``v * X``, ``tr(AB)`` is
  ``sum(A ⊙ Bᵀ)``, a Hadamard product with a matrix of ones is a no-op;
* ``A⁻¹B`` is ``np.linalg.solve``, ``log det X`` is ``np.linalg.slogdet``, a matrix
  chain is multiplied in the cheapest order, common right/left factors of a sum are
  pulled out ((wXᵀ − y)X rather than wXᵀX − yX), and a node whose transpose was already
  computed is read back as ``.T``;
* numerically stable by construction: softmax subtracts the row maximum, log∘softmax is
  Z − logsumexp(Z), log σ(z) = −logaddexp(0, −z), log(1 − σ(z)) = −logaddexp(0, z).

Calling convention (the contract of :class:`CompiledFunction`):

* keyword arguments by symbol name, ``fn(X=..., W1=...)``; dimension symbols are read off
  the arrays (a dimension seen twice must agree); a dimension no argument carries (say
  the N of a lone ``OneMatrix(N, 1)``) is passed as an int keyword;
* a 1-D array is accepted for a row or column vector symbol and reshaped to its declared
  2-D shape; a number is accepted for a 1×1 symbol;
* matrix results come back as 2-D arrays of their declared shapes; a result whose shape is
  1×1 by construction (a loss such as x A xᵀ) and every scalar SymPy expression come back
  as a Python ``float``; a list/tuple of expressions gives a tuple of results;
* a missing, unexpected or wrongly shaped argument raises :class:`ArgumentError` naming
  the argument, the expected shape with dimension names and the shape it got.

This module is a backend: it imports the symbol and function layers, never the
differentiator (``export_numpy`` asks for gradients lazily).
"""
from __future__ import annotations

import builtins
import keyword
import re
from dataclasses import dataclass

import numpy as np
import sympy
from sympy import Integer
from sympy.matrices.expressions import (
    Determinant, HadamardProduct, Identity, Inverse, MatAdd, MatMul, MatPow, MatrixExpr,
    MatrixSymbol, OneMatrix, Trace, Transpose, ZeroMatrix,
)
from sympy.matrices.expressions.diagonal import DiagMatrix
from sympy.matrices.expressions.hadamard import HadamardPower

from ..errors import ArgumentError, CompileError
from ..core.functions import (
    Elementwise, Exp, Log, LogSumExp, Norm, Relu, Sigmoid, Softmax, Sqrt, Step, SumAll, Tanh,
)

__all__ = ["compile", "CompiledFunction", "export_numpy"]

DTYPES = {"float64": np.float64, "float32": np.float32}

# A node whose transpose was already computed is read back as `.T`; finding the transpose
# costs a SymPy rewrite of the whole subtree, so only subtrees up to this size are tried.
_TRANSPOSE_LOOKUP_SIZE = 40

# A symbolic dimension is priced as this many entries when choosing a multiplication order.
_TYPICAL_DIMENSION = 1000

# The helpers every generated module starts with.  They are NumPy-only so that an exported
# module runs anywhere; the JAX backend swaps in its own versions of the same names.
NUMPY_PRELUDE = '''\
import numpy as np


def _exp_neg(z, cap):
    # exp(min(-z, cap)) in one buffer: the cap keeps it finite (see EXPCAP in matcalc.compile)
    if np.ndim(z) == 0:
        return np.exp(min(-z, cap))
    t = np.negative(z)
    np.minimum(t, cap, out=t)
    return np.exp(t, out=t)


def _logdet(x):
    # log det X through slogdet: no overflow of det itself; log of a det <= 0 is nan/-inf.
    sign, logabsdet = np.linalg.slogdet(x)
    if sign > 0:
        return logabsdet
    return -np.inf if sign == 0 else np.nan


def _full(value, rows, cols, dtype):
    # A broadcast value (a row shared by every row, a constant, ...) as a real array.
    return np.array(np.broadcast_to(np.asarray(value, dtype=dtype), (rows, cols)))
'''

# σ(z) is computed as 1 / (1 + t) with t = exp(min(−z, EXPCAP)): capping the exponent keeps t
# finite (so 1 − σ(z) = t σ(z) is exact in relative terms on both tails) at the cost of
# σ(z) ≈ 1e-308 instead of a smaller subnormal for z < −709.
EXPCAP = {"float64": 709.0, "float32": 88.0}


# ---------------------------------------------------------------- values during printing

@dataclass(frozen=True)
class _Val:
    """A computed node: the Python text that names it and how it is stored.

    A matrix value may be stored *collapsed* along an axis whose entries are all equal
    (``rows_same``: every row is the same, stored as 1×cols; ``cols_same`` likewise), so
    that ``1b``, ``1ᵀ`` and ``OneMatrix`` never allocate their full shape; NumPy
    broadcasting expands them for free when they meet a full array.
    """
    code: str
    scalar: bool = False
    rows_same: bool = False
    cols_same: bool = False
    one: bool = False          # the matrix of ones itself (code "1.0")


_ONES = _Val("1.0", rows_same=True, cols_same=True, one=True)
_ATOM = re.compile(r"^(?:[A-Za-z_][A-Za-z_0-9]*(?:\.T)?|\d+(?:\.\d*)?(?:e[-+]?\d+)?)$")


def _is_atom(code: str) -> bool:
    return bool(_ATOM.match(code))


def _printable(text: str) -> str:
    """Text safe inside a generated comment or docstring: one line, no quotes or backslashes
    (a symbol name is user text and must not end a comment or a docstring early)."""
    return "".join(c if c.isprintable() and c not in '\\"' else "?" for c in text)


def _short(expr, limit=110) -> str:
    """A one-line textbook rendering of ``expr`` for comments, cut at ``limit`` characters."""
    return _Describer(limit).text(expr)


class _Describer:
    """Plain-text formulas (Xᵀ, A ⊙ B, σ(Z), 1 for ones), memoised per node and cut to a
    length, so that describing every node of a large DAG stays linear.  (SymPy's own str
    printer re-walks every subtree and is quadratic on deep networks.)"""

    FUNCTIONS = {"Exp": "exp", "Log": "log", "Tanh": "tanh", "Sigmoid": "σ", "Relu": "relu",
                 "Step": "step", "Sqrt": "√", "SumAll": "sum", "Trace": "tr", "Determinant": "det",
                 "DiagMatrix": "diag", "Softmax": "softmax", "LogSumExp": "logsumexp", "log": "log",
                 "exp": "exp", "tanh": "tanh", "Abs": "abs"}

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
            return _printable(str(e.name))
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
                    parts.append(("- " if i else "-") + self._factor_text(-term))
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
        if isinstance(e, HadamardPower):
            return f"{self._wrapped(e.base)}^(∘{self.text(e.exp)})"
        if isinstance(e, MatPow):
            return f"{self._wrapped(e.base)}^{self.text(e.exp)}"
        if name == "Norm":
            return f"‖{self.text(e.args[0])}‖"
        if name in self.FUNCTIONS and e.args:
            extra = ", axis=0" if name in ("Softmax", "LogSumExp") and e.args[1] == 0 else ""
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
            return _printable(str(e))
        args = ", ".join(self.text(a) for a in e.args)
        return f"{name}({args})"

    def _factor_text(self, f):
        return f"({self.text(f)})" if isinstance(f, (MatAdd, HadamardProduct)) else self.text(f)

    def _scalar_factor(self, a):
        t = self.text(a)
        return f"({t})" if isinstance(a, (sympy.Add, sympy.Mul)) or (isinstance(a, sympy.Rational) and not a.is_Integer) else t


# Names the generated and exported modules use for themselves.
_RESERVED = frozenset({
    "np", "DTYPE", "EXPCAP", "WRT", "eps", "seed", "arguments", "rng", "errors", "point", "direction",
    "plus", "minus", "numeric", "analytic", "gradient", "gradients", "loss", "name", "float",
})


def _safe_name(name: str, taken: set) -> str:
    base = re.sub(r"\W", "_", name)
    if not base or base[0].isdigit():
        base = "v_" + base
    if keyword.iskeyword(base) or base.startswith("_") or base in _RESERVED:
        base = "v_" + base.lstrip("_")
    candidate, i = base, 1
    while candidate in taken:
        i += 1
        candidate = f"{base}_{i}"
    taken.add(candidate)
    return candidate


# ---------------------------------------------------------------- the printer

class _Printer:
    """Prints the DAG of some expressions as straight-line NumPy code.

    ``values`` maps each expression already printed to its :class:`_Val` (expression-level
    hash-consing); ``by_code`` maps each line's right-hand side to its variable (code-level
    hash-consing, which also shares sub-products of different matrix chains).
    """

    def __init__(self, inputs, dimensions, names=None):
        self.lines: list[str] = []
        self.values: dict = {}
        self.by_code: dict[str, str] = {}
        self.counter = 0
        self.taken = set(v for v in inputs.values()) | set(dimensions.values())
        self.dimensions = dimensions           # sympy Symbol -> variable name
        self.hints = {}                        # expression -> preferred variable name
        self.sigmoid_tails = {}                # σ(z) -> the variable holding exp(−z)
        self.describer = _Describer(110)
        self.sizes = {}
        for name, expr in (names or {}).items():
            self.hints[sympy.sympify(expr)] = name
        for symbol, var in inputs.items():
            if isinstance(symbol, MatrixExpr):
                self.values[symbol] = _Val(var)
            else:
                self.values[symbol] = _Val(var, scalar=True)

    # -- emitting lines

    def fresh(self, hint=None) -> str:
        if hint:
            return _safe_name(hint, self.taken)
        self.counter += 1
        while f"t{self.counter}" in self.taken:
            self.counter += 1
        self.taken.add(f"t{self.counter}")
        return f"t{self.counter}"

    def assign(self, code: str, comment=None, hint=None) -> str:
        """The variable holding ``code``, emitting ``var = code`` the first time."""
        if _is_atom(code) and hint is None:
            return code
        if code in self.by_code:
            return self.by_code[code]
        var = self.fresh(hint)
        if comment:
            self.lines.append(f"# {comment}")
        self.lines.append(f"{var} = {code}")
        self.by_code[code] = var
        return var

    def dim(self, d) -> str:
        d = sympy.sympify(d)
        if d.is_Integer:
            return str(int(d))
        if d in self.dimensions:
            return self.dimensions[d]
        return self.assign(self.scalar_code(d))

    def size(self, expr) -> int:
        """The number of nodes of expr as a tree (memoised)."""
        if expr not in self.sizes:
            self.sizes[expr] = 1 + builtins.sum(self.size(a) for a in expr.args)
        return self.sizes[expr]

    # -- the walk

    def value(self, expr) -> _Val:
        if expr in self.values:
            return self.values[expr]
        if isinstance(expr, (MatAdd, MatMul)) and self.size(expr) <= _TRANSPOSE_LOOKUP_SIZE:
            transposed = expr.T   # SymPy's canonical transpose: costly on big trees, hence the limit
            if transposed in self.values and transposed != expr:
                return self.transpose(self.values[transposed])
        val = self.emit(expr)
        hint = self.hints.get(expr)
        if hint and re.fullmatch(r"t\d+", val.code) and self.lines and self.lines[-1].startswith(f"{val.code} = "):
            var = self.fresh(hint)
            rhs = self.lines[-1][len(val.code) + 3:]
            self.lines[-1] = f"{var} = {rhs}"
            self.by_code[rhs] = var
            val = _Val(var, val.scalar, val.rows_same, val.cols_same)
        self.values[expr] = val
        return val

    def emit(self, expr) -> _Val:
        method = getattr(self, f"emit_{type(expr).__name__}", None)
        if method is None:
            for klass in type(expr).__mro__[1:]:
                method = getattr(self, f"emit_{klass.__name__}", None)
                if method is not None:
                    break
        if method is None:
            raise CompileError(f"cannot compile a {type(expr).__name__} node ({_short(expr, 60)}): "
                               f"no NumPy translation for {type(expr).__name__}")
        return method(expr)

    def matrix(self, code, expr, rows_same=False, cols_same=False) -> _Val:
        return _Val(self.assign(code, self.describer.text(expr)), rows_same=rows_same, cols_same=cols_same)

    def full(self, val: _Val, shape) -> str:
        """The code of ``val`` as a real array of ``shape`` (expands collapsed axes)."""
        if val.scalar:
            return val.code
        literal = bool(re.fullmatch(r"[\d.e+-]+", val.code))
        rows_wide = val.rows_same and sympy.sympify(shape[0]) != 1
        cols_wide = val.cols_same and sympy.sympify(shape[1]) != 1
        if not (literal or rows_wide or cols_wide):
            return val.code
        rows, cols = (self.dim(s) for s in shape)
        return self.assign(f"_full({val.code}, {rows}, {cols}, DTYPE)")

    def transpose(self, val: _Val) -> _Val:
        if val.scalar or val.one:
            return val
        if re.fullmatch(r"[A-Za-z_][A-Za-z_0-9]*\.T", val.code):
            code = val.code[:-2]
        elif _is_atom(val.code) and not re.fullmatch(r"[\d.e+-]+", val.code):
            code = val.code + ".T"
        else:
            code = val.code
        return _Val(code, rows_same=val.cols_same, cols_same=val.rows_same)

    # -- leaves

    def emit_MatrixSymbol(self, expr):
        raise CompileError(f"symbol {expr} is not an input")  # inputs are pre-registered

    def emit_OneMatrix(self, expr):
        return _ONES

    def emit_Identity(self, expr):
        if expr.shape == (1, 1):
            return _ONES
        n = self.dim(expr.shape[0])
        return self.matrix(f"np.eye({n}, dtype=DTYPE)", expr)

    def emit_ZeroMatrix(self, expr):
        return _Val("0.0", rows_same=True, cols_same=True)

    def emit_DiagMatrix(self, expr):
        v = self.value(expr.args[0])
        vec = self.full(v, expr.args[0].shape)
        return self.matrix(f"np.diag({vec}.ravel())", expr)

    # -- structure

    def emit_Transpose(self, expr):
        return self.transpose(self.value(expr.arg))

    def emit_MatAdd(self, expr):
        z = _one_minus_sigmoid(expr)
        if z is not None:
            return self.one_minus_sigmoid(Sigmoid(z), expr)
        factored = _factor_common(expr)
        if factored is not None:
            return self.value(factored)
        plus, minus = [], []
        for term in expr.args:
            coeff = term.as_coeff_mmul()[0] if isinstance(term, MatMul) else Integer(1)
            if coeff.could_extract_minus_sign():
                minus.append(self.value(-term))
            else:
                plus.append(self.value(term))
        if not plus:
            plus, minus = [self.negate(minus[0], expr.args[0].shape)], minus[1:]
        vals = plus + minus
        code = " + ".join(v.code for v in plus)
        if minus:
            code += "".join(f" - {v.code}" for v in minus)
        return self.matrix(code, expr,
                           rows_same=all(v.rows_same for v in vals),
                           cols_same=all(v.cols_same for v in vals))

    def negate(self, val, shape):
        return _Val(self.assign(f"-{val.code}"), rows_same=val.rows_same, cols_same=val.cols_same)

    def emit_MatMul(self, expr):
        coeff, factors = expr.as_coeff_matrices()
        # identities drop out of a product, unless there is nothing else (λI)
        factors = [f for f in factors if not isinstance(f, Identity)] or list(factors)[:1]
        if any(isinstance(f, ZeroMatrix) for f in factors):
            return _Val("0.0", rows_same=True, cols_same=True)
        if coeff == 1 and len(factors) == 1:
            return self.value(factors[0])
        if coeff == -1:
            inner = self.value(MatMul(*factors)) if len(factors) > 1 else self.value(factors[0])
            return self.negate(inner, expr.shape)
        if coeff == 1:
            return self.chain(factors, expr)
        c = self.scalar_value(coeff)
        # Scale the smallest operand: the result or one of the factors.
        sizes = [(_size(expr.shape), -1)] + [(_size(f.shape), i) for i, f in enumerate(factors)]
        _, where = min(sizes)
        if where == -1 or len(factors) == 1:
            prod = self.chain(factors, MatMul(*factors)) if len(factors) > 1 else self.value(factors[0])
            return self.matrix(f"{c.code} * {prod.code}", expr, prod.rows_same, prod.cols_same)
        scaled = MatMul(coeff, factors[where])
        rest = factors[:where] + [scaled] + factors[where + 1:]
        return self.chain(rest, expr)

    def chain(self, factors, expr) -> _Val:
        """A product of matrices: inverses become solves, diagonals become scalings, and
        the rest is multiplied in the cheapest order."""
        items = []
        for f in factors:
            inv = _inverse_of(f)
            if inv is not None:
                items.append(("inv", inv))
            elif isinstance(f, DiagMatrix) or (isinstance(f, Transpose) and isinstance(f.arg, DiagMatrix)):
                d = f if isinstance(f, DiagMatrix) else f.arg
                v = d.args[0]
                items.append(("diag", v if v.shape[1] == 1 else v.T))
            else:
                items.append(("mat", f))
        return self.product(items, expr)

    def product(self, items, expr) -> _Val:
        for i, (kind, m) in enumerate(items):
            if kind == "inv":
                left, right = items[:i], items[i + 1:]
                mv = self.value(m)
                mcode = self.full(mv, m.shape)
                if right:
                    r = self.product(right, None)
                    rcode = self.full(r, _items_shape(right))
                    solved = _Val(self.assign(f"np.linalg.solve({mcode}, {rcode})", self.describer.text(expr) if expr is not None and not left else None))
                    if not left:
                        return solved
                    return self.product(left + [("val", (solved, (m.shape[0], _items_shape(right)[1])))], expr)
                if left:
                    lv = self.product(left, None)
                    lcode = self.full(lv, _items_shape(left))
                    lt = self.assign(f"{lcode}.T") if not _is_atom(lcode + ".T") else lcode + ".T"
                    mt = mcode + ".T" if _is_atom(mcode + ".T") else self.assign(f"{mcode}.T")
                    solved = self.assign(f"np.linalg.solve({mt}, {lt})")
                    return self.transpose(_Val(solved))
                return self.matrix(f"np.linalg.inv({mcode})", expr if expr is not None else m)
        # merge neighbouring diagonals, then fold each diagonal into its cheaper neighbour
        merged = []
        for kind, m in items:
            if kind == "diag" and merged and merged[-1][0] == "diag":
                merged[-1] = ("diag", HadamardProduct(merged[-1][1], m))
            else:
                merged.append((kind, m))
        items = merged
        while any(kind == "diag" for kind, _ in items):
            i = next(j for j, (kind, _) in enumerate(items) if kind == "diag")
            v = self.value(items[i][1])
            if len(items) == 1:
                vec = self.full(v, items[i][1].shape)
                return self.matrix(f"np.diag({vec}.ravel())", expr)
            candidates = []   # (size, prefer the right neighbour on a tie, index)
            if i + 1 < len(items):
                candidates.append((_size(_item_shape(items[i + 1])), 0, i + 1))
            if i > 0:
                candidates.append((_size(_item_shape(items[i - 1])), 1, i - 1))
            _, _, j = min(candidates)
            nv = self._item_value(items[j])
            nshape = _item_shape(items[j])
            if j > i:   # diag(v) B: scale the rows of B
                code = f"{v.code} * {nv.code}"
                scaled = _Val(self.assign(code), rows_same=False, cols_same=nv.cols_same and v.cols_same)
            else:       # A diag(v): scale the columns of A
                vt = self.transpose(v)
                code = f"{nv.code} * {vt.code}"
                scaled = _Val(self.assign(code), rows_same=nv.rows_same, cols_same=False)
            lo, hi = min(i, j), max(i, j)
            items = items[:lo] + [("val", (scaled, nshape))] + items[hi + 1:]
        vals = [self._item_value(it) for it in items]
        shapes = [_item_shape(it) for it in items]
        if len(vals) == 1:
            return vals[0]
        order = _chain_order(shapes)
        val, _ = self._multiply(order, vals, shapes, expr)
        return val

    def _item_value(self, item) -> _Val:
        kind, m = item
        if kind == "val":
            return m[0]
        return self.value(m)

    def _multiply(self, order, vals, shapes, expr):
        """Emit the products of a parenthesisation tree; returns (value, shape)."""
        if isinstance(order, int):
            return vals[order], shapes[order]
        (a, sa), (b, sb) = (self._multiply(o, vals, shapes, None) for o in order)
        shape = (sa[0], sb[1])
        return self.matmul(a, b, sa[1], expr), shape

    def matmul(self, a: _Val, b: _Val, inner, expr) -> _Val:
        """A B where either side may be stored collapsed: ones never get multiplied."""
        comment = self.describer.text(expr) if expr is not None else None
        k = self.dim(inner)
        if a.one and b.one:
            return _Val(self.assign(f"{k} * 1.0") if k != "1" else "1.0", rows_same=True, cols_same=True,
                        one=(k == "1"))
        if sympy.sympify(inner) == 1:
            # an outer product of a column and a row: broadcasting
            if a.one:
                return _Val(b.code, rows_same=True, cols_same=b.cols_same)
            if b.one:
                return _Val(a.code, rows_same=a.rows_same, cols_same=True)
            return _Val(self.assign(f"{a.code} * {b.code}", comment), rows_same=a.rows_same, cols_same=b.cols_same)
        if a.cols_same:      # A = a 1ᵀ  ⇒  A B = a (1ᵀ B): column sums of B
            s = self.column_sums(b, k)
            if a.one:
                return _Val(s, rows_same=True, cols_same=b.cols_same)
            return _Val(self.assign(f"{a.code} * {s}", comment), rows_same=a.rows_same, cols_same=b.cols_same)
        if b.rows_same:      # B = 1 r  ⇒  A B = (A 1) r: row sums of A
            s = self.row_sums(a, k)
            if b.one:
                return _Val(s, rows_same=a.rows_same, cols_same=True)
            return _Val(self.assign(f"{s} * {b.code}", comment), rows_same=a.rows_same, cols_same=b.cols_same)
        return _Val(self.assign(f"{a.code} @ {b.code}", comment), rows_same=a.rows_same, cols_same=b.cols_same)

    def column_sums(self, b: _Val, k: str) -> str:
        if b.rows_same:
            return self.assign(f"{k} * {b.code}")
        return self.assign(f"{b.code}.sum(axis=0, keepdims=True)")

    def row_sums(self, a: _Val, k: str) -> str:
        if a.cols_same:
            return self.assign(f"{k} * {a.code}")
        return self.assign(f"{a.code}.sum(axis=1, keepdims=True)")

    # -- elementwise

    def emit_HadamardProduct(self, expr):
        powers: dict = {}
        for f in expr.args:
            base, p = (f.base, f.exp) if isinstance(f, HadamardPower) else (f, Integer(1))
            powers[base] = powers.get(base, 0) + p   # X ⊙ X^(-1) cancels exactly
        factors = [b if p == 1 else HadamardPower(b, p) for b, p in powers.items() if p != 0]
        factors = [f for f in factors if not isinstance(f, OneMatrix)]
        if not factors:
            return _ONES
        if len(factors) == 1:
            return self.value(factors[0])
        vals = [self.value(f) for f in factors]
        if any(v.code == "0.0" for v in vals):
            return _Val("0.0", rows_same=True, cols_same=True)
        return self.matrix(" * ".join(v.code for v in vals), expr,
                           rows_same=all(v.rows_same for v in vals),
                           cols_same=all(v.cols_same for v in vals))

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
            code = f"np.sqrt({v.code})"
        else:
            code = f"{v.code} ** {self.scalar_value(p).code}"
        return self.matrix(code, expr, v.rows_same, v.cols_same)

    def elementwise(self, func, expr):
        v = self.value(expr.arg)
        return self.matrix(f"{func}({v.code})", expr, v.rows_same, v.cols_same)

    def emit_Exp(self, expr):
        if isinstance(expr.arg, Log):
            return self.value(expr.arg.arg)
        return self.elementwise("np.exp", expr)

    def emit_Log(self, expr):
        arg = expr.arg
        if isinstance(arg, Exp):
            return self.value(arg.arg)
        if isinstance(arg, Sigmoid):              # log σ(z) = −log(1 + e^(−z))
            v = self.value(arg.arg)
            return self.matrix(f"-np.logaddexp(0.0, -{v.code})", expr, v.rows_same, v.cols_same)
        z = _one_minus_sigmoid(arg)
        if z is not None:                          # log(1 − σ(z)) = −log(1 + e^z)
            v = self.value(z)
            return self.matrix(f"-np.logaddexp(0.0, {v.code})", expr, v.rows_same, v.cols_same)
        if isinstance(arg, Softmax):               # log softmax(Z) = Z − logsumexp(Z)
            lse = self.logsumexp_code(arg.arg, arg.axis)
            zv = self.full(self.value(arg.arg), arg.arg.shape)
            return self.matrix(f"{zv} - {lse}", expr)
        return self.elementwise("np.log", expr)

    def emit_Tanh(self, expr):
        return self.elementwise("np.tanh", expr)

    def emit_Sigmoid(self, expr):
        v = self.value(expr.arg)
        t = self.assign(f"_exp_neg({v.code}, EXPCAP)")
        s = self.matrix(f"1.0 / (1.0 + {t})", expr, v.rows_same, v.cols_same)
        self.sigmoid_tails[expr] = t
        return s

    def one_minus_sigmoid(self, sigmoid, expr) -> _Val:
        """1 − σ(z) = t σ(z) with t = e^(−z): no cancellation when σ(z) is close to 1."""
        s = self.value(sigmoid)
        t = self.sigmoid_tails.get(sigmoid)
        if t is None:   # σ(z) was read back as the transpose of σ(zᵀ)
            return self.matrix(f"1.0 / (1.0 + _exp_neg(-{self.value(sigmoid.arg).code}, EXPCAP))", expr,
                               s.rows_same, s.cols_same)
        return self.matrix(f"{t} * {s.code}", expr, s.rows_same, s.cols_same)

    def emit_Sqrt(self, expr):
        return self.elementwise("np.sqrt", expr)

    def emit_Relu(self, expr):
        v = self.value(expr.arg)
        return self.matrix(f"np.maximum({v.code}, 0.0)", expr, v.rows_same, v.cols_same)

    def emit_Step(self, expr):
        v = self.value(expr.arg)
        z = self.full(v, expr.arg.shape)
        return self.matrix(f"({z} > 0).astype(DTYPE)", expr)

    # -- along an axis: max-shifted, sharing the shift and the sum between softmax and lse

    def _shifted(self, z_expr, axis):
        z = self.full(self.value(z_expr), z_expr.shape)
        m = self.assign(f"{z}.max(axis={axis}, keepdims=True)")
        e = self.assign(f"np.exp({z} - {m})")
        s = self.assign(f"{e}.sum(axis={axis}, keepdims=True)")
        return m, e, s

    def logsumexp_code(self, z_expr, axis) -> str:
        m, _, s = self._shifted(z_expr, axis)
        return self.assign(f"{m} + np.log({s})")

    def emit_Softmax(self, expr):
        _, e, s = self._shifted(expr.arg, expr.axis)
        return self.matrix(f"{e} / {s}", expr)

    def emit_LogSumExp(self, expr):
        return _Val(self.logsumexp_code(expr.arg, expr.axis))

    # -- matrix functions

    def emit_Inverse(self, expr):
        return self.product([("inv", expr.arg)], expr)

    def emit_MatPow(self, expr):
        base, p = expr.base, expr.exp
        if p == -1:
            return self.product([("inv", base)], expr)
        if p.is_Integer and p > 0:
            v = self.full(self.value(base), base.shape)
            return self.matrix(f"np.linalg.matrix_power({v}, {int(p)})", expr)
        if p.is_Integer and p < 0:
            return self.value(MatPow(Inverse(base), -p))
        raise CompileError(f"cannot compile a MatPow node with exponent {p}: only integer powers")

    # -- scalars of matrices

    def scalar(self, code, expr) -> _Val:
        return _Val(self.assign(code, self.describer.text(expr)), scalar=True)

    def sum_all(self, val: _Val, shape) -> str:
        """Σ of all entries, counting the entries a collapsed axis stands for."""
        if val.one:
            code = "1.0"
        elif re.fullmatch(r"[\d.e+-]+", val.code):
            code = val.code
        else:
            code = f"{val.code}.sum()"
        counts = []
        if val.rows_same:
            counts.append(self.dim(shape[0]))
        if val.cols_same:
            counts.append(self.dim(shape[1]))
        return " * ".join([code] + [c for c in counts if c != "1"])

    def emit_SumAll(self, expr):
        return self.scalar(self.sum_all(self.value(expr.arg), expr.arg.shape), expr)

    def emit_Norm(self, expr):
        v = self.full(self.value(expr.arg), expr.arg.shape)
        return self.scalar(f"np.sqrt(np.sum({v} * {v}))", expr)

    def emit_Trace(self, expr):
        arg = expr.arg
        if arg.shape == (1, 1):
            return self.scalar(self.sum_all(self.value(arg), arg.shape), expr)
        if isinstance(arg, MatMul):
            coeff, factors = arg.as_coeff_matrices()
            if len(factors) >= 2 and not any(_inverse_of(f) is not None for f in factors):
                # tr(P Q) = Σ P ⊙ Qᵀ, splitting the chain where the elementwise product is cheapest
                best = min(range(1, len(factors)),
                           key=lambda i: _size((factors[0].shape[0], factors[i - 1].shape[1])))
                p = MatMul(*factors[:best]) if best > 1 else factors[0]
                q = MatMul(*factors[best:]) if len(factors) - best > 1 else factors[best]
                prod = self.value(HadamardProduct(p, q.T))
                total = self.sum_all(prod, p.shape)
                if coeff != 1:
                    total = f"{self.scalar_value(coeff).code} * {total}"
                return self.scalar(total, expr)
        v = self.full(self.value(arg), arg.shape)
        return self.scalar(f"np.trace({v})", expr)

    def emit_Determinant(self, expr):
        v = self.full(self.value(expr.arg), expr.arg.shape)
        return self.scalar(f"np.linalg.det({v})", expr)

    # -- plain scalar expressions

    def scalar_value(self, expr) -> _Val:
        expr = sympy.sympify(expr)
        if expr in self.values:
            return self.values[expr]
        if expr in self.dimensions:
            return _Val(self.dimensions[expr], scalar=True)
        if isinstance(expr, MatrixExpr):
            raise CompileError(f"expected a scalar, got the matrix {_short(expr, 60)}")
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
        return _Val(code, scalar=True)

    def emit_NumberSymbol(self, expr):   # pi, E
        return _Val(repr(float(expr)), scalar=True)

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


# ---------------------------------------------------------------- rewrites and costs

def _size(shape) -> float:
    total = 1.0
    for d in shape:
        d = sympy.sympify(d)
        total *= float(d) if d.is_number else float(d.subs({s: _TYPICAL_DIMENSION for s in d.free_symbols}))
    return total


def _item_shape(item):
    kind, m = item
    if kind == "val":
        return m[1]
    if kind == "diag":
        return (m.shape[0], m.shape[0])
    return m.shape


def _items_shape(items):
    return (_item_shape(items[0])[0], _item_shape(items[-1])[1])


def _chain_order(shapes):
    """The cheapest parenthesisation of a matrix chain (the textbook dynamic programme),
    pricing a symbolic dimension at _TYPICAL_DIMENSION."""
    n = len(shapes)
    dims = [_size((shapes[0][0],))] + [_size((s[1],)) for s in shapes]
    cost = {(i, i): (0.0, i) for i in range(n)}
    for length in range(2, n + 1):
        for i in range(n - length + 1):
            j = i + length - 1
            best = None
            for k in range(i, j):
                c = cost[(i, k)][0] + cost[(k + 1, j)][0] + dims[i] * dims[k + 1] * dims[j + 1]
                if best is None or c < best[0]:
                    best = (c, (cost[(i, k)][1], cost[(k + 1, j)][1]))
            cost[(i, j)] = best
    return cost[(0, n - 1)][1]


def _inverse_of(f):
    """M if f is M⁻¹ (or (M⁻¹)ᵀ, giving Mᵀ), else None."""
    if isinstance(f, Inverse):
        return f.arg
    if isinstance(f, MatPow) and f.exp == -1:
        return f.base
    if isinstance(f, Transpose) and _inverse_of(f.arg) is not None:
        return _inverse_of(f.arg).T
    return None


def _one_minus_sigmoid(expr):
    """z if expr is 1 − σ(z) (OneMatrix minus a sigmoid), else None."""
    if not isinstance(expr, MatAdd) or len(expr.args) != 2:
        return None
    def is_ones(a):   # a 1×1 identity is the 1×1 matrix of ones
        return isinstance(a, OneMatrix) or (isinstance(a, Identity) and a.shape == (1, 1))
    ones = [a for a in expr.args if is_ones(a)]
    rest = [a for a in expr.args if not is_ones(a)]
    if len(ones) != 1 or len(rest) != 1:
        return None
    neg = -rest[0]
    if isinstance(neg, Sigmoid):
        return neg.arg
    return None


def _factor_common(expr):
    """Pull a factor shared by several terms out of a sum: AF + BF → (A + B)F, and
    likewise on the left.  Returns the rewritten expression, or None."""
    terms = []
    for t in expr.args:
        if isinstance(t, MatMul):
            coeff, factors = t.as_coeff_matrices()
            terms.append((coeff, list(factors)))
        else:
            terms.append((Integer(1), [t]))
    for side in (-1, 0):
        groups: dict = {}
        for i, (_, factors) in enumerate(terms):
            if len(factors) >= 2 and not isinstance(factors[side], (OneMatrix, Identity)):
                groups.setdefault(factors[side], []).append(i)
        for common, members in groups.items():
            if len(members) < 2:
                continue
            inner = []
            for i in members:
                coeff, factors = terms[i]
                rest = factors[:-1] if side == -1 else factors[1:]
                inner.append(MatMul(coeff, *rest) if (coeff != 1 or len(rest) > 1) else rest[0])
            summed = MatAdd(*inner)
            pulled = MatMul(summed, common) if side == -1 else MatMul(common, summed)
            others = [expr.args[i] for i in range(len(terms)) if i not in members]
            return MatAdd(pulled, *others) if others else pulled
    return None


# ---------------------------------------------------------------- inputs

@dataclass(frozen=True)
class _Input:
    name: str           # the symbol's name, the keyword users pass
    var: str            # the Python parameter name in the generated source
    symbol: object
    shape: tuple        # sympy dimensions (matrix) or () for a scalar


def _collect_inputs(exprs):
    matrices, scalars, dims = {}, {}, set()
    for e in exprs:
        for atom in sympy.preorder_traversal(e):
            if isinstance(atom, MatrixSymbol):
                prev = matrices.get(atom.name)
                if prev is not None and prev != atom:
                    raise CompileError(f"two different symbols are called {atom.name!r}: "
                                       f"{prev.shape} and {atom.shape}; rename one")
                matrices[atom.name] = atom
                for d in atom.shape:
                    dims |= sympy.sympify(d).free_symbols
        if isinstance(e, MatrixExpr):
            for d in e.shape:
                dims |= sympy.sympify(d).free_symbols
    for e in exprs:
        for atom in sympy.preorder_traversal(e):
            if isinstance(atom, MatrixExpr):
                for d in atom.shape:
                    dims |= sympy.sympify(d).free_symbols
    for e in exprs:
        for s in e.free_symbols:
            if isinstance(s, sympy.Symbol) and s not in dims:
                scalars[s.name] = s
    return matrices, scalars, dims


# ---------------------------------------------------------------- the compiled function

def _run_generated(source: str, filename: str, namespace: dict) -> dict:
    """Execute generated source in ``namespace`` and return the namespace.

    The one place matcalc executes code: ``source`` is either the fixed prelude above or
    text this module printed from an expression tree (identifiers are sanitised symbol
    names, numbers are printed floats).  No user-supplied string ever reaches it.
    """
    code = builtins.compile(source, f"<matcalc:{filename}>", "exec")
    exec(code, namespace)  # noqa: S102 - generated code only, see docstring
    return namespace


class CompiledFunction:
    """A NumPy (or JAX) function of the symbols of some expressions.

    Call it with keyword arguments named after the symbols.  Attributes: ``source`` (the
    generated Python, formulas as comments), ``inputs`` (argument names in order),
    ``dimensions`` (dimension names read off the arrays), ``outputs`` (the expressions),
    ``dtype`` and ``backend``.  See the module docstring for shapes and scalars.
    """

    def __init__(self, exprs, *, single, dtype="float64", backend="numpy", names=None,
                 function_name="compiled", arg_order=None):
        if dtype not in DTYPES:
            raise CompileError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        if backend not in ("numpy", "jax"):
            raise CompileError(f"backend must be 'numpy' or 'jax', got {backend!r}")
        self.outputs = tuple(exprs)
        self.dtype = dtype
        self.backend = backend
        self._single = single
        matrices, scalars, dims = _collect_inputs(self.outputs)
        order = list(arg_order or [])
        names_sorted = [n for n in order if n in matrices or n in scalars]
        names_sorted += sorted((n for n in matrices if n not in names_sorted), key=str.lower)
        names_sorted += sorted((n for n in scalars if n not in names_sorted), key=str.lower)
        taken: set = set()
        self._inputs = []
        for name in names_sorted:
            symbol = matrices.get(name, scalars.get(name))
            shape = tuple(symbol.shape) if name in matrices else ()
            self._inputs.append(_Input(name, _safe_name(name, taken), symbol, shape))
        # dimension symbols: read off the first array that carries them, else passed as ints
        self._dim_source = {}
        for inp in self._inputs:
            for axis, d in enumerate(inp.shape):
                d = sympy.sympify(d)
                if d.is_Symbol and d not in self._dim_source:
                    self._dim_source[d] = (inp, axis)
        self._dim_vars = {}
        for d in sorted(dims, key=lambda s: s.name):
            self._dim_vars[d] = _safe_name(d.name, taken)
        self._free_dims = [d for d in sorted(dims, key=lambda s: s.name) if d not in self._dim_source]
        self.inputs = tuple(inp.name for inp in self._inputs)
        self.dimensions = tuple(d.name for d in sorted(dims, key=lambda s: s.name))
        self.function_name = function_name
        self._specs = self._fast_specs()
        self._as_float = [not isinstance(e, MatrixExpr) or (e.shape[0] == 1 and e.shape[1] == 1)
                          for e in self.outputs]
        self.body, self._param_list = self._generate(names)
        self.source = self._module_source()
        self._fn = self._build()

    # -- generation

    def _generate(self, names):
        printer = _Printer({inp.symbol: inp.var for inp in self._inputs}, self._dim_vars, names)
        results = []
        for expr in self.outputs:
            if isinstance(expr, MatrixExpr):
                val = printer.value(expr)
                code = printer.full(val, expr.shape)
                results.append(code)
            else:
                expr = sympy.sympify(expr)
                results.append(printer.scalar_value(expr).code)
        params = [inp.var for inp in self._inputs] + [self._dim_vars[d] for d in self._free_dims]
        lines = []
        for d, (inp, axis) in self._dim_source.items():
            lines.append(f"{self._dim_vars[d]} = {inp.var}.shape[{axis}]")
        lines += printer.lines
        ret = ", ".join(results) + ("," if len(results) == 1 else "")
        lines.append(f"return ({ret})")
        return lines, params

    def _module_source(self):
        describe = _Describer(400)
        doc = [f'def {self.function_name}({", ".join(self._param_list)}):',
               '    """Generated by matcalc from:', ""]
        for i, expr in enumerate(self.outputs):
            doc.append(f"    [{i}] {describe.text(expr)}")
        doc.append('    """')
        body = ["    " + line for line in self.body]
        return "\n".join(doc + body) + "\n"

    def _build(self):
        if self.backend == "jax":
            return self._build_jax()
        namespace = _run_generated(NUMPY_PRELUDE, "prelude", {})
        namespace["DTYPE"] = DTYPES[self.dtype]
        namespace["EXPCAP"] = EXPCAP[self.dtype]
        return _run_generated(self.source, self.function_name, namespace)[self.function_name]

    def _build_jax(self):
        try:
            import jax
            import jax.numpy as jnp
        except ImportError as exc:
            raise CompileError("backend='jax' needs JAX: pip install jax") from exc
        if self.dtype == "float64":
            jax.config.update("jax_enable_x64", True)

        def _logdet(x):
            sign, logabsdet = jnp.linalg.slogdet(x)
            return jnp.where(sign > 0, logabsdet, jnp.where(sign == 0, -jnp.inf, jnp.nan))

        def _full(value, rows, cols, dtype):
            return jnp.broadcast_to(jnp.asarray(value, dtype=dtype), (rows, cols))

        namespace = {"np": jnp, "DTYPE": getattr(jnp, self.dtype), "EXPCAP": EXPCAP[self.dtype],
                     "_logdet": _logdet, "_full": _full,
                     "_exp_neg": lambda z, cap: jnp.exp(jnp.minimum(-z, cap))}
        fn = _run_generated(self.source, self.function_name, namespace)[self.function_name]
        static = tuple(range(len(self._inputs), len(self._param_list)))
        return jax.jit(fn, static_argnums=static)

    # -- calling

    def _expected(self, inp, dims):
        names = ", ".join(str(d) for d in inp.shape)
        values = []
        for d in inp.shape:
            d = sympy.sympify(d)
            if d.is_Integer:
                values.append(str(int(d)))
            elif d in dims:
                values.append(str(dims[d]))
            else:
                values.append("?")
        if all(sympy.sympify(d).is_Integer for d in inp.shape):
            return f"({names})"
        return f"({names}) = ({', '.join(values)})"

    def _fast_specs(self):
        """Per argument: (name, None) for a scalar, else (name, (rows, cols)) with an int
        for a fixed size and a dimension name for a symbolic one (plain Python: cheap)."""
        specs = []
        for inp in self._inputs:
            if not inp.shape:
                specs.append((inp.name, None))
                continue
            axes = []
            for d in inp.shape:
                d = sympy.sympify(d)
                axes.append(int(d) if d.is_Integer else str(d))
            specs.append((inp.name, tuple(axes)))
        return specs

    def prepare(self, kwargs):
        """Check and convert keyword arguments; returns the positional arguments of the core.

        The common case (every argument a 2-D array of the right dtype, shapes consistent)
        takes a fast path; anything else goes through the careful checks that explain it."""
        if self._free_dims or len(kwargs) != len(self._specs):
            return self._prepare_checked(kwargs)
        dtype = DTYPES[self.dtype]
        dims = {}
        args = []
        for name, spec in self._specs:
            value = kwargs.get(name)
            if spec is None or type(value) is not np.ndarray or value.dtype != dtype or value.ndim != 2:
                return self._prepare_checked(kwargs)
            rows, cols = value.shape
            for size, want in ((rows, spec[0]), (cols, spec[1])):
                if type(want) is int:
                    if size != want:
                        return self._prepare_checked(kwargs)
                elif dims.setdefault(want, size) != size:
                    return self._prepare_checked(kwargs)
            args.append(value)
        return args

    def _prepare_checked(self, kwargs):
        given = set(kwargs)
        expected_names = set(self.inputs) | {d.name for d in self._free_dims}
        missing = [n for n in self.inputs if n not in given] + \
                  [d.name for d in self._free_dims if d.name not in given]
        if missing:
            inp = next((i for i in self._inputs if i.name == missing[0]), None)
            what = (f"an array of shape ({', '.join(str(d) for d in inp.shape)})" if inp and inp.shape
                    else "a number" if inp else "an int (a dimension no argument carries)")
            raise ArgumentError(f"missing argument {missing[0]!r} ({what}); "
                                f"the function takes {', '.join(sorted(expected_names))}")
        unexpected = sorted(given - expected_names)
        if unexpected:
            raise ArgumentError(f"unexpected argument {unexpected[0]!r}; "
                                f"the function takes {', '.join(sorted(expected_names))}")
        dtype = DTYPES[self.dtype]
        dims: dict = {}
        args = []
        for inp in self._inputs:
            value = kwargs[inp.name]
            if not inp.shape:
                try:
                    args.append(float(value))
                except (TypeError, ValueError) as exc:
                    raise ArgumentError(f"argument {inp.name!r}: expected a number, got {type(value).__name__}") from exc
                continue
            try:
                arr = np.asarray(value, dtype=dtype)
            except (TypeError, ValueError) as exc:
                raise ArgumentError(f"argument {inp.name!r}: expected a numeric array, got {type(value).__name__}") from exc
            arr = self._reshape(inp, arr, dims)
            for axis, d in enumerate(inp.shape):
                d = sympy.sympify(d)
                size = arr.shape[axis]
                known = int(d) if d.is_Integer else dims.get(d)
                if known is not None and known != size:
                    where = ""
                    if not d.is_Integer:
                        src, src_axis = self._dim_source[d]
                        where = f"; {d} = {known} from {src.name!r}" if src is not inp else ""
                    raise ArgumentError(f"argument {inp.name!r}: expected {self._expected(inp, dims)}, "
                                        f"got shape {tuple(arr.shape)}{where}")
                if not d.is_Integer:
                    dims[d] = size
                    if size < 1:
                        raise ArgumentError(f"argument {inp.name!r}: dimension {d} must be at least 1, got {size}")
            args.append(arr)
        for d in self._free_dims:
            value = kwargs[d.name]
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ArgumentError(f"argument {d.name!r}: expected a positive int (the dimension {d}), got {value!r}")
            args.append(int(value))
        return args

    def _reshape(self, inp, arr, dims):
        rows, cols = (sympy.sympify(d) for d in inp.shape)
        if arr.ndim == 2:
            return arr
        if arr.ndim == 1 and (rows == 1 or cols == 1):
            return arr.reshape(1, -1) if rows == 1 else arr.reshape(-1, 1)
        if arr.ndim == 0 and rows == 1 and cols == 1:
            return arr.reshape(1, 1)
        raise ArgumentError(f"argument {inp.name!r}: expected a 2-D array {self._expected(inp, dims)}, "
                            f"got {arr.ndim}-D shape {tuple(arr.shape)}")

    def __call__(self, **kwargs):
        results = self._fn(*self.prepare(kwargs))
        out = []
        dtype = DTYPES[self.dtype]
        for as_float, value in zip(self._as_float, results):
            if as_float:
                out.append(float(np.asarray(value).reshape(-1)[0]))
            elif self.backend == "numpy" and value.dtype != dtype:
                out.append(value.astype(dtype))
            else:
                out.append(value)
        return out[0] if self._single else tuple(out)

    def __repr__(self):
        return (f"<matcalc compiled function of {', '.join(self.inputs) or 'nothing'} "
                f"→ {len(self.outputs)} output{'s' * (len(self.outputs) != 1)}, {self.backend}/{self.dtype}>")


def compile(expr, *, dtype="float64", backend="numpy", names=None):  # noqa: A001 - the documented name
    """Compile a matrix expression (or a list of them) into a fast NumPy function.

    ``fn = compile(expr)`` takes keyword arguments named after the symbols of ``expr``
    (``fn(X=..., W1=...)``) and returns the value; ``compile([loss, g1, g2])`` returns one
    function giving a tuple, computing every shared subexpression once.  ``dtype`` is
    ``"float64"`` or ``"float32"`` (arrays are converted on entry); ``backend="jax"`` emits
    the same code against ``jax.numpy`` under ``jax.jit`` (needs JAX installed).
    ``names`` maps variable names to subexpressions to name them in ``fn.source``.
    See the module docstring for the calling convention and error messages.
    """
    single = not isinstance(expr, (list, tuple))
    exprs = [expr] if single else list(expr)
    if not exprs:
        raise CompileError("nothing to compile: the list of expressions is empty")
    checked = []
    for e in exprs:
        try:
            e = sympy.sympify(e, strict=True)
        except sympy.SympifyError as exc:
            raise CompileError(f"cannot compile {e!r}: not a SymPy expression") from exc
        if not isinstance(e, (MatrixExpr, sympy.Expr)):
            raise CompileError(f"cannot compile {type(e).__name__}: not a matrix or scalar expression")
        checked.append(e)
    return CompiledFunction(checked, single=single, dtype=dtype, backend=backend, names=names)


# ---------------------------------------------------------------- standalone export

_EXPORT_TEMPLATE = '''\
"""{title}

Generated by matcalc {version}; needs only NumPy.  The formulas (matcalc notation: * is the
matrix product, HadamardProduct is ⊙, 1 a matrix of ones, X.T the transpose):

{formulas}

Shapes: {shapes}.

    loss, gradients = {name}({call})
    errors = check_gradient({call})   # relative errors against central differences
"""
{prelude}
DTYPE = np.{dtype}
EXPCAP = {expcap!r}   # σ(z) = 1 / (1 + exp(min(−z, EXPCAP))): exp never overflows
WRT = {wrt!r}


{core}

def _array(value, name, shape):
    # A 1-D array is accepted for a vector and a number for a 1x1 matrix.
    array = np.asarray(value, dtype=DTYPE)
    if array.ndim < 2 and 1 in shape:
        array = array.reshape(tuple(-1 if size != 1 else 1 for size in shape))
    if array.ndim != 2:
        raise ValueError(f"argument {{name!r}}: expected a 2-D array, got shape {{array.shape}}")
    return array


def {name}({params}):
    """Return (loss, (gradient with respect to each of WRT, in order))."""
{conversions}
    loss, *gradients = _core({core_args})
    return float(np.asarray(loss).reshape(-1)[0]), tuple(gradients)


def check_gradient({params}, eps=1e-6, seed=0):
    """Compare each gradient with central differences of the loss along a random
    direction V: (L(P + εV) − L(P − εV)) / 2ε against Σ ∇P ⊙ V.  Returns a dict
    name → relative error (about 1e-8 or less when the gradient is right, in float64)."""
    arguments = dict({keywords})
    rng = np.random.default_rng(seed)
    _, gradients = {name}(**arguments)
    errors = {{}}
    for name, gradient in zip(WRT, gradients):
        point = np.asarray(arguments[name], dtype=np.float64)
        direction = rng.standard_normal(point.shape)
        plus = {name}(**{{**arguments, name: point + eps * direction}})[0]
        minus = {name}(**{{**arguments, name: point - eps * direction}})[0]
        numeric = (plus - minus) / (2 * eps)
        analytic = float(np.sum(np.asarray(gradient).reshape(point.shape) * direction))
        errors[name] = abs(numeric - analytic) / max(abs(numeric) + abs(analytic), 1e-12)
    return errors
'''


def export_numpy(loss, wrt, path=None, *, gradients=None, dtype="float64",
                 function_name="loss_and_gradients", title=None):
    """Write a standalone NumPy module computing ``loss`` and its gradients.

    ``wrt`` is a symbol or a list of symbols; ``gradients`` (optional) gives their gradient
    expressions, otherwise ``matcalc.gradient`` derives them.  The module defines
    ``function_name(**arrays) -> (loss, gradients)``, ``check_gradient(**arrays)`` (central
    differences) and a docstring with the formulas; it imports nothing but NumPy.  Returns
    the source text, and writes it to ``path`` when one is given.
    """
    wrt = list(wrt) if isinstance(wrt, (list, tuple)) else [wrt]
    if not wrt:
        raise CompileError("export_numpy needs at least one symbol to differentiate with respect to")
    for symbol in wrt:
        if not isinstance(symbol, MatrixSymbol):
            raise CompileError(f"can only export gradients with respect to matrix symbols, got {symbol!r}")
    if gradients is None:
        from ..calculus.derive import gradient   # the differentiator sits below this backend
        gradients = [gradient(loss, symbol) for symbol in wrt]
    gradients = list(gradients) if isinstance(gradients, (list, tuple)) else [gradients]
    if len(gradients) != len(wrt):
        raise CompileError(f"got {len(gradients)} gradients for {len(wrt)} symbols")
    if not function_name.isidentifier() or keyword.iskeyword(function_name) or function_name.startswith("_"):
        raise CompileError(f"function_name must be a public Python identifier, got {function_name!r}")
    fn = CompiledFunction([loss, *gradients], single=False, dtype=dtype, function_name="_core",
                          arg_order=[s.name for s in wrt])
    data_first = [i for i in fn._inputs if i.name not in {s.name for s in wrt}] + \
                 [i for i in fn._inputs if i.name in {s.name for s in wrt}]
    params = [i.var for i in data_first] + [fn._dim_vars[d] for d in fn._free_dims]
    conversions = []
    for inp in fn._inputs:
        if inp.shape:
            shape = tuple(int(d) if sympy.sympify(d).is_Integer else -1 for d in inp.shape)
            conversions.append(f"    {inp.var} = _array({inp.var}, {inp.name!r}, {shape!r})")
        else:
            conversions.append(f"    {inp.var} = float({inp.var})")
    core_args = ", ".join(fn._param_list)
    describe = _Describer(2000)
    formulas = [f"    L = {describe.text(loss)}"]
    for symbol, g in zip(wrt, gradients):
        formulas.append(f"    ∂L/∂{_printable(symbol.name)} = {describe.text(g)}")
    shapes = ", ".join(f"{_printable(i.name)} ({'×'.join(str(d) for d in i.shape)})" for i in fn._inputs if i.shape)
    var_of = {i.name: i.var for i in fn._inputs}
    source = _EXPORT_TEMPLATE.format(
        title=_printable(title or f"Loss and gradients with respect to {', '.join(s.name for s in wrt)}."),
        version=_version(), formulas="\n".join(formulas), shapes=shapes or "none",
        name=function_name, call=", ".join(f"{p}=..." for p in params),
        prelude=NUMPY_PRELUDE.replace("import numpy as np\n", "import numpy as np\n", 1),
        dtype=dtype, expcap=EXPCAP[dtype], wrt=tuple(var_of[s.name] for s in wrt), core=fn.source.rstrip() + "\n",
        params=", ".join(params), conversions="\n".join(conversions) or "    pass",
        core_args=core_args, keywords=", ".join(f"{p}={p}" for p in params),
    )
    if path is not None:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(source)
    return source


def _version():
    from .._version import __version__
    return __version__
