"""Running generated code on any array-API library: PyTorch, CuPy, JAX, Dask, array-api-strict.

The printer spells the array-API variant of a function with :data:`~.spelling.ARRAY_API`:
only the standard's functions, through a namespace ``xp``, computing in ``DTYPE`` on
``DEVICE``.  This module holds what that code runs with, as source text, so that a compiled
function and a standalone exported module run the very same lines:

* :data:`HELPERS`: the helpers the generated code calls (``_full``, ``_logdet``, ``_diag`` …),
  written against the standard;
* :data:`SHIMS`: the one table of functions *outside* the standard (erf, erfc), one line per
  library; a library missing from it raises ``NotImplementedError`` naming the function;
* :data:`RUNTIME`: how a call picks its namespace (one library for every argument, through
  array-api-compat; NumPy's own namespace when that is not installed), its floating dtype
  (the arguments' float32 or float64, else the namespace's default) and its device.

:func:`bind_source` wraps a generated function in ``_bind(xp, DTYPE, DEVICE, EXPCAP)``, which
returns the function over one namespace; :class:`ArrayApiCore` keeps one bound function per
(namespace, dtype, device) and refuses a namespace that lacks a function the code calls.
Nothing here converts to NumPy or forces a lazy (Dask) array to compute.
"""
from __future__ import annotations

import numbers
import re
import textwrap

import numpy as np

from ..errors import ArgumentError
from .prelude import DIVISOR_NORM_WARNING, FLUSHING_EXPCAP, run_generated

EXPCAP = FLUSHING_EXPCAP
"""The cap of the exponent in u = exp(min(z, EXPCAP)), σ(z) = u / (1 + u), one below NumPy's
(see :data:`.prelude.EXPCAP`): 1 − σ(z) ≥ 1/(1 + e^cap) stays a normal number, so σ(z) =
u (1 − σ(z)) stays exact where subnormal numbers are flushed to zero (JAX on CPU, most GPU
code)."""

# The helpers generated array-API code may call, by name (each is defined inside ``_bind``,
# where ``xp``, ``DTYPE``, ``DEVICE`` are the namespace, dtype and device of the call).
HELPERS = {
    "_number": '''
def _number(x):
    # a Python number as a 0-d array: the standard's functions take arrays only
    return xp.asarray(x, dtype=DTYPE, device=DEVICE)
''',
    "_exp_capped": '''
def _exp_capped(z, cap, out=None):
    # exp(min(z, cap)): the cap keeps it finite (see EXPCAP); only a library that writes
    # into arrays (PyTorch) is given out, z's own buffer when z is not read again
    if out is None:
        return xp.exp(xp.minimum(z, cap))
    return xp.exp(xp.clip(z, max=cap, out=out), out=out)
''',
    "_logdet": '''
def _logdet(x):
    # log det X through slogdet: no overflow of det itself; log of a det <= 0 is nan/-inf
    sign, logabsdet = xp.linalg.slogdet(x)
    undefined = xp.where(sign == 0, -xp.inf, xp.full_like(logabsdet, xp.nan))
    return xp.where(sign > 0, logabsdet, undefined)
''',
    "_full": '''
def _full(value, rows, cols, dtype):
    # a broadcast value (a row shared by every row, a constant, ...) as a real array
    return value + xp.zeros((rows, cols), dtype=dtype, device=DEVICE)
''',
    "_diag": '''
def _diag(v):
    # diag(v) of a column or row v: the identity with its rows scaled
    column = xp.reshape(v, (-1, 1))
    return column * xp.eye(column.shape[0], dtype=DTYPE, device=DEVICE)
''',
    "_kron": '''
def _kron(a, b):
    # a ⊗ b as one broadcast product: entry (i p + k, j q + l) is a[i, j] b[k, l]
    (m, n), (p, q) = a.shape, b.shape
    return xp.reshape(xp.reshape(a, (m, 1, n, 1)) * xp.reshape(b, (1, p, 1, q)), (m * p, n * q))
''',
    "_heaviside": '''
def _heaviside(x, at_zero):
    # H(x): 1 above 0, at_zero at 0, 0 below; NaN stays NaN (as np.heaviside)
    below = xp.where(x < 0, 0.0, x)
    return xp.where(x > 0, 1.0, xp.where(x == 0, _number(at_zero), below))
''',
    "_divisor_norm": f'''
def _divisor_norm(norm):
    # warn where the formula divides by a norm of 0 (a lazy array's value is not read)
    if not _is_lazy(norm) and bool(norm == 0):
        warnings.warn({DIVISOR_NORM_WARNING!r}, RuntimeWarning, stacklevel=3)
    return norm
''',
    "_erf": '''
_erf = _shim("erf", xp)
''',
    "_erfc": '''
_erfc = _shim("erfc", xp)
''',
}

SHIMS = '''\
# Functions outside the array API standard, one line per library: how the library computes
# a special function (erf, erfc) by name.  A library not listed has none that matcalc knows.
_SHIMS = {
    "torch": lambda name: getattr(importlib.import_module("torch.special"), name),
    "jax": lambda name: getattr(importlib.import_module("jax.scipy.special"), name),
    "cupy": lambda name: getattr(importlib.import_module("cupyx.scipy.special"), name),
    "numpy": lambda name: functools.partial(_entrywise, getattr(math, name)),
    "dask": lambda name: functools.partial(_blockwise, getattr(math, name)),
}


def _library(xp):
    # the library behind a namespace: "torch" for array_api_compat.torch, "jax" for jax.numpy
    return xp.__name__.removeprefix("array_api_compat.").split(".")[0]


def _shim(name, xp):
    make = _SHIMS.get(_library(xp))
    if make is None:
        raise NotImplementedError(
            f"{name} is not in the array API standard and {xp.__name__} has no version of it that "
            f"matcalc knows (it has one for {', '.join(_SHIMS)})")
    return make(name)


def _entrywise(function, x):
    # a function of the math module entry by entry, on a NumPy array
    import numpy as np
    x = np.asarray(x)
    return np.vectorize(function, otypes=[x.dtype])(x)


def _blockwise(function, x):
    # the same on each block of a Dask array, lazily
    return x.map_blocks(functools.partial(_entrywise, function), dtype=x.dtype)
'''

RUNTIME = f'''\
try:
    import array_api_compat
except ImportError:   # arrays that follow the standard themselves (NumPy >= 2, JAX) still work
    array_api_compat = None


def _is_array(value):
    # an array of any library (a Python number or list is not one)
    if array_api_compat is not None:
        return array_api_compat.is_array_api_obj(value)
    return hasattr(value, "__array_namespace__") or hasattr(value, "__dlpack__")


def _is_lazy(x):
    return array_api_compat is not None and array_api_compat.is_lazy_array(x)


def _namespace_of(name, array, error):
    if array_api_compat is not None:
        return array_api_compat.array_namespace(array)
    if not hasattr(array, "__array_namespace__"):
        raise error(f"argument {{name!r}} is a {{type(array).__name__}}: arrays that do not follow the array API "
                    f"standard themselves need array-api-compat (pip install array-api-compat)")
    return array.__array_namespace__()


def _namespace(arrays, error):
    # the namespace of the arrays (a dict name -> array), all of one library; else error
    namespaces = {{name: _namespace_of(name, array, error) for name, array in arrays.items()}}
    libraries = {{}}
    for name, xp in namespaces.items():
        libraries.setdefault(xp.__name__, []).append(repr(name))
    if len(libraries) > 1:
        whose = "; ".join(f"{{', '.join(names)}} from {{library}}" for library, names in libraries.items())
        raise error(f"the arguments come from different array libraries ({{whose}}): pass arrays of one library")
    if not namespaces:   # numbers only
        return importlib.import_module("numpy")
    return next(iter(namespaces.values()))


def _setting(arrays, error):
    """(namespace, floating dtype, device) of a call on the arrays (a dict name -> array)."""
    xp = _namespace(arrays, error)
    return xp, _floating(xp, arrays, error), _one_device(arrays, error)


def _floating(xp, arrays, error):
    # float64 if an argument is, else float32 if one is, else the namespace's default
    # floating dtype (integer arrays are converted); complex numbers are refused
    dtypes = {{name: array.dtype for name, array in arrays.items()}}
    for name, dtype in dtypes.items():
        if xp.isdtype(dtype, "complex floating"):
            raise error(f"argument {{name!r}}: expected real numbers, got a complex array (dtype {{dtype}})")
    floating = [candidate for candidate in (xp.float64, xp.float32) if candidate in dtypes.values()]
    return floating[0] if floating else xp.__array_namespace_info__().default_dtypes()["real floating"]


def _one_device(arrays, error):
    devices = {{name: _device(array) for name, array in arrays.items()}}
    if len(set(map(str, devices.values()))) > 1:
        whose = ", ".join(f"{{name!r}} on {{device}}" for name, device in devices.items())
        raise error(f"the arguments are on different devices ({{whose}}): move them to one")
    return next(iter(devices.values()), None)


def _device(array):
    # None where there is none to tell (a JAX tracer): the namespace's default device
    return array_api_compat.device(array) if array_api_compat is not None else getattr(array, "device", None)


def _expcap(xp, dtype):
    # the cap of exp(z) in sigmoid: 1 / (1 + exp(cap)) is a normal number, not flushed to 0
    return {EXPCAP["float32"]!r} if dtype == xp.float32 else {EXPCAP["float64"]!r}
'''

EXPORT_RUNTIME = '''\
_BOUND = {}


def _bound(xp, dtype, device):
    # the generated function over one namespace, dtype and device (bound once for each)
    key = (xp.__name__, str(dtype), str(device))
    if key not in _BOUND:
        _BOUND[key] = _bind(xp, dtype, device, _expcap(xp, dtype))
    return _BOUND[key]


def _arrays(values):
    return {name: value for name, value in values.items() if _is_array(value)}


def _matrix_argument(xp, value, name, shape, dtype, device):
    # an array of xp in dtype (no copy where it is one): a 1-D array is accepted for a
    # vector, a number for a 1x1 matrix
    if isinstance(value, complex):
        raise ValueError(f"argument {name!r}: expected real numbers, got complex ones")
    if _is_array(value) and _namespace_of(name, value, ValueError) is xp:
        array = value if value.dtype == dtype else xp.astype(value, dtype)
    else:   # a list, a number or another library's array (NumPy's, for the JAX module)
        array = xp.asarray(value, dtype=dtype, device=device)
    if array.ndim < 2 and 1 in shape:
        array = xp.reshape(array, tuple(-1 if size != 1 else 1 for size in shape))
    if array.ndim != 2 or 0 in array.shape:
        raise ValueError(f"argument {name!r}: expected a non-empty 2-D array, got shape {tuple(array.shape)}")
    return array


def _scalar_argument(xp, value, name, dtype, device):
    if _is_array(value):   # a 0-d array, read as it is: a lazy one is not computed
        return _matrix_argument(xp, value, name, (1, 1), dtype, device)[0, 0]
    if isinstance(value, complex):
        raise ValueError(f"argument {name!r}: expected a real number, got {value!r}")
    return xp.asarray(value, dtype=dtype, device=device)


def _like(xp, gradient, parameter):
    # a gradient shaped as its parameter was passed: a vector as 1-D, a number as 0-d
    if _is_array(parameter):
        return xp.reshape(gradient, tuple(parameter.shape))
    return xp.reshape(gradient, ()) if isinstance(parameter, (int, float)) else gradient
'''
"""What an exported array-API module adds around ``_bind``: the bound functions' cache and
the conversion of arguments and gradients."""

RUNTIME_IMPORTS = ("functools", "importlib", "math", "warnings")
"""The standard-library modules :data:`SHIMS`, :data:`RUNTIME` and :data:`HELPERS` use."""

_CALLS = re.compile(r"\b(_[a-z_]+)\(")
_XP_FUNCTIONS = re.compile(r"\bxp\.([A-Za-z_][\w.]*)")


def helpers_used(code: str) -> list:
    """The names of the :data:`HELPERS` that ``code`` calls, with the helpers they call."""
    wanted, pending = set(), set(_CALLS.findall(code)) & HELPERS.keys()
    while pending:
        name = pending.pop()
        wanted.add(name)
        pending |= (set(_CALLS.findall(HELPERS[name])) & HELPERS.keys()) - wanted
    return [name for name in HELPERS if name in wanted]


def bind_source(function_source: str, function_name: str) -> str:
    """``_bind(xp, DTYPE, DEVICE, EXPCAP)``: the generated function (with the helpers it
    calls) defined over one namespace, dtype and device, and returned."""
    helpers = "".join(HELPERS[name] for name in helpers_used(function_source))
    body = textwrap.indent(helpers + "\n" + function_source, "    ")
    return (f"def _bind(xp, DTYPE, DEVICE, EXPCAP):\n"
            f'    """{function_name} over the namespace xp, computing in DTYPE on DEVICE."""\n'
            f"{body}\n    return {function_name}\n")


def _runtime() -> dict:
    """The shims and the runtime, executed once per process."""
    global _RUNTIME_NAMESPACE
    if _RUNTIME_NAMESPACE is None:
        imports = "".join(f"import {module}\n" for module in RUNTIME_IMPORTS)
        _RUNTIME_NAMESPACE = run_generated(imports + SHIMS + RUNTIME, "array_api_runtime", {})
    return _RUNTIME_NAMESPACE


_RUNTIME_NAMESPACE = None


def is_array(value) -> bool:
    """Whether ``value`` is an array of some library (NumPy's included)."""
    return _runtime()["_is_array"](value)


_PLAIN = frozenset({np.ndarray, float, int, list, tuple})


def is_foreign_array(value) -> bool:
    """Whether ``value`` is an array of a library other than NumPy (cheap for NumPy's)."""
    if type(value) in _PLAIN or isinstance(value, (np.ndarray, np.generic, numbers.Number, list, tuple)):
        return False
    return is_array(value)


def call_setting(kwargs):
    """(xp, dtype, device) of a call whose keyword arguments are ``kwargs``: the arrays among
    them (NumPy's too) must be of one library and on one device, else ArgumentError."""
    runtime = _runtime()
    arrays = {name: value for name, value in kwargs.items() if runtime["_is_array"](value)}
    return runtime["_setting"](arrays, ArgumentError)


class ArrayApiCore:
    """A generated function's array-API variant: its ``_bind`` source, executed once, and
    the function bound to each (namespace, dtype, device) it has been called with."""

    def __init__(self, function_source: str, function_name: str):
        self.source = bind_source(function_source, function_name)
        self._bind = run_generated(self.source, function_name, dict(_runtime()))["_bind"]
        self._needs = sorted(set(_XP_FUNCTIONS.findall(self.source)))
        self._bound = {}

    def bound(self, xp, dtype, device):
        """The function over ``xp`` in ``dtype`` on ``device``; ArgumentError when ``xp``
        lacks a function the code calls."""
        key = (xp.__name__, str(dtype), str(device))
        function = self._bound.get(key)
        if function is None:
            self._check_has_all(xp)
            try:
                function = self._bind(xp, dtype, device, _runtime()["_expcap"](xp, dtype))
            except NotImplementedError as exc:   # a shim (erf …) the library has none of
                raise ArgumentError(str(exc)) from exc
            self._bound[key] = function
        return function

    def _check_has_all(self, xp):
        for path in self._needs:
            owner = xp
            for part in path.split("."):
                owner = getattr(owner, part, None)
            if owner is None:
                raise ArgumentError(f"the arguments are arrays of {xp.__name__}, which has no {path} "
                                    f"(a function of the array API standard that this function calls)")
