"""export_numpy writes a standalone module: NumPy only, right values, a working
finite-difference check and the formulas in its docstring."""
import ast
import subprocess
import sys

import numpy as np
import pytest
import sympy

import matcalc as mc
from matcalc.errors import CompileError
from models import readme_mlp as mlp


def arrays(rng):
    return dict(X=rng.normal(size=(10, 4)), Y=np.eye(3)[rng.integers(0, 3, 10)], W1=rng.normal(size=(4, 5)),
                b1=rng.normal(size=5), W2=rng.normal(size=(5, 3)), b2=rng.normal(size=(1, 3)))


@pytest.fixture
def exported(tmp_path):
    loss, params = mlp()
    path = tmp_path / "mlp_gradients.py"
    source = mc.export_numpy(loss, params, path)
    return path, source, loss, params


def test_module_imports_only_numpy(exported):
    _, source, _, _ = exported
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported == {"numpy"}


def test_runs_without_matcalc_or_sympy_and_checks_its_gradients(exported):
    path, _, _, _ = exported
    script = (
        "import sys; sys.modules['matcalc'] = None; sys.modules['sympy'] = None\n"
        "import runpy, numpy as np\n"
        f"m = runpy.run_path({str(path)!r})\n"
        "rng = np.random.default_rng(0)\n"
        "a = dict(X=rng.normal(size=(8, 3)), Y=np.eye(2)[rng.integers(0, 2, 8)], W1=rng.normal(size=(3, 4)),\n"
        "         b1=rng.normal(size=4), W2=rng.normal(size=(4, 2)), b2=rng.normal(size=2))\n"
        "errors = m['check_gradient'](**a)\n"
        "print(max(errors.values()))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout) < 1e-6


def test_values_match_compile_and_docstring_has_formulas(exported):
    path, source, loss, params = exported
    namespace = {}
    exec(compile(source, str(path), "exec"), namespace)   # the module text, as Python would run it
    a = arrays(np.random.default_rng(3))
    value, grads = namespace["loss_and_gradients"](**a)
    expected = mc.compile([loss, *(mc.gradient(loss, p) for p in params)])(**a)
    assert value == pytest.approx(expected[0], rel=1e-13)
    for g, e in zip(grads, expected[1:]):
        np.testing.assert_allclose(g, e, rtol=1e-13)
    doc = ast.get_docstring(ast.parse(source))
    # the formulas as matcalc prints a derivation: the forward pass named, then the gradients
    lines = [line.strip() for line in doc.splitlines()]
    for line in ["Z₁ = X W₁ + 𝟏 b₁", "A₁ = σ(Z₁)", "Ŷ = softmax(Z₂)", "L = −sum(Y ⊙ log(Ŷ))/N"]:
        assert line in lines
    for name in ("W₁", "b₁", "W₂", "b₂"):
        assert any(line.startswith(f"∂L/∂{name} = ") for line in lines)
    assert "HadamardProduct" not in doc and "⊙ and ⊘ the entrywise product" in doc
    assert namespace["WRT"] == ("W1", "b1", "W2", "b2")


def test_check_gradient_catches_a_wrong_gradient(tmp_path):
    x = mc.rowvec("x", "n")
    A = mc.matrix("A", "n", "n")
    wrong = mc.export_numpy(x * A * x.T, [x], gradients=[2 * x * A])   # right only for symmetric A
    namespace = {}
    exec(compile(wrong, "<wrong>", "exec"), namespace)
    rng = np.random.default_rng(1)
    errors = namespace["check_gradient"](x=rng.normal(size=4), A=rng.normal(size=(4, 4)))
    assert errors["x"] > 1e-3


def test_bad_requests():
    loss, params = mlp()
    with pytest.raises(CompileError, match="at least one"):
        mc.export_numpy(loss, [])
    with pytest.raises(CompileError, match="2 gradients for 1"):
        mc.export_numpy(loss, [params[0]], gradients=[params[0], params[0]])
    with pytest.raises(CompileError, match="identifier"):
        mc.export_numpy(loss, params, function_name="not valid")


def test_complex_or_empty_arguments_are_refused(exported):
    path, source, _, _ = exported
    namespace = {}
    exec(compile(source, str(path), "exec"), namespace)
    a = arrays(np.random.default_rng(4))
    with pytest.raises(ValueError, match="'W1': expected real numbers"):
        namespace["loss_and_gradients"](**{**a, "W1": a["W1"] + 1j})
    with pytest.raises(ValueError, match="'X': expected a non-empty 2-D array"):
        namespace["loss_and_gradients"](**{**a, "X": np.zeros((0, 4)), "Y": np.zeros((0, 3))})
    lam, x = mc.scalar("lam"), mc.rowvec("x", "n")
    scaled = {}
    exec(compile(mc.export_numpy(lam * mc.sum(x), [x]), "<scaled>", "exec"), scaled)
    assert scaled["loss_and_gradients"](lam=2.0, x=np.ones(3))[0] == 6.0
    with pytest.raises(ValueError, match="'lam': expected a real number"):
        scaled["loss_and_gradients"](lam=np.complex128(2.0), x=np.ones(3))


def test_scalar_parameters_are_exported_too():
    # a bias b and a temperature tau as parameters next to a weight vector w
    X, w, y = mc.matrix("X", "N", "d"), mc.colvec("w", "d"), mc.colvec("y", "N")
    b, tau = mc.scalar("b"), mc.scalar("tau", positive=True)
    loss = mc.sum(mc.power(X * w / tau + b - y, 2))
    source = mc.export_numpy(loss, [w, b, tau])
    namespace = {}
    exec(compile(source, "<scalars>", "exec"), namespace)
    rng = np.random.default_rng(5)
    a = dict(X=rng.normal(size=(6, 3)), w=rng.normal(size=3), y=rng.normal(size=6), b=0.4, tau=1.7)
    value, (g_w, g_b, g_tau) = namespace["loss_and_gradients"](**a)
    assert np.shape(g_b) == () and np.shape(g_tau) == ()
    residual = a["X"] @ a["w"] / a["tau"] + a["b"] - a["y"]
    assert g_b == pytest.approx(2 * residual.sum(), rel=1e-12)
    assert max(namespace["check_gradient"](**a).values()) < 1e-6


def test_a_constant_beyond_the_float_range_is_refused_when_exporting(tmp_path):
    """sum(x) · 10⁴⁰⁰ is a CompileError when the module is written, not an OverflowError when
    it is called; in the text syntax 1e400 is a parse error, and the CLI writes nothing."""
    x = mc.rowvec("x", "n")
    for constant in (1e400, sympy.Float("1e400"), sympy.Integer(10) ** 400, -sympy.Float("2e308")):
        with pytest.raises(CompileError, match="constant"):
            mc.export_numpy(mc.sum(x) * constant, [x], tmp_path / "overflow.py")
    with pytest.raises(mc.ParseError, match="too large for floating point"):
        mc.parse("sum(x) * 1e400", {"x": (1, "n")})
    with pytest.raises(CompileError, match="beyond the floating-point range"):
        mc.export_numpy(mc.parse("sum(x) * 10.0**400", {"x": (1, "n")}), [x])
    for text in ("sum(x) * 1e400", "sum(x) * 10**400", "sum(x) * 1e200 * 1e200"):
        done = subprocess.run([sys.executable, "-m", "matcalc", "export", text, "--wrt", "x", "--shape", "x=1,n",
                               "-o", "overflow.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "too large" in done.stderr or "beyond the floating-point range" in done.stderr
    assert list(tmp_path.iterdir()) == []
