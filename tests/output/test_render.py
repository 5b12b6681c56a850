"""Rendering derivations: the naming pass, the templates, their lookup and their escaping.

The naming pass must never change a value: every seed result, written with its named
intermediates and expanded back, is evaluated numerically against the engine's result
(an independent NumPy evaluator below, not matcalc's compiler).  Golden files pin the
article output of every seed case; ``MATCALC_UPDATE_GOLDEN=1 pytest tests/test_render.py``
rewrites them on purpose.
"""
import os
from pathlib import Path

import jinja2
import numpy as np
import pytest
import sympy
from sympy import Identity, MatAdd, MatMul, OneMatrix, ZeroMatrix
from sympy.matrices.expressions import Determinant, HadamardProduct, Inverse, Trace, Transpose
from sympy.matrices.expressions.diagonal import DiagMatrix
from sympy.matrices.expressions.hadamard import HadamardPower
from sympy.matrices.expressions.matexpr import MatrixSymbol

import matcalc as mc
from matcalc.core import functions as F
from matcalc.output import render
from matcalc.calculus.derivation import Derivation, Step
from matcalc.apps.seeds import cases, write_seed_derivations

GOLDEN = Path(__file__).parent / "golden"
CASES = {case.key: case for case in cases()}


def derivation_of(case):
    return mc.derive(case.function, list(case.wrt), kind=case.kind, layout=case.layout)


# ---------------------------------------------------------------- an independent evaluator

def _softmax(z, axis):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


ELEMENTWISE = {F.Exp: np.exp, F.Log: np.log, F.Tanh: np.tanh, F.Sqrt: np.sqrt,
               F.Sigmoid: lambda z: 1 / (1 + np.exp(-z)), F.Relu: lambda z: np.maximum(z, 0),
               F.Step: lambda z: (z > 0).astype(float)}


def evaluate(expr, values, dims):
    """NumPy value of a matrix or scalar expression; ``values`` maps symbol names to arrays."""
    ev = lambda e: evaluate(e, values, dims)  # noqa: E731
    size = lambda d: int(d.xreplace(dims))  # noqa: E731
    if isinstance(expr, MatrixSymbol):
        return values[str(expr.name)]
    if isinstance(expr, OneMatrix):
        return np.ones((size(expr.shape[0]), size(expr.shape[1])))
    if isinstance(expr, Identity):
        return np.eye(size(expr.shape[0]))
    if isinstance(expr, ZeroMatrix):
        return np.zeros((size(expr.shape[0]), size(expr.shape[1])))
    if isinstance(expr, MatMul):
        out = None
        for a in expr.args:
            value = ev(a)
            out = value if out is None else (out * value if np.ndim(out) == 0 or np.ndim(value) == 0
                                             else out @ value)
        return out
    if isinstance(expr, MatAdd):
        return sum(ev(a) for a in expr.args)
    if isinstance(expr, HadamardProduct):
        out = ev(expr.args[0])
        for a in expr.args[1:]:
            out = out * ev(a)
        return out
    if isinstance(expr, HadamardPower):
        return ev(expr.base) ** float(expr.exp)
    if isinstance(expr, Transpose):
        return ev(expr.arg).T
    if isinstance(expr, Inverse):
        return np.linalg.inv(ev(expr.arg))
    if isinstance(expr, DiagMatrix):
        return np.diag(ev(expr.args[0]).ravel())
    if type(expr) in ELEMENTWISE:
        return ELEMENTWISE[type(expr)](ev(expr.arg))
    if isinstance(expr, F.Softmax):
        return _softmax(ev(expr.arg), expr.axis)
    if isinstance(expr, F.LogSumExp):
        z = ev(expr.arg)
        return np.log(np.exp(z).sum(axis=expr.axis, keepdims=True))
    if isinstance(expr, F.SumAll):
        return ev(expr.arg).sum()
    if isinstance(expr, F.Norm):
        return np.sqrt((ev(expr.arg) ** 2).sum())
    if isinstance(expr, Trace):
        return np.trace(ev(expr.arg))
    if isinstance(expr, Determinant):
        return np.linalg.det(ev(expr.arg))
    if isinstance(expr, sympy.Mul):
        return np.prod([ev(a) for a in expr.args], axis=0) if expr.args else 1.0
    if isinstance(expr, sympy.Add):
        return sum(ev(a) for a in expr.args)
    if isinstance(expr, sympy.Pow):
        return ev(expr.base) ** ev(expr.exp)
    if isinstance(expr, sympy.log):
        return np.log(ev(expr.args[0]))
    if isinstance(expr, sympy.Symbol):
        return float(dims[expr]) if expr in dims else values[expr.name]
    if expr.is_Number:
        return float(expr)
    raise TypeError(f"no evaluator for {type(expr).__name__}")


def random_values(exprs, seed=0):
    symbols = {s for e in exprs for s in sympy.preorder_traversal(e) if isinstance(s, MatrixSymbol)}
    dimensions = sorted({d for s in symbols for d in s.shape if isinstance(d, sympy.Symbol)}, key=str)
    dims = {d: 2 + k % 3 for k, d in enumerate(dimensions)}
    rng = np.random.default_rng(seed)
    values = {}
    for s in sorted(symbols, key=lambda s: str(s.name)):
        shape = tuple(int(d.xreplace(dims)) for d in s.shape)
        values[str(s.name)] = rng.uniform(0.1, 0.9, size=shape)
        if "onehot" in getattr(s, "assumptions", ()):
            values[str(s.name)] = np.eye(shape[1])[rng.integers(0, shape[1], shape[0])]
    return values, dims


def expand(expr, names):
    for _ in range(len(names) + 1):
        expr = expr.xreplace({n.symbol: n.definition for n in names})
    return expr


def test_evaluator_agrees_with_sympy_on_a_small_case():
    P = mc.matrix("P", 2, 2)
    expr = F.sigmoid(P * P.T) + Inverse(P)
    values = {"P": np.array([[0.3, 0.5], [0.2, 0.7]])}
    exact = np.array(sympy.N(expr.xreplace({P: sympy.ImmutableMatrix(values["P"])}).as_explicit()),
                     dtype=float)
    assert np.allclose(evaluate(expr, values, {}), exact)


# ---------------------------------------------------------------- the naming pass

@pytest.mark.parametrize("key", sorted(CASES))
def test_naming_never_changes_a_value(key):
    case = CASES[key]
    derivation = derivation_of(case)
    results = [derivation.results[x] for x in derivation.wrt]
    steps = [(s.target, s.before, s.after) for mode, run, _ in render._sections(derivation)
             if mode == "reverse" for s in run if s.rule != "gradient"]
    names = render.name_intermediates(derivation.function, steps, results, names=case.names)
    values, dims = random_values([case.function, *results])
    for result in results:
        named = render.substitute(result, names)
        assert np.allclose(evaluate(expand(named, names), values, dims), evaluate(result, values, dims))
    for target, before, after in steps:
        for expr in (before, after):
            if expr is not None and not expr.has(*[s for s in sympy.preorder_traversal(expr)
                                                    if isinstance(s, MatrixSymbol) and str(s.name).startswith("d")]):
                named = render.substitute(expr, names)
                assert np.allclose(evaluate(expand(named, names), values, dims),
                                   evaluate(expr, values, dims))


def test_mlp_gets_the_textbook_names():
    text = mc.to_latex(derivation_of(CASES["seed000-mlp"]), template="fragment")
    for line in [r"Z_{1} &= X W_{1} + \mathbf{1}_{N} b_{1}", r"A_{1} &= \sigma(Z_{1})",
                 r"Z_{2} &= A_{1} W_{2} + \mathbf{1}_{N} b_{2}", r"\hat{Y} &= \operatorname{softmax}(Z_{2})",
                 r"\frac{1}{N} (\hat{Y} - Y) \mathrel{=:} G_{2}",
                 r"\frac{\partial L}{\partial W_{1}} &= X^{\top} G_{1}",
                 r"\frac{\partial L}{\partial b_{2}} &= \mathbf{1}_{N}^{\top} G_{2}",
                 r"\text{chain rule through }\sigma"]:
        assert line in text


def test_default_names_without_user_names():
    case = CASES["seed000-mlp"]
    text = mc.to_latex(derivation_of(case), template="fragment", names=None)
    assert r"Z_{1} &=" in text and r"A_{1} &= \sigma(Z_{1})" in text
    assert r"\hat{Y} &= \operatorname{softmax}(Z_{2})" in text
    # A single hidden layer gets unnumbered names: z = Xw, p = σ(z).
    X, w = mc.matrix("X", "N", "n"), mc.colvec("w", "n")
    single = mc.derive(F.sum(F.sigmoid(X * w)), w)
    text = mc.to_latex(single, template="fragment")
    assert r"z &= X w" in text and r"\hat{y} &= \sigma(z)" in text


def test_user_names_take_precedence_and_are_defined_where_they_arise():
    case = CASES["seed000-mlp"]
    derivation = derivation_of(case)
    N = mc.dim("N")
    Y = [s for s in sympy.preorder_traversal(case.function) if isinstance(s, MatrixSymbol) and str(s.name) == "Y"][0]
    Yhat = [k for k, v in case.names.items() if v == r"\hat{Y}"][0]
    names = {**case.names, MatMul(1 / N, MatAdd(Yhat, -Y)): "G"}
    text = mc.to_latex(derivation, template="fragment", names=names)
    assert r"\mathrel{=:} G &&" in text or r"\mathrel{=:} G \\" in text
    assert r"\frac{\partial L}{\partial W_{2}} &= A_{1}^{\top} G" in text


def test_repeated_subexpressions_get_a_name():
    text = mc.to_latex(derivation_of(CASES["hessian-least-squares"]), template="fragment")
    assert r"r &= A x - b" in text
    assert r"\frac{\partial L}{\partial x} &= 2 A^{\top} r" in text


def test_bad_names_are_rejected():
    case = CASES["seed000-mlp"]
    derivation = derivation_of(case)
    some = next(iter(case.names))
    for bad in ["", "a$b", "50%", "{unbalanced", "x}{"]:
        with pytest.raises(ValueError, match="name"):
            mc.to_latex(derivation, names={some: bad})
    with pytest.raises(ValueError, match="already used"):
        mc.to_latex(derivation, names={some: "W1"})


# ---------------------------------------------------------------- hand-made derivations

def handmade():
    """A derivation built by hand, independent of the engine: y = x A xᵀ."""
    x, A = mc.rowvec("x", "n"), mc.matrix("A", "n", "n")
    f = x * A * x.T
    result = x * (A + A.T)
    steps = [Step("product rule", A, x.T * x, x.T * x),
             Step("product rule and transpose rule", x, x * A + x * A.T, result)]
    return Derivation(f, (x, A), "gradient", {x: result, A: x.T * x}, steps)


def test_handmade_derivation_reads_like_the_notes():
    text = mc.to_latex(handmade(), function_name="y", title="Quadratic form")
    assert r"\section*{Quadratic form}" in text
    assert r"Let $x \in \mathbb{R}^{1 \times n}$ and $A \in \mathbb{R}^{n \times n}$." in text
    assert r"y &= x A x^{\top}." in text
    assert r"\frac{\partial y}{\partial x} &= x A + x A^{\top} && \text{product rule and transpose rule}" in text
    assert r" &= x (A + A^{\top})" in text
    assert r"\frac{\partial y}{\partial A} &= x^{\top} x \in \mathbb{R}^{n \times n}" in text
    assert "has the shape of its variable" in text


def test_bold_vectors_setting_reaches_the_document():
    text = mc.to_latex(handmade(), bold_vectors=True, template="fragment")
    assert r"\boldsymbol{x} (A + A^{\top})" in text


def test_derivation_methods_delegate_to_render():
    d = handmade()
    assert d.to_latex(template="fragment") == mc.to_latex(d, template="fragment")
    assert d._repr_latex_().startswith("$$") and r"\begin{aligned}" in d._repr_latex_()
    assert d._repr_markdown_() == render.repr_markdown(d)
    assert "$$" in d._repr_markdown_()


def test_several_derivations_in_one_document():
    d = handmade()
    text = mc.to_latex([d, (d, {"title": "Again", "function_name": "f"})], title="Two")
    assert text.count(r"\section*") == 2 and r"\section*{Again}" in text
    assert text.count(r"\begin{document}") == 1


# ---------------------------------------------------------------- templates

def test_user_text_is_escaped_and_math_is_not():
    title = r"50% of $x & y_1 #1 \evil{}"
    tex = mc.to_latex(handmade(), title=title)
    assert r"50\% of \$x \& y\_1 \#1 \textbackslash{}evil\{\}" in tex
    assert r"\frac{\partial" in tex
    md = mc.to_latex(handmade(), template="markdown", title="a *b* [c](d) $e$")
    assert r"a \*b\* \[c\](d) \$e\$" in md
    assert r"\frac{\partial" in md


def test_each_built_in_template_has_its_format():
    d = handmade()
    article = mc.to_latex(d)
    assert article.startswith(r"\documentclass") and r"\usepackage{amsmath}" in article
    assert r"\usepackage{bm}" in article and article.rstrip().endswith(r"\end{document}")
    fragment = mc.to_latex(d, template="fragment")
    assert fragment.lstrip().startswith(r"\begin{align*}") and r"\documentclass" not in fragment
    markdown = mc.to_latex(d, template="markdown")
    assert markdown.count("$$") % 2 == 0 and r"\begin{aligned}" in markdown
    for text in (article, fragment, markdown):
        assert "\n\n\\end{align" not in text and "<%" not in text


def test_user_template_directory_comes_first(tmp_path):
    (tmp_path / "article.tex.j2").write_text("custom <%= derivations[0].function.expression %>\n")
    (tmp_path / "slides.tex.j2").write_text(
        "<% for d in derivations %><% for r in d.results %><%= r.rhs %>;<% endfor %><% endfor %>")
    d = handmade()
    assert mc.to_latex(d, template_dir=tmp_path) == "custom x A x^{\\top}\n"
    assert mc.to_latex(d, template="slides", template_dir=tmp_path) == r"x (A + A^{\top});x^{\top} x;"
    path = tmp_path / "slides.tex.j2"
    assert mc.to_latex(d, template=str(path)) == mc.to_latex(d, template=path)
    # A user directory without the name falls back to the built-in templates.
    assert mc.to_latex(d, template="fragment", template_dir=tmp_path) == mc.to_latex(d, template="fragment")


def test_template_errors_are_clear(tmp_path):
    d = handmade()
    with pytest.raises(ValueError, match="no template named 'nope'"):
        mc.to_latex(d, template="nope")
    with pytest.raises(FileNotFoundError):
        mc.to_latex(d, template=str(tmp_path / "missing.tex.j2"))
    with pytest.raises(FileNotFoundError):
        mc.to_latex(d, template_dir=tmp_path / "nowhere")
    (tmp_path / "typo.tex.j2").write_text("<%= derivations[0].no_such_field %>")
    with pytest.raises(jinja2.UndefinedError):
        mc.to_latex(d, template="typo", template_dir=tmp_path)
    (tmp_path / "escape.tex.j2").write_text("<%= derivations.__class__.__mro__ %>")
    with pytest.raises(jinja2.exceptions.SecurityError):
        mc.to_latex(d, template="escape", template_dir=tmp_path)


# ---------------------------------------------------------------- the sandbox's bounds

def test_template_errors_are_matcalc_errors_naming_the_template_and_line(tmp_path):
    """Each used to escape the CLI as an "internal error"."""
    from matcalc.output.sandbox import TemplateError
    d = handmade()
    with pytest.raises(TemplateError, match="no template named 'nonexistent'"):
        mc.to_latex(d, template="nonexistent")
    cases = {
        "escape": ("line one\n<%= derivations.__class__ %>", r"escape.tex.j2, line 2: access to attribute "
                                                             r"'__class__' .* unsafe.*sandbox refused it"),
        "typo": ("<% for d in derivations %>\n\n<%= d.nope %><% endfor %>", r"typo.tex.j2, line 3: .*'nope'"),
        "syntax": ("<% for d in derivations %", r"syntax.tex.j2, line 1: unexpected"),
        "range": ("<%= range(10**6)|list|length %>", r"range.tex.j2, line 1: Range too big"),
        "forever": ("<% macro f(n) %><%= f(n) %><% endmacro %><%= f(1) %>", r"recursion"),
        "product": ('<%= "x" * 10**9 %>', r"product of 1 items and 1,000,000,000 is too large"),
        "power": ("<%= 10 ** (10 ** 9) %>", r"too large a number"),
        "width": ('<%= "x"|center(10**9) %>', r"filter center was given 1,000,000,000"),
        "format": ('<%= "%999999999s" % "x" %>', r"format string with a width"),
    }
    for name, (source, message) in cases.items():
        (tmp_path / f"{name}.tex.j2").write_text(source)
        with pytest.raises(TemplateError, match=message):
            mc.to_latex(d, template=name, template_dir=tmp_path)
    assert issubclass(TemplateError, mc.MatcalcError)


def test_templates_compile_once_and_an_edited_one_is_read_again(tmp_path, monkeypatch):
    """The environment of a list of template directories is kept, so each template is
    compiled once (counted); a user's template edited on disk is compiled again."""
    compiled = []
    original = render.BudgetedSandbox._parse
    monkeypatch.setattr(render.BudgetedSandbox, "_parse",
                        lambda self, source, name, filename: compiled.append(name) or original(self, source, name,
                                                                                              filename))
    d = handmade()
    assert render.environment() is render.environment()
    assert render.environment(tmp_path) is not render.environment()
    path = tmp_path / "mine.tex.j2"
    path.write_text("first <%= derivations | length %>\n")
    assert [mc.to_latex(d, template="mine", template_dir=tmp_path) for _ in range(3)] == ["first 1\n"] * 3
    assert compiled.count("mine.tex.j2") == 1
    path.write_text("second\n")
    later = path.stat().st_mtime + 10   # a later modification time than the compiled one
    os.utime(path, (later, later))
    assert mc.to_latex(d, template="mine", template_dir=tmp_path) == "second\n"
    assert compiled.count("mine.tex.j2") == 2


def test_nested_loops_in_a_template_stop_at_the_work_budget(tmp_path):
    """10⁵ × 10⁵ loop steps used to run for hours; every step is charged to the budget."""
    import time
    (tmp_path / "loops.tex.j2").write_text(
        "<% for a in range(10**5) %><% for b in range(10**5) %><% endfor %><% endfor %>")
    started = time.monotonic()
    with pytest.raises(mc.BudgetError, match="while rendering"):
        mc.to_latex(handmade(), template="loops", template_dir=tmp_path, budget=0.5)
    assert time.monotonic() - started < 10
    (tmp_path / "calls.tex.j2").write_text(   # 2⁴⁰ calls of a macro, no loop at all
        "<% macro f(n) %><% if n > 0 %><%= f(n - 1) %><%= f(n - 1) %><% endif %><% endmacro %><%= f(40) %>")
    with pytest.raises(mc.BudgetError, match="while rendering"):
        mc.to_latex(handmade(), template="calls", template_dir=tmp_path, budget=0.5)


def test_loops_within_the_bounds_still_render(tmp_path):
    (tmp_path / "grid.tex.j2").write_text(
        "<% for a in range(3) %><% for b in derivations %><%= loop.index %><%= a %>;<% endfor %><% endfor %>")
    assert mc.to_latex(handmade(), template="grid", template_dir=tmp_path) == "10;11;12;"


def test_a_template_path_must_be_a_regular_file(tmp_path):
    os.mkfifo(tmp_path / "fifo.tex.j2")
    with pytest.raises(mc.FileError, match="is a FIFO"):
        mc.to_latex(handmade(), template=str(tmp_path / "fifo.tex.j2"))


def test_template_lookup_order():
    dirs = render.template_dirs()
    assert any((d / "article.tex.j2").is_file() for d in dirs)
    assert render.template_exists("notebook") and not render.template_exists("nope")


# ---------------------------------------------------------------- lines that fit the page

_CONTINUATION = " \\\\\n&\\quad "


def test_a_right_hand_side_too_long_for_the_page_goes_on_over_continuation_lines():
    """Matrix Cookbook (123): the gradient of tr(BᵀXᵀCXXᵀCXB) has three long terms."""
    B, X, C = mc.matrix("B", "n", "p"), mc.matrix("X", "m", "n"), mc.matrix("C", "m", "m")
    d = mc.derive(mc.trace(B.T * X.T * C * X * X.T * C * X * B), [X])
    document = render.present(d)
    last = document["sections"][-1]["rows"][-1]    # beside the rule "product rule and transpose rule"
    assert last["lhs"] == r"\frac{\partial L}{\partial X}" and _CONTINUATION + "{}+ " in last["rhs"]
    rows = [r for section in document["sections"] for r in section["rows"]] + document["results"]
    for row in rows:
        for line in row["rhs"].split(_CONTINUATION):
            assert render.width(line) <= render.LINE_WIDTH, line


def test_a_block_too_wide_gives_its_long_derivatives_lines_of_their_own():
    """PRML (2.121)'s batch log-likelihood: the first two derivatives are with respect to
    long subexpressions; they go above their right-hand sides so the rule column fits."""
    N, d = mc.dim("N"), mc.dim("d")
    X, mu, S = mc.matrix("X", N, d), mc.rowvec("mu", d), mc.matrix("Sigma", d, d, spd=True)
    centred = X - mc.ones(N, 1) * mu
    derivation = mc.derive(-mc.trace(centred * mc.inv(S) * centred.T) / 2, [mu])
    rows = render.present(derivation, detail="full")["sections"][0]["rows"]
    assert rows[0]["lhs"] == "& " + r"\frac{\partial L}{\partial \operatorname{tr}((X - \mathbf{1}_{N} \mu) " \
        r"\Sigma^{-1} (X^{\top} - \mu^{\top} \mathbf{1}_{N}^{\top}))}" + " \\\\\n"
    assert rows[0]["rhs"] == r"- \frac{1}{2}"
    assert rows[1]["lhs"].startswith(r"& \frac{\partial L}{\partial ((X")
    assert not rows[2]["lhs"].startswith("&")     # the short ones stay where they were


def test_a_document_that_fits_is_left_as_it_is():
    case = CASES["seed000-mlp"]
    document = render.present(derivation_of(case), names=case.names)
    printed = [r[key] for section in document["sections"] for r in section["rows"] for key in ("lhs", "rhs")]
    assert not any("\\\\" in text for text in printed)


# ---------------------------------------------------------------- golden files

@pytest.mark.parametrize("key", sorted(CASES))
def test_golden_article(key):
    case = CASES[key]
    text = mc.to_latex(derivation_of(case), names=case.names, title=case.title, function_name=case.function_name)
    golden = GOLDEN / f"{key}.tex"
    if os.environ.get("MATCALC_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden}; run with MATCALC_UPDATE_GOLDEN=1 to create it"
    assert text == golden.read_text(encoding="utf-8"), (
        f"{key}: the LaTeX changed; if on purpose, rerun with MATCALC_UPDATE_GOLDEN=1 and review the diff")


def test_golden_markdown_of_the_mlp():
    case = CASES["seed000-mlp"]
    text = mc.to_latex(derivation_of(case), template="markdown", names=case.names, title=case.title,
                       function_name=case.function_name)
    golden = GOLDEN / "seed000-mlp.md"
    if os.environ.get("MATCALC_UPDATE_GOLDEN") == "1":
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_write_seed_derivations_writes_every_case(tmp_path):
    written = write_seed_derivations(tmp_path, pdf=False)
    names = {p.name for p in written}
    assert {f"{key}.tex" for key in CASES} <= names and "seed_derivations.tex" in names
    combined = (tmp_path / "seed_derivations.tex").read_text()
    assert combined.count(r"\section*") == len(CASES)


# ---------------------------------------------------------------- roles and detail levels

def _reverse_rows(derivation, **options):
    document = render.present(derivation, **options)
    return [row for section in document["sections"] if section["mode"] == "reverse" for row in section["rows"]]


def test_a_hidden_layer_is_not_the_prediction():
    # L = ‖tanh(X W₁) W₂ − Y‖²/N: tanh is a hidden layer, met through the product with W₂
    N = mc.dim("N")
    X, Y = mc.matrix("X", "N", "d"), mc.matrix("Y", "N", "K")
    W1, W2 = mc.matrix("W1", "d", "h"), mc.matrix("W2", "h", "K")
    H = F.tanh(X * W1)
    text = mc.to_latex(mc.derive(F.sum(F.hadamard(H * W2 - Y, H * W2 - Y)) / N, [W1, W2]), template="fragment")
    assert r"\hat{Y}" not in text and r"A &= \tanh(Z)" in text
    # the logistic loss's σ is the prediction: ŷ
    w, y = mc.colvec("w", "d"), mc.colvec("y", "N")
    p, one = F.sigmoid(X * w), mc.ones("N", 1)
    bce = -F.sum(F.hadamard(y, F.log(p)) + F.hadamard(one - y, F.log(one - p)))
    assert r"\hat{y} &= \sigma(z)" in mc.to_latex(mc.derive(bce, w), template="fragment")


def test_textbook_detail_starts_at_the_step_a_reader_wants():
    derivation = derivation_of(CASES["seed000-mlp"])
    textbook, full = _reverse_rows(derivation), _reverse_rows(derivation, detail="full")
    assert textbook[0]["lhs"] == r"\frac{\partial L}{\partial Z_{2}}"
    assert textbook[0]["rule"] == r"\text{log-softmax rule}"
    # full shows the bookkeeping: −1/N through the sum, the sum of entries, Y ⊙ log Ŷ
    rules = [row["rule"] for row in full]
    assert rules[:3] == [r"\text{constant factor}", r"\text{sum of entries}", r"\text{Hadamard product rule}"]
    assert len(full) == len(textbook) + 3
    assert not any("product rule" in row["rule"] and "N" in row["rhs"] and row is full[0] for row in full[1:])


def test_every_parameter_has_its_own_step():
    case = CASES["seed002-three-layer-bce"]
    for detail in ("textbook", "full"):
        lhs = [row["lhs"] for row in _reverse_rows(derivation_of(case), names=case.names, detail=detail,
                                                   function_name=case.function_name)]
        for k in (1, 2, 3):
            assert r"\frac{\partial \mathcal{L}}{\partial b_{%d}}" % k in lhs, (detail, k)


def test_bookkeeping_steps_are_marked_by_the_engine():
    derivation = derivation_of(CASES["seed000-mlp"])
    marked = [step.rule for step in derivation.steps if step.bookkeeping]
    # the way down to log-softmax, then the sums that pass G on to each term
    assert marked[:3] == ["constant factor", "sum of entries", "Hadamard product rule"]
    assert set(marked[3:]) == {"sum rule"}
    assert not any(step.bookkeeping for step in derivation.steps if "chain rule" in step.rule)


def test_detail_must_be_known():
    with pytest.raises(mc.errors.ArgumentError, match="detail must be 'textbook' or 'full'"):
        mc.to_latex(derivation_of(CASES["seed000-ols"]), detail="everything")
