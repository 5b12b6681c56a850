"""The gallery: derivations people look for, as data (:func:`entries`).

Each :class:`Entry` is one example of ``docs/gallery/``: a key (the file name stem), a
title, a one-paragraph description, and a builder returning its :class:`Part` s — the
function, the variables, the kind of derivative and the printing options of each
derivation it shows.  A part may also ask for the stationary point of a quadratic loss
(:func:`~matcalc.apps.solve.solve_stationary`).

Descriptions are LaTeX text with ``$…$`` math and nothing else (no ``%``, ``&``, ``_``,
``*`` outside math), so that one string reads right in the ``.tex`` and PDF, in GitHub's
Markdown, and as HTML with MathML.  :mod:`matcalc.apps.gallery_pages` writes the pages;
``scripts/gallery.py`` (``make gallery``) runs it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import sympy

from ..core import functions as F
from ..core.symbols import colvec, dim, matrix, rowvec, scalar
from ..calculus.derive import Derivation, derive
from . import seeds

__all__ = ["Part", "Entry", "entries"]


@dataclass(frozen=True)
class Part:
    """One derivation of an entry: what :func:`~matcalc.calculus.derive.derive` takes, and
    the options of the printers (``names``, ``function_name``; ``heading`` is plain text
    naming the part when an entry shows several).  ``solve_for``: a vector variable whose
    gradient is linear in it; the page then also shows where that gradient vanishes."""
    function: object
    wrt: tuple
    kind: str = "gradient"
    layout: str = "numerator"
    cotangent: object = None
    names: dict = field(default_factory=dict, hash=False, compare=False)
    function_name: str | None = None
    heading: str | None = None
    solve_for: object = None

    def derive(self) -> Derivation:
        return derive(self.function, list(self.wrt), kind=self.kind, layout=self.layout,
                      cotangent=self.cotangent)

    def options(self) -> dict:
        """The printers' options for this part (``to_latex``, ``to_html``)."""
        return {"names": self.names, "function_name": self.function_name, "title": self.heading}


@dataclass(frozen=True)
class Entry:
    """One page of the gallery; ``build()`` returns its parts."""
    key: str
    title: str
    description: str
    build: Callable[[], tuple]

    def parts(self) -> tuple:
        return tuple(self.build())


def _from_seed(case) -> tuple:
    """The part of a seed case (:mod:`matcalc.apps.seeds`)."""
    return (Part(case.function, tuple(case.wrt), case.kind, case.layout, names=case.names,
                 function_name=case.function_name),)


def _bce(labels, prediction):
    """−sum(y ⊙ log ŷ + (1 − y) ⊙ log(1 − ŷ)), the binary cross-entropy."""
    one = F.ones(*labels.shape)
    return -F.sum(F.hadamard(labels, F.log(prediction)) + F.hadamard(one - labels, F.log(one - prediction)))


# ---------------------------------------------------------------- regression

def _ols():
    N = dim("N")
    X, y, w = matrix("X", "N", "d"), colvec("y", "N"), colvec("w", "d")
    return (Part(F.norm(X * w - y) ** 2 / (2 * N), (w,), solve_for=w),)


def _ridge():
    N = dim("N")
    X, y, w = matrix("X", "N", "d"), colvec("y", "N"), colvec("w", "d")
    lam = scalar("lam", positive=True)
    return (Part(F.norm(X * w - y) ** 2 / N + lam * F.norm(w) ** 2, (w,), solve_for=w),)


def _logistic():
    X, y, w = matrix("X", "N", "d"), colvec("y", "N", binary=True), colvec("w", "d")
    L = _bce(y, F.sigmoid(X * w))
    return (Part(L, (w,), heading="Gradient"), Part(L, (w,), kind="hessian", heading="Hessian"))


def _logistic_softplus():
    X, y, w = matrix("X", "N", "d"), colvec("y", "N", binary=True), colvec("w", "d")
    return (Part(F.sum(F.log(1 + F.exp(X * w))) - y.T * X * w, (w,)),)


def _poisson():
    X, y, w = matrix("X", "N", "d"), colvec("y", "N"), colvec("w", "d")
    L = F.sum(F.exp(X * w) - F.hadamard(y, X * w))
    return (Part(L, (w,), heading="Gradient"), Part(L, (w,), kind="hessian", heading="Hessian"))


def _softmax_regression():
    N = dim("N")
    X, Y = matrix("X", "N", "d"), matrix("Y", "N", "K", onehot=True)
    W, b = matrix("W", "d", "K"), rowvec("b", "K")
    Yhat = F.softmax(X * W + F.ones("N", 1) * b)
    return (Part(-F.sum(F.hadamard(Y, F.log(Yhat))) / N, (W, b)),)


# ---------------------------------------------------------------- networks

def _attention():
    Q, K, V, G = (matrix(name, "T", "d") for name in "QKVG")
    Y = F.softmax(Q * K.T / sympy.sqrt(dim("d"))) * V
    return (Part(Y, (Q, K, V), kind="vjp", cotangent=G),)


def _layer_norm():
    x, g = rowvec("x", "d"), rowvec("g", "d")
    gamma, beta = rowvec("gamma", "d"), rowvec("beta", "d")
    eps = scalar("eps", positive=True)
    centred = x - F.mean(x)
    normalised = centred / F.sqrt(F.mean(F.hadamard(centred, centred)) + eps)
    Y = F.hadamard(gamma, normalised) + beta
    return (Part(Y, (x, gamma, beta), kind="vjp", cotangent=g,
                 names={centred: r"\bar{x}", normalised: r"\hat{x}"}),)


def _rnn_step():
    h, x, y = colvec("h", "d"), colvec("x", "p"), colvec("y", "d")
    W, U, b = matrix("W", "d", "d"), matrix("U", "d", "p"), colvec("b", "d")
    following = F.tanh(W * h + U * x + b)
    return (Part(F.norm(following - y) ** 2 / 2, (W, U, b, h), names={following: "h'"}),)


def _gelu():
    N = dim("N")
    X, y = matrix("X", "N", "d"), colvec("y", "N")
    W1, b1, w2 = matrix("W1", "d", "h"), rowvec("b1", "h"), colvec("w2", "h")
    Z = X * W1 + F.ones("N", 1) * b1
    A = F.gelu(Z)
    return (Part(F.norm(A * w2 - y) ** 2 / N, (W1, b1, w2), names={Z: "Z", A: "A"}),)


# ---------------------------------------------------------------- statistics and linear algebra

def _gaussian():
    x, mu = colvec("x", "d"), colvec("mu", "d")
    Sigma = matrix("Sigma", "d", "d", spd=True)
    r = x - mu
    return (Part(F.logdet(Sigma) / 2 + r.T * F.inv(Sigma) * r / 2, (mu, Sigma)),)


def _pca():
    k = dim("k")
    W, S = matrix("W", "d", "k"), matrix("S", "d", "d", symmetric=True)
    Lambda = matrix("Lambda", "k", "k", symmetric=True)
    return (Part(F.trace(W.T * S * W) - F.trace(Lambda * (W.T * W - F.eye(k))), (W,)),)


def _rayleigh():
    x, S = colvec("x", "n"), matrix("S", "n", "n", symmetric=True)
    return (Part(x.T * S * x / F.norm(x) ** 2, (x,), function_name="r"),)


def _factorisation():
    X, U, V = matrix("X", "m", "n"), matrix("U", "m", "k"), matrix("V", "n", "k")
    return (Part(F.norm(X - U * V.T) ** 2, (U, V)),)


def _log_det_inverse():
    X, A, B = matrix("X", "n", "n"), matrix("A", "n", "n"), matrix("B", "n", "n")
    return (Part(F.logdet(X), (X,), heading="Log-determinant"),
            Part(F.trace(A * F.inv(X) * B), (X,), heading="A trace through the inverse"),
            Part(F.inv(X), (X,), kind="jacobian", function_name="Y", heading="The inverse itself"))


def _jacobian_layouts():
    W, x, b = matrix("W", "m", "n"), colvec("x", "n"), colvec("b", "m")
    y = F.sigmoid(W * x + b)
    return (Part(y, (x, b), kind="jacobian", heading="Numerator layout"),
            Part(y, (x, b), kind="jacobian", layout="denominator", heading="Denominator layout"))


# ---------------------------------------------------------------- the gallery

def entries() -> list[Entry]:
    """Every example of the gallery, in the order of its index."""
    return [
        Entry("ols", "Ordinary least squares", _OLS, _ols),
        Entry("ridge", "Ridge regression and its closed form", _RIDGE, _ridge),
        Entry("logistic-regression", "Logistic regression: gradient and Hessian", _LOGISTIC, _logistic),
        Entry("logistic-softplus", "Logistic loss written with log(1 + exp)", _SOFTPLUS, _logistic_softplus),
        Entry("poisson-regression", "Poisson regression: gradient and Hessian", _POISSON, _poisson),
        Entry("softmax-regression", "Softmax regression", _SOFTMAX, _softmax_regression),
        Entry("mlp-softmax", "Two-layer MLP with softmax cross-entropy", _MLP,
              lambda: _from_seed(seeds.mlp_two_layer())),
        Entry("mlp-3-2-1", "Backpropagation in a 3-2-1 network", _NETWORK,
              lambda: _from_seed(seeds.seed001_network())),
        Entry("mlp-squared-error", "Two-layer network with squared error", _SQUARED,
              lambda: _from_seed(seeds.seed002_two_layer())),
        Entry("mlp-three-layer-bce", "Three-layer network with binary cross-entropy", _THREE,
              lambda: _from_seed(seeds.seed002_three_layer_bce())),
        Entry("gelu", "A GELU layer", _GELU, _gelu),
        Entry("rnn-step", "One step of a recurrent network", _RNN, _rnn_step),
        Entry("attention", "Scaled dot-product attention", _ATTENTION, _attention),
        Entry("layer-norm", "Layer normalisation", _LAYER_NORM, _layer_norm),
        Entry("gaussian-nll", "Gaussian negative log-likelihood", _GAUSSIAN, _gaussian),
        Entry("pca", "Principal components: the trace objective", _PCA, _pca),
        Entry("rayleigh-quotient", "The Rayleigh quotient", _RAYLEIGH, _rayleigh),
        Entry("matrix-factorisation", "Matrix factorisation", _FACTORISATION, _factorisation),
        Entry("log-det-inverse", "Log-determinant and inverse", _LOG_DET, _log_det_inverse),
        Entry("jacobian-layouts", "A Jacobian in both layouts", _LAYOUTS, _jacobian_layouts),
    ]


# ---------------------------------------------------------------- descriptions

_OLS = (
    r"The linear model $Xw$ fitted to the targets $y$ by minimising the mean squared error over "
    r"the weights $w$, for $N$ examples in the rows of $X$. The gradient is $X^\top$ times the "
    r"residual, divided by $N$. It is linear in $w$, so setting it to zero gives the normal "
    r"equations $X^\top X w = X^\top y$ and the closed form at the end, which assumes that "
    r"$X^\top X$ is invertible.")

_RIDGE = (
    r"Least squares with an $\ell_2$ penalty $\lambda \lVert w \rVert^2$ on the weights, the mean squared "
    r"error written with $1/N$ as in machine-learning texts. The gradient is still linear in $w$; "
    r"setting it to zero gives $(X^\top X + N \lambda I) w = X^\top y$, which has a unique "
    r"solution for every $\lambda > 0$, given at the end as matcalc solves it.")

_LOGISTIC = (
    r"Binary cross-entropy of the predictions $\sigma(Xw)$ against labels $y$ in $\lbrace 0, 1 \rbrace$. The "
    r"gradient is $X^\top(\hat{y} - y)$, the prediction error sent back through the linear map; "
    r"the Hessian $X^\top \operatorname{diag}(\hat{y} \odot (1 - \hat{y})) X$ is positive "
    r"semidefinite, so the loss is convex and Newton's method (iteratively reweighted least "
    r"squares) applies.")

_SOFTPLUS = (
    r"The same logistic loss written as $\sum \log(1 + e^{z}) - y^\top z$ with $z = Xw$, as it "
    r"is often implemented. Its gradient is $X^\top(\sigma(Xw) - y)$: the derivative of "
    r"$\log(1 + e^{z})$ is the logistic sigmoid.")

_POISSON = (
    r"A generalised linear model for counts $y$ with the log link: the rate is $\exp(Xw)$ and the "
    r"negative log-likelihood, up to a constant, is $\sum \exp(Xw) - y^\top X w$. The gradient is "
    r"$X^\top(\exp(Xw) - y)$ and the Hessian $X^\top \operatorname{diag}(\exp(Xw)) X$.")

_SOFTMAX = (
    r"Multinomial logistic regression: class scores $XW + \mathbf{1} b$, row-wise softmax, and "
    r"the mean cross-entropy against one-hot labels $Y$. Softmax and cross-entropy together give "
    r"the error $(\hat{Y} - Y)/N$ at the scores, which the gradients of $W$ and $b$ share.")

_MLP = (
    r"The batch form of a two-layer perceptron: a sigmoid hidden layer, a softmax output and the "
    r"mean cross-entropy. This is the classification example of seed document 000 (Choi's "
    r"backpropagation notes); the error at the output scores is $(\hat{Y} - Y)/N$ and is sent "
    r"back through $W_2$ and the sigmoid.")

_NETWORK = (
    r"The worked example of seed document 001: three inputs, two sigmoid hidden units and one "
    r"sigmoid output, no biases, with half the squared error. The blog post's error terms "
    r"$\delta$ are the derivatives of $-E$ with respect to the pre-activations.")

_SQUARED = (
    r"A two-layer sigmoid network for a column input $x$, with the squared error "
    r"$\lVert \hat{y} - y \rVert^2$, as in the lecture slides of seed document 002.")

_THREE = (
    r"Three sigmoid layers with biases and a binary cross-entropy loss on a single output, as in "
    r"seed document 002. The error at the last pre-activation is $\hat{y} - y$, and each layer "
    r"passes its error back through its weights and the derivative of the sigmoid.")

_GELU = (
    r"A hidden layer with the Gaussian error linear unit $\operatorname{GELU}(z) = z \Phi(z)$ and a "
    r"linear output, fitted by mean squared error. The derivative of GELU is "
    r"$\Phi(z) + z \varphi(z)$, with $\Phi$ and $\varphi$ the standard normal distribution "
    r"function and density.")

_RNN = (
    r"One step $h' = \tanh(W h + U x + b)$ of a recurrent network, compared with a target $y$ "
    r"by half the squared error. The gradient with respect to the previous state $h$ is what "
    r"backpropagation through time passes to the step before.")

_ATTENTION = (
    r"The attention of a transformer, $Y = \operatorname{softmax}(Q K^\top / \sqrt{d}) V$, with "
    r"the softmax along rows. Its backward pass is a vector-Jacobian product: given the "
    r"gradient $G$ of a loss with respect to $Y$, the gradients with respect to $Q$, $K$ and $V$.")

_LAYER_NORM = (
    r"Layer normalisation of a row $x$ of $d$ features: subtract the mean, divide by the "
    r"standard deviation (with $\epsilon$ added to the variance), then scale by $\gamma$ and "
    r"shift by $\beta$. As a backward pass: the vector-Jacobian product with the upstream "
    r"gradient $g$.")

_GAUSSIAN = (
    r"The negative log-likelihood of one observation $x$ under a normal distribution with mean "
    r"$\mu$ and covariance $\Sigma$, up to a constant. The gradient with respect to $\mu$ is "
    r"$\Sigma^{-1}(\mu - x)$; with respect to $\Sigma$ it is "
    r"$\frac{1}{2}(\Sigma^{-1} - \Sigma^{-1} (x - \mu)(x - \mu)^\top \Sigma^{-1})$, which "
    r"vanishes at $\Sigma = (x - \mu)(x - \mu)^\top$.")

_PCA = (
    r"Principal component analysis maximises $\operatorname{tr}(W^\top S W)$ over $W$ with "
    r"orthonormal columns, for a covariance matrix $S$. With a symmetric matrix $\Lambda$ of "
    r"Lagrange multipliers the gradient is $2(S W - W \Lambda)$, so at a stationary point "
    r"$S W = W \Lambda$: the columns of $W$ span an invariant subspace of $S$.")

_RAYLEIGH = (
    r"The Rayleigh quotient $x^\top S x / x^\top x$ of a symmetric matrix $S$. Its gradient is "
    r"$2(S x - r x)/x^\top x$, which vanishes exactly when $x$ is an eigenvector of $S$ with "
    r"eigenvalue $r$.")

_FACTORISATION = (
    r"A low-rank approximation $X \approx U V^\top$ in the squared Frobenius norm, as in "
    r"recommender systems. The gradients with respect to $U$ and $V$ both use the residual "
    r"$U V^\top - X$; alternating least squares sets each to zero in turn.")

_LOG_DET = (
    r"Three identities of the Matrix Cookbook for a square invertible $X$: the gradient of "
    r"$\log \det X$ is $X^{-\top}$, that of $\operatorname{tr}(A X^{-1} B)$ is "
    r"$-X^{-\top} A^\top B^\top X^{-\top}$, and the Jacobian of $X^{-1}$ in the vec layout is "
    r"$-(X^{-\top} \otimes X^{-1})$.")

_LAYOUTS = (
    r"The Jacobian of a sigmoid layer $y = \sigma(W x + b)$ with respect to $x$ and $b$, in "
    r"numerator layout (one row per entry of $y$) and in denominator layout (one column per "
    r"entry of $y$). The two are transposes of each other.")
