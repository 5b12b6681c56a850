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
  Z − logsumexp(Z), log σ(z) = −logaddexp(0, −z), log(1 − σ(z)) = −logaddexp(0, z);
* an entrywise result is written into the memory of a temporary that is not read again
  (``np.add(t1, b1, out=t1)``), so a call allocates about what hand-written code would.

``compile`` is the public entry point; the work is done in the modules around it:

==================  ==========================================================
:mod:`.codegen`     the printer: expressions → straight-line NumPy (with
                    :mod:`.products`, :mod:`.entrywise` and :mod:`.scalars`)
:mod:`.values`      how a computed node is stored (collapsed axes, constants)
:mod:`.describe`    the one-line formulas in comments
:mod:`.names`       Python names for user symbols
:mod:`.spelling`    how NumPy and the array API standard write each operation
:mod:`.buffers`     results written into dead temporaries (``out=``)
:mod:`.prelude`     the NumPy helpers generated code calls, and their JAX versions
:mod:`.array_api`   the array-API variant's helpers, shims and namespace choice
:mod:`.native`      ``backend="jax"`` and ``"torch"``: the frameworks' own arrays
:mod:`.function`    :class:`CompiledFunction`: inputs, argument checks, calling
:mod:`.export`      :func:`export`, :func:`export_numpy`: standalone modules
==================  ==========================================================

The calling convention is stated in :mod:`.function`.  The backends import the symbol and
function layers, never the differentiator (an export asks for gradients lazily).
"""
from __future__ import annotations

import sympy
from sympy.matrices.expressions import MatrixExpr

from ..core import budget as _budget
from ..core.functions import adopt
from ..errors import CompileError
from .export import export, export_numpy
from .function import CompiledFunction
from .prelude import DTYPES, EXPCAP, NUMPY_PRELUDE  # noqa: F401 - re-exported: this was their home

__all__ = ["compile", "CompiledFunction", "export", "export_numpy"]


@_budget.budgeted("compiling")
def compile(expr, *, dtype="float64", backend="numpy", names=None):  # noqa: A001 - the documented name
    """Compile a matrix expression (or a list of them) into a fast NumPy function that also
    runs on the arrays of any array-API library.

    ``fn = compile(expr)`` takes keyword arguments named after the symbols of ``expr``
    (``fn(X=..., W1=...)``) and returns the value; ``compile([loss, g1, g2])`` returns one
    function giving a tuple, computing every shared subexpression once.  ``dtype`` is
    ``"float64"`` or ``"float32"`` (NumPy arrays are converted on entry); ``backend="jax"``
    emits the same code against ``jax.numpy`` under ``jax.jit`` (needs JAX installed) and
    ``backend="torch"`` the array-API variant on PyTorch tensors with buffers reused (needs
    PyTorch and array-api-compat): given the framework's arrays they return its arrays.
    With the default backend, PyTorch, CuPy, JAX, Dask … arrays (through array-api-compat)
    run the array-API variant of the code and come back as arrays of their library, on
    their device, in their dtype.  Arguments are checked once per shape signature.
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
        checked.append(adopt(e))
    return CompiledFunction(checked, single=single, dtype=dtype, backend=backend, names=names)
