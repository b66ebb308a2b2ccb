"""Regenerates the README screenshots docs/images/plots_mixture.png and
plots_hmm.png (run from the repository root; needs the examples extra)."""
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import gmscore
from gmscore import plot as gp

rng = np.random.RandomState(0)
X = np.vstack([rng.randn(400, 2) @ [[1.0, 0.8], [0.0, 0.5]],
               rng.randn(400, 2) + [4, 1], 0.5 * rng.randn(200, 2) + [0, 4]])
gm = gmscore.GaussianMixture(3, n_init=4, init_params="random_from_data", tol=1e-5,
                            random_state=3).fit(X)
selection = gmscore.select_mixture(X, range(1, 7), random_state=0)

fig, axes = plt.subplots(2, 2, figsize=(11, 8.5))
gp.plot_mixture(gm, X, ax=axes[0, 0])
gp.plot_density(gm, X, ax=axes[0, 1])
gp.plot_selection(selection, ax=axes[1, 0])
gp.plot_convergence(gm, start=2, ax=axes[1, 1])
fig.tight_layout()
fig.savefig("docs/images/plots_mixture.png", dpi=55)

from gmscore.examples.regimes import load_quarters
X, years, quarters = load_quarters()              # US GDP growth, unemployment change
hmm = gmscore.GaussianHMM(2, covariance_type="diag", n_iter=500, tol=1e-6, n_init=10,
                          random_state=0).fit(X)
fig = plt.figure(figsize=(12, 8))
top, bottom = fig.subfigures(2, 1, height_ratios=(1.2, 1))
gp.plot_states(hmm, X, ax=top.subplots())
left, right = bottom.subplots(1, 2)
gp.plot_transitions(hmm, ax=left)
gp.plot_emissions(hmm, X, dims=(0, 1), ax=right)
fig.savefig("docs/images/plots_hmm.png", dpi=55)

from PIL import Image
for name in ("plots_mixture", "plots_hmm"):
    path = f"docs/images/{name}.png"
    Image.open(path).convert("RGB").quantize(64).save(path, optimize=True)
