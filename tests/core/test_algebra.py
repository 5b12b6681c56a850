"""The local constructors of matcalc.core.algebra and the DAG walks of matcalc.core.walk."""
import sympy
from sympy.core.sorting import default_sort_key
from sympy.matrices.expressions import Identity, Inverse, MatPow, OneMatrix

import families
import matcalc as mc
from matcalc.core import algebra, walk

A = mc.matrix("A", "n", "n")
B = mc.matrix("B", "n", "n")
x = mc.rowvec("x", "n")


def test_adjacent_powers_of_one_base_merge():
    assert algebra.mul(A, A) == MatPow(A, 2)
    assert algebra.mul(A, A, A, algebra.inverse(A)) == MatPow(A, 2)
    assert algebra.mul(algebra.inverse(A), A) == Identity(A.shape[0])
    assert algebra.mul(x, algebra.inverse(A), A, x.T) == algebra.mul(x, x.T)
    assert algebra.mul(A, B, A) == sympy.MatMul(A, B, A)          # not adjacent: kept apart
    assert algebra.mul(x, x.T, x, x.T).args.count(x) == 2          # not square: no powers of x


def test_inverse_and_transpose_of_a_power():
    assert algebra.inverse(algebra.matrix_power(A, 3)) == MatPow(A, -3)
    assert algebra.inverse(algebra.matrix_power(A, -1)) == A
    assert isinstance(algebra.matrix_power(A, -1), Inverse)
    assert algebra.transpose(algebra.matrix_power(A, 3)) == MatPow(A.T, 3)
    assert algebra.base_and_exponent(MatPow(algebra.inverse(A), 2)) == (A, -2)


def test_composed_sort_keys_equal_sympys():
    for make, sizes in families.FAMILIES.values():
        f, wrt, kind = make(sizes[0])
        derivation = mc.derive(f, wrt, kind=kind)
        exprs = [f, *derivation.results.values(), *(e for s in derivation.steps for e in (s.before, s.after))]
        for node in walk.nodes(*exprs):
            assert algebra.sort_key(node) == default_sort_key(node), node


def test_walks_visit_each_distinct_node_once_in_reading_order():
    f = mc.parse("sum(softmax(softmax(softmax(X @ w))))", {"X": ("m", "n"), "w": ("n", 1)})
    seen = list(walk.nodes(f))
    assert len(seen) == len(set(seen))
    first = list(dict.fromkeys(sympy.preorder_traversal(f)))
    assert seen == first
    assert [s.name for s in walk.atoms([f], sympy.MatrixSymbol)] == ["X", "w"]
    assert {d.name for d in walk.dimensions([f])} == {"m", "n"}


def test_clearing_the_caches_forgets_interned_nodes():
    node = algebra.mul(A, B)
    assert algebra.mul(A, B) is node
    algebra.clear_caches()
    again = algebra.mul(A, B)
    assert again == node and again is not node


def test_the_sum_of_a_one_by_one_one_is_a_number():
    # sum(c 1) = c for the 1×1 1: no sum(1) in a derivation's raw steps
    c = sympy.Symbol("c")
    assert algebra.sum_entries(Identity(1)) == 1
    assert algebra.sum_entries(algebra.mul(c, OneMatrix(1, 1))) == c
    b = mc.matrix("b", 1, 1)
    assert algebra.sum_entries(b) == mc.sum(b) and algebra.sum_entries(A) == mc.sum(A)


def test_a_one_by_one_meeting_a_column_is_its_entry():
    # b 𝟏 for a 1×1 b (its sum, which printers show as the entry), not tr(b) 𝟏
    b, ones = mc.matrix("b", 1, 1), mc.ones("n", 1)
    assert algebra.as_scalar(b) == mc.sum(b)
    assert algebra.mul(b, ones) == mc.sum(b) * ones
    assert algebra.as_scalar(3 * b) == 3 * mc.sum(b)


def test_one_by_one_hadamard_factors_multiply_and_keep_their_order_when_transposed():
    a, b, c = (mc.matrix(s, 1, 1) for s in "abc")
    v = mc.colvec("v", "n")
    assert algebra.hadamard(a, b) == sympy.MatMul(a, b)
    # (v a b)ᵀ = a b vᵀ: the 1×1 run commutes, so it keeps its order
    assert algebra.transpose(algebra.mul(v, a, b)) == sympy.MatMul(a.T, b.T, v.T)
    assert algebra.reversed_product([v, a, b, c, x]) == [x, a, b, c, v]
