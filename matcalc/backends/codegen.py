"""Matrix expressions → straight-line array code (NumPy, or the array API standard).

:class:`Printer` walks the expression DAG once, bottom-up, and prints one line of code per
*unique* node (hash-consing: SymPy expressions are structurally hashable, so a
subexpression shared by the loss and several gradients becomes one variable).  Each
computed node is a :class:`~.values.Val`.  This module holds the walk itself, the leaves
and sums; the emitters of products (:mod:`.products`), of Kronecker products, vec and
commutation matrices (:mod:`.kronecker`), of entrywise functions and reductions
(:mod:`.entrywise`) and of plain scalars (:mod:`.scalars`) are mixed in.  What to compute
is decided here; how a namespace writes it is a :class:`~.spelling.Spelling` (NumPy's by
default, or the array API standard's).
"""
from __future__ import annotations

import builtins
from dataclasses import replace

import sympy
from sympy.core.sympify import _sympify
from sympy import Integer
from sympy.matrices.expressions import (
    Identity, MatAdd, MatMul, MatrixExpr, OneMatrix, Transpose,
)

from ..calculus.simplify import transposed
from ..core import algebra, budget as _budget
from ..errors import CompileError
from ..core.functions import Sigmoid
from .describe import Describer, printable, short
from .entrywise import EntrywiseEmitters, one_minus_sigmoid_arg
from .kronecker import KroneckerEmitters
from .names import safe_name
from .products import ProductEmitters
from .scalars import ScalarEmitters
from .spelling import NUMPY
from .values import ONES, ZEROS, Val, stored_like


MAX_TRANSPOSE_LOOKUP = 60
"""Largest node (in tree size) whose transpose is looked for among the computed values:
writing a big sum transposed costs more than the lookup can save."""


class Printer(ProductEmitters, KroneckerEmitters, EntrywiseEmitters, ScalarEmitters):
    """Prints the DAG of some expressions as straight-line code, spelt by ``spelling``.

    ``values`` maps each expression already printed to its :class:`Val` (expression-level
    hash-consing); ``by_code`` maps each line's right-hand side to its variable (code-level
    hash-consing, which also shares sub-products of different matrix chains).
    """

    def __init__(self, inputs, dimensions, names=None, spelling=NUMPY, fused=False):
        self.spell = spelling                  # how the target namespace writes each operation
        self.fused = fused                     # for a compiler that fuses entrywise passes (jax.jit)
        self.lines: list[str] = []
        self.values: dict = {}
        self.forms: dict = {}                  # form(expr) -> Val of small sums and products (see known)
        self.by_code: dict[str, str] = {}
        self.counter = 0
        self.last_temporary = None             # (variable, code) of the last line, if a temporary
        self.taken = set(v for v in inputs.values()) | set(dimensions.values())
        self.dimensions = dimensions           # sympy Symbol -> variable name
        self.hints = {}                        # expression -> preferred variable name
        self.capped_exps = {}                  # σ(z) -> Val of e^min(z, cap)
        self.complements = {}                  # σ(z) -> Val of 1 − σ(z)
        self.complemented = set()              # the σ(z) whose 1 − σ(z) is printed (see expect)
        self.helpers = set()                   # the optional prelude helpers the code calls
        self.arrays = {}                       # variable -> stored shape of its array (see note_array)
        self.describer = Describer(110)
        self.sizes = {}
        for name, expr in (names or {}).items():
            try:
                self.hints[_sympify(expr)] = name   # strict: text is never evaluated
            except sympy.SympifyError:
                raise CompileError(f"names={{{name!r}: …}} must map to an expression, not {expr!r}") from None
        for symbol, var in inputs.items():
            if isinstance(symbol, MatrixExpr):
                self.values[symbol] = Val(var)
            else:
                self.values[symbol] = Val(var, scalar=True)

    # -- emitting lines

    def fresh(self, hint=None) -> str:
        if hint:
            return safe_name(hint, self.taken)
        self.counter += 1
        while f"t{self.counter}" in self.taken:
            self.counter += 1
        self.taken.add(f"t{self.counter}")
        return f"t{self.counter}"

    def assign(self, code: str, comment=None, hint=None) -> str:
        """The variable holding the compound expression ``code``, emitting ``var = code``
        the first time."""
        if code in self.by_code:
            return self.by_code[code]
        var = self.fresh(hint)
        if comment:
            self.lines.append(f"# {printable(comment)}")   # one line, whatever the names in it
        self.lines.append(f"{var} = {code}")
        self.by_code[code] = var
        self.last_temporary = None if hint else (var, code)
        return var

    def apply(self, function, *codes) -> str:
        """The code calling the entrywise ``function`` (the standard's name) on ``codes``."""
        spelled = self.spell.functions[function]
        if spelled.startswith("_"):
            self.helpers.add(spelled)
        return self.spell.call(function, *codes)

    def operand(self, val: Val) -> str:
        """The code of ``val`` as the argument of a function of arrays: a number (a scalar,
        or one standing for a whole matrix) is made an array where the namespace needs one."""
        return self.spell("number", x=val.code) if val.scalar or val.uniform else val.code

    def dim(self, d) -> str:
        d = _sympify(d)
        if d.is_Integer:
            return str(int(d))
        if d in self.dimensions:
            return self.dimensions[d]
        return self.scalar_code(d)

    def size(self, expr) -> int:
        """The number of nodes of expr as a tree (memoised)."""
        if expr not in self.sizes:
            self.sizes[expr] = 1 + builtins.sum(self.size(a) for a in expr.args)
        return self.sizes[expr]

    # -- the walk

    def value(self, expr) -> Val:
        if expr in self.values:
            return self.values[expr]
        small = isinstance(expr, (MatAdd, MatMul)) and self.size(expr) <= MAX_TRANSPOSE_LOOKUP
        if small:
            same = self.known(expr)
            if same is not None:         # the same sum with its terms in another order
                return same
            # a node whose transpose was computed already is read back as .T
            flipped = transposed(expr)
            known = self.known(flipped) if flipped != expr else None
            if known is not None:
                return self.transpose(known)
        _budget.charge(1)   # one line of code per distinct node: bounded by the work budget
        val = self.emit(expr)
        hint = self.hints.get(expr)
        if hint and not val.transposed and self.last_temporary and val.name == self.last_temporary[0]:
            val = replace(val, name=self.rename_last(hint))
        self.values[expr] = val
        if small:
            self.forms[self.form(expr)] = val
        if isinstance(expr, MatrixExpr):
            self.note_array(val, expr.shape)
        return val

    def known(self, expr):
        """The value of ``expr`` if it is computed already, a sum's terms in any order
        (small sums and products only, see MAX_TRANSPOSE_LOOKUP); else None."""
        if expr in self.values:
            return self.values[expr]
        if isinstance(expr, (MatAdd, MatMul)) and self.size(expr) <= MAX_TRANSPOSE_LOOKUP:
            return self.forms.get(self.form(expr))
        return None

    def form(self, expr):
        """A key equal for expressions that differ only in the order of a sum's terms (a
        sum's terms commute; a product's factors do not): SymPy compares sums term by term."""
        if not isinstance(expr, (MatAdd, MatMul, Transpose)):
            return expr
        children = [self.form(a) for a in expr.args]
        if isinstance(expr, MatAdd):
            children.sort(key=repr)
        return (type(expr).__name__, tuple(children))

    def note_array(self, val: Val, shape):
        """Record the shape of the array ``val``'s variable holds (a collapsed axis has
        length 1), for :mod:`.buffers`; a variable seen with two shapes is recorded as
        None (unknown).  Numbers, scalars and transposed views are not recorded."""
        if val.scalar or val.uniform or val.transposed:
            return
        stored = (Integer(1) if val.rows_same else _sympify(shape[0]),
                  Integer(1) if val.cols_same else _sympify(shape[1]))
        if self.arrays.setdefault(val.name, stored) != stored:
            self.arrays[val.name] = None

    def rename_last(self, hint) -> str:
        """Give the temporary assigned on the last line the name ``hint`` asks for."""
        var = self.fresh(hint)
        _, code = self.last_temporary
        self.lines[-1] = f"{var} = {code}"
        self.by_code[code] = var
        self.last_temporary = None
        return var

    def emit(self, expr) -> Val:
        method = getattr(self, f"emit_{type(expr).__name__}", None)
        if method is None:
            for klass in type(expr).__mro__[1:]:
                method = getattr(self, f"emit_{klass.__name__}", None)
                if method is not None:
                    break
        if method is None:
            self.untranslatable(expr)
        return method(expr)

    def untranslatable(self, expr):
        name = printable(type(expr).__name__)   # an undefined function's name is user text
        raise CompileError(f"cannot compile a {name} node ({short(expr, 60)}): "
                           f"no {self.spell.title} translation for {name}")

    def matrix(self, code, expr=None, **layout) -> Val:
        """A matrix computed by the compound expression ``code``, stored as ``layout`` says
        (see :class:`Val`); the line is commented with ``expr`` when there is one."""
        comment = self.describer.text(expr) if expr is not None else None
        val = Val(self.assign(code, comment), **layout)
        if isinstance(expr, MatrixExpr):
            self.note_array(val, expr.shape)
        return val

    def full(self, val: Val, shape) -> str:
        """The code of ``val`` as a real array of ``shape`` (expands collapsed axes)."""
        return self.expanded(val, shape).code

    def expanded(self, val: Val, shape) -> Val:
        """``val`` as a real array of ``shape``: a number standing for a matrix becomes an
        array whatever the shape, a collapsed axis is repeated to its length."""
        if val.scalar:
            return val
        rows_wide = val.rows_same and _sympify(shape[0]) != 1
        cols_wide = val.cols_same and _sympify(shape[1]) != 1
        if not (val.uniform or rows_wide or cols_wide):
            return val
        rows, cols = (self.dim(s) for s in shape)
        return Val(self.assign(f"_full({val.code}, {rows}, {cols}, DTYPE)"))

    def transpose(self, val: Val) -> Val:
        if val.scalar or val.uniform:
            return val
        return replace(val, transposed=not val.transposed, rows_same=val.cols_same, cols_same=val.rows_same)

    # -- leaves

    def emit_MatrixSymbol(self, expr):
        raise CompileError(f"symbol {expr} is not an input")  # inputs are pre-registered

    def emit_OneMatrix(self, expr):
        return ONES

    def emit_Identity(self, expr):
        if expr.shape == (1, 1):
            return ONES
        n = self.dim(expr.shape[0])
        return self.matrix(self.spell("eye", n=n), expr)

    def emit_ZeroMatrix(self, expr):
        return ZEROS

    def emit_DiagMatrix(self, expr):
        v = self.value(expr.args[0])
        vec = self.full(v, expr.args[0].shape)
        return self.matrix(self.spell("diag", v=vec), expr)

    # -- structure

    def emit_Transpose(self, expr):
        return self.transpose(self.value(expr.arg))

    def emit_MatAdd(self, expr):
        z = one_minus_sigmoid_arg(expr)
        if z is not None:
            return self.one_minus_sigmoid(Sigmoid(z), expr)
        factored = _factor_common(expr)
        if factored is not None:
            return self.value(factored)
        plus, minus = [], []
        for term in expr.args:
            coeff = term.as_coeff_mmul()[0] if isinstance(term, MatMul) else Integer(1)
            if coeff.could_extract_minus_sign():
                minus.append(self.value(algebra.neg(term)))
            else:
                plus.append(self.value(term))
        if not plus:
            plus, minus = [self.negate(minus[0], expr.args[0].shape)], minus[1:]
        code = " + ".join(v.code for v in plus)
        if minus:
            code += "".join(f" - {v.code}" for v in minus)
        return self.matrix(code, expr, **stored_like(*plus, *minus))

    def negate(self, val, shape):
        return self.matrix(f"-{val.code}", **stored_like(val))

    # -- scalars of matrices

    def scalar(self, code, expr) -> Val:
        """A scalar computed by the compound expression ``code``, commented with ``expr``."""
        return Val(self.assign(code, self.describer.text(expr)), scalar=True)

    def sum_all(self, val: Val, shape, expr, coefficient=None) -> Val:
        """``coefficient`` × Σ of all entries of ``val``, counting the entries a collapsed
        axis stands for (a number standing for a matrix has no ``.sum()``)."""
        counts = [self.dim(d) for d, same in zip(shape, (val.rows_same, val.cols_same))
                  if same and _sympify(d) != 1]
        if val.uniform and coefficient is None and not counts:
            return Val(val.name, scalar=True)   # already a number: no line to emit
        factors = [coefficient.code] if coefficient is not None else []
        factors.append(val.code if val.uniform else self.spell("sum", x=val.code))
        return self.scalar(" * ".join(factors + counts), expr)


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
