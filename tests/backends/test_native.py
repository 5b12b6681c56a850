"""backend="jax" and backend="torch" (matcalc/backends/native.py): the README's MLP gives the
NumPy answer to 1e-12 in float64 on each framework's own arrays, keeps float32, comes back
as the framework's arrays; arguments are checked once per signature and still explained
when wrong; PyTorch's in-place code never writes an argument; and JAX's σ keeps 1 − σ(z)
exact although it flushes subnormal numbers to zero."""
import numpy as np
import pytest

import matcalc as mc
from matcalc.backends import function as function_module
from matcalc.errors import ArgumentError, CompileError
from models import readme_mlp, readme_mlp_by_hand, readme_mlp_data

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch)")
pytest.importorskip("array_api_compat", reason="array-api-compat is not installed")


@pytest.fixture(scope="module")
def exprs():
    loss, params = readme_mlp()
    return [loss, *mc.derive(loss, params).result]


@pytest.fixture(scope="module")
def data():
    return readme_mlp_data(seed=3)


@pytest.fixture(scope="module")
def expected(data):
    return readme_mlp_by_hand(data)


@pytest.fixture
def jax():
    """JAX with 64-bit floats for the test, as it was after."""
    jax = pytest.importorskip("jax", reason="JAX is not installed")
    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield jax
    jax.config.update("jax_enable_x64", before)


def _framework(name, jax):
    """(backend, array type, NumPy → framework, framework → NumPy, its dtype by name)."""
    if name == "jax":
        return "jax", jax.Array, jax.numpy.asarray, np.asarray, lambda dt: getattr(jax.numpy, dt)
    return ("torch", torch.Tensor, torch.from_numpy, lambda t: t.numpy(), lambda dt: getattr(torch, dt))


FRAMEWORKS = ["jax", "torch"]


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_the_mlp_gives_the_numpy_answer_as_the_frameworks_arrays(name, exprs, data, expected, request):
    jax = request.getfixturevalue("jax") if name == "jax" else None
    backend, array_type, convert, to_numpy, dtype = _framework(name, jax)
    fn = mc.compile(exprs, backend=backend)
    for _ in range(2):   # the first call is checked, the second goes straight to the core
        results = fn(**{k: convert(v) for k, v in data.items()})
        assert all(isinstance(r, array_type) and r.dtype == dtype("float64") for r in results)
        assert results[0].shape == ()   # the loss: a 0-d array of the framework
        for got, want in zip(results, expected):
            np.testing.assert_allclose(to_numpy(got), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_float32_stays_float32(name, exprs, data, expected, request):
    jax = request.getfixturevalue("jax") if name == "jax" else None
    backend, _, convert, to_numpy, dtype = _framework(name, jax)
    fn = mc.compile(exprs, backend=backend, dtype="float32")
    results = fn(**{k: convert(v.astype(np.float32)) for k, v in data.items()})
    assert all(r.dtype == dtype("float32") for r in results)
    for got, want in zip(results, expected):
        np.testing.assert_allclose(to_numpy(got), want, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_numpy_arguments_give_a_float_loss(name, exprs, data, expected, request):
    jax = request.getfixturevalue("jax") if name == "jax" else None
    backend, array_type, *_ = _framework(name, jax)
    loss, *gradients = mc.compile(exprs, backend=backend)(**data)
    assert type(loss) is float and loss == pytest.approx(expected[0], rel=1e-12)
    assert all(isinstance(g, array_type) for g in gradients)


@pytest.mark.parametrize("name", FRAMEWORKS)
def test_arguments_are_checked_once_per_signature_and_explained_when_wrong(name, exprs, data, request,
                                                                          monkeypatch):
    jax = request.getfixturevalue("jax") if name == "jax" else None
    backend, _, convert, *_ = _framework(name, jax)
    fn = mc.compile(exprs, backend=backend)
    checks = []
    careful = function_module.CompiledFunction._prepare_checked
    monkeypatch.setattr(function_module.CompiledFunction, "_prepare_checked",
                        lambda self, *args: checks.append(1) or careful(self, *args))
    arrays = {k: convert(v) for k, v in data.items()}
    for _ in range(3):
        fn(**arrays)
    assert len(checks) == 1
    fewer = {k: convert(v[:5]) if k in ("X", "Y") else convert(v) for k, v in data.items()}
    fn(**fewer)                  # another N: checked once more
    fn(**fewer)
    assert len(checks) == 2
    with pytest.raises(ArgumentError, match=r"argument 'Y': expected \(N, K\) = \(12, 3\), got shape \(5, 3\)"):
        fn(**{**arrays, "Y": fewer["Y"]})
    with pytest.raises(ArgumentError, match=r"missing argument 'b2'"):
        fn(**{k: v for k, v in arrays.items() if k != "b2"})
    with pytest.raises(ArgumentError, match=r"unexpected argument 'Z'"):
        fn(**arrays, Z=arrays["X"])
    vector = fn(**{**arrays, "b1": convert(data["b1"].ravel())})   # a 1-D bias: reshaped, each time
    np.testing.assert_allclose(np.asarray(vector[0]), np.asarray(fn(**arrays)[0]), rtol=1e-15)


def test_torch_never_writes_an_argument_nor_records_a_graph(exprs, data):
    fn = mc.compile(exprs, backend="torch")
    assert "out=" in fn.source          # the code writes into its own temporaries …
    tensors = {k: torch.from_numpy(v.copy()) for k, v in data.items()}
    tensors["W1"].requires_grad_()
    results = fn(**tensors)
    fn(**tensors)
    for k, v in data.items():          # … and never into an argument
        np.testing.assert_array_equal(tensors[k].detach().numpy(), v)
    assert not any(r.requires_grad for r in results)


def test_torch_results_are_tensors_of_the_arguments_device_with_constants_made_tensors():
    x = mc.colvec("x", "n")
    fn = mc.compile([mc.sum(x), 2 * mc.ones("n", 1), mc.gradient(mc.sum(x), x)], backend="torch")
    total, twos, ones = fn(x=torch.arange(3.0, dtype=torch.float64))   # a 1-D vector, reshaped
    assert total.shape == () and float(total) == 3.0
    assert twos.dtype == torch.float64 and twos.tolist() == [[2.0], [2.0], [2.0]]
    assert ones.tolist() == [[1.0], [1.0], [1.0]]


def test_jax_keeps_one_minus_sigmoid_exact_where_it_flushes_subnormals(jax):
    """1 − σ(−1000) is 1 and σ(1000) is 1: JAX flushes subnormal numbers to zero, so its
    exponent is capped at 708 (1/(1 + e^708) is a normal number), not NumPy's 709."""
    z = mc.colvec("z", "n")
    one = mc.ones("n", 1)
    fn = mc.compile([one - mc.sigmoid(z), mc.sigmoid(z), mc.hadamard(mc.sigmoid(z), one - mc.sigmoid(z))],
                    backend="jax")
    complement, sigma, slope = (np.asarray(r).ravel() for r in fn(z=jax.numpy.asarray([[-1000.0], [1000.0]])))
    assert complement.tolist()[0] == 1.0 and sigma.tolist()[1] == 1.0
    assert 0 <= sigma[0] < 1e-300 and 0 <= complement[1] < 1e-300 and 0 <= slope.max() < 1e-300


def test_a_jax_function_runs_inside_jax_jit(exprs, data, expected, jax):
    fn = mc.compile(exprs, backend="jax")
    loss = jax.jit(lambda W1: fn(**{**data, "W1": W1})[0])(jax.numpy.asarray(data["W1"]))
    assert float(loss) == pytest.approx(expected[0], rel=1e-12)


def test_an_unknown_backend_is_refused():
    with pytest.raises(CompileError, match=r"backend must be one of 'numpy', 'jax', 'torch', got 'tf'"):
        mc.compile(mc.sum(mc.matrix("A", "n", "m")), backend="tf")
