"""Optimisers and a training loop over compiled loss-and-gradient functions.

``Trainer(loss, wrt)`` compiles ``[loss, ∂loss/∂p for p in wrt]`` once (gradients from
``matcalc.gradient`` unless given) and ``fit(data, init)`` runs full-batch gradient descent
or minibatch SGD with plain steps, momentum or Adam.  The minibatch axis is found from the
shapes: the one dimension that the data symbols carry and the parameters do not (``n`` for
X n×d, y 1×n and w 1×d), so row- and column-vector conventions both work.

The loop calls the compiled function directly after checking every array once, updates the
parameters in place (copies of ``init``), records the loss of every epoch and stops early on
a tolerance.  A NaN or infinite loss or gradient, or a loss grown a hundred-million-fold
(``divergence``), raises :class:`DivergenceError` naming the epoch, instead of training on
garbage.  Every setting is checked first (a learning rate is a finite number above 0, epochs
an integer of at least 1, …): a mistake is an :class:`ArgumentError` naming it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from sympy.core.sympify import _sympify
from sympy.matrices.expressions import MatrixSymbol

from ..backends.function import CompiledFunction, real_array
from ..backends.prelude import DTYPES
from ..errors import ArgumentError, DivergenceError, MatcalcError
from .dask_train import is_chunked

__all__ = ["Trainer", "TrainResult", "train", "GradientDescent", "Momentum", "Adam", "OPTIMIZERS"]


# ---------------------------------------------------------------- checks

def _number(name, value, low, high=math.inf, *, low_open=False, high_open=True):
    """``value`` as a float when it is a real number in the range, else ArgumentError naming it."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool) \
        and math.isfinite(value) and (value > low if low_open else value >= low) \
        and (value < high if high_open else value <= high)
    if not ok:
        lower = f"above {low:g}" if low_open else f"at least {low:g}"
        upper = "" if high == math.inf else f" and {'below' if high_open else 'at most'} {high:g}"
        raise ArgumentError(f"{name} must be a finite number {lower}{upper}, not {value!r}")
    return float(value)


def _integer(name, value, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ArgumentError(f"{name} must be an integer of at least {low}, not {value!r}")
    return int(value)


# ---------------------------------------------------------------- optimisers

class GradientDescent:
    """p ← p − η ∇p."""

    def __init__(self, lr=0.1):
        self.lr = _number("lr", lr, 0, low_open=True)

    def start(self, params):
        pass

    def step(self, params, grads):
        for p, g in zip(params, grads):
            p -= self.lr * g


class Momentum:
    """Heavy ball: v ← μ v − η ∇p, p ← p + v."""

    def __init__(self, lr=0.1, momentum=0.9):
        self.lr, self.momentum = _number("lr", lr, 0, low_open=True), _number("momentum", momentum, 0, 1)

    def start(self, params):
        self.velocity = [np.zeros_like(p) for p in params]

    def step(self, params, grads):
        for p, g, v in zip(params, grads, self.velocity):
            v *= self.momentum
            v -= self.lr * g
            p += v


class Adam:
    """Adam (Kingma & Ba 2015): bias-corrected first and second moment estimates."""

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr = _number("lr", lr, 0, low_open=True)
        self.beta1, self.beta2 = _number("beta1", beta1, 0, 1), _number("beta2", beta2, 0, 1)
        self.eps = _number("eps", eps, 0, low_open=True)

    def start(self, params):
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, params, grads):
        self.t += 1
        scale = self.lr * math.sqrt(1 - self.beta2 ** self.t) / (1 - self.beta1 ** self.t)
        for p, g, m, v in zip(params, grads, self.m, self.v):
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * (g * g)
            p -= scale * m / (np.sqrt(v) + self.eps)


OPTIMIZERS = {"gd": GradientDescent, "sgd": GradientDescent, "momentum": Momentum, "adam": Adam}


def make_optimizer(optimizer, **options):
    """An optimiser from its name ("gd"/"sgd", "momentum", "adam") or an instance."""
    if not isinstance(optimizer, str):
        return optimizer
    if optimizer not in OPTIMIZERS:
        raise ArgumentError(f"unknown optimizer {optimizer!r}; known: {', '.join(OPTIMIZERS)}")
    cls = OPTIMIZERS[optimizer]
    accepted = cls.__init__.__code__.co_varnames[1:cls.__init__.__code__.co_argcount]
    for key, value in options.items():
        if value is not None and key not in accepted:   # it would be ignored without a word
            users = [name for name, other in OPTIMIZERS.items()
                     if key in other.__init__.__code__.co_varnames[1:other.__init__.__code__.co_argcount]]
            raise ArgumentError(f"{key} applies to the {' and '.join(repr(u) for u in users)} optimizer, "
                                f"not to {optimizer!r}")
    return cls(**{k: v for k, v in options.items() if v is not None})


DIVERGENCE = 1e8
"""A loss that grows by more than this factor (of the first step's loss, or of 1 if that is
smaller) is diverging, even while it stays finite: the default of ``fit(divergence=…)``."""


# ---------------------------------------------------------------- results

@dataclass
class TrainResult:
    """What ``fit`` returns: final ``params`` (name → array), the loss ``history`` (one
    value per epoch: the mean minibatch loss, or the full-batch loss before the epoch's
    step), the number of ``epochs`` run, whether a tolerance stopped it (``converged``)
    and why it stopped (``reason``)."""
    params: dict
    history: list = field(default_factory=list)
    epochs: int = 0
    converged: bool = False
    reason: str = ""

    @property
    def final_loss(self) -> float:
        return self.history[-1] if self.history else float("nan")

    def plot(self, path, **options):
        """Save the loss curve as a PNG (needs matplotlib: ``pip install matcalc[plot]``)."""
        from .plot import plot_loss
        return plot_loss(self.history, path, **options)


# ---------------------------------------------------------------- the trainer

def _key(k):
    return k.name if isinstance(k, MatrixSymbol) else str(k)


class Trainer:
    """Train the parameters ``wrt`` of a scalar ``loss`` with gradients compiled by matcalc.

    ``gradients`` (optional) are the gradient expressions, in the order of ``wrt``;
    otherwise ``matcalc.gradient`` derives them.  ``optimizer`` is "gd" (= "sgd"),
    "momentum", "adam" or an object with ``start(params)`` and ``step(params, grads)``;
    ``lr``, ``momentum``, ``beta1``, ``beta2`` and ``eps`` configure it.  ``dtype`` and
    ``backend`` go to :func:`matcalc.compile`.
    """

    def __init__(self, loss, wrt, *, gradients=None, optimizer="adam", lr=None, momentum=None,
                 beta1=None, beta2=None, eps=None, dtype="float64", backend="numpy"):
        self.wrt = list(wrt) if isinstance(wrt, (list, tuple)) else [wrt]
        for p in self.wrt:
            if not isinstance(p, MatrixSymbol):
                raise MatcalcError(f"can only train matrix symbols, got {p!r}")
        if gradients is None:
            from ..calculus.derive import gradient   # the differentiator sits below this layer
            gradients = [gradient(loss, p) for p in self.wrt]
        gradients = list(gradients) if isinstance(gradients, (list, tuple)) else [gradients]
        if len(gradients) != len(self.wrt):
            raise MatcalcError(f"got {len(gradients)} gradients for {len(self.wrt)} parameters")
        for p, g in zip(self.wrt, gradients):
            if tuple(g.shape) != tuple(p.shape):
                raise MatcalcError(f"the gradient for {p.name} has shape {g.shape}, not {p.shape}")
        self.loss, self.gradients = loss, gradients
        self.function = CompiledFunction([loss, *gradients], single=False, dtype=dtype, backend=backend)
        self.dtype = dtype
        self.optimizer = make_optimizer(optimizer, lr=lr if lr is not None else (1e-3 if optimizer == "adam" else 0.1),
                                        momentum=momentum, beta1=beta1, beta2=beta2, eps=eps)
        names = {p.name for p in self.wrt}
        missing = names - {a.name for a in _sympify(loss).atoms(MatrixSymbol)}
        if missing:
            raise MatcalcError(f"the loss does not depend on {', '.join(sorted(missing))}")
        self.data_names = [n for n in self.function.inputs if n not in names]

    # -- set-up

    def batch_dimension(self, batch_dim=None):
        """The dimension symbol minibatches are cut along (see the module docstring)."""
        inputs = {inp.name: inp for inp in self.function._inputs}
        data_dims, param_dims = set(), set()
        for name, inp in inputs.items():
            target = param_dims if name in {p.name for p in self.wrt} else data_dims
            for d in inp.shape:
                target |= _sympify(d).free_symbols
        if batch_dim is not None:
            chosen = [d for d in data_dims if d.name == str(batch_dim)]
            if not chosen:
                raise MatcalcError(f"batch_dim {batch_dim!r} is not a dimension of the data "
                                   f"({', '.join(sorted(d.name for d in data_dims)) or 'none'})")
            return chosen[0]
        candidates = sorted(data_dims - param_dims, key=lambda d: d.name)
        if len(candidates) != 1:
            raise MatcalcError("cannot tell which dimension holds the samples "
                               f"(candidates: {', '.join(d.name for d in candidates) or 'none'}); "
                               "pass batch_dim=")
        return candidates[0]

    def initial_params(self, init, dims, rng):
        """Copies of ``init``; missing parameters get small random matrices (scaled by
        1/√rows) or zero vectors, with dimensions from the data or ``dims``."""
        init = {_key(k): v for k, v in (init or {}).items()}
        unknown = set(init) - {p.name for p in self.wrt}
        if unknown:
            raise ArgumentError(f"init for {sorted(unknown)[0]!r}, which is not a parameter")
        values = {}
        for p in self.wrt:
            if p.name in init:
                values[p.name] = np.array(real_array(p.name, init[p.name], DTYPES[self.dtype]))
                continue
            shape = []
            for d in p.shape:
                d = _sympify(d)
                if d.is_Integer:
                    shape.append(int(d))
                elif d.name in dims:
                    shape.append(int(dims[d.name]))
                else:
                    raise ArgumentError(f"cannot initialise {p.name}: the size of {d} is unknown; "
                                        f"pass init={{{p.name!r}: ...}} or dims={{{d.name!r}: ...}}")
            rows, cols = shape
            if rows == 1 or cols == 1:
                values[p.name] = np.zeros(shape, dtype=DTYPES[self.dtype])
            else:
                values[p.name] = (rng.standard_normal(shape) / math.sqrt(rows)).astype(DTYPES[self.dtype])
        return values

    def _dims_of(self, data):
        dims = {}
        for inp in self.function._inputs:
            if inp.name in data and inp.shape:
                shape = _shape(data[inp.name])
                if len(shape) == 2:
                    for d, size in zip(inp.shape, shape):
                        if _sympify(d).is_Symbol:
                            dims.setdefault(_sympify(d).name, size)
                elif len(shape) == 1:
                    rows, cols = inp.shape
                    d = cols if _sympify(rows) == 1 else rows
                    if _sympify(d).is_Symbol:
                        dims.setdefault(_sympify(d).name, shape[0])
        return dims

    # -- training

    def evaluate(self, data, params):
        """The loss (a float) and gradients (a dict) at ``params`` on ``data``."""
        kwargs = {**{_key(k): v for k, v in data.items()}, **{_key(k): v for k, v in params.items()}}
        loss, *grads = self.function(**kwargs)
        return loss, {p.name: g for p, g in zip(self.wrt, grads)}

    def fit(self, data, init=None, *, epochs=100, batch_size=None, seed=0, tol=None, grad_tol=None,
            progress=True, batch_dim=None, dims=None, callback=None, divergence=DIVERGENCE,
            cluster=None, chunk_rows=None) -> TrainResult:
        """Train on ``data`` (symbol or name → array) from ``init`` (name → array).

        ``batch_size=None`` is full-batch gradient descent; an int cuts shuffled minibatches
        along the sample dimension each epoch.  ``tol`` stops when the epoch loss changes by
        less than ``tol`` relative to its size; ``grad_tol`` when the norm of all gradients of
        a full-batch step drops below it.  ``callback(epoch, loss, params)`` is called after
        each epoch and may return True to stop.  ``progress`` shows a tqdm bar.
        ``divergence``: raise :class:`DivergenceError` when a step's loss exceeds the first
        step's by more than this factor (of its size, at least 1); None never does.

        Data beyond memory: a Dask array, a memory-mapped ``.npy`` (``np.load(path,
        mmap_mode="r")``) or ``cluster=`` trains on row chunks on a ``dask.distributed``
        cluster (:mod:`matcalc.apps.dask_train`): ``cluster`` None starts a local one, or
        give a scheduler address, a ``Client`` or a cluster object; ``chunk_rows`` cuts
        arrays that are not Dask's.  The loss must be a sum over the rows (see
        :mod:`matcalc.apps.separable`); others are refused with an ArgumentError.
        """
        data = {_key(k): v for k, v in data.items()}
        unknown = set(data) - set(self.data_names)
        if unknown:
            raise ArgumentError(f"unexpected data {sorted(unknown)[0]!r}; the loss reads "
                                f"{', '.join(self.data_names) or 'no data'}")
        epochs = _integer("epochs", epochs, 1)
        if batch_size is not None:
            batch_size = _integer("batch_size", batch_size, 1)
        if seed is not None and not isinstance(seed, np.random.SeedSequence):
            seed = _integer("seed", seed, 0)
        tol = None if tol is None else _number("tol", tol, 0)
        grad_tol = None if grad_tol is None else _number("grad_tol", grad_tol, 0)
        if divergence is not None:
            divergence = _number("divergence", divergence, 1, low_open=True)
        loop = dict(epochs=epochs, tol=tol, grad_tol=grad_tol, callback=callback, progress=progress,
                    divergence=divergence, full_batch=batch_size is None)
        rng = np.random.default_rng(seed)
        dims = {str(k): v for k, v in (dims or {}).items()}
        if cluster is not None or chunk_rows is not None or any(is_chunked(v) for v in data.values()):
            return self._fit_chunks(data, init, rng, dims, loop, batch_size=batch_size, batch_dim=batch_dim,
                                    cluster=cluster, chunk_rows=chunk_rows)
        params, plist, full = self._start(data, init, {**self._dims_of(data), **dims}, dims, rng)
        if batch_size is None:
            def run_epoch(epoch, bar):
                return self._step(full, plist, epoch)
        else:
            batch = self.batch_dimension(batch_dim)
            position = {inp.name: i for i, inp in enumerate(self.function._inputs)}
            slices = [(position[inp.name], axis) for inp in self.function._inputs if inp.name in data
                      for axis, d in enumerate(inp.shape) if _sympify(d) == batch]
            if not slices:
                raise MatcalcError(f"no data array has the sample dimension {batch}")

            def run_epoch(epoch, bar):
                total, count = self._minibatches(full, slices, batch_size, rng, plist, epoch)
                return total / count, None
        return self._loop(params, run_epoch, **loop)

    def _fit_chunks(self, data, init, rng, dims, loop, *, batch_size, batch_dim, cluster, chunk_rows):
        """``fit`` on row chunks on a Dask cluster (:mod:`matcalc.apps.dask_train`)."""
        from .dask_train import ChunkedTraining, advance
        chunked = ChunkedTraining(self, data, batch_dim=batch_dim, dims=dims, chunk_rows=chunk_rows)
        # every check is done: the loss splits, the shapes fit; now the cluster and the data
        params, plist, _ = self._start(chunked.layout.stand_ins, init, {**chunked.dims, **dims}, dims, rng)
        position = {inp.name: i for i, inp in enumerate(self.function._inputs)}
        slices = [(position[name], axis) for name, axis in chunked.row_axes_2d.items()]

        def full_batch(epoch, bar):
            loss, grads = chunked.full_batch(params, bar)
            return self._descend(loss, grads, plist, epoch), grads

        def minibatches(epoch, bar):
            total, count = 0.0, 0
            order = rng.permutation(len(chunked.blocks))
            for done, arrays in enumerate(chunked.stream(order), 1):
                args = self._prepare({**chunked.layout.constants, **arrays}, params, dims)
                loss, rows = self._minibatches(args, slices, batch_size, rng, plist, epoch)
                total, count = total + loss, count + rows
                advance(bar, epoch - 1, done / len(order))
            return total / count, None

        with chunked.started(cluster):
            return self._loop(params, full_batch if batch_size is None else minibatches, fractional=True, **loop)

    def _start(self, data, init, known_dims, dims, rng):
        """The parameters (name → array, and the list in the order of ``wrt``) as the
        compiled function checks and converts them (private copies of ``init``: trained in
        place), and the optimiser started on them; and the arguments of the compiled
        function for ``data`` and these parameters."""
        params = self.initial_params(init, known_dims, rng)
        free = {d.name for d in self.function._free_dims}
        args = self.function.prepare({**data, **params, **{k: v for k, v in dims.items() if k in free}})
        position = {inp.name: i for i, inp in enumerate(self.function._inputs)}
        for p in self.wrt:
            params[p.name] = args[position[p.name]]
        plist = [params[p.name] for p in self.wrt]
        self.optimizer.start(plist)
        return params, plist, args

    def _prepare(self, data, params, dims):
        """The positional arguments of the compiled function, checked and converted once
        here (the loop calls the generated function directly); ``params`` that ``_start``
        prepared come back as the very arrays that are trained in place."""
        free = {d.name for d in self.function._free_dims}
        args = self.function.prepare({**data, **params, **{k: v for k, v in dims.items() if k in free}})
        for i, inp in enumerate(self.function._inputs):
            if inp.name in params:
                args[i] = params[inp.name]
        return args

    def _minibatches(self, args, slices, batch_size, rng, plist, epoch):
        """One pass over the samples of ``args`` in shuffled minibatches (``slices``: the
        argument positions and axes that carry the samples): the summed loss × batch size
        and the number of samples."""
        pos, axis = slices[0]
        n_samples = args[pos].shape[axis]
        order = rng.permutation(n_samples)
        total, count = 0.0, 0
        for start in range(0, n_samples, batch_size):
            index = order[start:start + batch_size]
            batch_args = list(args)
            for pos, axis in slices:
                batch_args[pos] = np.take(args[pos], index, axis=axis)
            loss, _ = self._step(batch_args, plist, epoch)
            total += loss * len(index)
            count += len(index)
        return total, count

    def _loop(self, params, run_epoch, *, epochs, tol, grad_tol, callback, progress, divergence, full_batch,
              fractional=False):
        """The epochs: ``run_epoch(epoch, bar)`` trains one and returns its loss and, for a
        full batch, the gradients; history, progress, tolerances and the callback here
        (``fractional``: ``run_epoch`` moves the bar within its epoch too)."""
        result = TrainResult(params=params)
        self._first_loss, self._divergence = None, divergence
        bar = _progress(epochs, progress, fractional)
        every = max(1, epochs // 200)
        try:
            for epoch in range(1, epochs + 1):
                epoch_loss, grads = run_epoch(epoch, bar)
                result.history.append(epoch_loss)
                result.epochs = epoch
                if bar is not None and (epoch % every == 0 or epoch == epochs):
                    bar.set_postfix(loss=f"{epoch_loss:.6g}", refresh=False)
                    bar.update(epoch - bar.n)
                if callback is not None and callback(epoch, epoch_loss, params):
                    result.reason = "callback"
                    break
                if grad_tol is not None and full_batch:
                    norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
                    if norm <= grad_tol:
                        result.converged, result.reason = True, f"gradient norm {norm:.3g} <= {grad_tol}"
                        break
                if tol is not None and len(result.history) > 1:
                    previous = result.history[-2]
                    if abs(previous - epoch_loss) <= tol * max(abs(epoch_loss), 1e-300):
                        result.converged, result.reason = True, f"relative loss change <= {tol}"
                        break
            else:
                result.reason = f"{epochs} epochs"
        finally:
            if bar is not None:
                bar.close()
        return result

    def _step(self, args, plist, epoch):
        """One optimiser step on the compiled function's arguments ``args``: (loss, gradients)."""
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            # a diverging run is reported once, below, instead of as a stream of warnings
            loss, *grads = self.function._fn(*args)
        if self.function.backend != "numpy":
            grads = [np.asarray(g) for g in grads]
        return self._descend(loss, grads, plist, epoch), grads

    def _descend(self, loss, grads, plist, epoch):
        """Check the loss and gradients (not finite, or diverging: DivergenceError) and take
        the optimiser's step; the loss as a float."""
        loss = float(np.asarray(loss).reshape(-1)[0])
        if not math.isfinite(loss) or not all(np.all(np.isfinite(g)) for g in grads):
            bad = "loss" if not math.isfinite(loss) else next(
                p.name for p, g in zip(self.wrt, grads) if not np.all(np.isfinite(g)))
            what = "the loss" if bad == "loss" else "the gradient of " + bad
            if self._first_loss is None:   # no step taken yet: the learning rate is not to blame
                raise DivergenceError(f"{what} is {loss if bad == 'loss' else 'not finite'} at the initial "
                                      f"parameters, before any step; check the data and the initial values "
                                      f"(a norm, for one, has no gradient at 0)")
            raise DivergenceError(f"training diverged at epoch {epoch}: {what} "
                                  f"became {loss if bad == 'loss' else 'non-finite'}; try a smaller learning rate "
                                  f"(lr={getattr(self.optimizer, 'lr', '?')})")
        if self._first_loss is None:
            self._first_loss = loss
        elif self._divergence is not None and \
                loss - self._first_loss > self._divergence * max(abs(self._first_loss), 1.0):
            raise DivergenceError(f"training diverged at epoch {epoch}: the loss grew from {self._first_loss:.3g} "
                                  f"to {loss:.3g} (more than {self._divergence:g} times its size); try a smaller "
                                  f"learning rate (lr={getattr(self.optimizer, 'lr', '?')})")
        self.optimizer.step(plist, grads)
        return loss


def _shape(value):
    """The shape of an array-like without reading it (a Dask array or a memory map stays lazy)."""
    shape = getattr(value, "shape", None)
    return tuple(shape) if shape is not None else np.shape(value)


def _progress(epochs, progress, fractional=False):
    """A tqdm bar over the epochs, or None; ``fractional``: it also moves within an epoch."""
    if not progress:
        return None
    from tqdm.auto import tqdm
    form = "{l_bar}{bar}| {n:.1f}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]" if fractional else None
    return tqdm(total=epochs, desc="training", unit="epoch", leave=False, bar_format=form)


def train(loss, wrt, data, init=None, *, gradients=None, optimizer="adam", lr=None, momentum=None,
          beta1=None, beta2=None, eps=None, dtype="float64", backend="numpy", **fit_options) -> TrainResult:
    """One call: build a :class:`Trainer` and ``fit`` it.  See both for the options."""
    trainer = Trainer(loss, wrt, gradients=gradients, optimizer=optimizer, lr=lr, momentum=momentum,
                      beta1=beta1, beta2=beta2, eps=eps, dtype=dtype, backend=backend)
    return trainer.fit(data, init, **fit_options)
