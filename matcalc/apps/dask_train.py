"""Training on data beyond memory: full-batch gradients as a map-reduce over row chunks on
a ``dask.distributed`` cluster, and minibatches streamed one chunk at a time.

:meth:`Trainer.fit <matcalc.Trainer.fit>` hands over here when a data array is chunked (a
Dask array, a memory-mapped ``.npy`` opened with ``np.load(mmap_mode="r")``, or any array
with a shape and row slicing, such as an h5py or zarr data set) or when ``cluster=`` is
given.  Everything that can be refused is refused before any work:

* the loss and its gradients must split over the rows (:mod:`.separable`): a part free of
  the data plus a sum of one term per row chunk; the split is also checked numerically on
  a small random instance (L(all rows) = F + Σ R(chunk));
* the data's shapes and dtypes are checked against the symbols on zero-cost stand-ins,
  with the messages of the compiled function; nothing is read.

Then a full-batch step scatters the parameters to every worker once, evaluates the
compiled per-chunk part (NumPy, with the total row count passed wherever the loss
divides by N) on each chunk where the chunk is made, sums the results in a tree on the
cluster and brings back only that sum: the client never holds more than parameters.  A
minibatch epoch visits the chunks in a shuffled order, fetching the next chunk while the
current one is cut into shuffled minibatches: the client holds two chunks at most.

``cluster`` is None (a ``LocalCluster`` started here in this process, closed at the
end), a scheduler address ("tcp://host:port"), a ``distributed.Client`` (left open) or a
cluster object such as ``LocalCluster(n_workers=2, memory_limit="1GB")``.  Workers of a
remote cluster need matcalc installed; a memory-mapped file must be at the same path on
them.  Dask itself is optional: ``pip install matcalc[dask]``.
"""
from __future__ import annotations

import contextlib
import math

import numpy as np
import sympy
from sympy.core.sympify import _sympify
from sympy.matrices.expressions import ZeroMatrix

from ..backends.function import CompiledFunction
from ..backends.prelude import DTYPES
from ..errors import ArgumentError, MatcalcError
from .separable import NotSeparable, split_over_rows, total_rows

__all__ = ["is_chunked", "RowKernels", "ChunkedTraining"]

CHUNK_BYTES = 64 * 2 ** 20
"""The size of a row chunk cut from a NumPy or memory-mapped array when ``chunk_rows`` is
not given (a Dask array keeps its own chunks)."""

GUARD_ROWS = (3, 4)
"""The row counts of the two chunks of the numeric check of a split."""


def is_chunked(value) -> bool:
    """Whether ``value`` is data to train on in chunks: a Dask collection, a memory-mapped
    array, or an array-like that is not NumPy's (h5py, zarr: a shape, a dtype, slicing)."""
    if hasattr(value, "__dask_graph__") or isinstance(value, np.memmap):
        return True
    return (not isinstance(value, (np.ndarray, np.generic, list, tuple, int, float, complex))
            and hasattr(value, "shape") and hasattr(value, "dtype") and hasattr(value, "__getitem__"))


def _require_dask():
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:
        raise MatcalcError("training on chunked data (Dask arrays, memory-mapped files) needs Dask: "
                           "pip install 'matcalc[dask]' (or pass NumPy arrays to train in memory)") from exc


# ---------------------------------------------------------------- the split, compiled

class RowKernels:
    """A trainer's loss and gradients as a per-chunk part and a data-free part, compiled.

    ``chunk`` computes the summed parts on one row chunk (its N read off its arrays; the
    scalar N, as in 1/N, is the input named ``total_name``, the total row count); ``free``
    (None when there is nothing free) computes the rest once.  Both give (loss, gradient,
    …) in the order of ``wrt``."""

    def __init__(self, trainer, rows, data_names):
        self.rows, self.dtype = rows, trainer.dtype
        self.shapes = [p.shape for p in trainer.wrt]
        parameters = {p.name for p in trainer.wrt}
        parts = []
        for what, expr in [("the loss", trainer.loss)] + [(f"the gradient for {p.name}", g)
                                                         for p, g in zip(trainer.wrt, trainer.gradients)]:
            try:
                parts += split_over_rows([expr], rows, parameters)
            except NotSeparable as exc:
                raise ArgumentError(_refusal(exc, what, trainer.wrt, rows, data_names)) from exc
        taken = set(trainer.function.inputs) | set(trainer.function.dimensions)
        self.total_name = next(name for name in (f"{rows}_total" + "_" * k for k in range(len(taken) + 1))
                               if name not in taken)
        summed, _ = total_rows([p[0] for p in parts], rows, self.total_name)
        free, _ = total_rows([p[1] for p in parts], rows, self.total_name)
        self.chunk = CompiledFunction(self._filled(summed), single=False, dtype=self.dtype)
        self.free = (CompiledFunction(self._filled(free), single=False, dtype=self.dtype)
                     if any(f is not None for f in free) else None)

    def _filled(self, parts):
        """The parts with a zero for each missing one (0 for the loss, 0 matrices for gradients)."""
        zeros = [sympy.S.Zero] + [ZeroMatrix(*shape) for shape in self.shapes]
        return [zero if part is None else part for part, zero in zip(parts, zeros)]

    @staticmethod
    def _call(function, values, extra):
        kwargs = {name: values[name] for name in function.inputs if name in values}
        kwargs.update({d.name: extra[d.name] for d in function._free_dims})
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return function(**kwargs)

    def chunk_values(self, values, total, chunk_rows, dims):
        """(loss, *gradients) of the summed parts on one chunk: ``values`` maps names to the
        chunk's data, the constants and the parameters; ``total`` is the total row count."""
        return self._call(self.chunk, {**values, self.total_name: total}, {**dims, str(self.rows): chunk_rows})

    def free_values(self, values, total, dims):
        """(loss, *gradients) of the data-free parts, or None when there are none."""
        if self.free is None:
            return None
        return self._call(self.free, {**values, self.total_name: total}, {**dims, str(self.rows): total})

    def check(self, trainer, row_axes):
        """Compare the full compiled loss and gradients with the split on a small random
        instance cut into two chunks; ArgumentError if they differ (a cheap guard on the
        structural analysis)."""
        rng = np.random.default_rng(0)
        sizes = {name: int(rng.integers(2, 5)) for name in trainer.function.dimensions}
        sizes[str(self.rows)] = sum(GUARD_ROWS)
        values = {}
        for inp in trainer.function._inputs:
            shape = tuple(sizes[str(d)] if not _sympify(d).is_Integer else int(d) for d in inp.shape)
            values[inp.name] = rng.uniform(0.1, 0.9, shape) if shape else float(rng.uniform(0.1, 0.9))
        dims = {d.name: sizes[d.name] for d in trainer.function._free_dims}
        with np.errstate(all="ignore"):
            whole = trainer.function(**values, **dims)
        total = sizes[str(self.rows)]
        split = self.free_values(values, total, sizes) or _zeros(whole)
        start = 0
        for rows in GUARD_ROWS:
            chunk = dict(values)
            for name, axis in row_axes.items():
                chunk[name] = np.take(values[name], range(start, start + rows), axis=axis)
            split = _add_parts(split, self.chunk_values(chunk, total, rows, sizes))
            start += rows
        for what, a, b in zip(["the loss"] + [f"the gradient of {p.name}" for p in trainer.wrt], whole, split):
            if not np.allclose(a, b, rtol=1e-8, atol=1e-12 * (1 + np.max(np.abs(a))), equal_nan=True):
                raise ArgumentError(f"cannot train on row chunks: {what} does not split over the rows {self.rows} "
                                    f"on a small random instance ({np.ravel(a)[:3]} on all rows, "
                                    f"{np.ravel(b)[:3]} summed over chunks), although its form looked like a "
                                    f"sum over rows; please report it")


def _zeros(values):
    return tuple(0.0 if np.ndim(v) == 0 else np.zeros_like(v) for v in values)


def _add_parts(*parts):
    """The sum of (loss, *gradients) tuples, in order."""
    total = list(parts[0])
    for part in parts[1:]:
        total = [a + b for a, b in zip(total, part)]
    return tuple(total)


def _refusal(exc, what, wrt, rows, data_names):
    from ..output.text import to_text
    carriers = ", ".join(data_names) or "no data"
    return (f"cannot train on row chunks (Dask): {what} is not a sum over the rows {rows} (the dimension "
            f"that the data {carriers} carry and the parameters {', '.join(p.name for p in wrt)} do not; "
            f"batch_dim= chooses another): in {to_text(exc.node)}, {exc.reason}. A sum over chunks would "
            f"compute something else; train it on NumPy arrays. Losses that split are sums over the rows "
            f"of row-wise terms plus terms free of the data (mean squared error, cross-entropy, ‖r‖², a "
            f"penalty on the parameters)")


# ---------------------------------------------------------------- the data, in row chunks

class _Layout:
    """Which data arrays carry the rows and on which of their axes (``row_axes``), their
    ``sources``, zero-cost ``stand_ins`` for the checks, and the ``constants`` (data
    without the row dimension, small: in memory)."""

    def __init__(self, trainer, data, rows):
        self.row_axes, self.constants, self.sources, self.stand_ins = {}, {}, {}, {}
        dtype = DTYPES[trainer.dtype]
        for inp in trainer.function._inputs:
            if inp.name not in data:
                continue
            value = data[inp.name]
            symbol_axes = [axis for axis, d in enumerate(inp.shape) if _sympify(d) == rows]
            if symbol_axes and _has_shape(value):
                stand_in = self.stand_ins[inp.name] = _stand_in(inp.name, value, dtype)
                self.row_axes[inp.name] = 0 if stand_in.ndim == 1 else symbol_axes[0]
                self.sources[inp.name] = value
            else:
                self.stand_ins[inp.name] = self.constants[inp.name] = _small(value)
        if not self.row_axes:
            raise ArgumentError(f"no data array has the row dimension {rows}: nothing to cut into chunks")
        name, axis = next(iter(self.row_axes.items()))
        self.total = int(self.stand_ins[name].shape[axis])


def _has_shape(value):
    return hasattr(value, "shape") and hasattr(value, "dtype") or isinstance(value, (list, tuple))


def _stand_in(name, value, dtype):
    """A zero-cost array of ``value``'s shape (a broadcast zero) for the compiled function's
    checks, after the checks of the dtype; nothing of ``value`` is read."""
    if isinstance(value, (list, tuple)):
        value = np.asarray(value)
    shape = tuple(value.shape)
    if not all(isinstance(size, (int, np.integer)) for size in shape):   # Dask's NaN
        raise ArgumentError(f"argument {name!r}: the shape {shape} is not known (a Dask array with unknown "
                            f"chunk sizes: call compute_chunk_sizes() first)")
    kind = np.dtype(value.dtype).kind
    if kind == "c":
        raise ArgumentError(f"argument {name!r}: expected real numbers, got a complex array (dtype {value.dtype})")
    if kind not in "biuf":
        raise ArgumentError(f"argument {name!r}: expected a numeric array, got dtype {value.dtype}")
    return np.broadcast_to(np.zeros((), dtype=dtype), shape)


def _small(value):
    """A constant (data without the row dimension): computed if it is a Dask array."""
    return value.compute() if hasattr(value, "__dask_graph__") else value


def _dask_arrays(layout, chunk_rows):
    """Every row-carrying source as a Dask array with the same row chunks (and one chunk
    across its other axis): a Dask array keeps its own, others are cut by ``chunk_rows``."""
    import dask.array as da
    arrays = {}
    boundaries = None
    for name, axis in layout.row_axes.items():
        source = layout.sources[name]
        if hasattr(source, "__dask_graph__"):
            array = source
        elif isinstance(source, np.memmap):
            array = _memmap_array(name, source, axis, chunk_rows or _auto_rows(source, axis))
        elif isinstance(source, (np.ndarray, list, tuple)):
            array = np.asarray(source)
        else:   # h5py, zarr …: read by slices
            array = da.from_array(source, chunks=_chunks(source.shape, axis, chunk_rows or _auto_rows(source, axis)))
        arrays[name] = array
        if boundaries is None and hasattr(array, "__dask_graph__") and chunk_rows is None:
            boundaries = array.chunks[axis]
    if boundaries is None:
        first = next(iter(layout.row_axes))
        rows = chunk_rows or _auto_rows(layout.sources[first], layout.row_axes[first])
        boundaries = _chunks((layout.total,), 0, rows)[0]
    return arrays, tuple(boundaries)


def _auto_rows(source, axis):
    shape = np.shape(source) if isinstance(source, (list, tuple)) else tuple(source.shape)
    row_bytes = np.dtype(getattr(source, "dtype", np.float64)).itemsize * max(
        1, math.prod(s for i, s in enumerate(shape) if i != axis))
    return max(1, CHUNK_BYTES // row_bytes)


def _chunks(shape, axis, rows):
    total = shape[axis]
    cut = tuple(min(rows, total - start) for start in range(0, total, rows))
    return tuple(cut if i == axis else (size,) for i, size in enumerate(shape))


def _memmap_array(name, source, axis, rows):
    """A Dask array whose blocks each open the file and read their rows (the file must be
    at the same path on the workers); the memory map itself is never pickled."""
    import dask.array as da
    from dask import delayed
    root = source
    while isinstance(root.base, np.memmap):
        root = root.base
    if not source.flags.c_contiguous or getattr(root, "filename", None) is None:
        raise ArgumentError(f"argument {name!r}: a memory-mapped array must be a C-contiguous view of its file "
                            f"(as np.load(path, mmap_mode='r') gives) to be read in chunks")
    offset = root.offset + (source.ctypes.data - root.ctypes.data)
    blocks = []
    for (start, stop), shape in _row_ranges(source.shape, axis, rows):
        read = delayed(_read_rows, pure=True)(str(root.filename), source.dtype.str, tuple(source.shape),
                                              offset, axis, start, stop)
        blocks.append(da.from_delayed(read, shape=shape, dtype=source.dtype))
    return da.concatenate(blocks, axis=axis)


def _row_ranges(shape, axis, rows):
    for start in range(0, shape[axis], rows):
        stop = min(start + rows, shape[axis])
        yield (start, stop), tuple(stop - start if i == axis else s for i, s in enumerate(shape))


def _read_rows(filename, dtype, shape, offset, axis, start, stop):
    """Rows start:stop (along ``axis``) of a C-ordered array in a file, as an array in memory."""
    mapped = np.memmap(filename, dtype=np.dtype(dtype), mode="r", offset=offset, shape=shape)
    return np.array(mapped[start:stop] if axis == 0 else mapped[:, start:stop])


def _blocks(arrays, axes, boundaries, client):
    """Per chunk, a dict name → its block: a Dask ``Delayed`` (made on a worker when a task
    needs it) or, for arrays in the client's memory, a future of a block scattered once."""
    import dask
    count = len(boundaries)
    per_chunk = [{} for _ in range(count)]
    lazy = {}
    for name, array in arrays.items():
        axis = axes[name]
        if hasattr(array, "__dask_graph__"):
            chunks = tuple(boundaries if i == axis else (size,) for i, size in enumerate(array.shape))
            lazy[name] = array.rechunk(chunks) if array.chunks != chunks else array
        else:
            starts = np.cumsum((0,) + boundaries)
            pieces = [array[a:b] if axis == 0 else array[:, a:b] for a, b in zip(starts[:-1], starts[1:])]
            for block, future in zip(per_chunk, client.scatter(pieces, hash=False)):
                block[name] = future
    for index, block in enumerate(per_chunk if lazy else ()):
        # each chunk's blocks optimised together: one small graph per chunk, in which arrays
        # made from one source (X and y drawn from one block) share its tasks
        pieces = [array.blocks[tuple(index if i == axes[name] else 0 for i in range(array.ndim))]
                  for name, array in lazy.items()]
        for name, piece in zip(lazy, dask.optimize(*pieces)):
            block[name] = piece.to_delayed(optimize_graph=False).reshape(-1)[0]
    return per_chunk


# ---------------------------------------------------------------- tasks (run on workers)

def _chunk_task(worker, static, params, total, dims, names, *blocks):
    """The per-chunk part of the loss and gradients on one chunk's blocks."""
    values = {**static, **params, **dict(zip(names, blocks))}
    rows = np.shape(blocks[0])[worker.axes[names[0]]]
    return worker.kernels.chunk_values(values, total, rows, dims)


class _Worker:
    """What every worker needs once: the compiled kernels and the row axis of each array."""

    def __init__(self, kernels, axes):
        self.kernels, self.axes = kernels, axes


# ---------------------------------------------------------------- the cluster

@contextlib.contextmanager
def client_for(cluster):
    """A ``distributed.Client`` for ``cluster`` (see the module docstring); whatever is
    started here is closed on leaving."""
    from distributed import Client, LocalCluster
    if isinstance(cluster, Client):
        yield cluster
        return
    with contextlib.ExitStack() as stack:
        if cluster is None:
            cluster = stack.enter_context(LocalCluster(processes=False, dashboard_address=":0"))
        elif not isinstance(cluster, str) and not hasattr(cluster, "scheduler_address"):
            raise ArgumentError(f"cluster must be None, a scheduler address, a distributed.Client or a "
                                f"cluster object, not {type(cluster).__name__}")
        client = stack.enter_context(Client(cluster))
        yield client


# ---------------------------------------------------------------- training

class ChunkedTraining:
    """Everything ``Trainer.fit`` needs to train on chunks; building it reads no data and
    starts nothing (so every refusal comes first); :meth:`started` joins the cluster."""

    def __init__(self, trainer, data, *, batch_dim, dims, chunk_rows):
        _require_dask()
        self.trainer = trainer
        self.rows = trainer.batch_dimension(batch_dim)
        carriers = [inp.name for inp in trainer.function._inputs if inp.name in data
                    and any(_sympify(d) == self.rows for d in inp.shape)]
        self.kernels = RowKernels(trainer, self.rows, carriers)   # refuses a loss that does not split
        # the axis of each data symbol that the rows are on (its array's may differ: a 1-D y)
        self.row_axes_2d = {inp.name: axis for inp in trainer.function._inputs if inp.name in carriers
                            for axis, d in enumerate(inp.shape) if _sympify(d) == self.rows}
        self.kernels.check(trainer, self.row_axes_2d)
        self.layout = _Layout(trainer, data, self.rows)
        if chunk_rows is not None:
            from .train import _integer
            chunk_rows = _integer("chunk_rows", chunk_rows, 1)
        self.chunk_rows = chunk_rows
        self.dims = {**trainer._dims_of(self.layout.stand_ins), **{str(k): v for k, v in (dims or {}).items()}}
        self.total = self.dims[str(self.rows)]

    @contextlib.contextmanager
    def started(self, cluster):
        """Join (or start) the cluster and lay the chunks out on it; yields self."""
        with client_for(cluster) as client:
            arrays, boundaries = _dask_arrays(self.layout, self.chunk_rows)
            self.client = client
            self.blocks = _blocks(arrays, self.layout.row_axes, boundaries, client)
            self.names = tuple(self.layout.row_axes)
            static = {**self.layout.constants}
            [self.static] = client.scatter([static], broadcast=True, hash=False)
            [self.worker] = client.scatter([_Worker(self.kernels, self.layout.row_axes)], broadcast=True,
                                           hash=False)
            try:
                yield self
            finally:
                self.client = self.blocks = self.static = self.worker = None

    # -- full batch

    def full_batch(self, params, bar=None):
        """The loss and gradients on all rows at ``params`` (name → array), by a
        map-reduce over the chunks; ``bar`` advances by one epoch over all chunks.

        At most ``window`` chunks are in flight at once (two per worker thread): Dask
        alone would make the blocks of many chunks ahead of their use (spilling them to
        disk when they outgrow a worker's memory).  The per-chunk results are added on the
        cluster in a tree fixed by the chunk order, so every run sums alike."""
        from dask import delayed
        from distributed import wait
        client = self.client
        [shared] = client.scatter([params], broadcast=True, hash=False)
        sizes = {k: int(v) for k, v in self.dims.items()}
        window = max(2, 2 * sum(client.nthreads().values()))
        start = None if bar is None else math.floor(bar.n + 1e-9)
        pending, stack, done = set(), [], 0
        for chunk in self.blocks:
            while len(pending) >= window:
                finished, pending = wait(pending, return_when="FIRST_COMPLETED")
                done += len(finished)
                advance(bar, start, done / len(self.blocks))
            task = delayed(_chunk_task, pure=False)(self.worker, self.static, shared, self.total, sizes, self.names,
                                                    *[chunk[n] for n in self.names])
            future = client.compute(task)
            pending.add(future)
            _push(client, stack, future)
        while pending:
            finished, pending = wait(pending, return_when="FIRST_COMPLETED")
            done += len(finished)
            advance(bar, start, done / len(self.blocks))
        summed = _reduce(client, stack).result()
        free = self.kernels.free_values({**self.layout.constants, **params}, self.total, sizes)
        values = summed if free is None else _add_parts(summed, free)
        return values[0], list(values[1:])

    # -- minibatches

    def stream(self, order):
        """The chunks in ``order``, each a dict name → NumPy array, the next fetched while
        the current one is used."""
        pending = self._fetch(order[0]) if len(order) else None
        for k in range(len(order)):
            current = pending
            pending = self._fetch(order[k + 1]) if k + 1 < len(order) else None
            yield dict(zip(self.names, self.client.gather(current)))
            del current

    def _fetch(self, index):
        chunk = self.blocks[index]
        items = [chunk[n] for n in self.names]
        lazy = [item for item in items if hasattr(item, "__dask_graph__")]
        futures = iter(self.client.compute(lazy)) if lazy else iter(())
        return [next(futures) if hasattr(item, "__dask_graph__") else item for item in items]


def advance(bar, start, fraction):
    """Move a progress bar (if any) to ``fraction`` of the epoch after ``start``."""
    if bar is not None:
        bar.update(start + fraction - bar.n)


def _push(client, stack, future):
    """Add a chunk's result to a binary-counter reduction: equal-sized partial sums are
    added on the cluster as soon as a pair exists (the tree depends only on the count)."""
    stack.append((1, future))
    while len(stack) > 1 and stack[-1][0] == stack[-2][0]:
        (size, right), (_, left) = stack.pop(), stack.pop()
        stack.append((2 * size, client.submit(_add_parts, left, right, pure=False)))


def _reduce(client, stack):
    """The sum of the partial sums left on the stack (a future)."""
    total = stack[-1][1]
    for _, left in reversed(stack[:-1]):
        total = client.submit(_add_parts, left, total, pure=False)
    return total
