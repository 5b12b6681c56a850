"""Compiled code is numerically stable by construction: softmax, log-softmax, log-sum-exp,
σ, log σ, log(1 − σ) and the cross-entropies give finite, accurate values *and gradients*
(derived by matcalc) for logits of ±1000.  References are computed with mpmath at 60 digits."""
import mpmath
import numpy as np
import pytest

import matcalc as mc

mpmath.mp.dps = 60

LOGITS = np.array([[1000.0, -1000.0, 0.0, 3.0],
                   [-1000.0, -999.0, -1000.0, -1000.0],
                   [1000.0, 1000.0, 999.5, -30.0]])
Z = mc.matrix("Z", "N", "K")
z = mc.colvec("z", "n")
SCALARS = np.array([[1000.0], [-1000.0], [30.0], [-30.0], [0.0], [745.5], [-745.5]])


def ref(f, values):
    return np.array([[float(f(mpmath.mpf(v))) for v in row] for row in values])


def ref_rows(f, values):
    """f applied to each row as a list of mpf, returning a list (or a number)."""
    out = []
    for row in values:
        r = f([mpmath.mpf(v) for v in row])
        out.append([float(x) for x in r] if isinstance(r, list) else [float(r)])
    return np.array(out)


def softmax_row(row):
    total = mpmath.fsum(mpmath.exp(v) for v in row)
    return [mpmath.exp(v) / total for v in row]


def lse_row(row):
    return mpmath.log(mpmath.fsum(mpmath.exp(v) for v in row))


def close(actual, expected):
    actual = np.asarray(actual, dtype=float)
    assert np.all(np.isfinite(actual)), actual
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-300)


def test_softmax():
    close(mc.compile(mc.softmax(Z))(Z=LOGITS), ref_rows(softmax_row, LOGITS))


def test_log_softmax():
    close(mc.compile(mc.log(mc.softmax(Z)))(Z=LOGITS),
          ref_rows(lambda r: [mpmath.log(p) for p in softmax_row(r)], LOGITS))


def test_logsumexp_and_its_gradient():
    loss = mc.sum(mc.logsumexp(Z))
    value, grad = mc.compile([loss, mc.gradient(loss, Z)])(Z=LOGITS)
    close(value, float(sum(lse_row([mpmath.mpf(v) for v in row]) for row in LOGITS)))
    close(grad, ref_rows(softmax_row, LOGITS))


def test_sigmoid_and_its_derivative():
    s = mc.sigmoid(z)
    value, slope = mc.compile([s, mc.hadamard(s, mc.ones("n", 1) - s)])(z=SCALARS)
    sig = lambda v: 1 / (1 + mpmath.exp(-v))   # noqa: E731
    close(value, ref(sig, SCALARS))
    close(slope, ref(lambda v: sig(v) * sig(-v), SCALARS))   # 1 − σ(v) = σ(−v), exactly


def test_log_sigmoid_and_its_gradient():
    loss = mc.sum(mc.log(mc.sigmoid(z)))
    f = mc.compile([mc.log(mc.sigmoid(z)), loss, mc.gradient(loss, z)])
    values, total, grad = f(z=SCALARS)
    logsig = lambda v: -mpmath.log(1 + mpmath.exp(-v))   # noqa: E731
    close(values, ref(logsig, SCALARS))
    close(total, float(sum(logsig(mpmath.mpf(v)) for v in SCALARS.ravel())))
    close(grad, ref(lambda v: 1 / (1 + mpmath.exp(v)), SCALARS))   # 1 − σ(v)


def test_log_one_minus_sigmoid_and_its_gradient():
    expr = mc.log(mc.ones("n", 1) - mc.sigmoid(z))
    loss = mc.sum(expr)
    values, grad = mc.compile([expr, mc.gradient(loss, z)])(z=SCALARS)
    close(values, ref(lambda v: -mpmath.log(1 + mpmath.exp(v)), SCALARS))
    close(grad, ref(lambda v: -1 / (1 + mpmath.exp(-v)), SCALARS))


def test_softmax_cross_entropy_and_its_gradient():
    Y = mc.matrix("Y", "N", "K", onehot=True)
    n = mc.dim("N")
    loss = -mc.sum(mc.hadamard(Y, mc.log(mc.softmax(Z)))) / n
    y = np.eye(4)[[1, 0, 3]]     # the worst classes on purpose: log-probabilities near −2000
    value, grad = mc.compile([loss, mc.gradient(loss, Z)])(Z=LOGITS, Y=y)
    probs = [softmax_row([mpmath.mpf(v) for v in row]) for row in LOGITS]
    expected = -sum(mpmath.log(p[k]) for p, k in zip(probs, [1, 0, 3])) / 3
    close(value, float(expected))
    close(grad, (np.array([[float(p) for p in row] for row in probs]) - y) / 3)


def test_binary_cross_entropy_and_its_gradient():
    y = mc.colvec("y", "n")
    one = mc.ones("n", 1)
    p = mc.sigmoid(z)
    loss = -mc.sum(mc.hadamard(y, mc.log(p)) + mc.hadamard(one - y, mc.log(one - p)))
    labels = np.array([[0.0], [1.0], [0.0], [1.0], [1.0], [0.0], [1.0]])
    value, grad = mc.compile([loss, mc.gradient(loss, z)])(z=SCALARS, y=labels)
    sig = lambda v: 1 / (1 + mpmath.exp(-v))   # noqa: E731
    expected = -sum(t * mpmath.log(sig(v)) + (1 - t) * mpmath.log(sig(-v))   # 1 − σ(v) = σ(−v)
                    for v, t in zip(map(mpmath.mpf, SCALARS.ravel()), labels.ravel()))
    close(value, float(expected))
    close(grad, ref(sig, SCALARS) - labels)


@pytest.mark.parametrize("dtype", ["float32"])
def test_float32_stays_finite(dtype):
    Y = mc.matrix("Y", "N", "K", onehot=True)
    loss = -mc.sum(mc.hadamard(Y, mc.log(mc.softmax(Z)))) / mc.dim("N")
    value, grad = mc.compile([loss, mc.gradient(loss, Z)], dtype=dtype)(Z=LOGITS, Y=np.eye(4)[[1, 0, 3]])
    assert np.isfinite(value) and np.all(np.isfinite(grad)) and grad.dtype == np.float32


@pytest.mark.parametrize("dtype, big", [("float32", 1e38), ("float32", 2e38), ("float32", 3e38),
                                        ("float64", 1e308)])
def test_cross_entropy_at_the_edge_of_the_float_range(dtype, big):
    """Z − logsumexp(Z) overflows to −∞ where a logit is −big and another +big; a zero
    weight there must give 0 (0·log 0 = 0), not 0·(−∞) = NaN."""
    Y = mc.matrix("Y", "N", "K", onehot=True)
    loss = -mc.sum(mc.hadamard(Y, mc.log(mc.softmax(Z)))) / mc.dim("N")
    logits = np.array([[big, -big, 0.0], [-big, big, 0.0]])
    targets = np.eye(3)[[0, 2]]   # row 0 predicted right; row 1 loses big to its class 0 logit
    with np.errstate(over="ignore"):   # Z − logsumexp(Z) does overflow
        value, grad = mc.compile([loss, mc.gradient(loss, Z)], dtype=dtype)(Z=logits, Y=targets)
    assert value == pytest.approx(big / 2, rel=1e-6)          # (0 + big) / N
    np.testing.assert_allclose(grad, [[0, 0, 0], [0, 0.5, -0.5]], atol=1e-7)


def test_log_sum_exp_written_by_hand_is_the_stable_logsumexp():
    """log(sum(exp(z))) is read as logsumexp: finite at z = 1000, and its gradient is the
    softmax (not exp(z)/sum(exp(z)) = inf/inf)."""
    shapes = {"z": ("n", 1), "Z": ("n", "k")}
    for text, values in [("log(sum(exp(z)))", np.array([[1000.0], [999.0], [-1000.0]])),
                         ("log(sum(exp(Z)))", LOGITS)]:
        expr = mc.parse(text, shapes)
        variable = mc.parse(text[-4], shapes)
        assert "logsumexp" in mc.to_text(expr)
        value, grad = mc.compile([expr, mc.gradient(expr, variable)])(**{variable.name: values})
        flat = [mpmath.mpf(v) for v in values.ravel()]
        close(value, float(lse_row(flat)))
        close(grad, np.array([float(p) for p in softmax_row(flat)]).reshape(values.shape))


def test_log_sum_exp_built_in_sympy_compiles_stably():
    """The same formula built without matcalc's log (SymPy's scalar log) compiles to the
    max-shifted form too."""
    import sympy
    from matcalc.core.functions import Exp, SumAll
    expr = sympy.log(SumAll(Exp(z)))
    close(mc.compile(expr)(z=np.array([[1000.0], [999.0]])), float(lse_row([mpmath.mpf(1000), mpmath.mpf(999)])))


def test_the_gradient_of_a_norm_at_zero_says_why_it_is_nan(tmp_path):
    """‖x‖ has no gradient at 0: x/‖x‖ is NaN there, and the compiled code warns in words
    (an exported module too), instead of only NumPy's "divide by zero"."""
    A, b = mc.matrix("A", "m", "n"), mc.colvec("b", "m")
    x = mc.colvec("x", "n")
    for loss in (mc.norm(x), 3 * mc.norm(A * x - b)):
        f = mc.compile([loss, mc.gradient(loss, x)])
        arguments = {"x": np.zeros((3, 1)), "A": np.eye(3), "b": np.zeros((3, 1))}
        arguments = {k: v for k, v in arguments.items() if k in f.inputs}
        with np.errstate(all="ignore"), pytest.warns(RuntimeWarning, match="norm that the formula divides by is 0"):
            value, grad = f(**arguments)
        assert value == 0 and np.all(np.isnan(grad))
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning, match="undefined at x = 0"):
        mc.compile(mc.gradient(mc.norm(x), x))(x=np.zeros(3))
    source = mc.export_numpy(mc.norm(x), x, tmp_path / "norm_module.py")
    assert "def _divisor_norm" in source and "import warnings" in source
    import importlib.util
    spec = importlib.util.spec_from_file_location("norm_module", tmp_path / "norm_module.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning, match="norm that the formula divides by"):
        module.loss_and_gradients(x=np.zeros(3))
    assert module.loss_and_gradients(x=np.array([3.0, 4.0]))[1][0].ravel() == pytest.approx([0.6, 0.8])
