"""The compiled function: the generated code wrapped with argument checking.

:class:`CompiledFunction` collects the inputs of some expressions (matrix symbols, scalar
symbols, dimensions), has :class:`~.codegen.Printer` print the body (NumPy's with buffers
reused, see :mod:`.buffers`), executes it once with the prelude's helpers and checks the
arguments of a call before running it: once per *signature* (each array's type, shape and
dtype, a tensor's device); a later call with the same signature goes straight to the code.

Calling convention (the contract of :class:`CompiledFunction`):

* keyword arguments by symbol name, ``fn(X=..., W1=...)``; each input (matrix symbol, scalar
  symbol, dimension) has a name of its own: two different ones called by one name, or by
  names Python reads as one (NFKC: ``x`` and ``ｘ``), are a :class:`CompileError`;
* dimension symbols are read off the arrays (a dimension seen twice must agree); a
  dimension no argument carries (say the N of a lone ``OneMatrix(N, 1)``) is passed as an
  int keyword;
* a 1-D array is accepted for a row or column vector symbol and reshaped to its declared
  2-D shape; a number is accepted for a 1×1 symbol; a scalar symbol's number becomes a
  NumPy scalar of the dtype, so that its arithmetic follows NumPy's (1/0 is ∞);
* matrix results come back as 2-D arrays of their declared shapes; a result whose shape is
  1×1 by construction (a loss such as x A xᵀ) and every scalar SymPy expression come back
  as a Python ``float``; a list/tuple of expressions gives a tuple of results;
* a missing, unexpected or wrongly shaped argument raises :class:`ArgumentError` naming
  the argument, the expected shape with dimension names and the shape it got; so does an
  empty array (a dimension of size 0) and a complex array or number, on every path;
  infinities and NaNs are the caller's numbers and are computed with;
* arrays of another array-API library (PyTorch, CuPy, JAX, Dask, array-api-strict …) run
  the function's array-API variant (:mod:`.array_api`, printed once on the first such call)
  and come back as arrays of that library on the arguments' device, never through NumPy:
  the computation keeps the arguments' float32 or float64 (float64 if they mix; integers
  become the library's default floating type; ``dtype`` is NumPy's only), and a 1×1 or
  scalar result is a 0-d array, not a ``float`` (a Dask result stays lazy).  Arguments of
  two libraries, or on two devices, are an :class:`ArgumentError` naming them, and so is a
  library lacking a function the code calls (say ``linalg.slogdet``).  NumPy arrays keep
  the NumPy code;
* ``backend="jax"`` (the NumPy code under ``jax.jit``) and ``backend="torch"`` (the
  array-API variant on PyTorch, buffers reused) compute in ``dtype`` (:mod:`.native`):
  when a call has arrays of the framework (NumPy arrays beside them are copied in) the
  results are arrays of the framework, a 1×1 or scalar result 0-d, and a tensor's
  autograd history is not followed; without any, the arguments are checked as NumPy's
  and a 1×1 result is a ``float``.
"""
from __future__ import annotations

import operator
import unicodedata
from dataclasses import dataclass

import numpy as np
from sympy.core.sympify import _sympify
from sympy.matrices.expressions import MatrixExpr, MatrixSymbol

from ..errors import ArgumentError, CompileError
from ..core.walk import atoms, dimensions, scalar_symbols
from .array_api import ArrayApiCore, call_setting, is_array, is_foreign_array
from .buffers import reuse_buffers
from .codegen import Printer
from .describe import Describer, printable
from .names import safe_name
from .native import JaxBackend, TorchBackend
from .prelude import DTYPES, numpy_namespace, run_generated
from .spelling import ARRAY_API, NUMPY


BACKENDS = ("numpy", "jax", "torch")

MAX_SIGNATURES = 64
"""How many call signatures a compiled function remembers as checked (see its __call__)."""


@dataclass(frozen=True)
class _Input:
    name: str           # the symbol's name, the keyword users pass
    var: str            # the Python parameter name in the generated source
    symbol: object
    shape: tuple        # sympy dimensions (matrix) or () for a scalar


def _collect_inputs(exprs):
    matrices, scalars = {}, {}
    for atom in atoms(exprs, MatrixSymbol):
        prev = matrices.get(atom.name)
        if prev is not None and prev != atom:
            raise CompileError(f"two different symbols are called {atom.name!r}: "
                               f"{prev.shape} and {atom.shape}; rename one")
        matrices[atom.name] = atom
    dims = dimensions(exprs)
    found = scalar_symbols(exprs, dims)
    for s in found:
        scalars.setdefault(s.name, s)
    _check_one_name_each([(m, f"a {m.shape[0]}×{m.shape[1]} matrix") for m in matrices.values()]
                         + [(s, "a scalar") for s in found] + [(d, "a dimension") for d in sorted(dims, key=str)])
    return matrices, scalars, dims


def _check_one_name_each(inputs):
    """Refuse two different inputs (symbols, dimensions) called by one name, or by names
    Python reads as one (NFKC: ``x`` and ``ｘ``): the keywords of a call could not tell them
    apart.  Symbols made with matcalc's constructors never clash this way; SymPy's own can."""
    seen = {}
    for item, kind in inputs:
        name = str(item.name)
        prev, prev_kind = seen.setdefault(unicodedata.normalize("NFKC", name), (item, kind))
        if prev != item:
            same = "called" if str(prev.name) == name else "called by names Python reads as one,"
            raise CompileError(f"two different inputs are {same} {str(prev.name)!r} ({prev_kind}) and "
                               f"{name!r} ({kind}); rename one")


def real_array(name, value, dtype) -> np.ndarray:
    """``value`` as an array of ``dtype``, or :class:`ArgumentError` naming the argument
    ``name``: a complex array (a cast would drop the imaginary parts with only a warning) or
    something that is not numbers.  Every array that enters a compiled function or a
    :class:`~matcalc.Trainer` comes through here."""
    not_numeric = f"argument {name!r}: expected a numeric array, got {type(value).__name__}"
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(not_numeric) from exc
    if arr.dtype.kind == "c":
        raise ArgumentError(f"argument {name!r}: expected real numbers, got a complex array (dtype {arr.dtype})")
    try:
        return np.asarray(arr, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(not_numeric) from exc


class _NumpyArguments:
    """How the careful path converts a call's arguments: NumPy arrays of the compiled dtype."""

    def __init__(self, dtype):
        self.dtype = dtype

    def array(self, name, value):
        return real_array(name, value, self.dtype)

    def reshape(self, array, shape):
        return array.reshape(shape)

    def number(self, name, value):   # a NumPy scalar: 1 / 0 is ∞ as for arrays, not ZeroDivisionError
        return self.dtype(checked_number(name, value))


class _ArrayApiArguments:
    """The same for the array-API variant: arrays of ``xp`` in ``dtype`` on ``device``, where
    the arguments are (nothing is copied through NumPy; a list becomes an ``xp`` array).  With
    ``own``, the type of ``xp``'s arrays, another library's array (NumPy's next to a JAX
    tracer) is copied into ``xp`` too."""

    def __init__(self, xp, dtype, device, own=None):
        self.xp, self.dtype, self.device, self.own = xp, dtype, device, own

    def array(self, name, value):
        if not is_array(value) or (self.own is not None and not isinstance(value, self.own)):
            if np.iscomplexobj(value):
                raise ArgumentError(f"argument {name!r}: expected real numbers, got complex ones")
            try:
                value = self.xp.asarray(value, dtype=self.dtype, device=self.device)
            except (TypeError, ValueError) as exc:
                raise ArgumentError(f"argument {name!r}: expected a numeric array, "
                                    f"got {type(value).__name__}") from exc
        return value if value.dtype == self.dtype else self.xp.astype(value, self.dtype)

    def reshape(self, array, shape):
        return self.xp.reshape(array, shape)

    def number(self, name, value):
        if is_array(value) and value.ndim == 0:   # read as is: a lazy number is not computed
            return self.array(name, value)
        return self.xp.asarray(checked_number(name, value), dtype=self.dtype, device=self.device)


_numpy_signature = operator.attrgetter("__class__", "shape", "dtype")
"""What the checks of a NumPy argument depend on (the values themselves never matter)."""


def _python_float(value) -> float:
    """A 1×1 result (an array of size 1, a NumPy or a framework's scalar, a number) as a float."""
    item = getattr(value, "item", None)
    return float(item() if item is not None else value)


def checked_number(name, value) -> float:
    """``value`` as a float, or :class:`ArgumentError` naming the argument ``name``."""
    if np.iscomplexobj(value):   # float() would drop the imaginary part with only a warning
        raise ArgumentError(f"argument {name!r}: expected a real number, got the complex {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise ArgumentError(f"argument {name!r}: expected a number, got {type(value).__name__}") from exc


def _dtype_name(dtype) -> str:
    """``"float64"`` or ``"float32"`` for that name or a NumPy spelling of it (``np.float32``,
    ``np.dtype("float32")``); anything else is a CompileError."""
    try:
        name = None if dtype is None else np.dtype(dtype).name
    except (TypeError, ValueError):
        name = None
    if name not in DTYPES:
        raise CompileError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    return name


class CompiledFunction:
    """A NumPy (or JAX, or PyTorch) function of the symbols of some expressions, which also
    runs on the arrays of any array-API library.

    Call it with keyword arguments named after the symbols.  Attributes: ``source`` (the
    generated Python, formulas as comments), ``array_api_source`` (its array-API variant),
    ``inputs`` (argument names in order), ``dimensions`` (dimension names read off the
    arrays), ``outputs`` (the expressions), ``dtype`` and ``backend``.  See the module
    docstring for shapes, scalars and other array libraries.
    """

    def __init__(self, exprs, *, single, dtype="float64", backend="numpy", names=None,
                 function_name="compiled", arg_order=None, reserved=frozenset()):
        dtype = _dtype_name(dtype)
        if backend not in BACKENDS:
            raise CompileError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}")
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
            self._inputs.append(_Input(name, safe_name(name, taken, reserved), symbol, shape))
        # dimension symbols: read off the first array that carries them, else passed as ints
        self._dim_source = {}
        for inp in self._inputs:
            for axis, d in enumerate(inp.shape):
                d = _sympify(d)
                if d.is_Symbol and d not in self._dim_source:
                    self._dim_source[d] = (inp, axis)
        self._dim_vars = {}
        for d in sorted(dims, key=lambda s: s.name):
            self._dim_vars[d] = safe_name(d.name, taken, reserved)
        self._free_dims = [d for d in sorted(dims, key=lambda s: s.name) if d not in self._dim_source]
        self.inputs = tuple(inp.name for inp in self._inputs)
        self.dimensions = tuple(d.name for d in sorted(dims, key=lambda s: s.name))
        self.function_name = function_name
        self._specs = self._fast_specs()
        self._as_float = [not isinstance(e, MatrixExpr) or (e.shape[0] == 1 and e.shape[1] == 1)
                          for e in self.outputs]
        self._names = names
        self.body, self._param_list, self.helpers = self._generate(NUMPY, numpy=backend == "numpy",
                                                                   fused=backend == "jax")
        self.source = self._module_source(self.body)
        self._array_api = None   # the array-API variant, printed on its first call
        self._native = None      # the framework of backend="jax" or "torch" (see .native)
        self._plans = {}         # signature of a call → the core it goes straight to
        self._input_names = tuple(inp.name for inp in self._inputs)
        self._call_names = self._input_names + tuple(d.name for d in self._free_dims)
        self._fn = self._build()
        self._numpy_arguments = _NumpyArguments(DTYPES[dtype])
        self._numpy_dtype = np.dtype(DTYPES[dtype])
        self._calling()
        self._float_outputs = [i for i, as_float in enumerate(self._as_float) if as_float]
        self._array_outputs = [i for i, as_float in enumerate(self._as_float) if not as_float and backend == "numpy"]

    # -- generation

    def _generate(self, spelling, reuse=False, numpy=False, fused=False):
        """The body's lines, the parameters and the optional prelude helpers it calls;
        ``reuse``: entrywise results written into dead temporaries (:mod:`.buffers`);
        ``numpy``: that, and the 1×1 results returned as floats (the NumPy code only: under
        JAX they are traced arrays); ``fused``: for jax.jit (see Printer)."""
        printer = Printer({inp.symbol: inp.var for inp in self._inputs}, self._dim_vars, self._names, spelling,
                          fused)
        printer.expect(self.outputs)
        results = []
        for expr in self.outputs:
            if isinstance(expr, MatrixExpr):
                val = printer.value(expr)
                code = printer.full(val, expr.shape)
                results.append(code)
            else:
                expr = _sympify(expr)
                results.append(printer.scalar_value(expr).code)
        params = [inp.var for inp in self._inputs] + [self._dim_vars[d] for d in self._free_dims]
        lines = []
        for d, (inp, axis) in self._dim_source.items():
            lines.append(f"{self._dim_vars[d]} = {inp.var}.shape[{axis}]")
        lines += printer.lines
        if numpy:
            results = [f"_float({code})" if as_float else code for code, as_float in zip(results, self._as_float)]
        ret = ", ".join(results) + ("," if len(results) == 1 else "")
        lines.append(f"return ({ret})")
        if reuse or numpy:
            lines = reuse_buffers(lines, printer.arrays, spelling)
        return lines, params, frozenset(printer.helpers)

    def _module_source(self, body_lines):
        describe = Describer(400)
        doc = [f'def {self.function_name}({", ".join(self._param_list)}):',
               '    """Generated by matcalc from:', ""]
        for i, expr in enumerate(self.outputs):
            doc.append(f"    [{i}] {printable(describe.text(expr))}")   # no user text ends the docstring
        doc.append('    """')
        body = ["    " + line for line in body_lines]
        return "\n".join(doc + body) + "\n"

    def _build(self):
        """The core on the arguments :meth:`prepare` gives (NumPy arrays); for a framework
        backend, also ``self._native``, its core on the framework's own arrays."""
        if self.backend == "jax":
            static = tuple(range(len(self._inputs), len(self._param_list)))   # the free dimensions
            self._native = JaxBackend(self.source, self.function_name, self.dtype, self._as_float, static)
        elif self.backend == "torch":
            body, _, _ = self._generate(ARRAY_API, reuse=True)
            self._native = TorchBackend(self._module_source(body), self.function_name, self.dtype, self._as_float)
            self.source = self._native.source
        if self._native is not None:
            return self._native.numpy_core
        namespace = numpy_namespace(self.dtype)
        return run_generated(self.source, self.function_name, namespace)[self.function_name]

    def array_api_core(self) -> ArrayApiCore:
        """The array-API variant (printed with :data:`~.spelling.ARRAY_API` on first use)."""
        if self._array_api is None:
            body, _, _ = self._generate(ARRAY_API)
            self._array_api = ArrayApiCore(self._module_source(body), self.function_name)
        return self._array_api

    @property
    def array_api_source(self) -> str:
        """The source of the array-API variant: ``_bind(xp, DTYPE, DEVICE, EXPCAP)``
        defining the function over one namespace."""
        return self.array_api_core().source

    # -- calling

    def _expected(self, inp, dims):
        names = ", ".join(str(d) for d in inp.shape)
        values = []
        for d in inp.shape:
            d = _sympify(d)
            if d.is_Integer:
                values.append(str(int(d)))
            elif d in dims:
                values.append(str(dims[d]))
            else:
                values.append("?")
        if all(_sympify(d).is_Integer for d in inp.shape):
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
                d = _sympify(d)
                axes.append(int(d) if d.is_Integer else str(d))
            specs.append((inp.name, tuple(axes)))
        return specs

    def prepare(self, kwargs):
        """Check and convert keyword arguments to NumPy; returns the positional arguments of
        the core.

        The common case (every argument a 2-D array of the right dtype, shapes consistent)
        takes a fast path; anything else goes through the careful checks that explain it."""
        args = self._fast_arguments(kwargs)
        return self._prepare_checked(kwargs) if args is None else args

    def _fast_arguments(self, kwargs):
        """The arguments as they are when every one is a 2-D NumPy array of the dtype and
        the shapes agree (plain Python: cheap); None when they need the careful path."""
        if self._free_dims or len(kwargs) != len(self._specs):
            return None
        dtype = DTYPES[self.dtype]
        dims = {}
        args = []
        for name, spec in self._specs:
            value = kwargs.get(name)
            if (spec is None or type(value) is not np.ndarray or value.dtype != dtype or value.ndim != 2
                    or not value.size):
                return None
            rows, cols = value.shape
            for size, want in ((rows, spec[0]), (cols, spec[1])):
                if type(want) is int:
                    if size != want:
                        return None
                elif dims.setdefault(want, size) != size:
                    return None
            args.append(value)
        return args

    def _prepare_checked(self, kwargs, convert=None):
        """Check every argument and convert it with ``convert`` (to NumPy by default)."""
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
        convert = convert or self._numpy_arguments
        dims: dict = {}
        args = []
        for inp in self._inputs:
            value = kwargs[inp.name]
            if not inp.shape:
                args.append(convert.number(inp.name, value))
                continue
            arr = self._reshape(inp, convert.array(inp.name, value), dims, convert)
            for axis, d in enumerate(inp.shape):
                d = _sympify(d)
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

    def _reshape(self, inp, arr, dims, convert):
        rows, cols = (_sympify(d) for d in inp.shape)
        if arr.ndim == 2:
            return arr
        if arr.ndim == 1 and (rows == 1 or cols == 1):
            return convert.reshape(arr, (1, -1) if rows == 1 else (-1, 1))
        if arr.ndim == 0 and rows == 1 and cols == 1:
            return convert.reshape(arr, (1, 1))
        raise ArgumentError(f"argument {inp.name!r}: expected a 2-D array {self._expected(inp, dims)}, "
                            f"got {arr.ndim}-D shape {tuple(arr.shape)}")

    # Every call looks its signature (each argument's type, shape and dtype, a tensor's
    # device …) up among those that passed the checks unchanged before, and then goes
    # straight to the core recorded for it, which returns finished results.  Anything else
    # (a new signature, a number, a list, a missing argument) takes the careful path, which
    # explains what is wrong, converts what needs converting, and records the signature
    # when the arguments passed unchanged: the checks run once per signature.

    def __call__(self, /, **kwargs):   # positional-only self: a symbol may be called "self"
        try:
            values = self._arguments(kwargs)
            if len(kwargs) != len(self._call_names):
                raise TypeError("unexpected arguments")
            key = self._key(values) if self._free_dims else tuple(map(self._signature, values))
            core = self._plans[key]
        except (KeyError, AttributeError, TypeError):   # new signature, a missing argument, a number …
            return self._call_checked(kwargs)
        results = core(*values)
        return results[0] if self._single else results

    def _calling(self):
        """What the lean path of __call__ needs, built once: the arguments in order
        (``_arguments``), an array's signature (``_signature``) and, with free dimensions,
        a call's key (``_key``: the arrays' signatures, each dimension's type and value)."""
        names = self._call_names
        if len(names) > 1:
            self._arguments = operator.itemgetter(*names)
        else:
            self._arguments = (lambda kwargs: (kwargs[names[0]],)) if names else (lambda kwargs: ())
        signature = self._signature = self._native.signature if self._native is not None else _numpy_signature
        arrays = len(self._inputs)
        self._key = lambda values: tuple(map(signature, values[:arrays])) + \
            tuple((type(v), v) for v in values[arrays:])

    def _call_checked(self, kwargs):
        """The careful path (see above)."""
        if self._native is not None:
            return self._call_native_checked(kwargs)
        args = self._fast_arguments(kwargs)
        if args is None:
            if any(is_foreign_array(value) for value in kwargs.values()):
                return self._call_array_api(kwargs)
            args = self._prepare_checked(kwargs)
        raw = self._fn(*args)
        # the results' dtypes follow the arguments' (not their values): if no array needs a
        # cast this time, none will for this signature, and the generated code runs as it is
        cast = any(raw[i].dtype != self._numpy_dtype for i in self._array_outputs)
        core = self._numpy_results if cast else self._fn   # whose 1×1 results are floats already
        return self._run(core, args, kwargs, self._finish(raw, cast))

    def _run(self, core, args, kwargs, results=None):
        """``core`` on the checked ``args`` (or its finished ``results`` already), recorded
        for the signature of ``kwargs`` when the checks passed every argument on as it is
        (the arrays themselves, ints for the free dimensions)."""
        unchanged = all(arg is kwargs[inp.name] for arg, inp in zip(args, self._inputs)) and \
            all(type(kwargs[d.name]) is int for d in self._free_dims)
        try:
            key = self._key(self._arguments(kwargs)) if unchanged else None
        except AttributeError:   # NumPy arrays for backend="torch": no tensor's signature
            key = None
        if key is not None:
            if len(self._plans) >= MAX_SIGNATURES:   # a bounded memory of signatures
                self._plans.clear()
            self._plans[key] = core
        if results is None:
            results = core(*args)
        return results[0] if self._single else results

    def _numpy_results(self, *args):
        """The core on NumPy arguments, its results finished: a 1×1 or scalar result a
        ``float``, an array of NumPy's in the dtype (a framework's stays as it is)."""
        return self._finish(self._fn(*args), True)

    def _finish(self, results, cast):
        """``results`` with each 1×1 one a float and, if ``cast``, each NumPy array in the dtype."""
        if not (self._float_outputs or cast):
            return results
        out = list(results)
        if cast:
            for i in self._array_outputs:
                if out[i].dtype != self._numpy_dtype:
                    out[i] = out[i].astype(self._numpy_dtype)
        for i in self._float_outputs:
            out[i] = _python_float(out[i])
        return tuple(out)

    def _call_native_checked(self, kwargs):
        """The careful path of a framework backend: the framework's arrays are checked and
        converted in the framework (results: its arrays, a 1×1 result 0-d), anything else
        through NumPy as before (a 1×1 result a ``float``)."""
        native = self._native
        arrays = {name: value for name, value in kwargs.items() if isinstance(value, native.array_type)}
        if arrays:
            xp, _, device = call_setting(arrays)   # one device for the framework's arrays
            if native.owns(xp):
                detached = {name: native.detached(value) for name, value in kwargs.items()}
                convert = _ArrayApiArguments(xp, native.dtype(xp), device, native.array_type)
                return self._run(native.core(device), self._prepare_checked(detached, convert), kwargs)
        return self._run(self._numpy_results, self.prepare(kwargs), kwargs)

    def _call_array_api(self, kwargs):
        """A call on arrays of another library: the array-API variant over their namespace."""
        xp, dtype, device = call_setting(kwargs)
        args = self._prepare_checked(kwargs, _ArrayApiArguments(xp, dtype, device))
        results = self.array_api_core().bound(xp, dtype, device)(*args)
        out = []
        for as_float, value in zip(self._as_float, results):
            if not is_array(value):   # a constant result, computed as a Python number
                value = xp.asarray(value, dtype=dtype, device=device)
            if as_float:
                value = xp.reshape(value, ())
            out.append(value if value.dtype == dtype else xp.astype(value, dtype))
        return out[0] if self._single else tuple(out)

    def __repr__(self):
        return (f"<matcalc compiled function of {', '.join(self.inputs) or 'nothing'} "
                f"→ {len(self.outputs)} output{'s' * (len(self.outputs) != 1)}, {self.backend}/{self.dtype}>")
