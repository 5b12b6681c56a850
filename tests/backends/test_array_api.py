"""One compiled function on the arrays of any array-API library, and the exported modules.

The README's seed-000 MLP (softmax cross-entropy over a sigmoid hidden layer, with biases):
its loss and four gradients, compiled once, give the NumPy answer to 1e-12 on NumPy,
array-api-strict, PyTorch (CPU), JAX (x64) and Dask arrays (on a 2-worker LocalCluster),
and CuPy on a GPU; each library's arrays come back.  Then the array-API path's own
behaviour (stability, linear algebra, dtypes, errors), the NumPy path left as it was, and
``mc.export`` to the array_api, torch and jax targets."""
import os
import subprocess
import sys
import textwrap

import mpmath
import numpy as np
import pytest

import matcalc as mc
from matcalc.backends import function as function_module
from matcalc.errors import ArgumentError, CompileError
from models import import_file as _import, readme_mlp as mlp, readme_mlp_by_hand, readme_mlp_data

array_api_compat = pytest.importorskip("array_api_compat", reason="array-api-compat is not installed")
xps = pytest.importorskip("array_api_strict", reason="array-api-strict is not installed")

mpmath.mp.dps = 60


def _run(script):
    """Run ``script`` in a fresh Python on this process's import path."""
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})


# ---------------------------------------------------------------- the README's MLP

@pytest.fixture(scope="module")
def compiled():
    loss, params = mlp()
    return mc.compile([loss, *mc.derive(loss, params).result])


@pytest.fixture(scope="module")
def data():
    return readme_mlp_data(seed=0)


@pytest.fixture(scope="module")
def expected(data):
    return readme_mlp_by_hand(data)


def assert_matches(results, expected, to_numpy):
    assert len(results) == len(expected)
    for got, want in zip(results, expected):
        got = to_numpy(got)
        assert got.shape == np.shape(want)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_the_numpy_path_gives_floats_and_numpy_arrays(compiled, data, expected):
    loss, *gradients = compiled(**data)
    assert type(loss) is float and all(type(g) is np.ndarray for g in gradients)
    assert_matches([loss, *gradients], expected, np.asarray)


def _strict(values):
    return {k: xps.asarray(v) for k, v in values.items()}, lambda a: np.asarray(a._array)


def _torch(values):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")
    return {k: torch.asarray(v) for k, v in values.items()}, lambda t: t.numpy()


@pytest.fixture
def jax_x64():
    """JAX with 64-bit floats for the test, as it was after."""
    jax = pytest.importorskip("jax", reason="JAX is not installed")
    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield jax
    jax.config.update("jax_enable_x64", before)


@pytest.mark.parametrize("convert", [_strict, _torch], ids=["array-api-strict", "torch"])
def test_the_mlp_on_another_library_gives_the_numpy_answer_and_that_librarys_arrays(
        compiled, data, expected, convert):
    arrays, to_numpy = convert(data)
    results = compiled(**arrays)
    library = array_api_compat.array_namespace(arrays["X"])
    for result in results:
        assert type(result) is type(arrays["X"])
        assert array_api_compat.array_namespace(result) is library
        assert result.dtype == library.float64
    assert results[0].shape == ()   # the loss: a 0-d array of the library, not a float
    assert_matches(results, expected, to_numpy)


def test_the_mlp_on_jax_arrays(compiled, data, expected, jax_x64):
    import jax.numpy as jnp
    results = compiled(**{k: jnp.asarray(v) for k, v in data.items()})
    assert all(isinstance(r, jax_x64.Array) and r.dtype == jnp.float64 for r in results)
    assert_matches(results, expected, np.asarray)


def test_the_mlp_on_cupy_arrays_on_a_gpu(compiled, data, expected):
    cupy = pytest.importorskip("cupy", reason="CuPy is not installed (needs a CUDA GPU)")
    try:
        gpus = cupy.cuda.runtime.getDeviceCount()
    except cupy.cuda.runtime.CUDARuntimeError:
        gpus = 0
    if not gpus:
        pytest.skip("CuPy is installed but there is no GPU")
    results = compiled(**{k: cupy.asarray(v) for k, v in data.items()})
    assert all(type(r) is cupy.ndarray for r in results)
    assert_matches(results, expected, cupy.asnumpy)


# ---------------------------------------------------------------- Dask, on a cluster

@pytest.fixture(scope="module")
def dask_client():
    """A 2-worker LocalCluster (threads: it starts in about a second), closed after."""
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
        yield client


def _refuse_to_compute(*args, **kwargs):
    raise AssertionError("the compiled function computed a Dask graph: it must stay lazy")


def test_the_mlp_on_dask_arrays_stays_lazy_and_runs_on_the_cluster(compiled, data, expected, dask_client):
    import dask
    import dask.array as da
    chunked = {k: da.from_array(v, chunks=(4, -1) if k in ("X", "Y") else -1) for k, v in data.items()}
    with dask.config.set(scheduler=_refuse_to_compute):   # any compute inside fails the test
        results = compiled(**chunked)
    assert all(isinstance(r, da.Array) for r in results)
    assert results[0].shape == () and results[0].dtype == np.float64
    computed = dask_client.gather(dask_client.compute(list(results)))
    assert_matches(computed, expected, np.asarray)


# ---------------------------------------------------------------- the array-API path itself

LOGITS = np.array([[1000.0, -1000.0, 0.0, 3.0],
                   [-1000.0, -999.0, -1000.0, -1000.0],
                   [1000.0, 1000.0, 999.5, -30.0]])


def test_logsumexp_and_softmax_are_stable_on_torch():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")
    Z, Y = mc.matrix("Z", "N", "K"), mc.matrix("Y", "N", "K", onehot=True)
    loss = -mc.sum(mc.hadamard(Y, mc.log(mc.softmax(Z)))) / mc.dim("N")
    fn = mc.compile([mc.logsumexp(Z), mc.softmax(Z), loss, mc.gradient(loss, Z)])
    y = np.eye(4)[[1, 0, 3]]            # the worst classes: log-probabilities near −2000
    lse, softmax, value, gradient = (t.numpy() for t in fn(Z=torch.asarray(LOGITS), Y=torch.asarray(y)))
    rows = [[mpmath.mpf(v) for v in row] for row in LOGITS]
    lse_exact = [mpmath.log(mpmath.fsum(mpmath.exp(v) for v in row)) for row in rows]
    softmax_exact = np.array([[float(mpmath.exp(v - m)) for v in row] for row, m in zip(rows, lse_exact)])
    np.testing.assert_allclose(lse, np.array([[float(m)] for m in lse_exact]), rtol=1e-15)
    np.testing.assert_allclose(softmax, softmax_exact, rtol=1e-14, atol=1e-300)
    value_exact = -sum(float(row[c] - m) for row, m, c in zip(rows, lse_exact, [1, 0, 3])) / 3
    assert float(value) == pytest.approx(value_exact, rel=1e-15)
    np.testing.assert_allclose(gradient, (softmax_exact - y) / 3, rtol=1e-14, atol=1e-300)


def _spd(rng, n):
    a = rng.normal(size=(n, n))
    return a @ a.T + n * np.eye(n)


def test_log_det_inverse_and_solve_through_linalg_on_array_api_strict():
    A, B = mc.matrix("A", "n", "n"), mc.matrix("B", "n", "m")
    fn = mc.compile([mc.logdet(A), mc.inv(A), mc.inv(A) * B, mc.trace(mc.inv(A) * B * B.T), mc.det(A)])
    rng = np.random.default_rng(7)
    a, b = _spd(rng, 4), rng.normal(size=(4, 3))
    got = [np.asarray(r._array) for r in fn(A=xps.asarray(a), B=xps.asarray(b))]
    inverse = np.linalg.inv(a)
    for g, e in zip(got, [np.log(np.linalg.det(a)), inverse, inverse @ b, np.trace(inverse @ b @ b.T),
                          np.linalg.det(a)]):
        np.testing.assert_allclose(g, e, rtol=1e-12)
    # log det of a matrix with a negative determinant is NaN, as on the NumPy path
    flipped = a.copy()
    flipped[0] *= -1
    assert np.isnan(float(fn(A=xps.asarray(flipped), B=xps.asarray(b))[0]))
    assert np.isnan(fn(A=flipped, B=b)[0])


def test_a_float32_input_stays_float32_and_an_integer_one_takes_the_default_float():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")
    X, w = mc.matrix("X", "n", "d"), mc.colvec("w", "d")
    fn = mc.compile([mc.sigmoid(X * w), mc.sum(X * w)])
    x, v = np.arange(6.0).reshape(3, 2), np.array([0.5, -1.0])
    single = fn(X=torch.asarray(x, dtype=torch.float32), w=torch.asarray(v, dtype=torch.float32))
    assert [r.dtype for r in single] == [torch.float32, torch.float32]
    np.testing.assert_allclose(single[0].numpy(), 1 / (1 + np.exp(-(x @ v)))[:, None], rtol=1e-6)
    mixed = fn(X=torch.asarray(x, dtype=torch.float32), w=torch.asarray(v, dtype=torch.float64))
    assert [r.dtype for r in mixed] == [torch.float64, torch.float64]   # float64 if any argument is
    integers = fn(X=torch.asarray(x.astype(int)), w=torch.asarray([1, -1]))
    assert integers[1].dtype == torch.get_default_dtype() and float(integers[1]) == -3.0


def test_arguments_of_two_libraries_are_refused_naming_them(compiled, data):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")
    mixed = {**data, "W1": torch.asarray(data["W1"]), "b2": torch.asarray(data["b2"])}
    with pytest.raises(ArgumentError, match=r"different array libraries .*'W1', 'b2' from array_api_compat\.torch"):
        compiled(**mixed)
    with pytest.raises(ArgumentError, match="'X'.*array_api_strict"):
        compiled(**{**mixed, "X": xps.asarray(data["X"])})


def test_the_array_api_path_checks_arguments_as_the_numpy_path_does(compiled, data):
    arrays = {k: xps.asarray(v) for k, v in data.items()}
    with pytest.raises(ArgumentError) as on_numpy:
        compiled(**{**data, "W1": np.ones((4, 7))})
    with pytest.raises(ArgumentError) as on_strict:
        compiled(**{**arrays, "W1": xps.ones((4, 7), dtype=xps.float64)})
    assert str(on_strict.value) == str(on_numpy.value) == ("argument 'W1': expected (d, h) = (4, 5), got shape (4, 7); "
                                                         "h = 5 from 'b1'")
    with pytest.raises(ArgumentError, match="missing argument 'b2'"):
        compiled(**{k: v for k, v in arrays.items() if k != "b2"})
    with pytest.raises(ArgumentError, match="'W2': expected real numbers, got a complex array"):
        compiled(**{**arrays, "W2": xps.asarray(data["W2"] + 1j)})
    # a 1-D array for a row vector and a number for a scalar symbol, as on the NumPy path
    x, lam = mc.rowvec("x", "n"), mc.scalar("lam")
    fn = mc.compile([lam * mc.sum(mc.hadamard(x, x)), x.T])
    value, column = fn(x=xps.asarray([1.0, 2.0]), lam=0.5)
    assert float(value) == 2.5 and column.shape == (2, 1)


def test_a_library_without_a_function_the_code_calls_is_refused():
    A, x = mc.matrix("A", "n", "n"), mc.rowvec("x", "n")
    with pytest.raises(ArgumentError, match="erf is not in the array API standard and array_api_strict"):
        mc.compile(mc.sum(mc.erf(x)))(x=xps.asarray([0.5, 1.0]))
    da = pytest.importorskip("dask.array", reason="Dask is not installed")
    with pytest.raises(ArgumentError, match="dask.array, which has no linalg.slogdet"):
        mc.compile(mc.logdet(A))(A=da.from_array(_spd(np.random.default_rng(0), 3)))
    # where the library has one, the shim is used: erf through torch.special
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")
    got = mc.compile(mc.erf(x))(x=torch.asarray([0.5, -1.0], dtype=torch.float64))
    np.testing.assert_allclose(got.numpy(), [[0.5204998778130465, -0.8427007929497149]], rtol=1e-15)


def test_without_array_api_compat_arrays_that_follow_the_standard_still_run():
    """array_api_compat blocked: NumPy arrays take the NumPy code, array-api-strict arrays
    (which name their namespace themselves) the array-API variant, and an array that does
    not is refused with what to install."""
    script = textwrap.dedent("""
        import sys
        sys.modules["array_api_compat"] = None
        import numpy as np, array_api_strict as xps
        import matcalc as mc
        X = mc.matrix("X", "n", "m")
        fn = mc.compile([mc.sum(mc.exp(X)), X.T])
        print(type(fn(X=np.zeros((2, 3)))[0]).__name__, [type(r).__name__ for r in fn(X=xps.zeros((2, 3)))])
        class Tensor:   # an array of a library that does not follow the standard by itself
            __dlpack__ = None
        try:
            fn(X=Tensor())
        except mc.ArgumentError as error:
            print(error)
    """)
    out = _run(script)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "float ['Array', 'Array']",
        "argument 'X' is a Tensor: arrays that do not follow the array API standard themselves need "
        "array-api-compat (pip install array-api-compat)"]


# ---------------------------------------------------------------- the NumPy path is as it was

def test_numpy_arrays_take_the_numpy_code_and_never_the_array_api_dispatch(compiled, data, monkeypatch):
    def refuse(value):
        raise AssertionError("the NumPy fast path looked for other array libraries")
    monkeypatch.setattr(function_module, "is_foreign_array", refuse)
    assert type(compiled(**data)[0]) is float


def test_one_printer_two_spellings():
    """The NumPy source of log-softmax cross-entropy is what NumPy's idioms give (written
    here by hand), a temporary's buffer reused once it is not read again (exp(Z − m) for
    the softmax, the softmax for its difference with Y, that for the scaled gradient) and
    Y ⊙ log p computed in the array ``where`` gives, and the loss returned as a float; the
    array-API variant has the same lines, spelt by the standard, each result a new array."""
    Z, Y = mc.matrix("Z", "N", "K"), mc.matrix("Y", "N", "K", onehot=True)
    loss = -mc.sum(mc.hadamard(Y, mc.log(mc.softmax(Z)))) / mc.dim("N")
    fn = mc.compile([loss, mc.gradient(loss, Z)])
    def code_lines(source, function):   # the function's lines after its docstring, without comments
        lines = [line.strip() for line in source.split(f"def {function}(", 1)[1].split('"""')[2].splitlines()]
        return [line for line in lines if line and not line.startswith("#")]
    assert code_lines(fn.source, "compiled") == [
        "N = Y.shape[0]", "K = Y.shape[1]",
        "t1 = Z.max(axis=1, keepdims=True)", "t2 = np.exp(Z - t1)", "t3 = t2.sum(axis=1, keepdims=True)",
        "t4 = t1 + np.log(t3)", "t5 = Z - t4", "t6 = np.where(Y == 0, 0.0, t5)", "t6 *= Y", "t7 = t6.sum()",
        "t8 = -t7 / N", "t9 = 1.0 / N", "t10 = np.divide(t2, t3, out=t2)", "t11 = np.subtract(t10, Y, out=t10)",
        "t12 = np.multiply(t9, t11, out=t11)", "return (_float(t8), t12)"]
    assert code_lines(fn.array_api_source, "compiled")[:-1] == [   # the last: _bind's "return compiled"
        "N = Y.shape[0]", "K = Y.shape[1]",
        "t1 = xp.max(Z, axis=1, keepdims=True)", "t2 = xp.exp(Z - t1)", "t3 = xp.sum(t2, axis=1, keepdims=True)",
        "t4 = t1 + xp.log(t3)", "t5 = Z - t4", "t6 = Y * xp.where(Y == 0, 0.0, t5)", "t7 = xp.sum(t6)",
        "t8 = -t7 / N", "t9 = 1.0 / N", "t10 = t2 / t3", "t11 = t10 - Y", "t12 = t9 * t11", "return (t8, t12)"]


# ---------------------------------------------------------------- exported modules

@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The MLP exported to each array-API target, written to a file and imported."""
    loss, params = mlp()
    folder = tmp_path_factory.mktemp("exported")
    paths = {target: folder / f"mlp_{target}.py" for target in ("array_api", "torch", "jax")}
    for target, path in paths.items():
        mc.export(loss, params, path, target=target)
    return paths


def _arguments(data):
    """The data with the biases as 1-D arrays, as people pass them."""
    return {**data, "b1": data["b1"].ravel(), "b2": data["b2"].ravel()}


def test_the_array_api_module_on_numpy_strict_and_torch(exported, data, expected):
    module = _import(exported["array_api"])
    arguments = _arguments(data)
    loss, gradients = module.loss_and_gradients(**arguments)
    assert float(loss) == pytest.approx(expected[0], rel=1e-12)
    for got, want, name in zip(gradients, expected[1:], module.WRT):
        assert got.shape == np.shape(arguments[name])      # shaped like its parameter
        np.testing.assert_allclose(np.asarray(got).reshape(np.shape(want)), want, rtol=1e-12, atol=1e-12)
    strict_loss, strict_gradients = module.loss_and_gradients(**{k: xps.asarray(v) for k, v in arguments.items()})
    assert type(strict_loss) is type(xps.asarray(0.0)) and float(strict_loss) == pytest.approx(expected[0], rel=1e-12)
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")
    torch_loss, torch_gradients = module.loss_and_gradients(**{k: torch.asarray(v) for k, v in arguments.items()})
    assert all(isinstance(g, torch.Tensor) for g in torch_gradients)
    np.testing.assert_allclose(torch_gradients[0].numpy(), expected[1], rtol=1e-12, atol=1e-12)


def test_the_array_api_module_imports_and_runs_with_numpy_alone(exported):
    """array_api_compat (and every other array library) blocked: the module imports, runs
    on NumPy arrays, and names what a PyTorch tensor would need."""
    script = textwrap.dedent(f"""
        import sys
        for blocked in ("array_api_compat", "torch", "jax", "dask", "cupy", "matcalc", "sympy"):
            sys.modules[blocked] = None
        import importlib.util, numpy as np
        spec = importlib.util.spec_from_file_location("mlp", {str(exported["array_api"])!r})
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        rng = np.random.default_rng(0)
        loss, gradients = module.loss_and_gradients(
            X=rng.normal(size=(6, 3)), Y=np.eye(2)[[0, 1, 1, 0, 1, 0]], W1=rng.normal(size=(3, 4)),
            b1=np.zeros(4), W2=rng.normal(size=(4, 2)), b2=np.zeros(2))
        print(type(loss).__name__, [type(g).__name__ for g in gradients])
        class Tensor:   # an array of a library that does not follow the standard by itself
            __dlpack__ = None
        try:
            module.loss_and_gradients(X=Tensor(), Y=1.0, W1=1.0, b1=1.0, W2=1.0, b2=1.0)
        except ValueError as error:
            print(error)
    """)
    out = _run(script)
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.splitlines()
    assert first == "ndarray ['ndarray', 'ndarray', 'ndarray', 'ndarray']"
    assert "argument 'X' is a Tensor" in second and "need array-api-compat" in second


def test_the_torch_module_passes_gradcheck_and_backpropagates_matcalcs_gradients(exported, data, expected):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")
    module = _import(exported["torch"])
    tensors = {k: torch.asarray(v) for k, v in _arguments(data).items()}
    parameters = [tensors[name].clone().requires_grad_() for name in module.WRT]
    assert torch.autograd.gradcheck(lambda *p: module.LossFunction.apply(tensors["X"], tensors["Y"], *p),
                                    tuple(parameters))
    loss = module.loss(tensors["X"], tensors["Y"], *parameters)
    (3.0 * loss).backward()                                  # the incoming gradient multiplies
    assert loss.item() == pytest.approx(expected[0], rel=1e-12)
    for parameter, want in zip(parameters, expected[1:]):
        assert parameter.grad.shape == parameter.shape
        np.testing.assert_allclose(parameter.grad.numpy().reshape(np.shape(want)), 3.0 * want, rtol=1e-12)
    with pytest.raises(RuntimeError, match="argument 'X' requires a gradient.*W1, b1, W2, b2 only"):
        module.loss(tensors["X"].clone().requires_grad_(), tensors["Y"], *parameters)


def test_the_jax_module_is_a_custom_vjp_with_matcalcs_gradients(exported, data, expected, jax_x64):
    import jax.numpy as jnp
    from jax.test_util import check_grads
    module = _import(exported["jax"])
    arguments = {k: jnp.asarray(v) for k, v in _arguments(data).items()}
    X, Y = arguments["X"], arguments["Y"]
    parameters = [arguments[name] for name in module.WRT]
    value, gradients = jax_x64.jit(jax_x64.value_and_grad(module.loss, argnums=(2, 3, 4, 5)))(X, Y, *parameters)
    assert float(value) == pytest.approx(expected[0], rel=1e-12)
    for got, want in zip(gradients, expected[1:]):
        np.testing.assert_allclose(np.asarray(got).reshape(np.shape(want)), want, rtol=1e-12, atol=1e-12)
    check_grads(lambda *p: module.loss(X, Y, *p), tuple(parameters), order=1, modes=["rev"])
    with pytest.raises(Exception, match="tracer"):   # the data has no gradient here: JAX refuses
        jax_x64.grad(module.loss, argnums=0)(X, Y, *parameters)


def test_export_refuses_an_unknown_target_and_a_dtype_it_does_not_use():
    loss, params = mlp()
    with pytest.raises(CompileError, match="target must be one of 'numpy', 'array_api', 'torch', 'jax'"):
        mc.export(loss, params, target="tensorflow")
    with pytest.raises(CompileError, match="dtype is the NumPy module's"):
        mc.export(loss, params, target="torch", dtype="float32")
    with pytest.raises(CompileError, match="function_name 'LossFunction' is a name the exported module uses"):
        mc.export(loss, params, target="torch", function_name="LossFunction")
    assert mc.export(loss, params) == mc.export_numpy(loss, params)
