"""Symbol and dimension names are the user's choice: whatever they are, the generated
function, the compiled wrapper and the exported module keep working (a name the code
itself uses is given another spelling in the code, never the user's keyword)."""
import ast
import builtins
import itertools
import keyword
import math
import os
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import sympy
from hypothesis import HealthCheck, given, settings, strategies as st

import matcalc as mc
from matcalc.apps.parse import FUNCTIONS
from matcalc.backends import export
from models import import_file
from numeric import evaluate, infer_dims

# names the generated code, its prelude, the wrapper or the exported module rely on
NAMES = ["self", "np", "DTYPE", "EXPCAP", "WRT", "_full", "_logdet", "_exp_capped", "_array", "_core",
         "_erf", "math", "float", "tuple", "abs", "max", "min", "sum", "dict", "zip", "len", "ValueError",
         "loss_and_gradients", "check_gradient", "compiled", "eps", "seed", "arguments", "rng", "errors",
         "name", "gradient", "gradients", "point", "direction", "plus", "minus", "numeric", "analytic",
         "loss", "t1", "t2", "v_float", "v_np", "kwargs", "args", "value", "shape", "array", "__builtins__"]


SIZES = {"N": 5}


def _model(names, dims):
    """A loss that needs every helper (σ → _exp_capped and EXPCAP, logdet → _logdet, a gradient
    of ones → _full and DTYPE) over symbols called ``names``, with dimensions ``dims``.
    Returns the loss, the symbols to differentiate and random values by symbol name."""
    rng = np.random.default_rng(len("".join(names)))
    n, d = dims
    S, X, w, b = (mc.matrix(names[0], n, n, spd=True), mc.matrix(names[1], "N", d), mc.colvec(names[2], d),
                  mc.rowvec(names[3], d))
    lam = mc.scalar(names[4])
    loss = mc.logdet(S) + mc.sum(mc.sigmoid(X * w)) + lam * mc.sum(mc.ones("N", 1) * b + X)
    s = rng.normal(size=(3, 3))
    values = {S.name: s @ s.T + 3 * np.eye(3), X.name: rng.normal(size=(5, 4)), w.name: rng.normal(size=(4, 1)),
              b.name: rng.normal(size=(1, 4)), lam.name: 0.7}
    return loss, [S, w, b, X], values


def _batches(names, size):
    it = iter(names)
    while batch := list(itertools.islice(it, size)):
        yield (batch + [f"pad{i}" for i in range(size)])[:size]


@pytest.mark.parametrize("names", list(_batches(NAMES, 5)))
def test_compiled_functions_take_any_symbol_name(names):
    loss, wrt, values = _model(names, ("n", "d"))
    outputs = [loss, *(mc.gradient(loss, p) for p in wrt)]
    fn = mc.compile(outputs)
    got = fn(**values)
    dims = infer_dims(loss, values)
    for value, expr in zip(got, outputs):
        np.testing.assert_allclose(value, np.reshape(evaluate(expr, values, dims), np.shape(value)), rtol=1e-10)


@pytest.mark.parametrize("dims", [("np", "DTYPE"), ("self", "float"), ("_full", "sum"), ("t1", "max")])
def test_dimension_names_are_free_too(dims):
    loss, wrt, values = _model(["S", "X", "w", "b", "lam"], dims)
    fn = mc.compile([loss, mc.gradient(loss, wrt[2])])
    value, gradient = fn(**values)
    assert value == pytest.approx(evaluate(loss, values), rel=1e-12)
    assert gradient.shape == values["b"].shape
    lone = mc.compile(mc.ones(dims[0], 1) * mc.rowvec("b", dims[1]))   # a dimension passed as an int
    assert lone(**{dims[0]: 2, "b": np.arange(3.0)}).shape == (2, 3)


@pytest.mark.parametrize("names", list(_batches(NAMES, 5)))
def test_exported_modules_take_any_symbol_name(names):
    loss, wrt, values = _model(names, ("n", "d"))
    source = mc.export_numpy(loss, wrt)
    namespace = {}
    exec(compile(source, "<exported>", "exec"), namespace)   # the module text, as Python would run it
    fn = mc.compile([loss, *(mc.gradient(loss, p) for p in wrt)])
    expected = fn(**values)
    arguments = _parameter_order(fn, wrt, values)            # positional: the parameters may be renamed
    value, gradients = namespace["loss_and_gradients"](*arguments)
    assert value == pytest.approx(expected[0], rel=1e-12)
    for g, e in zip(gradients, expected[1:]):
        np.testing.assert_allclose(g, e, rtol=1e-10)
    errors = namespace["check_gradient"](*arguments)
    assert max(errors.values()) < 1e-5


def test_export_reserves_its_function_name():
    x = mc.rowvec("grads", "n")
    source = mc.export_numpy(mc.sum(mc.hadamard(x, x)), [x], function_name="grads")
    namespace = {}
    exec(compile(source, "<exported>", "exec"), namespace)
    params = [a.arg for a in _function(source, "grads").args.args]
    assert params != ["grads"]
    value, (g,) = namespace["grads"](**{params[0]: np.arange(3.0)})
    assert value == 5.0 and g.tolist() == [[0.0, 2.0, 4.0]]
    assert max(namespace["check_gradient"](**{params[0]: np.arange(3.0)}).values()) < 1e-6


def test_no_user_name_shadows_a_builtin_the_code_might_use():
    names = [n for n in dir(builtins) if n.isidentifier() and not n.startswith("__")][:40]
    x = [mc.rowvec(name, "n") for name in names]
    fn = mc.compile([mc.sum(mc.hadamard(v, v)) for v in x])
    for node in ast.walk(ast.parse(fn.source)):
        if isinstance(node, ast.arg):
            assert node.arg not in dir(builtins)
    got = fn(**{name: np.full(2, i + 1.0) for i, name in enumerate(names)})
    assert list(got) == [2.0 * (i + 1) ** 2 for i in range(len(names))]


def _function(source, name):
    return next(node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.FunctionDef) and node.name == name)


def _parameter_order(fn, wrt, values):
    """The exported function's parameters: data first, then the symbols of ``wrt``."""
    wrt_names = [s.name for s in wrt]
    data = [name for name in fn.inputs if name not in wrt_names]
    return [values[name] for name in data + wrt_names]


def test_names_python_reads_alike_stay_apart():
    """Python reads identifiers in NFKC form: ｎｐ is np and ﬁ is fi.  matcalc's door refuses
    the spellings that are not normal; SymPy's own symbols skip the door, so the code spells
    them in a form that means no other name."""
    for name in ("ｎｐ", "ﬁ", "x²"):
        with pytest.raises(mc.InvalidNameError, match="normal form"):
            mc.rowvec(name, "n")
    names = ["np", "fi", "x2", "λ", "1x", "a-b", "a b", "DTYPE"]
    symbols = [mc.rowvec(name, "n") for name in names] + [sympy.MatrixSymbol("ｎｐ２", 1, mc.dim("n"))]
    names.append("ｎｐ２")
    fn = mc.compile([mc.sum(mc.sigmoid(v)) for v in symbols])
    arrays = {name: np.full((1, 2), float(i)) for i, name in enumerate(names)}
    got = fn(**arrays)
    assert got == pytest.approx([2 / (1 + np.exp(-i)) for i in range(len(names))], rel=1e-14)
    assert "λ" in fn.source                 # a name Python reads as written keeps its spelling
    params = [a.arg for a in _function(fn.source, "compiled").args.args]
    assert len({unicodedata.normalize("NFKC", p) for p in params}) == len(params) == len(names)


def test_a_module_that_needs_erf_imports_math_whatever_the_symbols_are_called():
    x, scale = mc.rowvec("math", "n"), mc.scalar("_erf")
    loss = sympy.erf(scale) * mc.sum(mc.hadamard(x, x))
    source = mc.export_numpy(loss, [x])
    imported = {a.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Import) for a in node.names}
    assert imported == {"numpy", "math"}
    namespace = {}
    exec(compile(source, "<exported>", "exec"), namespace)
    value, (gradient,) = namespace["loss_and_gradients"](0.3, np.arange(3.0))   # data first, then x
    assert value == pytest.approx(math.erf(0.3) * 5.0, rel=1e-14)
    np.testing.assert_allclose(gradient, 2 * math.erf(0.3) * np.arange(3.0)[None, :], rtol=1e-14)
    fn = mc.compile(loss)
    assert fn(math=np.arange(3.0), _erf=0.3) == pytest.approx(math.erf(0.3) * 5.0, rel=1e-14)


# ---------------------------------------------------------------- names at the door, through every path

LOOKALIKES = ["ｎ", "ｘ", "ﬁ", "ｎｐ", "µ", "ℓ", "Ｘ１", "ｓｅｌｆ", "ｆｌｏａｔ", "ｔｕｐｌｅ", "ＷＲＴ"]
USED_BY_GENERATED_CODE = ["tuple", "dict", "zip", "abs", "max", "min", "len", "range", "float", "int", "np",
                          "DTYPE", "EXPCAP", "loss_and_gradients", "check_gradient", "WRT", "self", "math",
                          "_core", "_array", "_number", "_exp_capped", "t1", "ValueError", "eps", "seed", "name"]
SPECIAL_NAMES = sorted(set(keyword.kwlist) | set(USED_BY_GENERATED_CODE) | set(LOOKALIKES) | {"fi", "n", "x", "λ"})
identifiers = st.text(st.characters(categories=["Lu", "Ll", "Lt", "Lm", "Lo", "Nl", "Nd", "Mn", "Pc"]),
                      min_size=1, max_size=4).filter(str.isidentifier)
any_names = st.one_of(st.sampled_from(SPECIAL_NAMES), identifiers)
three_names = st.lists(any_names, min_size=3, max_size=3, unique_by=lambda n: unicodedata.normalize("NFKC", n))
_MODULES = itertools.count()


def _normal(name):
    return unicodedata.normalize("NFKC", name) == name


def _import(path):
    """Import the module at ``path`` as Python would (under a fresh module name)."""
    return import_file(path, f"exported_{next(_MODULES)}")


def _quadratic_sigmoid(matrix_name, scalar_name, dimension_name):
    """L = λ sum(A ⊙ A) / d + sum(σ(A)) with A a d×2 matrix, and its gradient, in NumPy."""
    A, lam, d = mc.matrix(matrix_name, dimension_name, 2), mc.scalar(scalar_name), mc.dim(dimension_name)
    loss = lam * mc.sum(mc.hadamard(A, A)) / d + mc.sum(mc.sigmoid(A))
    a, lam_value = np.arange(-3.0, 3.0).reshape(3, 2) / 2, 0.7
    sigma = 1 / (1 + np.exp(-a))
    return loss, A, {matrix_name: a, scalar_name: lam_value}, \
        (lam_value * np.sum(a * a) / 3 + np.sum(sigma), 2 * lam_value * a / 3 + sigma * (1 - sigma))


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(three_names)
def test_any_names_through_compile_and_an_imported_export(tmp_path, names):
    """Symbol, scalar and dimension names drawn from unicode identifiers, keywords, builtins
    and the names generated code uses: a name not in NFKC form is refused at the door, any
    other gives a compiled function and an exported module that compute the right values."""
    if not all(map(_normal, names)):
        with pytest.raises(mc.InvalidNameError, match="normal form"):
            _quadratic_sigmoid(*names)
        return
    loss, A, values, (value, gradient) = _quadratic_sigmoid(*names)
    got_value, got_gradient = mc.compile([loss, mc.gradient(loss, A)])(**values)
    assert got_value == pytest.approx(value, rel=1e-13)
    np.testing.assert_allclose(got_gradient, gradient, rtol=1e-13)
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "exported.py"
    mc.export_numpy(loss, [A], path)
    module = _import(path)
    got_value, (got_gradient,) = module.loss_and_gradients(values[names[1]], values[names[0]])   # data, then A
    assert got_value == pytest.approx(value, rel=1e-13)
    np.testing.assert_allclose(got_gradient, gradient, rtol=1e-13)
    assert max(module.check_gradient(values[names[1]], values[names[0]]).values()) < 1e-6


@pytest.mark.parametrize("lookalike", LOOKALIKES)
def test_sympy_symbols_python_reads_as_one_are_refused_together_and_work_alone(lookalike):
    """SymPy's own symbols skip matcalc's door: two of them that Python reads as one name
    are one input too many; one alone is spelt in its normal form and computes."""
    normal = unicodedata.normalize("NFKC", lookalike)
    odd = sympy.MatrixSymbol(lookalike, 1, mc.dim("size"))
    with pytest.raises(mc.CompileError, match="Python reads as one"):
        mc.compile(mc.sum(mc.rowvec(normal, "size")) + 2 * mc.sum(odd))
    with pytest.raises(mc.CompileError, match="Python reads as one"):
        mc.compile(sympy.Symbol(normal, real=True) * mc.sum(odd))
    with pytest.raises(mc.CompileError, match="Python reads as one"):
        mc.compile(mc.sum(sympy.MatrixSymbol("A", sympy.Symbol(lookalike, integer=True, positive=True), 1))
                   * mc.sum(mc.matrix("B", normal, 1)))
    assert mc.compile(2 * mc.sum(odd))(**{lookalike: np.arange(3.0)}) == 6.0


def test_two_inputs_of_one_name_are_refused_whatever_they_are():
    x = mc.rowvec("x", "n")
    with pytest.raises(mc.CompileError, match=r"'x' \(a 1×n matrix\) and 'x' \(a scalar\)"):
        mc.compile(sympy.Symbol("x", real=True) * mc.sum(x))
    with pytest.raises(mc.CompileError, match=r"'n' \(a scalar\) and 'n' \(a dimension\)"):
        mc.compile(sympy.Symbol("n", real=True) * mc.sum(x))
    with pytest.raises(mc.CompileError, match=r"'n' \(a dimension\) and 'n' \(a dimension\)"):
        mc.compile(mc.sum(mc.ones(sympy.Symbol("n"), 1)) * mc.sum(x))   # SymPy's n, without matcalc's assumptions


# ---------------------------------------------------------------- no name becomes code

INJECTIONS = ['n"""\nimport os; open("PWNED", "w")\n"""', 'n\nopen("PWNED", "w")', "n\\", 'n"""\\',
              "n\x00", "n\u2028open('PWNED', 'w')", "n\u0085open('PWNED', 'w')", 'n\r\nopen("PWNED", "w")  #',
              "n'''\nopen('PWNED', 'w')\n'''", 'n" + open("PWNED", "w") + "', "n\\N{BULLET}\\x00\\"]


@pytest.mark.parametrize("evil", INJECTIONS)
def test_no_name_can_inject_code_into_a_compiled_function_or_an_exported_module(evil, tmp_path, monkeypatch):
    """``mc.dim`` refuses these names (see tests/core/test_symbols.py); SymPy's own symbols
    skip that door, so the code generator mangles them and escapes its comments and docstrings."""
    monkeypatch.chdir(tmp_path)
    n = sympy.Symbol(evil, integer=True, positive=True)       # SymPy's own symbols skip the door:
    A = sympy.MatrixSymbol("A", n, 1)                          # the dimension of a matrix,
    B = sympy.MatrixSymbol(evil + "B", 1, 1)                   # the name of another,
    lam = sympy.Symbol(evil + "λ", real=True)                  # a scalar's and a function's name
    function = sympy.Function(evil.replace("\x00", "") + "f")   # (a class name cannot hold a NUL)
    loss = lam * mc.sum(mc.hadamard(A, A)) / n + mc.sum(B) + mc.sum(A.applyfunc(function))
    with pytest.raises(mc.CompileError, match="no NumPy translation") as refused:
        mc.compile(loss)
    assert "\n" not in str(refused.value)
    loss = lam * mc.sum(mc.hadamard(A, A)) / n + mc.sum(B)
    values = {A.name: np.arange(3.0).reshape(3, 1), B.name: np.array([[2.0]]), lam.name: 0.5}
    fn = mc.compile([loss, mc.gradient(loss, A)])
    value, gradient = fn(**values)
    assert value == pytest.approx(0.5 * 5 / 3 + 2)
    np.testing.assert_allclose(gradient, values[A.name] / 3)
    path = tmp_path / "exported.py"
    source = mc.export_numpy(loss, [A], path, title=evil)
    for text in (source, fn.source):
        tree = ast.parse(text)
        assert not [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                    and any(alias.name == "os" for alias in node.names)]
        assert "open" not in _calls(text)
    module = _import(path)
    arguments = _parameter_order(fn, [A], values)
    got_value, (got_gradient,) = module.loss_and_gradients(*arguments)
    assert got_value == pytest.approx(value, rel=1e-14)
    np.testing.assert_allclose(got_gradient, gradient, rtol=1e-14)
    assert list(tmp_path.iterdir()) == [path]                  # no PWNED, nothing else written


def _calls(source):
    return {node.func.id for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}


# ---------------------------------------------------------------- the exported function's own name

@pytest.mark.parametrize("function_name", ["np", "float", "tuple", "check_gradient", "DTYPE", "WRT", "EXPCAP",
                                           "math", "dict", "zip", "min", "gradients", "arguments", "ｎｐ",
                                           "_core", "lambda", "not valid", ""])
def test_a_function_name_the_module_needs_is_refused(function_name):
    x = mc.rowvec("x", "n")
    with pytest.raises(mc.CompileError, match="function_name"):
        mc.export_numpy(mc.sum(mc.hadamard(x, x)), [x], function_name=function_name)


@pytest.mark.parametrize("function_name", ["loss", "x", "grads", "self", "λ", "gradient_of_x"])
def test_any_other_function_name_gives_a_working_module(function_name, tmp_path):
    x = mc.rowvec("x", "n")
    path = tmp_path / "exported.py"
    mc.export_numpy(mc.sum(mc.sigmoid(x)) + mc.sum(mc.hadamard(x, x)), [x], path, function_name=function_name)
    module = _import(path)
    value, (gradient,) = getattr(module, function_name)(np.zeros(3))
    assert value == 1.5 and gradient.tolist() == [[0.25, 0.25, 0.25]]
    assert max(module.check_gradient(np.arange(3.0)).values()) < 1e-6


# ---------------------------------------------------------------- the same through the command line

CLI = [sys.executable, "-m", "matcalc"]


def _cli(*args, cwd):
    """Run ``matcalc`` on the same matcalc as this process; (exit code, stderr)."""
    done = subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, timeout=120,
                          env={**os.environ, "PYTHONIOENCODING": "utf-8", "PYTHONPATH": os.pathsep.join(sys.path)})
    return done.returncode, done.stderr.decode("utf-8")


@settings(max_examples=8, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(three_names, st.one_of(st.sampled_from(USED_BY_GENERATED_CODE + ["grads", "ｌｏｓｓ"]), identifiers))
def test_any_names_through_the_command_line(tmp_path, names, function_name):
    """``matcalc export`` with names drawn as above (and a drawn --function-name): exit 0 and
    a module that imports and computes the right values, or exit 2 with one line."""
    matrix_name, scalar_name, dimension_name = names
    directory = Path(tempfile.mkdtemp(dir=tmp_path))
    text = f"{scalar_name} * sum({matrix_name} * {matrix_name}) / {dimension_name} + sum(sigmoid({matrix_name}))"
    code, err = _cli("export", text, "--wrt", matrix_name, "--shape", f"{matrix_name}={dimension_name},2",
                     "--scalar", scalar_name, "--function-name", function_name, "-o", "out.py", cwd=directory)
    misnamed = [n for n in [*names, function_name] if not _normal(n)]
    hidden = export._HIDDEN_BY_FUNCTION_NAME
    taken = [n for n in names if n in FUNCTIONS] + [function_name] * (
        function_name in hidden or function_name.startswith("_") or keyword.iskeyword(function_name))
    if misnamed or taken:
        assert code == 2, err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and "internal error" not in err, err
        assert "normal form" in err or taken, err
        assert list(directory.iterdir()) == []
        return
    assert code == 0, err
    _, _, values, (value, gradient) = _quadratic_sigmoid(*names)
    module = _import(directory / "out.py")
    got_value, (got_gradient,) = getattr(module, function_name)(values[scalar_name], values[matrix_name])
    assert got_value == pytest.approx(value, rel=1e-13)
    np.testing.assert_allclose(got_gradient, gradient, rtol=1e-13)


def test_the_command_line_refuses_lookalike_dimensions_and_reserved_function_names(tmp_path):
    for args, fragment in (
            (["sum(A @ w) / n", "--wrt", "w", "--shape", "A=n,ｎ", "--shape", "w=ｎ,1"], "write 'n'"),
            (["sum(x * x)", "--wrt", "x", "--shape", "x=1,n", "--function-name", "np"], "function_name 'np'"),
            (["sum(x * x)", "--wrt", "x", "--shape", "x=1,n", "--function-name", "ｆｌｏａｔ"], "write 'float'")):
        code, err = _cli("export", *args, "-o", "out.py", cwd=tmp_path)
        assert code == 2 and len(err.strip().splitlines()) == 1 and fragment in err, err
        assert list(tmp_path.iterdir()) == []
