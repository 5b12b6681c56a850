"""Compiled functions that run on a framework's own arrays: ``backend="jax"`` and ``"torch"``.

The NumPy code wraps every call in argument checks that cost microseconds; against a
framework's own autodiff on small arrays those microseconds are the difference.  A
:class:`NativeBackend` holds the framework's version of the generated code and what
:class:`~.function.CompiledFunction` needs to call it leanly:

* :meth:`~NativeBackend.signature`: one argument's (type, shape, dtype …), cheap to read; a
  call's signatures are checked once with the full checks and, when the arguments pass
  them unchanged, the call goes straight to the core every later time;
* :meth:`~NativeBackend.core`: the function on the framework's arrays, results *finished*
  (a 1×1 or scalar result a 0-d array, every result in the compiled dtype);
* :attr:`~NativeBackend.numpy_core`: the same on the NumPy arrays the careful path (and
  :class:`~matcalc.Trainer`) prepares.

:class:`JaxBackend` runs the NumPy-spelt code under ``jax.numpy`` and ``jax.jit``, the
finishing inside the jit.  :class:`TorchBackend` runs the array-API variant on
``array_api_compat.torch`` with dead temporaries' buffers reused (:mod:`.buffers`: PyTorch
takes ``out=``), which is where it gains on PyTorch's autograd; ``torch.compile`` did not
help on CPU when the perf work tried it.
"""
from __future__ import annotations

import operator
import types

import numpy as np

from ..errors import CompileError
from .array_api import ArrayApiCore
from .prelude import jax_namespace, run_generated


class NativeBackend:
    """A framework a compiled function runs on natively (see the module docstring)."""

    library = ""          # the namespace's name as array-api-compat gives it

    def owns(self, xp) -> bool:
        """Whether the namespace ``xp`` of a call's arrays is this framework's."""
        return xp.__name__ == self.library

    def dtype(self, xp):
        """The compiled dtype in the namespace ``xp``."""
        return getattr(xp, self.dtype_name)

    def detached(self, value):
        """``value`` as the core may read it (PyTorch: without its autograd history)."""
        return value


class JaxBackend(NativeBackend):
    """The generated code under ``jax.numpy``, jitted with its results finished."""

    library = "jax.numpy"

    def __init__(self, source, function_name, dtype_name, as_float, static):
        import jax
        namespace = jax_namespace(dtype_name)
        jnp, dtype = namespace["np"], namespace["DTYPE"]
        generated = run_generated(source, function_name, namespace)[function_name]

        def finished(*args):
            results = generated(*args)
            return tuple(jnp.reshape(jnp.asarray(r, dtype=dtype), ()) if scalar else jnp.asarray(r, dtype=dtype)
                         for r, scalar in zip(results, as_float))

        self.dtype_name = dtype_name
        self.jitted = jax.jit(finished, static_argnums=static)
        self.numpy_core = self.jitted   # jit takes NumPy arrays too (and copies them in)
        self.array_type = jax.Array

    # a JAX array's abstract value: its shape, dtype (and weak type, sharding), read at once
    signature = staticmethod(operator.attrgetter("__class__", "aval"))

    def core(self, device):
        return self.jitted   # a jitted function runs on its arguments' device


class TorchBackend(NativeBackend):
    """The array-API variant, with buffers reused, on ``array_api_compat.torch``."""

    library = "array_api_compat.torch"

    def __init__(self, function_source, function_name, dtype_name, as_float):
        try:
            import torch
            import array_api_compat.torch as xp
        except ImportError as exc:
            raise CompileError("backend='torch' needs PyTorch and array-api-compat: "
                               "pip install torch array-api-compat") from exc
        self.torch, self.xp, self.dtype_name = torch, _lean_namespace(torch, xp), dtype_name
        self.array_api = ArrayApiCore(function_source, function_name)
        self.source = self.array_api.source
        self.array_type = torch.Tensor
        self._as_float = tuple(as_float)
        self._cores = {}

    signature = staticmethod(operator.attrgetter("__class__", "shape", "dtype", "device", "requires_grad"))

    def detached(self, value):
        return value.detach() if isinstance(value, self.torch.Tensor) and value.requires_grad else value

    def core(self, device):
        """The function on tensors of the compiled dtype on ``device``, results finished."""
        core = self._cores.get(str(device))
        if core is None:
            dtype = self.dtype(self.xp)
            bound = self.array_api.bound(self.xp, dtype, device)
            core = self._cores[str(device)] = _finisher(bound, self._as_float, self.torch, dtype, device)
        return core

    def numpy_core(self, *args):
        """The function on NumPy arrays (sharing their memory), on the CPU."""
        as_tensor = self.torch.from_numpy
        tensors = [as_tensor(np.asarray(a)) if isinstance(a, (np.ndarray, np.generic)) else a for a in args]
        return self.core(self.torch.device("cpu"))(*tensors)


def _lean_namespace(torch, compat):
    """``array_api_compat.torch`` with the arithmetic functions (``add``, ``subtract``,
    ``multiply``, ``divide``) PyTorch's own: the generated code calls them, with ``out=``,
    on tensors of the compiled floating dtype and Python floats only, where PyTorch promotes
    as the standard does, and array-api-compat's wrapper costs microseconds a call."""
    namespace = types.ModuleType(compat.__name__)
    namespace.__dict__.update(vars(compat))
    for name in ("add", "subtract", "multiply", "divide"):
        setattr(namespace, name, getattr(torch, name))
    return namespace


def _finisher(bound, as_float, torch, dtype, device):
    """``bound`` with its results finished: a 1×1 or scalar result a 0-d tensor, a
    constant a tensor, every result in ``dtype``."""
    scalars = [i for i, scalar in enumerate(as_float) if scalar]
    tensor = torch.Tensor

    def finished(*args):
        results = list(bound(*args))
        for i, r in enumerate(results):
            if type(r) is not tensor or r.dtype != dtype:
                results[i] = torch.as_tensor(r, dtype=dtype, device=device)
        for i in scalars:
            results[i] = results[i].reshape(())
        return tuple(results)

    return finished
