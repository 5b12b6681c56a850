"""Ordinary least squares on scikit-learn's diabetes data, trained with matcalc.

Seed 000's row-vector convention: w (1×d), X (n×d), y (1×n) and
    L(w) = 1/(2n) (y − wXᵀ)(y − wXᵀ)ᵀ.
matcalc derives ∇L, compiles loss and gradient into one NumPy function, and gradient descent
with momentum runs until the gradient vanishes.  The result must agree with the closed
form ŵ = yX(XᵀX)⁻¹ (computed here with matcalc too, and checked against NumPy's lstsq)
to 1e-6 relative.  The data ship with scikit-learn; nothing is downloaded.

    python examples/ols_diabetes.py
"""
import numpy as np

import matcalc as mc


def load():
    """Standardised features with a leading column of ones, and the targets."""
    from sklearn.datasets import load_diabetes
    features, target = load_diabetes(return_X_y=True)
    features = (features - features.mean(axis=0)) / features.std(axis=0)
    return np.hstack([np.ones((len(features), 1)), features]), target


def main(quick=True, progress=None, outdir=None):
    """Train; with ``outdir``, save the weights (.npz) and the loss curve (.png) there."""
    X, y, w = mc.matrix("X", "n", "d"), mc.rowvec("y", "n"), mc.rowvec("w", "d")
    n = mc.dim("n")
    residual = y - w * X.T
    loss = residual * residual.T / (2 * n)
    gradient = mc.gradient(loss, w)

    design, target = load()
    trainer = mc.Trainer(loss, [w], gradients=[gradient], optimizer="momentum", lr=0.1, momentum=0.9)
    result = trainer.fit({"X": design, "y": target}, epochs=20000, grad_tol=1e-8,
                         progress=(not quick) if progress is None else progress)
    fitted = result.params["w"]

    closed_form = mc.compile(y * X * mc.inv(X.T * X))(X=design, y=target)   # ŵ = yX(XᵀX)⁻¹
    lstsq = np.linalg.lstsq(design, target, rcond=None)[0]
    relative_error = float(np.linalg.norm(fitted - closed_form) / np.linalg.norm(closed_form))
    report = {
        "gradient": mc.to_text(gradient),
        "epochs": result.epochs,
        "loss": result.final_loss,
        "relative_error": relative_error,
        "closed_form_vs_lstsq": float(np.linalg.norm(closed_form.ravel() - lstsq) / np.linalg.norm(lstsq)),
        "w": fitted.ravel().tolist(),
        "history": result.history,
    }
    print(f"OLS on load_diabetes (n={design.shape[0]}, d={design.shape[1]})")
    print(f"  ∇L(w) = {mc.to_text(gradient)}")
    print(f"  momentum GD: {result.epochs} epochs, final loss {result.final_loss:.6f} ({result.reason})")
    print(f"  ‖w − ŵ‖/‖ŵ‖ = {relative_error:.2e} against the closed form ŵ = yX(XᵀX)⁻¹")
    if outdir is not None:
        from pathlib import Path
        outdir = Path(outdir)
        outdir.mkdir(parents=True, exist_ok=True)
        np.savez(outdir / "ols_diabetes_params.npz", w=fitted, closed_form=closed_form)
        try:
            result.plot(outdir / "ols_diabetes_loss.png", title="OLS on load_diabetes")
        except mc.MatcalcError:
            print("  (install matplotlib for the loss-curve plot)")
        print(f"  saved weights and loss curve in {outdir}")
    return report


if __name__ == "__main__":
    main(quick=False)
