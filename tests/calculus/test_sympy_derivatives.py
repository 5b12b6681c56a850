"""SymPy's own matrix-derivative tests, transcribed (issue 11).

Source: ``sympy/matrices/expressions/tests/test_derivatives.py`` of SymPy 1.14 (477 lines,
12 test functions, mostly Matrix Cookbook examples).  Each ``assert <expr>.diff(<var>) ==
<expected>`` is one case below, named by its line there (``L113-cb61`` is line 113, Cookbook
example 61), built with SymPy's own constructors on SymPy symbols of symbolic dimension k.

Every case is checked twice at k = 3, against the full central-difference Jacobian of the
expression (``tests/numeric.py``'s interpreter, independent of matcalc; every k×k matrix
is a random non-symmetric one plus 3·I, so inverses are well conditioned and a missing
transpose cannot hide):

1. SymPy's expected value: this decides whether SymPy's expectation is right;
2. matcalc's result: it must match the finite differences and, where SymPy is right,
   SymPy's expected value.

Conventions.  The case's ``kind`` says which derivative matcalc takes and how both results
are laid out next to the finite differences, a (len vec f) × (len vec x) matrix in
matcalc's numerator vec layout (vec stacks columns):

* ``gradient`` — a scalar f (SymPy's ``.diff`` of a 1×1 expression is a gradient):
  ``mc.gradient(f, X)``, shaped like X, as SymPy's is; no conversion;
* ``denominator`` — a vector f of a vector x: SymPy's layout is the denominator one
  (``(A*x).diff(x) == A.T``), so matcalc takes ``mc.jacobian(y, x, layout="denominator")``;
  no conversion;
* ``scalar`` — a derivative by the scalar symbol i (or of a matrix by a scalar):
  ``mc.jacobian(y, i)``, shaped like y (a column for a column, a scalar for a scalar or a
  1×1), as SymPy's is; no conversion;
* ``array`` — a matrix by a matrix: SymPy's result is a 4-D array D[m, n, i, j] =
  ∂Y[i, j]/∂X[m, n] (the variable's indices first); matcalc's ``mc.jacobian(Y, X)`` is the
  vec-layout k²×k² matrix J[i + k j, m + k n] = D[m, n, i, j].  The conversion is
  ``D.reshape(k², k², order="F").T`` on the evaluated array (:func:`_as_numerator`).

SymPy expectations that are wrong by finite differences (``sympy_wrong``; such a case would
assert that SymPy's value fails the check by more than WRONG = 1e-2 and that matcalc's
passes): none.  Every one of the 96 transcribed expectations agrees with central
differences to a relative error below 2e-9 (the largest, 1.8e-9, is L384), including the
4-D arrays once laid out as below, Cookbook 125 and 127 (which the file warns differ from
the Cookbook's, stated for symmetric B and C: SymPy's forms are right for any B and C) and
the 17-term result of ``test_derivatives_of_complicated_matrix_expr``.  That the check
would see a wrong one is itself tested (:func:`test_the_check_sees_a_wrong_expectation`:
a dropped transpose or swapped array axes miss by far more than 1e-2).  SymPy 1.14's own
``.diff`` returns these expectations (its test file passes), so it computes nothing else.

Notes on what the checks can and cannot see:

* ``L324-cb126``: for a square invertible X, tr((XᵀCX)⁻¹XᵀBX) = tr(C⁻¹B) does not depend on
  X; SymPy's expected value is a non-trivial expression that evaluates to 0, as it should.
* ``L106-cb33``: SymPy's expected value is the unevaluated ``ArrayDerivative(X, A)`` (its
  TODO: no 4-D zero array); the value it stands for, Cookbook 33's ∂X/∂A = 0, is what is
  compared.
* ``L345``/``L346`` (``k.diff(A)`` is a ``ZeroMatrix`` equal to ZeroMatrix(k, k)) are one
  case, ``L346``; matcalc's result is also checked to be a ``ZeroMatrix``.

Not transcribed:

* index-level assertions, which test SymPy's entry-wise differentiation of ``expr[i, j]``
  with Kronecker deltas and ``Sum`` (matcalc has no index notation; the matrix-level
  assertion next to each is transcribed): L132 (x[i,0] by x[m,0]), L139 ((xᵀa)[0,0]),
  L176 (str of ((Xb + c)ᵀD(Xb + c))[0,0] by X[m,n]), L190 ((tr(A) A)[i,j] by A[m,n]), L200,
  L205, L210 (``rewrite(Sum)`` of Cookbook 99-101), L366 ((xᵀy)[0,0]), L392 (tan(x)[i,0]),
  L398 (sin(i²x)[i,0] by i);
* assertions commented out in SymPy's file (TODOs: not implemented there, or wrong, or
  returning the transpose), whose expected value SymPy does not claim: L118 (Cookbook 62,
  det(X⁻¹)), L227 (Cookbook 105, tr(A ⊗ X)), L291-297 (Cookbook 120, tr(X ⊗ X)), L301
  (Cookbook 121, tr(Xᵏ)), L305 (Cookbook 122, tr(AXᵏ)), L408 (A exp(x)), L417 (sin(x)ᵀy),
  L436 (aᵀ sin(AXb) bᵀ), L445 (aᵀ log(A sin(X) B) b), L449 (aᵀ log(sin(X)) b);
* ``_check_derivative_with_explicit_matrix`` (L51-63) returns before doing anything.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np
import pytest
from sympy import KroneckerProduct, Rational, S, symbols
from sympy.combinatorics import Permutation
from sympy.functions.elementary.exponential import log
from sympy.functions.elementary.miscellaneous import sqrt
from sympy.functions.elementary.trigonometric import cos, sin, tan
from sympy.matrices.expressions import Inverse, hadamard_power
from sympy.matrices.expressions.diagonal import DiagMatrix
from sympy.matrices.expressions.hadamard import HadamardPower, HadamardProduct, hadamard_product
from sympy.matrices.expressions.matadd import MatAdd
from sympy.matrices.expressions.matexpr import MatrixSymbol
from sympy.matrices.expressions.matmul import MatMul
from sympy.matrices.expressions.special import Identity, OneMatrix, ZeroMatrix
from sympy.matrices.expressions.trace import Trace
from sympy.tensor.array.array_derivatives import ArrayDerivative
from sympy.tensor.array.expressions.array_expressions import (
    ArrayAdd, ArrayTensorProduct, PermuteDims, ZeroArray,
)

import matcalc as mc
from numeric import evaluate

# ------------------------------------------------------------------ SymPy's symbols

i, j, k = symbols("i j k")
m, n = symbols("m n")
mu = symbols("mu")

X = MatrixSymbol("X", k, k)
x = MatrixSymbol("x", k, 1)
y = MatrixSymbol("y", k, 1)

A = MatrixSymbol("A", k, k)
B = MatrixSymbol("B", k, k)
C = MatrixSymbol("C", k, k)
D = MatrixSymbol("D", k, k)

a = MatrixSymbol("a", k, 1)
b = MatrixSymbol("b", k, 1)
c = MatrixSymbol("c", k, 1)
d = MatrixSymbol("d", k, 1)

I = Identity(k)
AdA = PermuteDims(ArrayTensorProduct(I, I), Permutation(3)(1, 2))

SIZE = 3
DIMS = {k: SIZE}
EPS = 1e-6
TOLERANCE = 1e-6     # central differences with ε = 1e-6 in float64 reach ~1e-9
WRONG = 1e-2         # a wrong expectation misses by more than this


@dataclass(frozen=True)
class Case:
    line: int                # the assertion's line in SymPy's test_derivatives.py
    source: str              # SymPy's test function
    expr: object
    wrt: object
    kind: str                # gradient | denominator | scalar | array (see the docstring)
    expected: object         # SymPy's expected value (conversion: see ``kind``)
    cookbook: int | None = None
    positive: tuple = ()     # names given entries in [0.5, 2] (sqrt, log, x∘ⁱ)
    sympy_wrong: str = ""    # SymPy's expectation fails the finite differences: evidence
    xfail: str = ""          # matcalc cannot do it yet (strict xfail)

    @property
    def id(self):
        return f"L{self.line}" + (f"-cb{self.cookbook}" if self.cookbook else "")


def _cases():
    out = []

    def case(line, source, expr, wrt, kind, expected, **kw):
        out.append(Case(line, source, expr, wrt, kind, expected, **kw))

    # ---------------------------------------------------------------- by a scalar
    src = "test_matrix_derivative_by_scalar"
    case(67, src, A, i, "scalar", ZeroMatrix(k, k))
    case(68, src, A*(X + B)*c, i, "scalar", ZeroMatrix(k, 1))
    case(69, src, x, i, "scalar", ZeroMatrix(k, 1))
    case(70, src, x.T*y, i, "scalar", ZeroMatrix(1, 1))
    case(71, src, x*x.T, i, "scalar", ZeroMatrix(k, k))
    case(72, src, x + y, i, "scalar", ZeroMatrix(k, 1))
    case(73, src, hadamard_power(x, 2), i, "scalar", ZeroMatrix(k, 1))
    case(74, src, hadamard_power(x, i), i, "scalar",
         HadamardProduct(x.applyfunc(log), HadamardPower(x, i)), positive=("x",))
    case(76, src, hadamard_product(x, y), i, "scalar", ZeroMatrix(k, 1))
    case(77, src, hadamard_product(i*OneMatrix(k, 1), x, y), i, "scalar", hadamard_product(x, y))
    case(78, src, i*x, i, "scalar", x)
    case(79, src, sin(i)*A*B*x, i, "scalar", cos(i)*A*B*x)
    case(80, src, x.applyfunc(sin), i, "scalar", ZeroMatrix(k, 1))
    case(81, src, Trace(i**2*X), i, "scalar", 2*i*Trace(X))
    # 2μI is symmetric: the same in either layout
    case(85, src, 2*mu*x, x, "denominator", 2*mu*Identity(k))

    src = "test_one_matrix"
    case(89, src, MatMul(x.T, OneMatrix(k, 1)), x, "gradient", OneMatrix(k, 1))

    # ---------------------------------------------------------------- 4-D results
    # SymPy's D[m, n, i, j] = ∂Y[i, j]/∂A[m, n]; compared in the vec layout (_as_numerator)
    src = "test_matrix_derivative_non_matrix_result"
    case(96, src, A, A, "array", AdA)
    case(97, src, A.T, A, "array", PermuteDims(ArrayTensorProduct(I, I), Permutation(3)(1, 2, 3)))
    case(98, src, 2*A, A, "array", PermuteDims(ArrayTensorProduct(2*I, I), Permutation(3)(1, 2)))
    case(99, src, MatAdd(A, A), A, "array", ArrayAdd(AdA, AdA))
    case(100, src, A + B, A, "array", AdA)

    src = "test_matrix_derivative_trivial_cases"
    # SymPy's expected value is the unevaluated ArrayDerivative(X, A) (its TODO: "find a
    # way to represent a four-dimensional zero-array"; .doit() leaves it as it is); the
    # value it stands for is Cookbook 33's ∂X/∂A = 0, the zero k×k×k×k array
    assert ArrayDerivative(X, A).doit() == ArrayDerivative(X, A)
    case(106, src, X, A, "array", ZeroArray(k, k, k, k), cookbook=33)

    # ---------------------------------------------------------------- gradients
    src = "test_matrix_derivative_with_inverse"
    case(113, src, a.T*Inverse(X)*b, X, "gradient", -Inverse(X).T*a*b.T*Inverse(X).T, cookbook=61)
    case(122, src, Trace(A*Inverse(X)*B), X, "gradient", -(X**(-1)*B*A*X**(-1)).T, cookbook=63)
    case(126, src, Trace(Inverse(X + A)), X, "gradient", -(Inverse(X + A)).T**2, cookbook=64)

    src = "test_matrix_derivative_vectors_and_scalars"
    case(131, src, x, x, "denominator", Identity(k))
    # the row xᵀ by the column x: SymPy's denominator J[j, i] = ∂(xᵀ)ᵢ/∂xⱼ = I
    case(134, src, x.T, x, "denominator", Identity(k))
    case(138, src, x.T*a, x, "gradient", a, cookbook=69)
    case(141, src, a.T*x, x, "gradient", a, cookbook=69)
    case(145, src, a.T*X*b, X, "gradient", a*b.T, cookbook=70)
    case(149, src, a.T*X.T*b, X, "gradient", b*a.T, cookbook=71)
    case(153, src, a.T*X*a, X, "gradient", a*a.T, cookbook=72)
    case(155, src, a.T*X.T*a, X, "gradient", a*a.T, cookbook=72)
    case(159, src, b.T*X.T*X*c, X, "gradient", X*b*c.T + X*c*b.T, cookbook=77)
    case(163, src, (B*x + b).T*C*(D*x + d), x, "gradient",
         B.T*C*(D*x + d) + D.T*C.T*(B*x + b), cookbook=78)
    case(167, src, x.T*B*x, x, "gradient", B*x + B.T*x, cookbook=81)
    case(171, src, b.T*X.T*D*X*c, X, "gradient", D.T*X*b*c.T + D*X*c*b.T, cookbook=82)
    case(175, src, (X*b + c).T*D*(X*b + c), X, "gradient",
         D*(X*b + c)*b.T + D.T*(X*b + c)*b.T, cookbook=83)
    # y = x (xᵀx): (xᵀx) I + 2 x xᵀ is symmetric, the same in either layout
    case(182, src, x*x.T*x, x, "denominator", KroneckerProduct(I, x.T*x) + 2*x*x.T)

    src = "test_matrix_derivatives_of_traces"
    trace_A_times_A = ArrayAdd(ArrayTensorProduct(I, A),
                               PermuteDims(ArrayTensorProduct(Trace(A)*I, I), Permutation(3)(1, 2)))
    case(189, src, Trace(A)*A, A, "array", trace_A_times_A)
    case(199, src, Trace(X), X, "gradient", Identity(k), cookbook=99)
    case(204, src, Trace(X*A), X, "gradient", A.T, cookbook=100)
    case(209, src, Trace(A*X*B), X, "gradient", A.T*B.T, cookbook=101)
    case(214, src, Trace(A*X.T*B), X, "gradient", B*A, cookbook=102)
    case(218, src, Trace(X.T*A), X, "gradient", A, cookbook=103)
    case(222, src, Trace(A*X.T), X, "gradient", A, cookbook=104)
    case(233, src, Trace(X**2), X, "gradient", 2*X.T, cookbook=106)
    case(237, src, Trace(X**2*B), X, "gradient", (X*B + B*X).T, cookbook=107)
    case(239, src, Trace(MatMul(X, X, B)), X, "gradient", (X*B + B*X).T, cookbook=107)
    case(243, src, Trace(X.T*B*X), X, "gradient", B*X + B.T*X, cookbook=108)
    case(247, src, Trace(B*X*X.T), X, "gradient", B*X + B.T*X, cookbook=109)
    case(251, src, Trace(X*X.T*B), X, "gradient", B*X + B.T*X, cookbook=110)
    case(255, src, Trace(X*B*X.T), X, "gradient", X*B.T + X*B, cookbook=111)
    case(259, src, Trace(B*X.T*X), X, "gradient", X*B.T + X*B, cookbook=112)
    case(263, src, Trace(X.T*X*B), X, "gradient", X*B.T + X*B, cookbook=113)
    case(267, src, Trace(A*X*B*X), X, "gradient", A.T*X.T*B.T + B.T*X.T*A.T, cookbook=114)
    case(271, src, Trace(X.T*X), X, "gradient", 2*X, cookbook=115)
    case(273, src, Trace(X*X.T), X, "gradient", 2*X, cookbook=115)
    case(277, src, Trace(B.T*X.T*C*X*B), X, "gradient", C.T*X*B*B.T + C*X*B*B.T, cookbook=116)
    case(281, src, Trace(X.T*B*X*C), X, "gradient", B*X*C + B.T*X*C.T, cookbook=117)
    case(285, src, Trace(A*X*B*X.T*C), X, "gradient", A.T*C.T*X*B.T + C*A*X*B, cookbook=118)
    case(289, src, Trace((A*X*B + C)*(A*X*B + C).T), X, "gradient",
         2*A.T*(A*X*B + C)*B.T, cookbook=119)
    case(309, src, Trace(B.T*X.T*C*X*X.T*C*X*B), X, "gradient",
         C*X*X.T*C*X*B*B.T + C.T*X*B*B.T*X.T*C.T*X + C*X*B*B.T*X.T*C*X + C.T*X*X.T*C.T*X*B*B.T,
         cookbook=123)
    case(315, src, Trace(A*X**(-1)*B), X, "gradient", -Inverse(X).T*A.T*B.T*Inverse(X).T, cookbook=124)
    case(320, src, Trace(Inverse(X.T*C*X)*A), X, "gradient",
         - X.inv().T*A.T*X.inv()*C.inv().T*X.inv().T - X.inv().T*A*X.inv()*C.inv()*X.inv().T,
         cookbook=125)
    case(324, src, Trace((X.T*C*X).inv()*(X.T*B*X)), X, "gradient",
         -2*C*X*(X.T*C*X).inv()*X.T*B*X*(X.T*C*X).inv() + 2*B*X*(X.T*C*X).inv(), cookbook=126)
    case(329, src, Trace((A + X.T*C*X).inv()*(X.T*B*X)), X, "gradient",
         B*X*Inverse(A + X.T*C*X) - C*X*Inverse(A + X.T*C*X)*X.T*B*X*Inverse(A + X.T*C*X)
         - C.T*X*Inverse(A.T + (C*X).T*X)*X.T*B.T*X*Inverse(A.T + (C*X).T*X) + B.T*X*Inverse(A.T + (C*X).T*X),
         cookbook=127)

    src = "test_derivatives_of_complicated_matrix_expr"
    expr = a.T*(A*X*(X.T*B + X*A) + B.T*X.T*(a*b.T*(X*D*X.T + X*(X.T*B + A*X)*D*B - X.T*C.T*A)*B
                                              + B*(X*D.T + B*A*X*A.T - 3*X*D))*B + 42*X*B*X.T*A.T*(X + X.T))*b
    result = (B*(B*A*X*A.T - 3*X*D + X*D.T) + a*b.T*(X*(A*X + X.T*B)*D*B + X*D*X.T - X.T*C.T*A)*B)*B*b*a.T*B.T \
        + B**2*b*a.T*B.T*X.T*a*b.T*X*D + 42*A*X*B.T*X.T*a*b.T + B*D*B**3*b*a.T*B.T*X.T*a*b.T*X \
        + B*b*a.T*A*X + a*b.T*(42*X + 42*X.T)*A*X*B.T + b*a.T*X*B*a*b.T*B.T**2*X*D.T \
        + b*a.T*X*B*a*b.T*B.T**3*D.T*(B.T*X + X.T*A.T) + 42*b*a.T*X*B*X.T*A.T \
        + A.T*(42*X + 42*X.T)*b*a.T*X*B + A.T*B.T**2*X*B*a*b.T*B.T*A + A.T*a*b.T*(A.T*X.T + B.T*X) \
        + A.T*X.T*b*a.T*X*B*a*b.T*B.T**3*D.T + B.T*X*B*a*b.T*B.T*D - 3*B.T*X*B*a*b.T*B.T*D.T \
        - C.T*A*B**2*b*a.T*B.T*X.T*a*b.T + X.T*A.T*a*b.T*A.T
    case(335, src, expr, X, "gradient", result)

    src = "test_mixed_deriv_mixed_expressions"
    case(341, src, 3*Trace(A), A, "gradient", 3*Identity(k))
    # k.diff(A): the dimension k as a constant function of A (L345 checks the type too)
    case(346, src, k, A, "gradient", ZeroMatrix(k, k))
    case(349, src, Trace(A)**2, A, "gradient", (2*Trace(A))*Identity(k))
    case(353, src, Trace(A)*A, A, "array", trace_A_times_A)
    case(356, src, Trace(Trace(A)*A), A, "gradient", (2*Trace(A))*Identity(k))
    case(359, src, Trace(Trace(Trace(A)*A)*A), A, "gradient", (3*Trace(A)**2)*Identity(k))

    src = "test_derivatives_matrix_norms"
    positive = ("a", "b", "c", "d", "x", "y", "X")   # the square roots see positive numbers
    case(365, src, x.T*y, x, "gradient", y)
    case(369, src, (x.T*y)**S.Half, x, "gradient", y/(2*sqrt(x.T*y)), positive=positive)
    case(372, src, (x.T*x)**S.Half, x, "gradient", x*(x.T*x)**Rational(-1, 2), positive=positive)
    case(375, src, (c.T*a*x.T*b)**S.Half, x, "gradient", b*a.T*c/sqrt(c.T*a*x.T*b)/2, positive=positive)
    case(378, src, (c.T*a*x.T*b)**Rational(1, 3), x, "gradient",
         b*a.T*c*(c.T*a*x.T*b)**Rational(-2, 3)/3, positive=positive)
    case(381, src, (a.T*X*b)**S.Half, X, "gradient", a/(2*sqrt(a.T*X*b))*b.T, positive=positive)
    case(384, src, d.T*x*(a.T*X*b)**S.Half*y.T*c, X, "gradient",
         a/(2*sqrt(a.T*X*b))*x.T*d*y.T*c*b.T, positive=positive)

    src = "test_derivatives_elementwise_applyfunc"
    # diagonal: the same in either layout
    case(390, src, x.applyfunc(tan), x, "denominator", DiagMatrix(x.applyfunc(lambda x: tan(x)**2 + 1)))
    case(396, src, (i**2*x).applyfunc(sin), i, "scalar", HadamardProduct((2*i)*x, (i**2*x).applyfunc(cos)))
    case(402, src, (log(i)*A*B).applyfunc(sin), i, "scalar",
         HadamardProduct(A*B/i, (log(i)*A*B).applyfunc(cos)))
    case(412, src, x.T*A*x + k*y.applyfunc(sin).T*x, x, "gradient", A.T*x + A*x + k*y.applyfunc(sin))
    case(421, src, (a.T*X*b).applyfunc(sin), X, "gradient", a*(a.T*X*b).applyfunc(cos)*b.T)
    case(425, src, a.T*X.applyfunc(sin)*b, X, "gradient", DiagMatrix(a)*X.applyfunc(cos)*DiagMatrix(b))
    case(430, src, a.T*(A*X*B).applyfunc(sin)*b, X, "gradient",
         A.T*DiagMatrix(a)*(A*X*B).applyfunc(cos)*DiagMatrix(b)*B.T)
    case(440, src, a.T*A*X.applyfunc(sin)*B*b, X, "gradient", HadamardProduct(A.T*a*b.T*B.T, X.applyfunc(cos)))

    src = "test_derivatives_of_hadamard_expressions"
    # diagonal Jacobians: the same in either layout
    case(457, src, hadamard_product(a, x, b), x, "denominator", DiagMatrix(hadamard_product(b, a)))
    case(460, src, a.T*hadamard_product(A, X, B)*b, X, "gradient", HadamardProduct(a*b.T, A, B))
    case(465, src, hadamard_power(x, 2), x, "denominator", 2*DiagMatrix(x))
    case(468, src, hadamard_power(x.T, 2), x, "denominator", 2*DiagMatrix(x))
    case(471, src, hadamard_power(x, S.Half), x, "denominator",
         S.Half*DiagMatrix(hadamard_power(x, Rational(-1, 2))), positive=("x",))
    case(474, src, hadamard_power(a.T*X*b, 2), X, "gradient", 2*a*a.T*X*b*b.T)
    case(477, src, hadamard_power(a.T*X*b, S.Half), X, "gradient", a/(2*sqrt(a.T*X*b))*b.T,
         positive=("a", "b", "X"))
    return out


CASES = _cases()


def _param(case):
    marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
    return pytest.param(case, id=case.id, marks=marks)


# ------------------------------------------------------------------ numbers

def _values(case):
    """Every matrix symbol of SymPy's file (k = 3) and the scalars i and μ."""
    rng = np.random.default_rng(case.line)
    values = {}
    for s in (X, A, B, C, D, x, y, a, b, c, d):
        shape = (SIZE, SIZE) if s.shape[1] == k else (SIZE, 1)
        if s.name in case.positive:
            values[s.name] = rng.uniform(0.5, 2.0, shape)
        elif shape[1] == SIZE:
            values[s.name] = rng.standard_normal(shape) + SIZE * np.eye(SIZE)   # invertible, not symmetric
        else:
            values[s.name] = rng.standard_normal(shape)
    values["i"] = 0.7        # log(i) and x∘ⁱ need i > 0
    values["mu"] = 1.3
    return values


def _vec(value):
    return np.ravel(np.asarray(value, dtype=float), order="F")


def _finite_differences(case, values):
    """∂ vec f/∂ vec x by central differences: (len vec f) × (len vec x)."""
    base = np.asarray(values[case.wrt.name], dtype=float)
    columns = []
    for entry in range(base.size):
        step = np.zeros(base.size)
        step[entry] = EPS
        step = step.reshape(base.shape, order="F")
        plus = evaluate(case.expr, dict(values, **{case.wrt.name: base + step}), DIMS)
        minus = evaluate(case.expr, dict(values, **{case.wrt.name: base - step}), DIMS)
        columns.append((_vec(plus) - _vec(minus)) / (2 * EPS))
    return np.column_stack(columns)


def _as_numerator(case, value, *, sympy_array=False):
    """A derivative laid out as ∂ vec f/∂ vec x (see ``kind`` in the module docstring)."""
    value = np.asarray(value, dtype=float)
    if case.kind == "gradient":
        return _vec(value)[None, :]
    if case.kind == "denominator":
        return value.T
    if case.kind == "scalar":
        return _vec(value)[:, None]
    if case.kind == "array" and sympy_array:
        # D[m, n, i, j] = ∂Y[i, j]/∂X[m, n]  →  J[i + k j, m + k n]
        rows = int(np.prod(value.shape[:2]))
        return value.reshape(rows, -1, order="F").T
    return value     # matcalc's vec-layout Jacobian


def _relative_error(got, reference):
    assert got.shape == reference.shape, (got.shape, reference.shape)
    return float(np.max(np.abs(got - reference)) / max(1.0, np.max(np.abs(reference))))


@functools.lru_cache(maxsize=None)
def _reference(case):
    values = _values(case)
    return values, _finite_differences(case, values)


def _matcalc(case):
    if case.kind == "gradient":
        return mc.gradient(case.expr, case.wrt)
    if case.kind == "denominator":
        return mc.jacobian(case.expr, case.wrt, layout="denominator")
    return mc.jacobian(case.expr, case.wrt)


# ------------------------------------------------------------------ the checks

def test_transcription_is_complete():
    """One case per matrix-level assertion of SymPy's file, each from its test function."""
    assert len(CASES) == len({c.line for c in CASES}) == 96
    per_function = {}
    for c in CASES:
        per_function[c.source] = per_function.get(c.source, 0) + 1
    assert per_function == {
        "test_matrix_derivative_by_scalar": 15,
        "test_one_matrix": 1,
        "test_matrix_derivative_non_matrix_result": 5,
        "test_matrix_derivative_trivial_cases": 1,
        "test_matrix_derivative_with_inverse": 3,
        "test_matrix_derivative_vectors_and_scalars": 14,
        "test_matrix_derivatives_of_traces": 28,
        "test_derivatives_of_complicated_matrix_expr": 1,
        "test_mixed_deriv_mixed_expressions": 6,
        "test_derivatives_matrix_norms": 7,
        "test_derivatives_elementwise_applyfunc": 8,
        "test_derivatives_of_hadamard_expressions": 7,
    }


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_sympy_expectation(case):
    """SymPy's expected value against central differences of the expression."""
    values, reference = _reference(case)
    expected = evaluate(case.expected, values, DIMS)
    error = _relative_error(_as_numerator(case, expected, sympy_array=True), reference)
    if case.sympy_wrong:
        assert error > WRONG, f"SymPy's expectation is right after all: {error:.1e}"
    else:
        assert error < TOLERANCE, f"SymPy's expectation is off by {error:.1e}"


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_matcalc(case):
    """matcalc's derivative against the same differences and, where SymPy is right, SymPy's value."""
    values, reference = _reference(case)
    result = _matcalc(case)
    got = _as_numerator(case, evaluate(result, values, DIMS))
    error = _relative_error(got, reference)
    assert error < TOLERANCE, f"matcalc's {result} is off by {error:.1e}"
    if not case.sympy_wrong:
        expected = _as_numerator(case, evaluate(case.expected, values, DIMS), sympy_array=True)
        assert _relative_error(got, expected) < TOLERANCE
    if case.line == 346:
        assert isinstance(result, ZeroMatrix)   # SymPy's L345


def _case(line):
    return next(c for c in CASES if c.line == line)


@pytest.mark.parametrize("line, wrong", [
    (204, A),                       # Cookbook 100 without its transpose: ∂tr(XA)/∂X = A
    (122, -(X**(-1)*B*A*X**(-1))),  # Cookbook 63 without its transpose
    (149, a*b.T),                   # Cookbook 71 read as 70
    (97, AdA),                      # ∂Aᵀ/∂A read as ∂A/∂A
    (189, ArrayAdd(ArrayTensorProduct(A, I),       # the two halves of D[m, n, i, j] swapped
                   PermuteDims(ArrayTensorProduct(Trace(A)*I, I), Permutation(3)(1, 2)))),
], ids=["cb100-no-T", "cb63-no-T", "cb71-as-70", "AT-as-A", "trA-A-swapped"])
def test_the_check_sees_a_wrong_expectation(line, wrong):
    """The finite-difference check rejects a mistransposed or mislaid expectation by far more
    than WRONG: so an expectation that passes it is right, not merely close."""
    case = replace(_case(line), expected=wrong)
    values, reference = _reference(_case(line))
    error = _relative_error(_as_numerator(case, evaluate(wrong, values, DIMS), sympy_array=True), reference)
    assert error > WRONG


def test_permute_dims_evaluator():
    """tests/numeric.py's PermuteDims agrees with SymPy's own explicit arrays."""
    from sympy import ImmutableMatrix
    P, Q = MatrixSymbol("P", 3, 3), MatrixSymbol("Q", 3, 3)
    values = {"P": np.arange(9.0).reshape(3, 3) + 1, "Q": np.arange(9.0).reshape(3, 3) % 4 - 1.5}
    explicit = {P: ImmutableMatrix(values["P"]), Q: ImmutableMatrix(values["Q"])}
    for permutation in (Permutation(3)(1, 2), Permutation(3)(1, 2, 3), Permutation(3)(0, 3, 1)):
        expression = PermuteDims(ArrayTensorProduct(P, Q), permutation)
        sympys = np.array(expression.xreplace(explicit).as_explicit().tolist(), dtype=float)
        np.testing.assert_allclose(evaluate(expression, values, {}), sympys)
