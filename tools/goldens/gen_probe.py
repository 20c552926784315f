"""Linear probe: the L2-regularised multinomial logistic regression optimum from torch's LBFGS.

Same objective as Tessera's LogisticRegression: features standardised by their mean and
population standard deviation, loss = mean cross entropy + (l2 / 2) * ||W||^2 (bias not
penalised), solved in float64 with strong-Wolfe LBFGS to a tiny gradient. The unique optimum's
loss, weights and biases are the golden.
"""
import torch

from common import Family, seeded


def solve(x, y, classes, l2):
    x64 = x.double()
    x64 = (x64 - x64.mean(0)) / x64.std(0, unbiased=False)
    w = torch.zeros(classes, x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1, max_iter=1000, tolerance_grad=1e-12, tolerance_change=1e-15, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x64 @ w.T + b, y) + 0.5 * l2 * (w * w).sum()
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
    loss = closure()
    assert max(w.grad.abs().max(), b.grad.abs().max()) < 1e-8, "LBFGS did not converge"
    return loss.detach().float().reshape(1), w.detach().float(), b.detach().float()


def build():
    fam = Family("probe")
    for seed, (count, features, classes, l2) in enumerate([(90, 6, 3, 1e-2), (120, 10, 4, 1e-3), (60, 4, 2, 1e-1)]):
        g = seeded(500 + seed)
        centres = torch.randn(classes, features, generator=g) * 1.5
        y = torch.arange(count) % classes
        x = centres[y] + torch.randn(count, features, generator=g) * 1.5
        fam.case(f"logreg_{seed}", "logistic_regression", {"classes": classes, "l2": l2}, {"x": x, "y": y},
                 lambda x, y, c=classes, l=l2: solve(x, y, c, l), grad_inputs=[])
    return fam
