"""mc.verify: verdicts, diagnoses, counterexamples, conventions.

Every numeric claim here is checked against NumPy written out in the test (or the
independent interpreter in tests/numeric.py), never against values verify itself printed.
"""
import sys
from fractions import Fraction

import numpy as np
import pytest
from sympy import HadamardProduct, Identity

import matcalc as mc
from matcalc.errors import ArgumentError, DifferentiationError
from matcalc.apps.verify import DIFFERENCE_TOLERANCE

from numeric import evaluate


@pytest.fixture
def column():
    return mc.colvec("x", "n"), mc.matrix("A", "n", "n")


def test_seed000_quadratic_form_holds_symbolically_and_numerically():
    x, A = mc.rowvec("x", "n"), mc.matrix("A", "n", "n")
    r = mc.verify(x * A * x.T, wrt=x, expected=x * (A + A.T))
    assert r.ok and bool(r)
    assert r.diagnosis == "holds"
    assert r.symbolic_equal is True
    assert r.max_rel_error <= 1e-12
    assert r.derivation_agrees and r.derivation_error < DIFFERENCE_TOLERANCE
    assert r.counterexample is None
    assert len(r.instances) == 3


def test_instances_use_distinct_sizes_per_dimension():
    X = mc.matrix("X", "m", "n")
    a, b = mc.colvec("a", "m"), mc.colvec("b", "n")
    r = mc.verify(a.T * X * b, X, a * b.T)
    assert r.ok
    for instance in r.instances:
        assert instance.sizes["m"] != instance.sizes["n"]
    assert len({tuple(sorted(i.sizes.items())) for i in r.instances}) == 3


def test_common_misquote_2Ax_holds_only_for_symmetric_A(column):
    x, A = column
    r = mc.verify(x.T * A * x, x, 2 * A * x)
    assert not r.ok
    assert r.diagnosis == "holds only for symmetric A"
    assert r.symbolic_equal is False
    # the counterexample is a real one: recompute both sides with NumPy
    ce = r.counterexample
    A_, x_ = ce.inputs["A"], ce.inputs["x"]
    np.testing.assert_allclose(ce.claimed, 2 * A_ @ x_, rtol=1e-12)
    np.testing.assert_allclose(ce.correct, (A_ + A_.T) @ x_, rtol=1e-12)
    assert not np.allclose(ce.claimed, ce.correct)
    assert ce.sizes == {"n": 2}  # the smallest instance
    text = r.explain()
    assert "holds only for symmetric A" in text and "counterexample" in text and "x =" in text


def test_symmetric_A_makes_2Ax_hold():
    x, S = mc.colvec("x", "n"), mc.matrix("S", "n", "n", symmetric=True)
    assert mc.verify(x.T * S * x, x, 2 * S * x).ok


def test_transposed_claim():
    X, A = mc.matrix("X", "n", "n"), mc.matrix("A", "n", "n")
    r = mc.verify(mc.trace(X * A), X, A)
    assert r.diagnosis == "transposed" and not r.ok
    ce = r.counterexample
    np.testing.assert_allclose(ce.correct, ce.inputs["A"].T)


@pytest.mark.parametrize("claim_factor, expected", [(1, "off by a factor of 1/2"), (-2, "off by a factor of -1"),
                                                    (4, "off by a factor of 2")])
def test_constant_factor(column, claim_factor, expected):
    x, _ = column
    r = mc.verify(x.T * x, x, claim_factor * x)
    assert r.diagnosis == expected
    assert r.factor == Fraction(claim_factor, 2)
    if claim_factor == -2:
        assert "sign is wrong" in r.explain()


def test_wrong_shape_with_transpose_hint():
    X = mc.matrix("X", "m", "n")
    a, b = mc.colvec("a", "m"), mc.colvec("b", "n")
    r = mc.verify(a.T * X * b, X, b * a.T)
    assert r.diagnosis == "wrong shape" and not r.ok
    assert "transpose holds" in r.detail
    assert "shapes differ" in r.explain()


def test_a_claim_that_cannot_be_formed_is_a_wrong_shape():
    X, W = mc.matrix("X", "N", "d"), mc.matrix("W", "d", "h")
    G = mc.matrix("G", "N", "h")
    f = mc.sum(mc.hadamard(G, X * W))
    r = mc.verify(f, W, lambda: X * G)          # seed 000's Σ xⁿ ∂L/∂zⁿ without the transpose
    assert r.diagnosis == "wrong shape" and r.expected is None and r.symbolic_equal is None
    assert "cannot be formed" in r.explain()
    assert mc.verify(f, W, lambda: X.T * G).ok


def test_close_but_not_within_tolerance(column):
    x, _ = column
    claim = (2 + 2e-8) * x
    assert mc.verify(x.T * x, x, claim).ok
    strict = mc.verify(x.T * x, x, claim, tolerance=1e-10)
    assert not strict.ok and strict.diagnosis == "different"
    assert "close but not equal" in strict.detail


def test_claim_with_a_symbol_the_function_lacks():
    x, A = mc.colvec("x", "n"), mc.matrix("A", "n", "n")
    v = mc.colvec("v", "n")
    r = mc.verify(x.T * A * x, x, (A + A.T) * v)
    assert r.diagnosis == "different"
    assert "v" in r.detail and "does not contain" in r.detail


def test_text_input_through_parse():
    shapes = {"x": (1, "n"), "A": ("n", "n")}
    r = mc.verify("x @ A @ x.T", "x", "x @ (A + A.T)", shapes=shapes)
    assert r.ok and r.symbolic_equal
    r = mc.verify("x @ A @ x.T", "x", "2 * x @ A", shapes=shapes, symmetric=["A"])
    assert r.ok
    wrong = mc.verify("x @ A @ x.T", "x", "x @ A", shapes=shapes)
    assert wrong.diagnosis == "different" and not wrong.ok


def test_where_substitutes_abbreviations():
    W, x, y = mc.matrix("W", "K", "d"), mc.colvec("x", "d"), mc.colvec("y", "K")
    R = mc.colvec("R", "K")
    f = mc.norm(W * x - y) ** 2
    r = mc.verify(f, W, 2 * R * x.T, where={"R": W * x - y})
    assert r.ok


# ---------------------------------------------------------------- symmetric matrices

def _symmetric_difference_gradient(f, S, values, eps=1e-6):
    """Gradient over the free entries of a symmetric S, by central differences (NumPy only)."""
    base = values[S.name]
    n = base.shape[0]
    grad = np.zeros_like(base)
    for i in range(n):
        for j in range(i, n):
            e = np.zeros_like(base)
            e[i, j] = e[j, i] = 1.0
            plus = dict(values, **{S.name: base + eps * e})
            minus = dict(values, **{S.name: base - eps * e})
            grad[i, j] = grad[j, i] = (evaluate(f, plus) - evaluate(f, minus)) / (2 * eps)
    return grad


def test_symmetric_convention_matches_free_entry_differences():
    n = 3
    S, A = mc.matrix("S", "n", "n", spd=True), mc.matrix("A", "n", "n")
    f = mc.trace(A * S)
    r = mc.verify(f, S, A + A.T - HadamardProduct(A, Identity(mc.dim("n"))), symmetric_convention="symmetric")
    assert r.ok and r.convention == "symmetric"
    assert "§2.8.2" in r.explain()
    rng = np.random.default_rng(7)
    M = rng.standard_normal((n, n))
    values = {"S": M @ M.T + n * np.eye(n), "A": rng.standard_normal((n, n))}
    expected = _symmetric_difference_gradient(f, S, values)
    np.testing.assert_allclose(evaluate(r.derived, values), expected, rtol=1e-7, atol=1e-8)


def test_both_conventions_for_log_det():
    S = mc.matrix("S", "n", "n", spd=True)
    Si = mc.inv(S)
    I = Identity(mc.dim("n"))
    unconstrained = mc.verify(mc.logdet(S), S, Si)
    assert unconstrained.ok and unconstrained.convention == "unconstrained"
    assert "unconstrained" in unconstrained.explain()
    symmetric = mc.verify(mc.logdet(S), S, 2 * Si - HadamardProduct(Si, I), symmetric_convention="symmetric")
    assert symmetric.ok
    mixed = mc.verify(mc.logdet(S), S, Si, symmetric_convention="symmetric")
    assert mixed.diagnosis == "different"


def test_convention_is_not_reported_for_a_general_matrix():
    X = mc.matrix("X", "n", "n")
    r = mc.verify(mc.trace(X), X, Identity(mc.dim("n")), symmetric_convention="symmetric")
    assert r.ok and r.convention is None


# ---------------------------------------------------------------- other kinds

def test_jacobian_layouts():
    x, A, b = mc.rowvec("x", "n"), mc.matrix("A", "n", "m"), mc.rowvec("b", "m")
    assert mc.verify(x * A + b, x, A.T, kind="jacobian").ok
    assert mc.verify(x * A + b, x, A, kind="jacobian", layout="denominator").ok
    wrong = mc.verify(x * A + b, x, A, kind="jacobian")
    assert wrong.diagnosis == "wrong shape" and "transpose holds" in wrong.detail


def test_matrix_jacobians_and_hessians_in_the_vec_layout():
    """The reference differences flatten column by column, as vec does: vec(AXB) = (Bᵀ ⊗ A)
    vec X holds, the transposed order A ⊗ Bᵀ does not."""
    from matcalc.core.kronecker import kron
    X, A, B = mc.matrix("X", "m", "n"), mc.matrix("A", "p", "m"), mc.matrix("B", "n", "q")
    r = mc.verify(A * X * B, X, kron(B.T, A), kind="jacobian")
    assert r.ok and r.derivation_agrees
    assert mc.verify(A * X * B, X, kron(B, A.T), kind="jacobian", layout="denominator").ok
    assert not mc.verify(A * X * B, X, kron(A, B.T), kind="jacobian").ok
    W, S = mc.matrix("W", "m", "n"), mc.matrix("S", "m", "m")
    r = mc.verify(mc.trace(W.T * S * W), W, kron(mc.eye("n"), S + S.T), kind="hessian")
    assert r.ok and r.derivation_agrees


def test_hessian_of_log_sum_exp():
    x = mc.colvec("x", "n")
    s = mc.softmax(x)
    r = mc.verify(mc.logsumexp(x), x, mc.diag(s) - s * s.T, kind="hessian")
    assert r.ok and r.derivation_agrees
    assert mc.verify(mc.logsumexp(x), x, mc.diag(s), kind="hessian").diagnosis == "different"


def test_stationary_point_of_ols_row_convention():
    w, X, y = mc.rowvec("w", "d"), mc.matrix("X", "n", "d"), mc.rowvec("y", "n")
    n = mc.dim("n")
    L = (y - w * X.T) * (y - w * X.T).T / (2 * n)
    r = mc.verify(L, w, y * X * mc.inv(X.T * X), kind="stationary", sizes=[{"n": 5, "d": 2}, {"n": 6, "d": 3}])
    assert r.ok and r.derivation_error < 1e-10
    doubled = mc.verify(L, w, 2 * y * X * mc.inv(X.T * X), kind="stationary")
    assert doubled.diagnosis == "off by a factor of 2"
    assert "stationary point" in doubled.explain()


def test_explicit_sizes_are_used():
    X = mc.matrix("X", "m", "n")
    r = mc.verify(mc.trace(X.T * X), X, 2 * X, sizes=[{"m": 4, "n": 2}])
    assert r.ok and [i.sizes for i in r.instances] == [{"m": 4, "n": 2}]


def test_same_seed_same_counterexample(column):
    x, A = column
    a = mc.verify(x.T * A * x, x, 2 * A * x, seed=3).counterexample
    b = mc.verify(x.T * A * x, x, 2 * A * x, seed=3).counterexample
    np.testing.assert_array_equal(a.inputs["A"], b.inputs["A"])


def test_assumptions_shape_the_random_instances():
    Y = mc.matrix("Y", "N", "K", onehot=True)
    Z = mc.matrix("Z", "N", "K")
    N = mc.dim("N")
    L = -mc.sum(mc.hadamard(Y, mc.log(mc.softmax(Z)))) / N
    r = mc.verify(L, Z, (mc.softmax(Z) - Y) / N)     # needs one-hot rows to hold
    assert r.ok
    P = mc.matrix("P", "n", "n", positive=True)
    r = mc.verify(mc.sum(mc.log(P)), P, mc.power(P, -1))
    assert r.ok


# ---------------------------------------------------------------- bad input

def test_bad_options_are_rejected(column):
    x, A = column
    with pytest.raises(ValueError, match="kind"):
        mc.verify(x.T * x, x, 2 * x, kind="laplacian")
    with pytest.raises(ValueError, match="symmetric_convention"):
        mc.verify(x.T * x, x, 2 * x, symmetric_convention="both")
    with pytest.raises(ValueError, match="tolerance"):
        mc.verify(x.T * x, x, 2 * x, tolerance=0)
    with pytest.raises(DifferentiationError, match="'z'"):
        mc.verify(x.T * x, "z", 2 * x)
    with pytest.raises(ArgumentError, match="shapes"):
        mc.verify("x.T @ x", "x", "2 * x")
    with pytest.raises(ArgumentError, match="claimed formula"):
        mc.verify(x.T * x, x, None)
    with pytest.raises(ArgumentError, match="claimed result must be .* not bytes"):
        mc.verify(x.T * x, x, b"2 * x")


@pytest.mark.parametrize("tolerance", [float("inf"), float("nan"), -1, 0, "1e-6", True])
def test_the_tolerance_is_a_finite_positive_number(column, tolerance):
    """tolerance = inf used to pass a wrong formula (relative error 1.26, exit 0)."""
    x, A = column
    with pytest.raises(ArgumentError, match="tolerance must be a finite number above 0"):
        mc.verify(x.T * A * x, x, 2 * A * x, tolerance=tolerance)


@pytest.mark.parametrize("seed", [-1, 1.5, "0"])
def test_the_seed_is_a_non_negative_integer(column, seed):
    x, A = column
    with pytest.raises(ArgumentError, match="seed must be an integer of at least 0"):
        mc.verify(x.T * A * x, x, 2 * A * x, seed=seed)


def test_sizes_too_large_to_draw_are_refused_before_drawing():
    """A 10⁵ × 10⁵ matrix would need 75 GiB; the check is refused, naming the symbol."""
    x, A = mc.rowvec("x", 100000), mc.matrix("A", 100000, 100000)
    with pytest.raises(ArgumentError, match=r"A is 100000×100000 here \(10,000,000,000 entries\)"):
        mc.verify(x * A * x.T, x, x * (A + A.T))
    n = mc.colvec("v", "n")
    with pytest.raises(ArgumentError, match="v is 2000000×1"):
        mc.verify(n.T * n, n, 2 * n, sizes=[{"n": 2_000_000}])
    z = mc.colvec("z", 2000)
    with pytest.raises(ArgumentError, match="the hessian has 4,000,000 entries"):
        mc.verify(mc.sum(mc.exp(z)), z, mc.diag(mc.exp(z)), kind="hessian")


def test_a_differentiator_bug_is_caught_by_the_cross_check(monkeypatch, column):
    """If matcalc's own derivative were wrong, the claim is judged against central differences."""
    verify_module = sys.modules["matcalc.apps.verify"]
    real = verify_module.derive

    def broken(f, wrt, **options):
        derivation = real(f, wrt, **options)
        derivation.results[wrt] = 3 * derivation.results[wrt]
        return derivation

    monkeypatch.setattr(verify_module, "derive", broken)
    x, A = column
    r = mc.verify(x.T * A * x, x, (A + A.T) * x)
    assert r.ok and not r.derivation_agrees
    assert "differentiator bug" in r.detail and "DISAGREES" in r.explain()
    wrong = mc.verify(x.T * A * x, x, 3 * (A + A.T) * x)
    assert not wrong.ok and wrong.diagnosis == "off by a factor of 3"


# ---------------------------------------------------------------- matcalc notation

BCE = "-sum(y * log(sigmoid(X @ w)) + (1 - y) * log(1 - sigmoid(X @ w)))"
BCE_SHAPES = {"X": ("n", "d"), "w": ("d", 1), "y": ("n", 1)}
# what SymPy's str() and repr() write, and matcalc's notation never does
SYMPY_NOTATION = ("SumAll", "HadamardProduct", "HadamardPower", "MatMul", "MatAdd", "Sigmoid(", "Log(",
                  "Determinant", "Inverse", "Transpose", "OneMatrix", "**", ".T", "*w", "*x")


def _wrong_claims():
    """One claim for each way of being wrong, on functions with sums, logs and inverses."""
    X, A = mc.matrix("X", "n", "n"), mc.matrix("A", "n", "n")
    x = mc.colvec("x", "n")
    M, b = mc.matrix("M", "m", "n"), mc.colvec("b", "n")
    return {
        "transposed": mc.verify(mc.logdet(X), X, mc.inv(X)),
        "off by a factor of 2": mc.verify(BCE, "w", "2 * X.T @ (sigmoid(X @ w) - y)", shapes=BCE_SHAPES,
                                          binary=["y"]),
        "holds only for symmetric A": mc.verify(x.T * A * x, x, 2 * A * x),
        "wrong shape": mc.verify(mc.sum(mc.exp(M * b)), M, b * mc.exp(M * b).T),
    }


def test_reports_of_wrong_claims_are_written_in_matcalc_notation():
    for diagnosis, r in _wrong_claims().items():
        assert r.diagnosis == diagnosis and not r.ok
        markdown = r._repr_markdown_().split("\n", 1)[1]      # after the headline, bold with **
        for text in (r.explain(), repr(r), r.detail, markdown):
            assert not [word for word in SYMPY_NOTATION if word in text], (diagnosis, text)
        assert f"claimed:         {mc.to_text(r.expected)}\n" in r.explain()
        assert f"matcalc:         {mc.to_text(r.derived)}\n" in r.explain()


def test_the_issue_examples_read_as_a_textbook_writes_them():
    wrong = _wrong_claims()
    text = wrong["off by a factor of 2"].explain()
    assert "function:        −sum((𝟏 − y) ⊙ log(𝟏 − σ(X w)) + y ⊙ log(σ(X w)))\n" in text
    assert "claimed:         2 Xᵀ (σ(X w) − y)\n" in text
    assert "matcalc:         Xᵀ (σ(X w) − y)\n" in text
    text = wrong["transposed"].explain()
    assert "function:        log det(X)\n" in text
    assert "claimed:         X⁻¹\n" in text and "matcalc:         X⁻ᵀ\n" in text


def test_an_unknown_variable_is_named_with_the_function_in_matcalc_notation():
    with pytest.raises(DifferentiationError, match=r"'z' does not occur in the function −sum\(\(𝟏 − y\)"):
        mc.verify(BCE, "z", "X.T @ y", shapes=BCE_SHAPES)


# ---------------------------------------------------------------- declared ranges

def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_a_wrong_bce_claim_has_a_counterexample_with_labels_0_and_1():
    r = mc.verify(BCE, "w", "2 * X.T @ (sigmoid(X @ w) - y)", shapes=BCE_SHAPES, binary=["y"])
    ce = r.counterexample
    X, w, y = ce.inputs["X"], ce.inputs["w"], ce.inputs["y"]
    assert set(np.unique(y)) <= {0.0, 1.0}
    np.testing.assert_allclose(ce.correct, X.T @ (_sigmoid(X @ w) - y), rtol=1e-9)
    np.testing.assert_allclose(ce.claimed, 2 * X.T @ (_sigmoid(X @ w) - y), rtol=1e-9)


def test_the_numeric_check_draws_binary_labels():
    """y ⊙ y = y holds for labels in {0, 1} only: the claim holds exactly when y is declared binary."""
    f, claim = "sum(y * y * (X @ w))", "X.T @ y"
    assert mc.verify(f, "w", claim, shapes=BCE_SHAPES, binary=["y"]).ok
    assert not mc.verify(f, "w", claim, shapes=BCE_SHAPES).ok


def test_binary_entries_take_both_values():
    from matcalc.apps.verify import _binary_entries
    for seed in range(50):
        value = _binary_entries((3, 1), np.random.default_rng(seed))
        assert set(np.unique(value)) == {0.0, 1.0}
    assert set(np.unique(_binary_entries((1, 1), np.random.default_rng(0)))) <= {0.0, 1.0}


def test_a_symmetric_binary_matrix_stays_binary():
    """2 (B ⊙ B) x is the gradient of xᵀ B x only when B is symmetric with entries 0 and 1 (an
    adjacency matrix): the symmetric instances of a binary B must keep their entries in {0, 1}."""
    x = mc.colvec("x", "n")
    B = mc.matrix("B", "n", "n", binary=True)
    r = mc.verify(x.T * B * x, x, 2 * mc.hadamard(B, B) * x)
    assert r.diagnosis == "holds only for symmetric B"
    assert set(np.unique(r.counterexample.inputs["B"])) <= {0.0, 1.0}
    adjacency = mc.matrix("B", "n", "n", binary=True, symmetric=True)
    assert mc.verify(x.T * adjacency * x, x, 2 * mc.hadamard(adjacency, adjacency) * x).ok


def test_a_counterexample_has_one_hot_rows_for_a_one_hot_symbol():
    Y, Z = mc.matrix("Y", "N", "K", onehot=True), mc.matrix("Z", "N", "K")
    N = mc.dim("N")
    r = mc.verify(-mc.sum(mc.hadamard(Y, mc.log(mc.softmax(Z)))) / N, Z, 2 * (mc.softmax(Z) - Y) / N)
    assert r.diagnosis == "off by a factor of 2"
    Y_ = r.counterexample.inputs["Y"]
    assert set(np.unique(Y_)) <= {0.0, 1.0}
    np.testing.assert_array_equal(Y_.sum(axis=1), np.ones(Y_.shape[0]))


def test_counterexamples_respect_positive_spd_and_symmetric_symbols():
    P, X = mc.matrix("P", "n", "n", positive=True), mc.matrix("X", "n", "n")
    r = mc.verify(mc.sum(mc.hadamard(P, X)), X, P.T)
    assert not r.ok and np.all(r.counterexample.inputs["P"] > 0)
    x = mc.colvec("x", "n")
    S = mc.matrix("S", "n", "n", spd=True)
    r = mc.verify(x.T * S * x, x, S * x)
    assert r.diagnosis == "off by a factor of 1/2"
    S_ = r.counterexample.inputs["S"]
    np.testing.assert_array_equal(S_, S_.T)
    assert np.all(np.linalg.eigvalsh(S_) > 0)
    A = mc.matrix("A", "n", "n", symmetric=True)
    r = mc.verify(x.T * A * x, x, 3 * A * x)
    A_ = r.counterexample.inputs["A"]
    np.testing.assert_array_equal(A_, A_.T)


def test_instances_outside_the_domain_are_skipped_not_blamed_on_the_differentiator():
    """A symmetric S may have det S < 0, where log det S is not a number: such an instance is
    no evidence, and used to be reported as a differentiator bug with relative error inf."""
    S = mc.matrix("S", "n", "n", symmetric=True)
    Si = mc.inv(S)
    r = mc.verify(mc.logdet(S), S, 2 * Si - HadamardProduct(Si, Identity(mc.dim("n"))),
                  symmetric_convention="symmetric")
    assert r.ok and r.derivation_agrees and len(r.instances) == 3


# ---------------------------------------------------------------- notebook display

def test_the_repr_is_one_short_line():
    wrong = _wrong_claims()
    assert repr(wrong["transposed"]) == ("<VerificationResult ✗ transposed: gradient of log det(X) with respect "
                                         "to X; claimed X⁻¹; matcalc X⁻ᵀ>")
    x = mc.colvec("x", "n")
    assert repr(mc.verify(x.T * x, x, 2 * x)) == ("<VerificationResult ✓ holds: gradient of xᵀ x with respect to x; "
                                                  "claimed 2 x>")
    long = repr(wrong["off by a factor of 2"])
    assert long == ("<VerificationResult ✗ off by a factor of 2: gradient of "
                    "−sum((𝟏 − y) ⊙ log(𝟏 − σ(X w)) + y ⊙ lo… with respect to w; "
                    "claimed 2 Xᵀ (σ(X w) − y); matcalc Xᵀ (σ(X w) − y)>")
    assert str(wrong["transposed"]) == wrong["transposed"].explain()


def test_markdown_typesets_the_formulas():
    md = _wrong_claims()["transposed"]._repr_markdown_()
    assert md.startswith("**✗ the claimed gradient is transposed**\n")
    assert r"- with respect to: $X \in \mathbb{R}^{n \times n}$" in md
    assert "- claimed: $X^{-1}$\n" in md and r"- matcalc: $X^{-\top}$" in md
    assert r"$X = \begin{bmatrix}" in md


MATHML = "{http://www.w3.org/1998/Math/MathML}math"


def _html_tree(result):
    import xml.etree.ElementTree as ET
    return ET.fromstring(result._repr_html_())       # raises unless the HTML is well formed


def test_html_is_well_formed_with_mathml_formulas():
    for diagnosis, r in _wrong_claims().items():
        root = _html_tree(r)
        formulas = root.findall(f".//{MATHML}")
        # function, with respect to, claimed, matcalc, then the counterexample's inputs and values
        assert len(formulas) >= 4 + 2 * (r.counterexample is not None), diagnosis
        labels = [th.text for th in root.iter("th")]
        assert labels[:4] == ["function", "with respect to", "claimed", "matcalc"]
        assert diagnosis in root.find("p/strong").text


def test_html_escapes_user_text():
    x, A = mc.colvec("x", "n"), mc.matrix("<b>A</b>", "n", "n")
    r = mc.verify(x.T * A * x, x, 2 * A * x)
    assert r.diagnosis == "holds only for symmetric <b>A</b>"
    root = _html_tree(r)
    assert root.find(".//b") is None                  # the name is text, never markup
    assert root.find("p/strong").text == "✗ the claimed gradient holds only for symmetric <b>A</b>"
    assert "with symmetric <b>A</b> the claim holds" in "".join(root.itertext())
    assert r"symmetric \<b\>A\</b\>" in r._repr_markdown_()


def test_html_keeps_a_parse_caret_aligned():
    r = mc.verify("sum(X @ w)", "w", "X @ (w.T @ y)", shapes=BCE_SHAPES)
    assert r.diagnosis == "wrong shape"
    root = _html_tree(r)
    note = [pre.text for pre in root.iter("pre")]
    assert len(note) == 1 and note[0].endswith("  X @ (w.T @ y)\n           ^")
    markdown = r._repr_markdown_()
    assert "- note:\n\n  ```\n  the claimed formula cannot be formed: " in markdown
    assert "\n    X @ (w.T @ y)\n             ^\n  ```\n" in markdown
