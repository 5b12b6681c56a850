"""The least-squares training spec that the train, spec and CLI tests start from."""


def ols_spec(csv="ols.csv", lr=0.1, epochs=20):
    """A spec fitting y ≈ X w (with a bias column) to ``csv`` by gradient descent."""
    return f"""\
loss = "norm(X @ w - y)**2 / n"
wrt = ["w"]
[shapes]
X = ["n", "d"]
y = ["n", 1]
w = ["d", 1]
[data]
csv = "{csv}"
inputs = "X"
target = "y"
bias_column = true
[train]
optimizer = "gd"
lr = {lr}
epochs = {epochs}
"""
