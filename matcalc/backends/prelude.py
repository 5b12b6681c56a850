"""The NumPy helpers every generated function runs with, and their JAX versions.

Generated code calls only ``np.*`` and the helpers defined here (``_exp_capped``, ``_logdet``,
``_full``, ``_float``, and ``_erf``, ``_erfc`` or ``_divisor_norm`` when a formula needs it),
with ``DTYPE`` and ``EXPCAP`` set for the chosen precision.  The helpers need nothing but NumPy and the standard library, so that an
exported module runs anywhere; the JAX backend swaps in its own versions of the same names.
:func:`run_generated` is the one place matcalc executes code.
"""
from __future__ import annotations

import builtins

import numpy as np

from ..errors import CompileError

DTYPES = {"float64": np.float64, "float32": np.float32}

NUMPY_PRELUDE = '''\
import numpy as np


def _exp_capped(z, cap, out=None):
    # exp(min(z, cap)) in one buffer (out: z's own when z is not read again): the cap keeps
    # it finite (see EXPCAP in matcalc.compile)
    if np.ndim(z) == 0:
        return np.exp(min(z, cap))
    t = np.minimum(z, cap, out=out)
    return np.exp(t, out=t)


def _float(x):
    # a 1x1 result as a Python float (an array of one entry, a NumPy scalar or a number)
    return float(x.item()) if isinstance(x, np.ndarray) else float(x)


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

DIVISOR_NORM_WARNING = ("a norm that the formula divides by is 0 (the gradient of ‖x‖ = x/‖x‖ is undefined "
                        "at x = 0): the result holds inf or nan")

# Helpers only some formulas need: name → (the module it imports, its source).  An exported
# module carries the ones its code calls.
OPTIONAL_HELPERS = {
    "_erf": ("math", '''

def _erf(x):
    # erf entry by entry: NumPy has none; the standard library's is accurate to an ulp.
    x = np.asarray(x)
    return np.vectorize(math.erf, otypes=[x.dtype if x.dtype.kind == "f" else np.float64])(x)
'''),
    "_divisor_norm": ("warnings", f'''

def _divisor_norm(norm):
    # A norm the formula divides by (the gradient of ‖x‖ is x/‖x‖): at ‖x‖ = 0 the result is
    # inf or nan, so say why rather than leave a bare "divide by zero" warning.
    if norm == 0:
        warnings.warn({DIVISOR_NORM_WARNING!r}, RuntimeWarning, stacklevel=3)
    return norm
'''),
    "_erfc": ("math", '''

def _erfc(x):
    # erfc = 1 - erf entry by entry, without the cancellation of 1 - erf(x) for large x.
    x = np.asarray(x)
    return np.vectorize(math.erfc, otypes=[x.dtype if x.dtype.kind == "f" else np.float64])(x)
'''),
}


def prelude_source(helpers=()) -> str:
    """The prelude with the optional helpers named in ``helpers`` (and their imports)."""
    imports = sorted({OPTIONAL_HELPERS[h][0] for h in helpers})
    head = "".join(f"import {module}\n" for module in imports) + "import numpy as np\n"
    return NUMPY_PRELUDE.replace("import numpy as np\n", head, 1) + \
        "".join(OPTIONAL_HELPERS[h][1] for h in sorted(helpers))


# σ(z) is computed as u / (1 + u) and 1 − σ(z) as 1 / (1 + u), with u = exp(min(z, EXPCAP)):
# capping the exponent keeps u finite, so both are exact in relative terms on both tails, at
# the cost of 1 − σ(z) ≈ 1e-308 instead of a smaller subnormal for z > 709.
EXPCAP = {"float64": 709.0, "float32": 88.0}

FLUSHING_EXPCAP = {"float64": 708.0, "float32": 87.0}
"""The cap where subnormal numbers are flushed to zero (JAX on CPU, most GPU code): one
below, so that 1 − σ(z) ≥ 1/(1 + e^cap) stays a normal number and σ(z) = u (1 − σ(z))
stays exact (with 709, σ(1000) would be e^709 · 0 = 0 instead of 1)."""


def jax_namespace(dtype: str) -> dict:
    """The globals of a generated function under JAX: ``np`` is ``jax.numpy`` and the
    helpers are traceable versions of the prelude's."""
    try:
        import jax
        import jax.numpy as jnp
        from jax.scipy.special import erf, erfc
    except ImportError as exc:
        raise CompileError("backend='jax' needs JAX: pip install jax") from exc
    if dtype == "float64":
        jax.config.update("jax_enable_x64", True)

    def _logdet(x):
        sign, logabsdet = jnp.linalg.slogdet(x)
        return jnp.where(sign > 0, logabsdet, jnp.where(sign == 0, -jnp.inf, jnp.nan))

    def _full(value, rows, cols, dtype):
        return jnp.broadcast_to(jnp.asarray(value, dtype=dtype), (rows, cols))

    return {"np": jnp, "DTYPE": getattr(jnp, dtype), "EXPCAP": FLUSHING_EXPCAP[dtype],
            "_logdet": _logdet, "_full": _full, "_erf": erf, "_erfc": erfc,
            "_divisor_norm": lambda norm: norm,
            "_exp_capped": lambda z, cap: jnp.exp(jnp.minimum(z, cap))}


def numpy_namespace(dtype: str) -> dict:
    """The globals of a generated function under NumPy: the prelude, DTYPE and EXPCAP."""
    namespace = run_generated(prelude_source(OPTIONAL_HELPERS), "prelude", {})
    namespace["DTYPE"] = DTYPES[dtype]
    namespace["EXPCAP"] = EXPCAP[dtype]
    return namespace


def run_generated(source: str, filename: str, namespace: dict) -> dict:
    """Execute generated source in ``namespace`` and return the namespace.

    The one place matcalc executes code: ``source`` is either the fixed prelude above or
    text the code generator printed from an expression tree (identifiers are sanitised symbol
    names, numbers are printed floats).  No user-supplied string ever reaches it.
    """
    code = builtins.compile(source, f"<matcalc:{filename}>", "exec")
    exec(code, namespace)  # noqa: S102 - generated code only, see docstring
    return namespace
