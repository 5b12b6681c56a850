"""The output layer on derivatives that share subexpressions deeply.

A derivative through k nested softmaxes has a few hundred distinct nodes but, printed as
a tree, 2^k copies of the innermost ones.  The output layer must cost work in proportion
to the distinct nodes and write an output whose length grows with k, not 2^k.  These
tests count (the work charged to the budget, the characters written), never seconds.
"""
import pytest
from sympy import HadamardProduct, MatAdd, MatMul

import families
import matcalc as mc
from matcalc.core import algebra, budget
from matcalc.output import naming, render
from matcalc.apps.seeds import cases

def _derived(family, k):
    f, wrt, kind = family(k)
    return mc.derive(f, wrt, kind=kind)


def softmax_nested(k):
    """sum(G ⊙ softmax(softmax(… X w wᵀ))), k softmaxes deep, differentiated wrt w."""
    return _derived(families.softmax_nested, k)


def mlp(k):
    """A k-layer sigmoid network with a squared loss, differentiated wrt every weight."""
    return _derived(families.mlp, k)


def work(present, derivation):
    """(units of work charged, characters written) by ``present(derivation)``."""
    with budget.limit({"nodes": None, "seconds": None}) as spent:
        text = present(derivation)
    return spent.used, len(text)


PRESENTERS = {"latex": mc.to_latex, "text": str}


# ---------------------------------------------------------------- growth with depth

@pytest.mark.parametrize("form", sorted(PRESENTERS))
def test_output_of_nested_softmax_grows_linearly(form):
    sizes = {k: work(PRESENTERS[form], softmax_nested(k)) for k in (4, 8, 16)}
    for k in (4, 8):
        used, length = sizes[k]
        used2, length2 = sizes[2 * k]
        assert length2 / length < 2.5, (form, k, length, length2)
        assert used2 / used < 3.0, (form, k, used, used2)   # the tree would grow 2^k-fold


@pytest.mark.parametrize("form", sorted(PRESENTERS))
def test_output_of_a_deep_network_grows_linearly(form):
    (used, length), (used2, length2) = (work(PRESENTERS[form], mlp(k)) for k in (8, 16))
    assert length2 / length < 2.5
    assert used2 / used < 3.0


def test_text_of_nested_softmax_is_short_and_names_what_it_shares():
    text = str(softmax_nested(16))
    assert len(text) < 8000   # the tree printed in full has millions of characters
    assert text.count("softmax(") == 16   # each layer written once, as A₁ = softmax(Z₁), …
    assert "  A₁ = softmax(Z₁)" in text and "  where " in text   # what is still shared: R₁, …
    assert max(len(line) for line in text.splitlines()) < 1500


def test_short_results_print_as_they_are():
    lines = str(mlp(2)).splitlines()
    assert not any("where" in line for line in lines)
    assert lines[1:5] == ["  Z₁ = X W₁ + 𝟏 b₁", "  A₁ = σ(Z₁)", "  Z₂ = A₁ W₂ + 𝟏 b₂", "  Ŷ = σ(Z₂)"]
    assert lines[-4:] == ["  ∂L/∂W₁ = Xᵀ G₁", "  ∂L/∂b₁ = 𝟏ᵀ G₁", "  ∂L/∂W₂ = A₁ᵀ G₂", "  ∂L/∂b₂ = 𝟏ᵀ G₂"]


# ---------------------------------------------------------------- the work budget

def test_rendering_stops_at_the_budget():
    derivation = softmax_nested(8)
    with pytest.raises(mc.errors.BudgetError) as caught:
        with budget.limit({"nodes": 50}):
            mc.to_latex(derivation)
    assert caught.value.stage == "rendering"


def test_printing_stops_at_the_budget():
    derivation = softmax_nested(8)
    with pytest.raises(mc.errors.BudgetError) as caught:
        with budget.limit({"nodes": 50}):
            str(derivation)
    assert caught.value.stage == "printing"


def test_tables_do_not_outlive_the_call():
    mc.to_latex(softmax_nested(2))
    str(softmax_nested(2))
    assert naming._CURRENT.get() is None


# ---------------------------------------------------------------- names keep values

def _expand(expr, names):
    """``expr`` with every name replaced by its definition, latest name first."""
    for name in reversed(names):
        expr = algebra.substitute(expr, {name.symbol: name.definition})
    return expr


@pytest.mark.parametrize("make", [softmax_nested, mlp], ids=["softmax", "mlp"])
def test_shared_names_stand_for_what_they_replace(make):
    derivation = make(6)
    expressions = [derivation.function, *derivation.results.values()]
    fresh = iter(range(1, 10_000))
    names, written = naming.shared_names(
        expressions, lambda node: naming._symbol_for(f"Rtest{next(fresh)}", node))
    assert names
    for original, rewritten in zip(expressions, written):
        assert _expand(rewritten, names) == original


def _one_pass_per_name(expr, names):
    """What substitute means: one pass per name, in order."""
    for name in names:
        passes, _ = naming._passes(name)
        expr = naming._apply(expr, [passes])
    return expr


@pytest.mark.parametrize("derivation", [
    *[pytest.param(c, id=c.key) for c in cases()],
    pytest.param("softmax", id="softmax"), pytest.param("mlp", id="mlp"),
])
def test_a_run_of_names_in_one_pass_is_one_pass_per_name(derivation):
    if derivation == "softmax":
        derivation = softmax_nested(5)
    elif derivation == "mlp":
        derivation = mlp(5)
    else:
        derivation = mc.derive(derivation.function, list(derivation.wrt), kind=derivation.kind,
                               layout=derivation.layout)
    steps = [(s.target, s.before, s.after) for mode, run, _ in render._sections(derivation)
             if mode == "reverse" for s in run if s.rule != "gradient"]
    results = list(derivation.results.values())
    with naming.per_call():
        names = naming.name_intermediates(derivation.function, steps, results)
        for expr in [*results, *(e for s in steps for e in s if e is not None)]:
            for k in (len(names), len(names) // 2):
                assert naming.substitute(expr, names[:k]) == _one_pass_per_name(expr, names[:k])


def test_canonical_form_ignores_the_order_of_terms():
    A, B, C = (mc.matrix(n, "n", "n") for n in "ABC")
    first, second = algebra.build(MatAdd, A, B, C), algebra.build(MatAdd, C, A, B)
    with naming.per_call():
        assert naming._canonical(first) is naming._canonical(second)
        assert naming._same(algebra.build(HadamardProduct, A, first),
                            algebra.build(HadamardProduct, second, A))
        assert not naming._same(algebra.build(MatMul, A, B), algebra.build(MatMul, B, A))
