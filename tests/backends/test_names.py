"""Symbol and dimension names are the user's choice: whatever they are, the generated
function, the compiled wrapper and the exported module keep working (a name the code
itself uses is given another spelling in the code, never the user's keyword)."""
import ast
import builtins
import itertools
import math

import numpy as np
import pytest
import sympy

import matcalc as mc
from numeric import evaluate, infer_dims

# names the generated code, its prelude, the wrapper or the exported module rely on
NAMES = ["self", "np", "DTYPE", "EXPCAP", "WRT", "_full", "_logdet", "_exp_neg", "_array", "_core",
         "_erf", "math", "float", "tuple", "abs", "max", "min", "sum", "dict", "zip", "len", "ValueError",
         "loss_and_gradients", "check_gradient", "compiled", "eps", "seed", "arguments", "rng", "errors",
         "name", "gradient", "gradients", "point", "direction", "plus", "minus", "numeric", "analytic",
         "loss", "t1", "t2", "v_float", "v_np", "kwargs", "args", "value", "shape", "array", "__builtins__"]


SIZES = {"N": 5}


def _model(names, dims):
    """A loss that needs every helper (σ → _exp_neg and EXPCAP, logdet → _logdet, a gradient
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
    """Python reads identifiers in NFKC form: ｎｐ is np and ﬁ is fi, so the code must not
    spell a user name in a form that means another name."""
    names = ["ｎｐ", "ﬁ", "fi", "x²", "x2", "λ", "1x", "a-b", "a b", "DTYPE"]
    symbols = [mc.rowvec(name, "n") for name in names]
    fn = mc.compile([mc.sum(mc.sigmoid(v)) for v in symbols])
    arrays = {name: np.full((1, 2), float(i)) for i, name in enumerate(names)}
    got = fn(**arrays)
    assert got == pytest.approx([2 / (1 + np.exp(-i)) for i in range(len(names))], rel=1e-14)
    assert "λ" in fn.source                 # a name Python reads as written keeps its spelling


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
