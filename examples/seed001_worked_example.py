"""Seed 001's worked example: 3 inputs, 2 hidden units, 1 output, sigmoid activations.

Column vectors as in the article: x (3×1), W⁽⁰→¹⁾ (3×2), W⁽¹→²⁾ (2×1),
    v_in⁽¹⁾ = W⁽⁰→¹⁾ᵀ x,  v_out⁽¹⁾ = σ(v_in⁽¹⁾),  v_in⁽²⁾ = W⁽¹→²⁾ᵀ v_out⁽¹⁾,  ŷ = σ(v_in⁽²⁾),
and the squared error E = ½ (y − ŷ)².  One forward pass and one backpropagation update
W ← W − η ∂E/∂W are computed twice: with matcalc's derived, compiled gradients, and by the
article's hand calculation (error terms δ⁽²⁾ = (y − ŷ) f′(v_in⁽²⁾), δ⁽¹⁾ = W⁽¹→²⁾δ⁽²⁾ ⊙ f′(v_in⁽¹⁾),
ΔW = η · input · δᵀ) in plain NumPy.  Both are printed and must agree.

    python examples/seed001_worked_example.py
"""
import numpy as np

import matcalc as mc

# The numbers of the classic version of this example (the article leaves them symbolic).
X_IN = np.array([[0.5], [0.1], [-0.2]])
W01 = np.array([[0.5, -0.6], [0.1, -0.2], [0.1, 0.7]])
W12 = np.array([[0.1], [-0.3]])
TARGET = 0.6
LEARNING_RATE = 0.5


def by_matcalc():
    x, y = mc.colvec("x", 3), mc.matrix("y", 1, 1)
    W1, W2 = mc.matrix("W01", 3, 2), mc.matrix("W12", 2, 1)
    v_out1 = mc.sigmoid(W1.T * x)
    y_hat = mc.sigmoid(W2.T * v_out1)
    error = (y - y_hat).T * (y - y_hat) / 2
    grads = [mc.gradient(error, W1), mc.gradient(error, W2)]
    forward = mc.compile([W1.T * x, v_out1, W2.T * v_out1, y_hat, error])
    backward = mc.compile(grads)
    values = dict(x=X_IN, y=TARGET, W01=W01, W12=W12)
    v_in1, v1, v_in2, out, e = forward(**values)
    g1, g2 = backward(**values)
    return {"v_in1": v_in1, "v_out1": v1, "v_in2": v_in2, "y_hat": out, "E": e,
            "grad_W01": g1, "grad_W12": g2, "formulas": [mc.to_text(g) for g in grads],
            "W01_new": W01 - LEARNING_RATE * g1, "W12_new": W12 - LEARNING_RATE * g2}


def by_hand():
    """The article's calculation, step by step, in plain NumPy."""
    f = lambda v: 1 / (1 + np.exp(-v))            # noqa: E731  the activation
    f_prime = lambda v: f(v) * (1 - f(v))          # noqa: E731
    v_in1 = W01.T @ X_IN
    v_out1 = f(v_in1)
    v_in2 = W12.T @ v_out1
    y_hat = f(v_in2).item()
    error = TARGET - y_hat                          # E = y − ŷ in the article
    delta2 = error * f_prime(v_in2)                 # δ⁽²⁾ = E f′(v_in⁽²⁾)
    delta1 = (W12 @ delta2) * f_prime(v_in1)        # δ⁽¹⁾ = (W⁽¹→²⁾ δ⁽²⁾) ⊙ f′(v_in⁽¹⁾)
    return {"v_in1": v_in1, "v_out1": v_out1, "v_in2": v_in2, "y_hat": y_hat, "E": 0.5 * error ** 2,
            "W12_new": W12 + LEARNING_RATE * v_out1 @ delta2.T,   # Δw = η δ v_out
            "W01_new": W01 + LEARNING_RATE * X_IN @ delta1.T}      # Δw = η δ x


def main(quick=True):
    ours, hand = by_matcalc(), by_hand()
    print("Seed 001: one forward pass and one backpropagation update (η = 0.5, y = 0.6)")
    print(f"  ∂E/∂W01 = {ours['formulas'][0]}")
    print(f"  ∂E/∂W12 = {ours['formulas'][1]}")
    for key in ("v_in1", "v_out1", "v_in2", "y_hat", "E", "W01_new", "W12_new"):
        a, b = np.asarray(ours[key], dtype=float), np.asarray(hand[key], dtype=float)
        print(f"  {key:8s} matcalc {np.array2string(a.ravel(), precision=6)}   "
              f"by hand {np.array2string(b.ravel(), precision=6)}")
    difference = max(float(np.max(np.abs(np.asarray(ours[k], float) - np.asarray(hand[k], float))))
                     for k in ("v_in1", "v_out1", "v_in2", "y_hat", "E", "W01_new", "W12_new"))
    print(f"  largest difference: {difference:.1e}")
    return {"matcalc": ours, "hand": hand, "max_difference": difference}


if __name__ == "__main__":
    main(quick=False)
