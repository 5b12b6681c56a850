"""Differential tests: matcalc against JAX autodiff (see ``tests/differential.py``).

* ``test_random_slice``: a fixed-seed slice of random expressions (value, gradients,
  Jacobians, Hessians).  No WRONG, CRASH or SLOW is allowed; a failure prints each family
  with its shortest reproducer.  A refusal (a ``MatcalcError``) is allowed.
* Awkward symbol and dimension names, one small test per family of names.
* Every bug the first long runs found, pinned by its reproducer.

The long run is ``scripts/differential.py``.
"""
from __future__ import annotations

import time

import pytest

pytest.importorskip("jax")

import differential as D  # noqa: E402
from differential import call, dimension, num, op, sym  # noqa: E402

import matcalc as mc  # noqa: E402
from matcalc.apps.parse import FUNCTIONS  # noqa: E402

SLICE_SEEDS = range(140)
SLICE_DEPTH = 3
TIME_LIMIT = 10.0



class WrongAnswer(AssertionError):
    """matcalc gave a different number than JAX (the check is WRONG)."""


class Crashed(AssertionError):
    """matcalc raised something other than a MatcalcError (CRASH), or was SLOW."""


def assert_all_pass(case):
    """Run every check of ``case``; raise WrongAnswer / Crashed / AssertionError (REFUSED)."""
    outcome = D.run_case(case, time_limit_s=TIME_LIMIT, triage=False)
    lines = [f"{c.kind}{'' if c.wrt is None else ' wrt ' + c.wrt}: {c.status} {c.family or ''} {c.detail}"
             for c in outcome.checks if c.status != D.PASS]
    message = f"{case.text} {case.shapes}\n" + "\n".join(lines)
    statuses = {c.status for c in outcome.checks}
    if D.WRONG in statuses:
        raise WrongAnswer(message)
    if statuses & {D.CRASH, D.SLOW}:
        raise Crashed(message)
    assert statuses <= {D.PASS}, message
    return outcome


# ====================================================================== the random slice

@pytest.fixture(scope="module")
def slice_summary():
    summary = D.Summary()
    summary.rows_seen = set()
    for seed in SLICE_SEEDS:
        case = D.generate_case(seed, max_depth=SLICE_DEPTH)
        if case is not None:
            summary.rows_seen |= {node.row for node in case.tree.walk()}
            summary.add(D.run_case(case, time_limit_s=TIME_LIMIT))
    return summary


def test_random_slice(slice_summary):
    summary = slice_summary
    assert summary.checks() >= 250, summary.report()
    if summary.failures():
        pytest.fail("WRONG/CRASH/SLOW families in the differential slice:\n" + summary.report(), pytrace=False)


def test_slice_draws_every_row(slice_summary):
    """Every function, operator and leaf of the table occurs in the slice's expressions."""
    assert set(D.TABLE) - slice_summary.rows_seen == set()
    assert set(FUNCTIONS) <= set(D.TABLE), "a function of the syntax has no row in the table"


def test_kinked_rows_are_marked():
    assert "relu" in D.KINKED


# ====================================================================== the harness itself

def test_a_correct_case_passes():
    x, A = sym("x", 1, "n"), sym("A", "n", "n")
    case = D.make_case(op("@", op("@", x, A), op(".T", x)), sizes={"n": 3})
    assert [kind for kind, _ in case.checks] == ["value", "gradient", "gradient", "hessian"]
    assert_all_pass(case)


def test_the_harness_catches_a_wrong_gradient(monkeypatch):
    x = sym("x", 1, "n")
    case = D.make_case(call("sum", op("*", x, x)), sizes={"n": 3}, checks=[("gradient", "x")])
    real = mc.gradient
    monkeypatch.setattr(mc, "gradient", lambda f, v: 2 * real(f, v))
    outcome = D.run_case(case, triage=False)
    assert outcome.checks[0].status == D.WRONG


def test_the_harness_classifies_crashes_and_refusals(monkeypatch):
    x = sym("x", 1, "n")
    case = D.make_case(call("sum", x), sizes={"n": 3}, checks=[("gradient", "x")])

    def crash(f, v):
        raise KeyError("boom")
    monkeypatch.setattr(mc, "gradient", crash)
    check = D.run_case(case, triage=False).checks[0]
    assert (check.status, check.family) == (D.CRASH, "CRASH KeyError at no matcalc frame (derive)")

    def refuse(f, v):
        raise mc.DifferentiationError("no rule for x (in sum(x)) at 3")
    monkeypatch.setattr(mc, "gradient", refuse)
    check = D.run_case(case, triage=False).checks[0]
    assert check.status == D.REFUSED
    assert check.family == "REFUSED DifferentiationError: no rule for … at …"


def test_the_time_limit_makes_a_check_slow(monkeypatch):
    x = sym("x", 1, "n")
    case = D.make_case(call("sum", x), sizes={"n": 3}, checks=[("gradient", "x")])
    monkeypatch.setattr(mc, "gradient", lambda f, v: time.sleep(5))
    check = D.run_case(case, time_limit_s=0.2, triage=False).checks[0]
    assert (check.status, check.family) == (D.SLOW, "SLOW in derive")


def test_function_names_are_the_only_refused_names():
    assert set(D.refused_names()) <= set(FUNCTIONS)
    assert {"sum", "exp", "log"} <= set(D.refused_names())


# ====================================================================== awkward names

NAME_FAMILIES = {
    "looks like a number": ["e", "E", "e1", "e2", "ee", "E1"],
    "a SymPy constant or function": ["pi", "I", "N", "S", "Q", "O", "oo", "nan", "inf", "Sum", "Max"],
    "the method's self": ["self"],
    "a name in the generated code": ["np", "DTYPE", "EXPCAP", "t1", "rng", "x", "A", "out", "args", "kwargs", "T"],
    "a Python builtin": ["all", "any", "tuple", "dict", "zip", "float", "int", "range", "len"],
    "a Python keyword": ["lambda", "None", "True", "in"],
    "Unicode and underscores": ["λ", "_", "x_1"],
}
ALL_NAMES = [(family, name) for family, names in NAME_FAMILIES.items() for name in names]
FIRST_NAMES = [(family, names[0]) for family, names in NAME_FAMILIES.items()]

@pytest.mark.parametrize("family, name", ALL_NAMES)
def test_awkward_matrix_symbol_name(family, name):
    """sum(exp(NAME) ⊙ NAME) with NAME a 1×n row: value, gradient and Hessian."""
    X = sym(name, 1, "n")
    assert_all_pass(D.make_case(call("sum", op("*", call("exp", X), X)), sizes={"n": 3}))


@pytest.mark.parametrize("family, name", FIRST_NAMES)
def test_awkward_name_transposed(family, name):
    """trace(NAMEᵀ B NAME) with NAME an n×m matrix: value and gradients."""
    other = "C" if name == "B" else "B"
    X = sym(name, "n", "m")
    f = call("trace", op("@", op("@", op(".T", X), sym(other, "n", "n")), X))
    assert_all_pass(D.make_case(f, sizes={"n": 3, "m": 2}))


@pytest.mark.parametrize("family, name", FIRST_NAMES)
def test_awkward_scalar_symbol_name(family, name):
    """NAME ⋅ sum(x) with NAME a declared scalar: value and gradient."""
    other = "y" if name == "x" else "x"
    assert_all_pass(D.make_case(op("*", sym(name), call("sum", sym(other, 1, "n"))), sizes={"n": 3}))


@pytest.mark.parametrize("family, name", FIRST_NAMES)
def test_awkward_dimension_name(family, name):
    """sum(y ⊙ y) / NAME with y a 1×NAME row and NAME used as a number too."""
    other = "y" if name != "y" else "z"
    Y = sym(other, 1, name)
    assert_all_pass(D.make_case(op("/", call("sum", op("*", Y, Y)), dimension(name)), sizes={name: 3}))


# ====================================================================== the bugs of the first runs, pinned

def test_symbol_named_e_is_not_a_number():
    case = D.make_case(call("sum", sym("e", 1, "n")), sizes={"n": 3}, values={"e": [[1.0, 2.0, 3.0]]},
                       checks=[("value", None)])
    assert_all_pass(case)


def test_gradient_of_exp_of_sums():
    x = sym("x", 1, "n")
    f = call("exp", op("-", op("-", num(1), call("sum", x)), call("sum", op("*", x, x))))
    assert_all_pass(D.make_case(f, sizes={"n": 3}, checks=[("gradient", "x")]))


def test_gradient_of_sigmoid_of_sums():
    x = sym("x", 1, "n")
    f = call("sigmoid", op("-", op("+", call("sum", x), call("sum", op("*", x, x))), num(1)))
    assert_all_pass(D.make_case(f, sizes={"n": 3}, checks=[("gradient", "x")]))


def test_gradient_of_diag_of_a_1x1():
    u, t = sym("u", 1, "n"), sym("t", "n", 1)
    assert_all_pass(D.make_case(call("diag", op("@", u, t)), sizes={"n": 3},
                                checks=[("gradient", "u"), ("gradient", "t")]))


def test_symbol_named_self():
    assert_all_pass(D.make_case(call("sum", sym("self", 1, "n")), sizes={"n": 3}, checks=[("value", None)]))


def test_trace_of_a_power_of_ones_1x1():
    assert_all_pass(D.make_case(call("trace", op("**", call("ones", 1, 1), exponent=3)), sizes={}))


def test_softmax_of_relu_of_eye_1():
    assert_all_pass(D.make_case(call("softmax", call("relu", call("eye", 1))), sizes={}))


def test_hessian_of_exp_of_a_sum():
    u = sym("u", 1, "n")
    f = call("exp", call("sum", op("+", op("*", u, u), u)))
    assert_all_pass(D.make_case(f, sizes={"n": 3}, checks=[("hessian", "u")]))


# ---------------------------------------------------------------------- found by the first long run

def test_symbol_named_lambda_greek_transposed():
    L = sym("λ", "n", "n")
    f = call("det", op("+", op("@", L, op(".T", L)), call("eye", "n")))
    assert_all_pass(D.make_case(f, sizes={"n": 3}, checks=[("value", None)]))


def test_jacobian_of_softmax_of_ones_times_x():
    f = call("softmax", op("@", call("ones", "m", "k"), sym("x0", "k", 1)), axis=0)
    assert_all_pass(D.make_case(f, sizes={"m": 4, "k": 3}, checks=[("jacobian", "x0")]))


def test_det_of_a_product_of_ones_1x1():
    f = op("+", call("det", op("*", call("ones", 1, 1), call("ones", 1, 1))), call("ones", 1, 1))
    assert_all_pass(D.make_case(f, sizes={}, checks=[("value", None)]))


def test_diag_times_inverse_of_diag():
    f = op("@", call("diag", sym("B", "K", 1)), call("inv", call("diag", sym("beta", 1, "K", flag="positive"))))
    assert_all_pass(D.make_case(f, sizes={"K": 3}, checks=[("value", None)]))


def test_gradient_of_relu_of_ones_times_inverse_1x1():
    f = op("*", call("relu", call("ones", 1, 1)), call("inv", sym("beta", 1, 1, flag="positive")))
    assert_all_pass(D.make_case(f, sizes={}, checks=[("gradient", "beta")]))
