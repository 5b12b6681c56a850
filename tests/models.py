"""Expressions several test files start from."""
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
