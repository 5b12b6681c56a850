"""Expressions several test files start from, and the modules they import by path."""
import matcalc as mc


def readme_mlp():
    """The README's seed-000 MLP in batch form: softmax cross-entropy over a sigmoid hidden
    layer, with biases.  Returns (loss, [W1, b1, W2, b2])."""
    N = mc.dim("N")
    X, Y = mc.matrix("X", "N", "d"), mc.matrix("Y", "N", "K", onehot=True)
    W1, b1 = mc.matrix("W1", "d", "h"), mc.rowvec("b1", "h")
    W2, b2 = mc.matrix("W2", "h", "K"), mc.rowvec("b2", "K")
    A1 = mc.sigmoid(X * W1 + mc.ones("N", 1) * b1)
    Yhat = mc.softmax(A1 * W2 + mc.ones("N", 1) * b2)
    return -mc.sum(mc.hadamard(Y, mc.log(Yhat))) / N, [W1, b1, W2, b2]


def readme_mlp_data(seed=0, N=12, d=4, h=5, K=3):
    """Random arrays for :func:`readme_mlp` (one-hot Y), as NumPy float64."""
    import numpy as np
    rng = np.random.default_rng(seed)
    return dict(X=rng.normal(size=(N, d)), Y=np.eye(K)[rng.integers(0, K, N)], W1=rng.normal(size=(d, h)),
                b1=rng.normal(size=(1, h)), W2=rng.normal(size=(h, K)), b2=rng.normal(size=(1, K)))


def readme_mlp_by_hand(data):
    """The MLP's loss and gradients (W1, b1, W2, b2) written out by hand in NumPy, not
    through matcalc: the reference the compiled functions are held to."""
    import numpy as np
    X, Y, W1, b1, W2, b2 = (data[k] for k in ("X", "Y", "W1", "b1", "W2", "b2"))
    A1 = 1 / (1 + np.exp(-(X @ W1 + b1)))
    Z2 = A1 @ W2 + b2
    P = np.exp(Z2 - Z2.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    N = len(X)
    G2 = (P - Y) / N
    G1 = (G2 @ W2.T) * A1 * (1 - A1)
    return [-np.sum(Y * np.log(P)) / N, X.T @ G1, G1.sum(0, keepdims=True), A1.T @ G2, G2.sum(0, keepdims=True)]


def import_file(path, name=None):
    """The Python file at ``path`` imported as a module (named ``name``, else its stem):
    an exported module, or an example (examples are scripts, not a package)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(name or path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def example(name):
    """The module ``examples/<name>.py`` of the checkout."""
    from pathlib import Path
    return import_file(Path(__file__).resolve().parents[1] / "examples" / f"{name}.py")
