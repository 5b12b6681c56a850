"""The engine's cost is linear in the expression DAG: counted in nodes built, not seconds.

The families are those of the derivation benchmark (benchmarks/families.py, the inputs of
the engine-scaling issue); every result is also checked against finite differences at
small sizes, so a fast engine cannot be a wrong one.
"""
import numpy as np
import pytest

import families
import matcalc as mc
from matcalc.core import algebra, budget
from numeric import check_gradient, check_hessian, random_values


def nodes_built(family, k):
    """Expression nodes the engine builds to derive family(k), from a cold start."""
    f, wrt, kind = family(k)
    algebra.clear_caches()
    with budget.limit({"nodes": None, "seconds": None}) as spent:
        mc.derive(f, wrt, kind=kind, budget=False)
    return spent.used


@pytest.mark.parametrize("family, sizes", [
    (families.power, (10, 20, 40)),
    (families.logdet_product, (8, 16, 32)),
    (families.tanh_nested, (8, 16, 32)),
    (families.mlp, (4, 8, 16)),
    (families.transformer, (1, 2, 4)),
])
def test_nodes_built_grow_linearly(family, sizes):
    counts = [nodes_built(family, k) for k in sizes]
    for small, large in zip(counts, counts[1:]):
        assert large <= 2.3 * small, (family.__name__, sizes, counts)


def test_the_product_family_is_linear_and_its_result_short():
    # x A^k xᵀ: powers of one base merge, so the gradient has k terms of bounded size
    counts = {k: nodes_built(families.power, k) for k in (10, 20, 40)}
    assert counts[40] - counts[20] == 2 * (counts[20] - counts[10])   # exactly affine in k
    f, (A,), _ = families.power(6)
    assert mc.to_text(mc.gradient(f, A)).count("+") == 5


def test_logdet_of_a_power_is_textbook():
    f, (A,), _ = families.logdet_product(16)
    assert mc.to_text(mc.gradient(f, A)) == "16 A⁻ᵀ"


def test_the_work_budget_bounds_a_family_that_grows_fast():
    f, wrt, kind = families.sigmoid_hessian(8)
    algebra.clear_caches()
    with pytest.raises(mc.BudgetError):
        mc.derive(f, wrt, kind=kind, budget={"nodes": 2_000})


SIZES = {"n": 3, "m": 4, "N": 3, "d": 2, "T": 3, "h": 3}


@pytest.mark.parametrize("family, k", [
    (families.power, 5), (families.softmax_nested, 3), (families.sigmoid_product, 4),
    (families.logdet_product, 3), (families.tanh_nested, 5), (families.mlp, 3),
    (families.transformer, 1),
])
def test_family_gradients_against_finite_differences(family, k):
    f, wrt, kind = family(k)
    values = random_values(f, SIZES, seed=k)
    if family is families.logdet_product:
        values["A"] = values["A"] + 3 * np.eye(3)
    for x, G in mc.derive(f, wrt, kind=kind).results.items():
        assert check_gradient(f, x, G, values) < 1e-6, x


def test_nested_sigmoid_hessian_against_finite_differences():
    f, (w,), kind = families.sigmoid_hessian(3)
    H = mc.hessian(f, w)
    assert check_hessian(f, w, H, random_values(f, SIZES, seed=1)) < 1e-5
