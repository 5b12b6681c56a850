"""Training on row chunks with Dask (matcalc.apps.dask_train): the map-reduce full batch
gives the NumPy trainer's parameters (same arithmetic up to the order of summation), on
Dask arrays, memory-mapped files and in-memory arrays cut into chunks; minibatches stream;
a loss that is not a sum over rows is refused before any work; the client never holds
the data."""

import numpy as np
import pytest

import matcalc as mc
from matcalc.errors import ArgumentError
from models import example

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

N = mc.dim("N")


@pytest.fixture(scope="module")
def client():
    """Two in-process workers of one thread each (processes=False: no start-up of Python
    processes, and the tests still cross the scheduler)."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as c:
        yield c


def logistic():
    X, y, w, b = mc.matrix("X", "N", "d"), mc.colvec("y", "N"), mc.colvec("w", "d"), mc.matrix("b", 1, 1)
    z = X * w + mc.ones("N", 1) * b
    return mc.sum(mc.softplus(z) - mc.hadamard(y, z)) / N, [w, b]


def logistic_data(rows=600, features=4, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features))
    y = (rng.uniform(size=rows) < 1 / (1 + np.exp(-X @ np.linspace(-1, 2, features) - 0.3))).astype(float)
    return X, y


def mlp():
    loss, params, _ = example("mlp_digits").model()
    return loss, params


def assert_same(dask_result, numpy_result, tol=1e-10):
    np.testing.assert_allclose(dask_result.history, numpy_result.history, rtol=tol)
    for name, value in numpy_result.params.items():
        np.testing.assert_allclose(dask_result.params[name], value, rtol=tol, atol=tol, err_msg=name)
    assert dask_result.params[name].shape == value.shape


def test_logistic_regression_on_dask_arrays_matches_numpy(client):
    loss, params = logistic()
    X, y = logistic_data()
    trainer = mc.Trainer(loss, params, optimizer="gd", lr=1.0)
    reference = trainer.fit({"X": X, "y": y}, epochs=6, progress=False)
    # uneven chunks, and y cut differently from X: y is re-chunked to X's rows
    chunked = {"X": da.from_array(X, chunks=((150, 200, 100, 150), 2)), "y": da.from_array(y, chunks=300)}
    result = trainer.fit(chunked, epochs=6, cluster=client, progress=False)
    assert_same(result, reference)
    assert result.history[-1] < result.history[0]


def test_seed000_mlp_on_dask_arrays_matches_numpy(client):
    """The MLP of examples/mlp_digits.py (softmax cross-entropy, 1/N) with Adam: each of
    five chunks sees its own N in its shapes and the total N in 1/N."""
    loss, params = mlp()
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 3, 250)
    X = rng.normal(size=(3, 6))[labels] + rng.normal(size=(250, 6))
    Y = np.eye(3)[labels]
    trainer = mc.Trainer(loss, params, optimizer="adam", lr=0.05)
    reference = trainer.fit({"X": X, "Y": Y}, epochs=4, dims={"h": 5}, progress=False)
    chunked = {"X": da.from_array(X, chunks=(60, 6)), "Y": da.from_array(Y, chunks=(60, 3))}
    result = trainer.fit(chunked, epochs=4, dims={"h": 5}, cluster=client, progress=False)
    assert_same(result, reference, tol=1e-9)   # Adam divides by √v: a little more rounding


def test_a_data_free_penalty_is_counted_once_and_rows_may_be_columns(client):
    """Seed 000's OLS with y a row (1×n, the rows on its second axis) and a ridge penalty λ
    given as data: the penalty and its gradient are added once, not once per chunk."""
    X, y, w = mc.matrix("X", "n", "d"), mc.rowvec("y", "n"), mc.rowvec("w", "d")
    lam = mc.scalar("lam")
    residual = y - w * X.T
    loss = residual * residual.T / (2 * mc.dim("n")) + lam * mc.norm(w) ** 2
    design, target = logistic_data(rows=300)
    trainer = mc.Trainer(loss, [w], optimizer="momentum", lr=0.1)
    reference = trainer.fit({"X": design, "y": target, "lam": 0.5}, epochs=5, progress=False)
    chunked = {"X": da.from_array(design, chunks=(70, 4)), "y": da.from_array(target[None, :], chunks=(1, 70)),
               "lam": 0.5}
    result = trainer.fit(chunked, epochs=5, cluster=client, progress=False)
    assert_same(result, reference)
    result = trainer.fit({**chunked, "y": da.from_array(target, chunks=70)}, epochs=5, cluster=client, progress=False)
    assert_same(result, reference)   # y as a 1-D array: its rows on its only axis


def test_memory_mapped_npy_and_numpy_arrays_in_chunks(client, tmp_path):
    loss, params = logistic()
    X, y = logistic_data(rows=500)
    np.save(tmp_path / "X.npy", X)
    trainer = mc.Trainer(loss, params, optimizer="gd", lr=1.0)
    reference = trainer.fit({"X": X, "y": y}, epochs=4, progress=False)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    result = trainer.fit({"X": mapped, "y": y}, epochs=4, chunk_rows=120, cluster=client, progress=False)
    assert_same(result, reference)
    # a view of the file from row 100 on: read at its offset in the file
    reference = trainer.fit({"X": X[100:], "y": y[100:]}, epochs=4, progress=False)
    result = trainer.fit({"X": mapped[100:], "y": y[100:]}, epochs=4, chunk_rows=90, cluster=client, progress=False)
    assert_same(result, reference)
    # NumPy arrays with cluster=: scattered to the workers once, in chunks of chunk_rows
    result = trainer.fit({"X": X[100:], "y": y[100:]}, epochs=4, chunk_rows=64, cluster=client, progress=False)
    assert_same(result, reference)


class Rows:
    """An array-like that is not NumPy's (as an h5py or zarr data set): a shape, a dtype and
    slicing; the slices read by any copy of it (the workers get copies) are recorded in
    ``Rows.read`` (the workers run in this process)."""

    read = []

    def __init__(self, array):
        self.array = array
        self.shape, self.dtype, self.ndim = array.shape, array.dtype, array.ndim

    def __getitem__(self, index):
        Rows.read.append(index)
        return self.array[index]


def test_an_array_like_source_is_read_in_row_slices(client):
    loss, params = logistic()
    X, y = logistic_data(rows=300)
    source = Rows(X)
    Rows.read.clear()
    trainer = mc.Trainer(loss, params, optimizer="gd", lr=1.0)
    result = trainer.fit({"X": source, "y": y}, epochs=3, chunk_rows=100, cluster=client, progress=False)
    assert_same(result, trainer.fit({"X": X, "y": y}, epochs=3, progress=False))
    rows_read = {(index[0].start, index[0].stop) for index in Rows.read if isinstance(index, tuple)}
    assert {(0, 100), (100, 200), (200, 300)} <= rows_read


def test_default_cluster_is_started_and_closed(monkeypatch, tmp_path):
    """cluster=None starts a LocalCluster for the fit and closes it afterwards."""
    started = []
    original = distributed.LocalCluster

    def recording(*args, **kwargs):
        cluster = original(*args, **{**kwargs, "n_workers": 1, "threads_per_worker": 1})
        started.append(cluster)
        return cluster

    monkeypatch.setattr(distributed, "LocalCluster", recording)
    loss, params = logistic()
    X, y = logistic_data(rows=200)
    np.save(tmp_path / "X.npy", X)
    trainer = mc.Trainer(loss, params, optimizer="gd", lr=1.0)
    result = trainer.fit({"X": np.load(tmp_path / "X.npy", mmap_mode="r"), "y": y}, epochs=2, chunk_rows=64,
                         progress=False)
    assert_same(result, trainer.fit({"X": X, "y": y}, epochs=2, progress=False))
    assert len(started) == 1 and started[0].status.name == "closed"


def test_minibatch_sgd_streams_chunks_and_lowers_the_loss(client, capsys):
    loss, params = logistic()
    X, y = logistic_data(rows=2000, seed=4)
    chunked = {"X": da.from_array(X, chunks=(400, 4)), "y": da.from_array(y, chunks=400)}
    trainer = mc.Trainer(loss, params, optimizer="adam", lr=0.05)
    runs = [trainer.fit(chunked, epochs=4, batch_size=50, seed=1, cluster=client, progress=True) for _ in range(2)]
    assert "training" in capsys.readouterr().err
    assert runs[0].history == runs[1].history   # the same seed, the same chunks and batches
    start, _ = trainer.evaluate({"X": X, "y": y}, {"w": np.zeros(4), "b": np.zeros((1, 1))})
    end, _ = trainer.evaluate({"X": X, "y": y}, runs[0].params)
    assert end < 0.8 * start
    assert runs[0].history[-1] < runs[0].history[0]


NON_SEPARABLE = {
    "‖Xw − y‖": (lambda X, y, w: mc.norm(X * w - y), "in ‖X w − y‖, a norm is the square root"),
    "logdet(XᵀX)": (lambda X, y, w: mc.logdet(X.T * X) + mc.sum(y) + mc.sum(w), "in det"),
    "max over rows": (lambda X, y, w: mc.max(X * w - y), "in max"),
    "sum(Xw)²": (lambda X, y, w: mc.sum(X * w) ** 2 + mc.sum(y), r"in sum\(X w\)²"),
}


@pytest.mark.parametrize("build, fragment", NON_SEPARABLE.values(), ids=NON_SEPARABLE.keys())
def test_a_loss_that_is_not_a_sum_over_rows_is_refused_before_any_work(build, fragment, monkeypatch):
    made = []

    def block(x):
        made.append(x.shape)
        return x

    monkeypatch.setattr(distributed, "LocalCluster", lambda *a, **k: pytest.fail("a cluster was started"))
    X, y, w = mc.matrix("X", "N", "d"), mc.colvec("y", "N"), mc.colvec("w", "d")
    trainer = mc.Trainer(build(X, y, w), [w], optimizer="gd")
    data = {"X": da.ones((40, 3), chunks=(10, 3)).map_blocks(block, meta=np.empty((0, 0))),
            "y": da.ones(40, chunks=10).map_blocks(block, meta=np.empty(0))}
    with pytest.raises(ArgumentError, match=r"not a sum over the rows N \(the dimension that the data X, y carry "
                                            r"and the parameters w do not.*" + fragment):
        trainer.fit(data, epochs=1, progress=False)
    assert made == []


def test_chunked_data_is_checked_before_any_work(client):
    loss, params = logistic()
    trainer = mc.Trainer(loss, params, optimizer="gd")
    good = {"X": da.ones((40, 3), chunks=(10, 3)), "y": da.ones(40, chunks=10)}
    with pytest.raises(ArgumentError, match=r"argument 'X': expected real numbers, got a complex array"):
        trainer.fit({**good, "X": good["X"] + 1j}, cluster=client, progress=False)
    with pytest.raises(ArgumentError, match=r"argument 'y': expected \(N, 1\) = \(40, 1\), got shape \(30, 1\)"):
        trainer.fit({**good, "y": da.ones(30, chunks=10)}, cluster=client, progress=False)
    unknown = good["X"][good["X"][:, 0] > 0]
    with pytest.raises(ArgumentError, match="shape .* is not known"):
        trainer.fit({**good, "X": unknown}, cluster=client, progress=False)
    with pytest.raises(ArgumentError, match="chunk_rows must be an integer of at least 1"):
        trainer.fit(good, chunk_rows=0, cluster=client, progress=False)
    with pytest.raises(ArgumentError, match="cluster must be None, a scheduler address"):
        trainer.fit(good, cluster=3, progress=False)


def test_the_guard_catches_a_wrong_split(monkeypatch):
    """The numeric check on a small random instance fails when the split is wrong (here: a
    penalty put into the per-chunk part, so that it would be added once per chunk)."""
    from matcalc.apps import dask_train
    X, y, w = mc.matrix("X", "N", "d"), mc.colvec("y", "N"), mc.colvec("w", "d")
    trainer = mc.Trainer(mc.norm(X * w - y) ** 2 + mc.norm(w) ** 2, [w], optimizer="gd")
    monkeypatch.setattr(dask_train, "split_over_rows", lambda exprs, rows, params: [(e, None) for e in exprs])
    with pytest.raises(ArgumentError, match="does not split over the rows N on a small random instance"):
        dask_train.ChunkedTraining(trainer, {"X": da.ones((8, 2)), "y": da.ones(8)}, batch_dim=None, dims={},
                                   chunk_rows=None)


class Deliveries(distributed.diagnostics.plugin.SchedulerPlugin):
    """Records, on the scheduler, the size of every result that a client holds a future
    of when it is made: everything the client may gather (an ``X.compute()`` shows up
    here as one result of X's size)."""

    name = "deliveries"

    def __init__(self, scheduler):
        self.scheduler, self.sizes = scheduler, []

    def transition(self, key, start, finish, *args, **kwargs):
        task = self.scheduler.tasks.get(key)
        if finish == "memory" and task is not None and task.who_wants:
            self.sizes.append(task.nbytes)


@pytest.fixture
def deliveries(client):
    scheduler = client.cluster.scheduler
    plugin = Deliveries(scheduler)
    scheduler.add_plugin(plugin)
    yield plugin
    scheduler.remove_plugin(name=plugin.name)


def test_the_client_never_holds_the_data(client, deliveries):
    """X is 32 MB made by Dask in 16 chunks on the workers.  A full-batch epoch brings the
    client nothing larger than the gradients; a minibatch epoch streams each chunk to it
    once, one chunk at a time."""
    loss, params = logistic()
    rows, features, chunk = 200_000, 20, 12_500
    rng = da.random.default_rng(0)
    X = rng.standard_normal((rows, features), chunks=(chunk, features))
    y = (rng.uniform(size=rows, chunks=chunk) < 0.5).astype(float)
    trainer = mc.Trainer(loss, params, optimizer="gd", lr=0.5)
    result = trainer.fit({"X": X, "y": y}, epochs=2, cluster=client, progress=False)
    assert result.epochs == 2 and deliveries.sizes
    assert max(deliveries.sizes) < 10_000   # (loss, ∂w, ∂b) sums: a few hundred bytes
    deliveries.sizes.clear()
    result = trainer.fit({"X": X, "y": y}, epochs=1, batch_size=2500, cluster=client, progress=False)
    assert max(deliveries.sizes) <= chunk * features * 8 + 1000
    assert sum(deliveries.sizes) < 1.01 * (X.nbytes + y.nbytes) + 10_000
    assert sum(deliveries.sizes) > X.nbytes   # it did stream the data through the client
