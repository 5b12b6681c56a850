"""How each kind of array namespace spells what the printer emits.

The printer (:mod:`.codegen` and its emitters) decides *what* to compute: which products,
which stable forms, which layout.  A :class:`Spelling` says how one kind of namespace
*writes* it, as SymPy's printers leave the spelling of a function to a table of the target
language.  There are two:

* :data:`NUMPY`: NumPy's own idioms (methods such as ``x.sum(axis=0, keepdims=True)``,
  ``np.diag``, fancy indexing); the code :func:`matcalc.compile` runs on NumPy arrays;
* :data:`ARRAY_API`: only functions of the Python array API standard through a namespace
  ``xp`` (``xp.sum(x, axis=0, keepdims=True)``, ``xp.linalg.solve``, ``xp.take``), plus
  the helpers of :mod:`.array_api` for what the standard lacks (``_diag``, ``_kron``,
  ``_heaviside``, ``_erf``); the code that runs on PyTorch, CuPy, JAX, Dask … arrays.

Operators (``@``, ``*``, ``/``, ``**``, comparisons) and ``.T`` of a 2-D array are the same
in both; ``operators`` names the functions behind them, which :mod:`.buffers` calls with
``out=`` to write a result into a dead temporary (NumPy's, and PyTorch's through the
standard's names).  A spelling starting with ``_`` is a helper the generated code's prelude defines.
Entrywise functions are named as the standard names them (``asin``, not ``arcsin``).
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Spelling:
    """One namespace's spellings: ``functions`` maps an entrywise function (the standard's
    name) to the callable's spelling; ``templates`` maps an operation to a format string
    whose fields name its operands; ``operators`` maps an operator (``add``, ``subtract``,
    ``multiply``, ``divide``, ``pow``, ``negative``) to the function computing it.  ``title``
    names the target in error messages."""
    title: str
    functions: MappingProxyType
    templates: MappingProxyType
    operators: MappingProxyType

    @property
    def entrywise_functions(self) -> frozenset:
        """The spellings of the namespace's own entrywise functions (the helpers excluded),
        and of ``logaddexp`` (softplus): the calls that take ``out=``."""
        own = {spelled for spelled in self.functions.values() if not spelled.startswith("_")}
        return frozenset(own | {self.operators["logaddexp"]})

    @property
    def fresh_functions(self) -> frozenset:
        """Other calls that always give a new array, never a view of an argument."""
        return frozenset({self.operators["where"]})

    def call(self, function: str, *args: str) -> str:
        """The code applying the entrywise ``function`` to the codes ``args``."""
        return f"{self.functions[function]}({', '.join(args)})"

    def __call__(self, operation: str, **operands) -> str:
        """The code of ``operation`` on the named operand codes."""
        return self.templates[operation].format(**operands)


def _spelling(title, functions, templates, operators) -> Spelling:
    return Spelling(title, MappingProxyType(dict(functions)), MappingProxyType(dict(templates)),
                    MappingProxyType(dict(operators)))


_OPERATOR_NAMES = ("add", "subtract", "multiply", "divide", "negative", "logaddexp", "where")


# The entrywise functions both namespaces have under the standard's name.
_SAME_NAME = ("exp", "log", "sqrt", "tanh", "sin", "cos", "tan", "sinh", "cosh", "abs", "sign",
              "log1p", "expm1", "floor", "ceil", "maximum", "minimum")
# NumPy's names for the standard's inverse trigonometric and hyperbolic functions.
_NUMPY_NAMES = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "asinh": "arcsinh",
                "acosh": "arccosh", "atanh": "arctanh"}
# Helpers of the prelude (both namespaces): NumPy has no erf, the standard neither.
_HELPERS = {"erf": "_erf", "erfc": "_erfc"}

NUMPY = _spelling("NumPy", {
    **{f: f"np.{f}" for f in _SAME_NAME},
    **{f: f"np.{numpy_name}" for f, numpy_name in _NUMPY_NAMES.items()},
    **_HELPERS,
}, {
    # a number where a function of arrays is called: NumPy's functions take numbers
    "number": "{x}",
    "softplus": "np.logaddexp(0.0, {x})",            # log(1 + eˣ) without overflow
    "heaviside": "np.heaviside({x}, {at_zero})",
    "eye": "np.eye({n}, dtype=DTYPE)",
    "diag": "np.diag({v}.ravel())",                    # diag(v) of a column or row v
    "astype": "({x}).astype(DTYPE)",
    "where_zero": "np.where({weight} == 0, 0.0, {x})",
    "zeros_like": "np.zeros_like({x})",
    # Σ of all entries, as a method and as a function (both spellings are NumPy's usual)
    "sum": "{x}.sum()",
    "total": "np.sum({x})",
    "sum_along": "{x}.sum(axis={axis}, keepdims=True)",
    "extreme": "np.{extreme}({x})",                    # max or min of all entries
    "extreme_method": "{x}.{extreme}()",
    "extreme_along": "{x}.{extreme}(axis={axis}, keepdims=True)",
    "solve": "np.linalg.solve({a}, {b})",
    "inv": "np.linalg.inv({a})",
    "matrix_power": "np.linalg.matrix_power({a}, {p})",
    "trace": "np.trace({a})",
    "det": "np.linalg.det({a})",
    "diagonal": "np.diagonal({a}).reshape(-1, 1).copy()",   # a column, never a read-only view
    "kron": "np.kron({a}, {b})",
    "reshape": "{x}.reshape({shape})",
    "vec": '{x}.reshape(-1, 1, order="F")',            # stacking the columns
    "tensordot": "np.tensordot({a}, {b}, axes=1)",
    # p with K v = v[p] for the commutation matrix K₍m,n₎, and its use on rows and columns
    "permutation": "np.arange({m} * {n}).reshape({n}, {m}).T.ravel()",
    "take_rows": "{x}[{p}]",
    "take_columns": "{x}[:, {p}]",
}, {**{op: f"np.{op}" for op in _OPERATOR_NAMES}, "pow": "np.power"})

ARRAY_API = _spelling("array-API", {
    **{f: f"xp.{f}" for f in _SAME_NAME},
    **{f: f"xp.{f}" for f in _NUMPY_NAMES},
    **_HELPERS,
}, {
    "number": "_number({x})",        # the standard's functions take arrays, not Python numbers
    "softplus": "xp.logaddexp(0.0, {x})",
    "heaviside": "_heaviside({x}, {at_zero})",
    "eye": "xp.eye({n}, dtype=DTYPE, device=DEVICE)",
    "diag": "_diag({v})",
    "astype": "xp.astype({x}, DTYPE)",
    "where_zero": "xp.where({weight} == 0, 0.0, {x})",
    "zeros_like": "xp.zeros_like({x})",
    "sum": "xp.sum({x})",
    "total": "xp.sum({x})",
    "sum_along": "xp.sum({x}, axis={axis}, keepdims=True)",
    "extreme": "xp.{extreme}({x})",
    "extreme_method": "xp.{extreme}({x})",
    "extreme_along": "xp.{extreme}({x}, axis={axis}, keepdims=True)",
    "solve": "xp.linalg.solve({a}, {b})",
    "inv": "xp.linalg.inv({a})",
    "matrix_power": "xp.linalg.matrix_power({a}, {p})",
    "trace": "xp.linalg.trace({a})",
    "det": "xp.linalg.det({a})",
    "diagonal": "xp.reshape(xp.linalg.diagonal({a}), (-1, 1))",
    "kron": "_kron({a}, {b})",
    "reshape": "xp.reshape({x}, ({shape}))",
    "vec": "xp.reshape({x}.T, (-1, 1))",                # rows of Xᵀ are the columns of X
    "tensordot": "xp.tensordot({a}, {b}, axes=1)",
    "permutation": "xp.reshape(xp.reshape(xp.arange({m} * {n}, device=DEVICE), ({n}, {m})).T, (-1,))",
    "take_rows": "xp.take({x}, {p}, axis=0)",
    "take_columns": "xp.take({x}, {p}, axis=1)",
}, {**{op: f"xp.{op}" for op in _OPERATOR_NAMES}, "pow": "xp.pow"})
