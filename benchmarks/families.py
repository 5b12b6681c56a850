"""The expression families of the derivation benchmark, shared by ``benchmarks/derive.py``
and the linearity tests (``tests/calculus/test_scaling.py``).

Each family maps a size ``k`` to ``(f, wrt, kind)``: a scalar expression, the variables and
the kind of derivative.  The texts are the inputs of the engine-scaling issue, written in
matcalc's text syntax; the transformer is built with the API so that its layers share
structure (text would repeat every intermediate where it is used).
"""
from __future__ import annotations

import matcalc as mc
from matcalc.core import algebra
from matcalc.core.symbols import matrix_symbols


def power(k):
    """x A^k xᵀ, gradient with respect to A."""
    shapes = {"x": (1, "n"), "A": ("n", "n")}
    f = mc.parse("x @ " + " @ ".join(["A"] * k) + " @ x.T", shapes)
    return f, [_symbol(f, "A")], "gradient"


def softmax_nested(k):
    """sum(G ⊙ softmax(softmax(… X w wᵀ))), k softmaxes deep, gradient wrt w."""
    shapes = {"X": ("m", "n"), "w": ("n", 1), "G": ("m", "n")}
    f = mc.parse("sum(G * " + "softmax(" * k + "X @ w @ w.T" + ")" * k + ")", shapes)
    return f, [_symbol(f, "w")], "gradient"


def sigmoid_product(k):
    """sum(σ(Xw + 1) ⊙ σ(Xw + 2) ⊙ … ⊙ σ(Xw + k)), gradient wrt w."""
    shapes = {"X": ("m", "n"), "w": ("n", 1)}
    f = mc.parse("sum(" + " * ".join(f"sigmoid(X @ w + {i})" for i in range(1, k + 1)) + ")", shapes)
    return f, [_symbol(f, "w")], "gradient"


def sigmoid_hessian(k):
    """sum(2σ(2σ(… Xw))), k deep, Hessian wrt w."""
    shapes = {"X": ("m", "n"), "w": ("n", 1)}
    f = mc.parse("sum(" + "2 * sigmoid(" * k + "X @ w" + ")" * k + ")", shapes)
    return f, [_symbol(f, "w")], "hessian"


def logdet_product(k):
    """log det(A^k), gradient wrt A."""
    shapes = {"A": ("n", "n")}
    f = mc.parse("logdet(" + " @ ".join(["A"] * k) + ")", shapes)
    return f, [_symbol(f, "A")], "gradient"


def tanh_nested(k):
    """sum(tanh(tanh(… Xw))), k deep, gradient wrt w (the rendering case)."""
    shapes = {"X": ("m", "n"), "w": ("n", 1)}
    f = mc.parse("sum(" + "tanh(" * k + "X @ w" + ")" * k + ")", shapes)
    return f, [_symbol(f, "w")], "gradient"


def mlp(k):
    """A k-layer sigmoid MLP with a squared loss, gradients wrt every weight and bias."""
    shapes = {"X": ("N", "d"), "Y": ("N", "d")}
    text = "X"
    for i in range(1, k + 1):
        shapes[f"W{i}"], shapes[f"b{i}"] = ("d", "d"), (1, "d")
        text = f"sigmoid({text} @ W{i} + b{i})"
    f = mc.parse(f"sum(({text} - Y) ** 2) / N", shapes)
    wrt = [_symbol(f, name) for i in range(1, k + 1) for name in (f"W{i}", f"b{i}")]
    return f, wrt, "gradient"


_LAYER_NORM = "g * (Z - mean(Z, 1)) / sqrt(mean((Z - mean(Z, 1)) ** 2, 1) + 1/100000) + c"
_ATTENTION = "Z + softmax(H @ Wq @ (H @ Wk).T / 8) @ H @ Wv @ Wo"
_MLP = "Z + relu(H @ W1) @ W2"


def transformer(k, *, weights=("Wq", "Wk", "Wv", "Wo", "W1", "W2", "g1", "g2")):
    """k pre-LN transformer blocks (layer norm → single-head attention → residual → layer
    norm → ReLU MLP → residual), loss sum(G ⊙ out); gradients wrt every block's weights."""
    T, d, h = mc.dim("T"), mc.dim("d"), mc.dim("h")
    X, G = mc.matrix("X", T, d), mc.matrix("G", T, d)
    Z, H = mc.matrix("Z", T, d), mc.matrix("H", T, d)
    # The parser takes dimensions by name; mc.dim gives the same symbols.
    base = {"Z": ("T", "d"), "H": ("T", "d"), "g": (1, "d"), "c": (1, "d"), "Wq": ("d", "d"),
            "Wk": ("d", "d"), "Wv": ("d", "d"), "Wo": ("d", "d"), "W1": ("d", "h"), "W2": ("h", "d")}
    shape = {"T": T, "d": d, "h": h, 1: 1}
    layer_norm, attention, feed_forward = (mc.parse(t, base) for t in (_LAYER_NORM, _ATTENTION, _MLP))
    templates = {s.name: s for e in (layer_norm, attention, feed_forward) for s in matrix_symbols(e)}

    def instantiate(expr, **values):
        return algebra.substitute(expr, {templates[name]: value for name, value in values.items()})

    out, wrt = X, []
    for b in range(1, k + 1):
        p = {name: mc.matrix(f"{name}_{b}", *(shape[n] for n in base[name])) for name in ("Wq", "Wk", "Wv", "Wo", "W1", "W2")}
        g1, c1, g2, c2 = (mc.matrix(f"{n}_{b}", 1, d) for n in ("g1", "c1", "g2", "c2"))
        h1 = instantiate(layer_norm, Z=out, g=g1, c=c1)
        r1 = instantiate(attention, Z=out, H=h1, Wq=p["Wq"], Wk=p["Wk"], Wv=p["Wv"], Wo=p["Wo"])
        h2 = instantiate(layer_norm, Z=r1, g=g2, c=c2)
        out = instantiate(feed_forward, Z=r1, H=h2, W1=p["W1"], W2=p["W2"])
        named = dict(p, g1=g1, g2=g2)
        wrt.extend(named[w] for w in weights)
    f = mc.sum(mc.hadamard(G, out))
    del Z, H
    return f, wrt, "gradient"


def _symbol(expr, name):
    for s in matrix_symbols(expr):
        if s.name == name:
            return s
    raise KeyError(name)


FAMILIES = {
    "x A^k xᵀ, ∂/∂A": (power, (5, 10, 20, 40)),
    "softmax nested k deep": (softmax_nested, (2, 4, 8, 16)),
    "product of k sigmoids": (sigmoid_product, (5, 10, 20, 40)),
    "Hessian, 2σ nested k deep": (sigmoid_hessian, (2, 4, 8)),
    "logdet of k factors": (logdet_product, (4, 8, 16, 32)),
    "tanh nested k deep": (tanh_nested, (8, 16, 30, 45)),
    "k-layer MLP": (mlp, (2, 4, 8, 16, 32)),
    "k transformer blocks": (transformer, (1, 2, 4, 8)),
}
