"""Seed 000's two-layer MLP on scikit-learn's handwritten digits, trained only with
gradients that matcalc derives and compiles.

Batch form: X (N×d), one-hot Y (N×K),
    Z1 = X W1 + 1 b1,  A1 = σ(Z1),  Z2 = A1 W2 + 1 b2,  Ŷ = softmax(Z2),
    L  = −(1/N) Σ Y ⊙ log Ŷ.
matcalc finds ∂L/∂W2 = A1ᵀG, ∂L/∂b2 = 1ᵀG, ∂L/∂W1 = Xᵀ[(GW2ᵀ) ⊙ A1 ⊙ (1 − A1)], ∂L/∂b1 = 1ᵀ[…]
with G = (Ŷ − Y)/N, and Adam on minibatches of 32 trains it.  A fixed seed fixes the
train/test split, the initial weights and the batches.  The digits ship with
scikit-learn; nothing is downloaded.

    python examples/mlp_digits.py
"""
import numpy as np

import matcalc as mc

HIDDEN = 64


def model():
    """The loss of seed 000's MLP and its parameters, as matcalc expressions."""
    N, d, h, K = "N", "d", "h", "K"
    X, Y = mc.matrix("X", N, d), mc.matrix("Y", N, K, onehot=True)
    W1, b1 = mc.matrix("W1", d, h), mc.rowvec("b1", h)
    W2, b2 = mc.matrix("W2", h, K), mc.rowvec("b2", K)
    A1 = mc.sigmoid(X * W1 + mc.ones(N, 1) * b1)
    Y_hat = mc.softmax(A1 * W2 + mc.ones(N, 1) * b2)
    loss = -mc.sum(mc.hadamard(Y, mc.log(Y_hat))) / mc.dim(N)
    return loss, [W1, b1, W2, b2], Y_hat


def load(seed):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    images, labels = load_digits(return_X_y=True)
    images = images / 16.0                      # pixel intensities 0..16 → 0..1
    onehot = np.eye(10)[labels]
    return train_test_split(images, onehot, test_size=0.25, random_state=seed, stratify=labels)


def main(quick=True, seed=0, progress=None, outdir=None):
    """Train; with ``outdir``, save the parameters (.npz) and the loss curve (.png) there."""
    loss, params, Y_hat = model()
    x_train, x_test, y_train, y_test = load(seed)
    trainer = mc.Trainer(loss, params, optimizer="adam", lr=0.01)
    result = trainer.fit({"X": x_train, "Y": y_train}, epochs=30 if quick else 100, batch_size=32,
                         seed=seed, dims={"h": HIDDEN}, progress=(not quick) if progress is None else progress)
    predict = mc.compile(Y_hat)
    weights = {p.name: result.params[p.name] for p in params}
    accuracy = {}
    for split, (x, y) in {"train": (x_train, y_train), "test": (x_test, y_test)}.items():
        probabilities = predict(X=x, **{k: v for k, v in weights.items()})
        accuracy[split] = float(np.mean(probabilities.argmax(axis=1) == y.argmax(axis=1)))
    print(f"Two-layer MLP (d=64, h={HIDDEN}, K=10) on load_digits, Adam, {result.epochs} epochs")
    for p, g in zip(params, trainer.gradients):
        print(f"  ∂L/∂{p.name} = {mc.to_text(g)}")
    print(f"  final training loss {result.final_loss:.4f}; accuracy train {accuracy['train']:.2%}, "
          f"test {accuracy['test']:.2%}")
    if outdir is not None:
        _save(result, weights, outdir)
    return {"epochs": result.epochs, "loss": result.final_loss, "train_accuracy": accuracy["train"],
            "test_accuracy": accuracy["test"], "history": result.history}


def _save(result, weights, outdir):
    from pathlib import Path
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    np.savez(outdir / "mlp_digits_params.npz", **weights)
    try:
        result.plot(outdir / "mlp_digits_loss.png", title="Two-layer MLP on load_digits")
    except mc.MatcalcError:
        print("  (install matplotlib for the loss-curve plot)")
    print(f"  saved parameters and loss curve in {outdir}")


if __name__ == "__main__":
    main(quick=False)
