"""Buffer reuse (matcalc/backends/buffers.py): entrywise results written into the memory of
temporaries that are not read again.  The rules on hand-made lines, then the compiled code:
the same numbers bit for bit as the code without reuse, inputs never written, no result
sharing memory with another, and the MLP's elementwise work done in place."""
import ast

import numpy as np
import pytest
import sympy

import matcalc as mc
from matcalc.backends.buffers import NOTE, reuse_buffers
from matcalc.backends.prelude import numpy_namespace, run_generated
from matcalc.backends.spelling import ARRAY_API, NUMPY
from models import readme_mlp

n, k = sympy.Symbol("n"), sympy.Symbol("k")


@pytest.fixture
def rng():
    return np.random.default_rng(14)


def rewrite(lines, arrays, spelling=NUMPY):
    out = reuse_buffers(lines, arrays, spelling)
    return [line for line in out if line != NOTE]


# ---------------------------------------------------------------- the rules

def test_a_temporary_lends_its_buffer_on_its_last_read_only():
    lines = ["t1 = X @ W", "t2 = t1 + b", "t3 = t1 * 2.0", "return (t2, t3)"]
    arrays = {"t1": (n, k), "t2": (n, k), "t3": (n, k)}
    # t1 is read again after t2: only t3, its last reader, may write into it
    assert rewrite(lines, arrays) == ["t1 = X @ W", "t2 = t1 + b", "t3 = np.multiply(t1, 2.0, out=t1)",
                                      "return (t2, t3)"]


def test_inputs_returned_values_and_views_never_lend():
    lines = ["t1 = X * 2.0", "t2 = t1.T", "t3 = t1 + 1.0", "t4 = X + 1.0", "t5 = t4 * 3.0", "return (t2, t3, t4, t5)"]
    arrays = {"t1": (n, k), "t3": (n, k), "t4": (n, k), "t5": (n, k)}
    # t1 has a view (t2) that outlives it; X is an input; t4 is returned
    assert rewrite(lines, arrays) == lines


def test_a_smaller_operand_never_takes_a_broadcast_result():
    lines = ["t1 = X.sum(axis=1, keepdims=True)", "t2 = t1 * Y", "return (t2,)"]
    assert rewrite(lines, {"t1": (n, 1), "t2": (n, k)}) == lines
    # of the result's own shape it does, a reduction being an array of its own
    assert rewrite(lines, {"t1": (n, k), "t2": (n, k)})[1] == "t2 = np.multiply(t1, Y, out=t1)"


def test_an_unknown_shape_lends_nothing():
    lines = ["t1 = X * 2.0", "t2 = t1 + 1.0", "return (t2,)"]
    assert rewrite(lines, {"t1": None, "t2": (n, k)}) == lines
    assert rewrite(lines, {"t1": (n, k)}) == lines          # the result's shape is not known


def test_a_chain_of_operations_runs_in_one_buffer():
    lines = ["t1 = X @ W", "t2 = c - t1 * s / 2.0", "return (t2,)"]
    # the innermost product writes into t1, each operation above updates it in place;
    # c − … has the buffer on its right: the function form, not an augmented assignment
    assert rewrite(lines, {"t1": (n, k), "t2": (n, k)}) == [
        "t1 = X @ W", "t2 = np.multiply(t1, s, out=t1)", "t2 /= 2.0", "t2 = np.subtract(c, t2, out=t2)",
        "return (t2,)"]


def test_without_a_dead_temporary_the_innermost_new_array_holds_the_rest():
    lines = ["t1 = X @ W", "t2 = 1.0 / (1.0 + np.exp(t1))", "t3 = t1 + t2", "return (t2, t3)"]
    assert rewrite(lines, {"t1": (n, k), "t2": (n, k), "t3": (n, k)}) == [
        "t1 = X @ W", "t2 = np.exp(t1)", "t2 += 1.0", "t2 = np.divide(1.0, t2, out=t2)",
        "t3 = np.add(t1, t2, out=t1)", "return (t2, t3)"]


def test_a_variable_read_twice_in_the_line_does_not_lend():
    lines = ["t1 = X @ W", "t2 = t1 / (1.0 + t1)", "return (t2,)"]
    # writing t1 / … into t1 would change the t1 that 1.0 + t1 still reads
    assert rewrite(lines, {"t1": (n, k), "t2": (n, k)}) == ["t1 = X @ W", "t2 = 1.0 + t1",
                                                             "t2 = np.divide(t1, t2, out=t2)", "return (t2,)"]


def test_the_array_api_spelling_for_pytorch():
    lines = ["t1 = X @ W", "t2 = xp.exp(t1 - 1.0)", "return (t2,)"]
    assert rewrite(lines, {"t1": (n, k), "t2": (n, k)}, ARRAY_API) == [
        "t1 = X @ W", "t2 = xp.subtract(t1, 1.0, out=t1)", "t2 = xp.exp(t2, out=t2)", "return (t2,)"]


def test_the_note_comes_after_the_dimensions_once():
    out = reuse_buffers(["n = X.shape[0]", "t1 = X * 2.0", "t2 = t1 + n", "return (t2,)"],
                        {"t1": (n, k), "t2": (n, k)}, NUMPY)
    assert out == ["n = X.shape[0]", NOTE, "t1 = X * 2.0", "t2 = np.add(t1, n, out=t1)", "return (t2,)"]


# ---------------------------------------------------------------- the compiled code

def _plain(fn):
    """The same function without buffer reuse (the code JAX runs), on NumPy."""
    body, _, _ = fn._generate(NUMPY)
    namespace = numpy_namespace(fn.dtype)
    return run_generated(fn._module_source(body), fn.function_name, namespace)[fn.function_name]


def _mlp_and_data(rng):
    loss, params = readme_mlp()
    exprs = [loss, *mc.derive(loss, params).result]
    N, d, h, K = 7, 4, 5, 3
    data = dict(X=rng.normal(size=(N, d)), Y=np.eye(K)[rng.integers(0, K, N)], W1=rng.normal(size=(d, h)),
                b1=rng.normal(size=(1, h)), W2=rng.normal(size=(h, K)), b2=rng.normal(size=(1, K)))
    return exprs, data


def _cases(rng):
    """Expressions whose code reuses buffers, and values for them."""
    exprs, data = _mlp_and_data(rng)
    yield exprs, data
    X, y, w = mc.matrix("X", "n", "d"), mc.rowvec("y", "n"), mc.rowvec("w", "d")
    r = y - w * X.T
    loss = r * r.T / (2 * mc.dim("n"))
    yield [loss, mc.gradient(loss, w)], dict(X=rng.normal(size=(9, 3)), y=rng.normal(size=(1, 9)),
                                             w=rng.normal(size=(1, 3)))
    z, t = mc.colvec("z", "m"), mc.colvec("t", "m")
    p = mc.sigmoid(z)
    one = mc.ones("m", 1)
    bce = -mc.sum(mc.hadamard(t, mc.log(p)) + mc.hadamard(one - t, mc.log(one - p)))
    yield [bce, mc.gradient(bce, z), mc.hessian(bce, z), p, one - p, mc.exp(z) - mc.tanh(z) * 2], dict(
        z=rng.normal(size=(6, 1)) * 30, t=(rng.random((6, 1)) < 0.5).astype(float))


def test_reuse_changes_no_bit_writes_no_input_and_shares_no_result(rng):
    for exprs, data in _cases(rng):
        fn = mc.compile(exprs)
        assert "out=" in fn.source, "a case that reuses nothing tests nothing"
        plain = _plain(fn)
        before = {name: value.copy() for name, value in data.items()}
        args = [data[name] for name in fn.inputs]
        got, want = fn._fn(*args), plain(*args)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)            # the same operations in the same order
        for name, value in data.items():
            np.testing.assert_array_equal(value, before[name], err_msg=f"input {name} was written")
        arrays = [g for g in got if isinstance(g, np.ndarray)]
        for i, a in enumerate(arrays):
            assert not any(np.shares_memory(a, b) for b in arrays[i + 1:])
        again = fn._fn(*args)
        for g, a in zip(got, again):
            np.testing.assert_array_equal(g, a)            # no result is a buffer a later call overwrites


def test_the_mlp_allocates_one_new_array_for_its_hidden_layer(rng):
    """Between X W1 and the products of the backward pass, the hidden layer's elementwise
    work (bias, σ, 1 − σ, the two products of the backward pass) allocates one new N×h
    array (1 + u) where the plain code allocates one per operation."""
    exprs, _ = _mlp_and_data(rng)
    fn = mc.compile(exprs)
    body = fn.source.split('"""')[-1]
    statements = [ast.parse(line.strip()).body[0] for line in body.splitlines()
                  if line.strip() and not line.strip().startswith("#")]
    writes_in_place = sum(1 for s in statements if isinstance(s, ast.AugAssign)
                          or any(kw.arg == "out" for c in ast.walk(s) if isinstance(c, ast.Call) for kw in c.keywords))
    assert writes_in_place >= 10
    assert "t3 = _exp_capped(t2, EXPCAP, out=t2)" in body   # σ's exponent in the buffer of X W1 + b1
