"""gmscore.plot: every function rendered with Agg into a PNG (non-empty,
not blank), its artists counted, and what they show checked against
independent references: ellipse outlines at the right Mahalanobis distance
of covariances rebuilt by direct formulas, scipy densities, scikit-learn's
PCA, hmmlearn's decoding, the selection table's values."""
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection, PathCollection, PolyCollection  # noqa: E402
from matplotlib.contour import ContourSet  # noqa: E402
from matplotlib.image import AxesImage, imread  # noqa: E402
from matplotlib.patches import Ellipse  # noqa: E402
from numpy.testing import assert_allclose, assert_array_equal  # noqa: E402
from scipy import stats  # noqa: E402

import gmscore  # noqa: E402
from gmscore import plot as gp  # noqa: E402

COV_TYPES = ("full", "tied", "diag", "spherical")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def render(fig, tmp_path, name="plot.png"):
    """Save as PNG; the file exists, is a PNG, and is not one flat colour."""
    path = tmp_path / name
    fig.savefig(path, dpi=40)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    pixels = imread(path)
    assert pixels.std() > 0.01
    return path


def blobs(n=150, d=3, seed=0):
    rng = np.random.RandomState(seed)
    A = rng.randn(d, d) * 0.4 + np.eye(d)
    return np.vstack([rng.randn(n, d) @ A, rng.randn(n, d) * 0.6 + 4, rng.randn(n // 2, d) - 3])


def full_covariances(model):
    """(K, D, D) covariances of a fitted mixture, from its own shape by
    direct formulas (scikit-learn's conventions)."""
    k, d = model.means_.shape
    c = np.asarray(model.covariances_)
    return {"full": lambda: c,
            "tied": lambda: np.repeat(c[None], k, axis=0),
            "diag": lambda: np.array([np.diag(v) for v in c]),
            "spherical": lambda: np.array([v * np.eye(d) for v in c])}[model.covariance_type]()


def ellipses(ax):
    return [p for p in ax.patches if isinstance(p, Ellipse)]


def check_outlines(patches, centres, covs, sigmas):
    """Each patch's outline lies at Mahalanobis distance sigma of its
    component (patches in component-major, sigma-minor order)."""
    assert len(patches) == len(centres) * len(sigmas)
    for n, patch in enumerate(patches):
        c, s = divmod(n, len(sigmas))
        verts = patch.get_patch_transform().transform(patch.get_path().vertices)
        diff = verts - centres[c]
        d2 = np.einsum("ni,ij,nj->n", diff, np.linalg.inv(covs[c]), diff)
        # the path's Bezier control points sit off the curve; its on-curve
        # points (every third) are exact
        assert_allclose(d2[::3], sigmas[s] ** 2, rtol=1e-7)


def test_import_gmscore_does_not_import_matplotlib(tmp_path):
    # gmscore.plot and the module it computes with (gmscore._plot_geometry)
    code = ("import sys, numpy as np, gmscore, gmscore.plot, gmscore._plot_geometry\n"
            "gm = gmscore.GaussianMixture(2, random_state=0).fit(np.random.rand(50, 2))\n"
            "from gmscore import plot\n"
            "assert plot.plot_mixture is gmscore.plot.plot_mixture\n"
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n")
    # outside the source tree, so that the installed package (with its
    # compiled kernels) is imported, not the checkout's gmscore/
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("ct", COV_TYPES)
def test_plot_mixture_on_dims(ct, tmp_path):
    X = blobs()
    gm = gmscore.GaussianMixture(3, covariance_type=ct, random_state=0).fit(X)
    before = {k: np.copy(v) for k, v in vars(gm).items() if isinstance(v, np.ndarray)}
    ax = gp.plot_mixture(gm, X, dims=(0, 2))
    render(ax.figure, tmp_path)
    scatter = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(scatter) == 1
    assert_allclose(scatter[0].get_offsets(), X[:, [0, 2]])
    # colours follow the predicted component
    labels = gm.predict(X)
    face = scatter[0].get_facecolors()
    for k in range(3):
        assert len(np.unique(face[labels == k][:, :3], axis=0)) == 1
    check_outlines(ellipses(ax), gm.means_[:, [0, 2]],
                   full_covariances(gm)[:, [0, 2]][:, :, [0, 2]], (1, 2, 3))
    assert len(ax.lines) == 1
    assert_allclose(np.column_stack(ax.lines[0].get_data()), gm.means_[:, [0, 2]])
    for k, v in before.items():     # plotting leaves the model as it was
        assert_array_equal(getattr(gm, k), v)


def test_plot_mixture_scikit_learn_model_and_sigmas(tmp_path):
    from sklearn.mixture import GaussianMixture as SkGM

    X = blobs(d=2)
    sk = SkGM(3, covariance_type="diag", random_state=0).fit(X)
    fig, ax = plt.subplots()
    assert gp.plot_mixture(sk, X, sigmas=(1.5, 2.5), ax=ax) is ax
    render(fig, tmp_path)
    check_outlines(ellipses(ax), sk.means_, full_covariances(sk), (1.5, 2.5))


@pytest.mark.parametrize("ct", ["full", "diag"])
def test_plot_mixture_pca(ct, tmp_path):
    from sklearn.decomposition import PCA

    X = blobs(d=4)
    gm = gmscore.GaussianMixture(3, covariance_type=ct, random_state=0).fit(X)
    ax = gp.plot_mixture(gm, X, projection="pca")
    render(ax.figure, tmp_path)
    pca = PCA(2).fit(X)
    ref = pca.transform(X)
    got = np.asarray(ax.collections[0].get_offsets())
    signs = np.sign((got * ref).sum(axis=0))
    assert_allclose(got, ref * signs, atol=1e-9)
    P = pca.components_ * signs[:, None]
    check_outlines(ellipses(ax), (gm.means_ - pca.mean_) @ P.T,
                   P @ full_covariances(gm) @ P.T, (1, 2, 3))
    assert ax.get_xlabel().startswith("PC1")


def test_plot_mixture_pca_without_data_uses_the_mixture():
    from sklearn.decomposition import PCA

    gm = gmscore.GaussianMixture(3, random_state=0).fit(blobs(d=3))
    ax = gp.plot_mixture(gm, projection="pca")
    assert not ax.collections and len(ellipses(ax)) == 9
    # the plane of the mixture's own covariance: that of a large sample of it
    pca = PCA(2).fit(gm.sample(200_000)[0])
    centres = np.array([e.center for e in ellipses(ax)[::3]])
    ref = pca.transform(gm.means_)
    signs = np.sign((centres * ref).sum(axis=0))
    assert_allclose(centres, ref * signs, atol=0.05)


@pytest.mark.parametrize("d", [2, 3])
def test_plot_density(d, tmp_path):
    X = blobs(d=d)
    gm = gmscore.GaussianMixture(3, covariance_type="full", random_state=0).fit(X)
    ax = gp.plot_density(gm, X, dims=(0, 1), levels=8)
    render(ax.figure, tmp_path)
    sets = [c for c in ax.collections if isinstance(c, ContourSet)]
    assert len(sets) == 1 and len(sets[0].levels) == 8
    assert len(ax.figure.axes) == 2          # the colour bar
    # the grid's log-density: the model's own for D=2, scipy's marginal for D=3
    pts = np.random.RandomState(1).randn(200, 2) * 3
    got = gp._log_density_2d(gm.weights_, gm.means_[:, :2], gm.covariances_[:, :2, :2], pts)
    if d == 2:
        assert_allclose(got, gm.score_samples(pts), rtol=1e-10)
    ref = np.log(sum(w * stats.multivariate_normal(m[:2], c[:2, :2]).pdf(pts)
                     for w, m, c in zip(gm.weights_, gm.means_, gm.covariances_)))
    assert_allclose(got, ref, rtol=1e-10)
    top = gp._log_density_2d(gm.weights_, gm.means_[:, :2], gm.covariances_[:, :2, :2],
                             gm.means_[:, :2]).max()
    assert sets[0].levels.max() <= top + 1e-9
    assert sets[0].levels.min() >= top - gp.DENSITY_RANGE - 1.0


def test_plot_density_filled_without_data(tmp_path):
    gm = gmscore.GaussianMixture(2, covariance_type="spherical", random_state=0).fit(blobs(d=2))
    ax = gp.plot_density(gm, filled=True, levels=[-8.0, -6.0, -4.0, -3.0])
    render(ax.figure, tmp_path)
    sets = [c for c in ax.collections if isinstance(c, ContourSet)]
    assert len(sets) == 1 and sets[0].filled
    assert_allclose(sets[0].levels, [-8.0, -6.0, -4.0, -3.0])


def test_plot_selection(tmp_path):
    X = blobs(d=2)
    sel = gmscore.select_mixture(X, n_components=range(1, 5),
                                 covariance_types=("full", "diag"), random_state=0)
    ax = gp.plot_selection(sel)
    render(ax.figure, tmp_path)
    curves = [ln for ln in ax.lines if ln.get_marker() == "o"]
    stars = [ln for ln in ax.lines if ln.get_marker() == "*"]
    assert len(curves) == 4 and len(stars) == 2
    for line in curves:
        crit, ct = line.get_label().replace("(", "").replace(")", "").split()
        rows = sorted((r for r in sel.rows if r["covariance_type"] == ct),
                      key=lambda r: r["n_components"])
        assert_array_equal(line.get_xdata(), [r["n_components"] for r in rows])
        assert_allclose(line.get_ydata(), [r[crit] for r in rows])
    best = min(sel.rows, key=lambda r: r["bic"])
    assert_allclose(np.ravel(stars[0].get_data()), [best["n_components"], best["bic"]])
    assert sel.best_params_["n_components"] == best["n_components"]
    # held out on its own axis; the rows or a data frame work as well
    ax = gp.plot_selection(sel.rows, criteria=("bic", "held_out"))
    twin = [a for a in ax.figure.axes if a is not ax]
    assert len(twin) == 1 and len(twin[0].lines) == 3
    best = max(sel.rows, key=lambda r: r["held_out_log_likelihood"])
    assert_allclose(np.ravel(twin[0].lines[-1].get_data()),
                    [best["n_components"], best["held_out_log_likelihood"]])
    ax = gp.plot_selection(sel.to_pandas(), criteria="aic")
    assert len(ax.lines) == 3


def test_plot_convergence_mixture_restarts(tmp_path):
    X = blobs(d=2)
    gm = gmscore.GaussianMixture(4, n_init=3, tol=1e-4, random_state=0).fit(X)
    assert len(gm.restart_histories_) == 3
    ax = gp.plot_convergence(gm)
    render(ax.figure, tmp_path)
    assert len(ax.lines) == 3
    kept = [ln for ln in ax.lines if "kept" in ln.get_label()]
    assert len(kept) == 1
    assert_allclose(kept[0].get_ydata(), gm.lower_bounds_)
    assert_array_equal(kept[0].get_xdata(), np.arange(1, gm.n_iter_ + 1))
    assert max(h[-1] for h in gm.restart_histories_) == gm.lower_bound_
    # restart 0 is the n_init=1 fit from the same random_state
    one = gmscore.GaussianMixture(4, n_init=1, tol=1e-4, random_state=0).fit(X)
    assert_allclose(ax.lines[0].get_ydata(), one.lower_bounds_, rtol=1e-12)
    assert len(gp.plot_convergence(gm, restarts=False).lines) == 1
    later = gp.plot_convergence(gm, start=3).lines
    for line, h in zip(later, gm.restart_histories_):
        assert_array_equal(line.get_xdata(), np.arange(3, len(h) + 1))
        assert_allclose(line.get_ydata(), h[2:])
    with pytest.raises(ValueError, match="start"):
        gp.plot_convergence(gm, start=0)


def test_plot_convergence_hmm_and_saved_model(tmp_path):
    X = blobs(d=2)
    hmm = gmscore.GaussianHMM(3, n_iter=15, n_init=2, random_state=0).fit(X, [200, 175])
    ax = gp.plot_convergence(hmm)
    render(ax.figure, tmp_path)
    assert len(ax.lines) == 2
    kept = [ln for ln in ax.lines if "kept" in ln.get_label()][0]
    assert_allclose(kept.get_ydata(), list(hmm.monitor_.history))
    assert_allclose(kept.get_ydata()[-1], hmm.score(X, [200, 175]), rtol=1e-6)
    hmm.save(tmp_path / "m.gmscore")
    loaded = gmscore.load(tmp_path / "m.gmscore")
    assert loaded.restart_histories_ == hmm.restart_histories_
    assert len(gp.plot_convergence(loaded).lines) == 2


def hmm_data(seed=0):
    rng = np.random.RandomState(seed)
    s = (np.arange(500) // 60) % 3
    X = np.column_stack([2.5 * s + rng.randn(500) * 0.4, -1.5 * s + rng.randn(500) * 0.4])
    return X, [260, 240]


def hmmlearn_twin(model):
    from hmmlearn import hmm

    twin = hmm.GaussianHMM(model.n_components, covariance_type="full", init_params="",
                           params="")
    twin.startprob_, twin.transmat_ = model.startprob_, model.transmat_
    twin.means_, twin.covars_ = model.means_, model.covars_
    return twin


def test_plot_states(tmp_path):
    X, lengths = hmm_data()
    model = gmscore.GaussianHMM(3, covariance_type="full", n_iter=30, random_state=0)
    model.fit(X, lengths)
    fig = gp.plot_states(model, X, lengths)
    render(fig, tmp_path)
    top, bottom = fig.axes
    assert len(top.images) == 1 and isinstance(top.images[0], AxesImage)
    twin = hmmlearn_twin(model)
    assert_array_equal(np.asarray(top.images[0].get_array())[0], twin.predict(X, lengths))
    assert_allclose(top.images[0].get_extent()[:2], [-0.5, len(X) - 0.5])
    assert_allclose(top.get_xlim(), [-0.5, len(X) - 0.5])
    assert len(top.lines) == 2
    assert_allclose(top.lines[1].get_ydata(), X[:, 1])
    bounds = [c for c in top.collections if isinstance(c, LineCollection)]
    assert len(bounds) == 1 and len(bounds[0].get_segments()) == 1
    assert_allclose(bounds[0].get_segments()[0][0, 0], lengths[0] - 0.5)
    stacks = [c for c in bottom.collections if isinstance(c, PolyCollection)]
    assert len(stacks) == 3
    # the top of the stack is the sum of the posteriors: 1 everywhere
    upper = stacks[-1].get_paths()[0].vertices[:, 1]
    assert_allclose(upper.max(), 1.0, atol=1e-9)
    post = twin.predict_proba(X, lengths)
    assert_allclose(model.predict_proba(X, lengths), post, atol=1e-8)


def test_plot_states_ax_forms_and_features(tmp_path):
    X, lengths = hmm_data()
    model = gmscore.GaussianHMM(3, n_iter=10, random_state=0).fit(X, lengths)
    fig, ax = plt.subplots()
    assert gp.plot_states(model, X, lengths, ax=ax, features=0) is fig
    assert len(fig.axes) == 2 and len(ax.lines) == 1
    render(fig, tmp_path)
    fig, axes = plt.subplots(2, 1)
    assert gp.plot_states(model, X, lengths, ax=axes, algorithm="map") is fig
    assert_array_equal(axes[0].images[0].get_array()[0], model.decode(X, lengths, "map")[1])
    fig = gp.plot_states(model, X, posteriors=False)
    assert len(fig.axes) == 1 and len(fig.axes[0].images) == 1
    render(fig, tmp_path)


def test_plot_states_discrete_hmm(tmp_path):
    from gmscore.examples.text_hmm import encode, load_text

    X, lengths = encode(load_text()[:2])
    model = gmscore.CategoricalHMM(2, n_features=27, n_iter=5, random_state=0)
    model.fit(X, lengths)
    fig = gp.plot_states(model, X, lengths)
    render(fig, tmp_path)
    assert_array_equal(fig.axes[0].images[0].get_array()[0], model.predict(X, lengths))
    with pytest.raises(TypeError, match="Gaussian emission"):
        gp.plot_emissions(model)


def test_plot_transitions(tmp_path):
    X, lengths = hmm_data()
    model = gmscore.GaussianHMM(3, n_iter=10, random_state=0).fit(X, lengths)
    ax = gp.plot_transitions(model)
    render(ax.figure, tmp_path)
    assert len(ax.images) == 1
    assert_allclose(ax.images[0].get_array(), model.transmat_)
    texts = [t.get_text() for t in ax.texts]
    assert texts == [f"{v:.2f}" for v in model.transmat_.ravel()]
    assert len(gp.plot_transitions(model, annotate=False).texts) == 0


def gmmhmm_reference(model):
    """(weights (K, M), means (K, M, D), full covariances (K, M, D, D))
    from hmmlearn's per-type covars_ shapes."""
    k, m, d = model.means_.shape
    c = np.asarray(model.covars_)
    full = {"full": lambda: c,
            "tied": lambda: np.stack([np.stack([c[s]] * m) for s in range(k)]),
            "diag": lambda: np.einsum("kmi,ij->kmij", c, np.eye(d)),
            "spherical": lambda: c[:, :, None, None] * np.eye(d)}[model.covariance_type]()
    return model.weights_, model.means_, full


@pytest.mark.parametrize("ct", COV_TYPES)
def test_plot_emissions_gmmhmm(ct, tmp_path):
    X, lengths = hmm_data()
    model = gmscore.GMMHMM(2, n_mix=2, covariance_type=ct, n_iter=10, random_state=0)
    model.fit(X, lengths)
    w, mu, cov = gmmhmm_reference(model)
    fig = gp.plot_emissions(model, X)
    render(fig, tmp_path)
    assert len(fig.axes) == 2
    for f, ax in enumerate(fig.axes):
        assert len(ax.lines) == 2 and len(ax.patches) == 50     # the histogram's bars
        for s, line in enumerate(ax.lines):
            x = line.get_xdata()
            ref = sum(w[s, j] * stats.norm(mu[s, j, f], np.sqrt(cov[s, j, f, f])).pdf(x)
                      for j in range(2))
            assert_allclose(line.get_ydata(), ref, rtol=1e-10)
    ax = gp.plot_emissions(model, X, lengths, dims=(1, 0), sigmas=(1, 2))
    render(ax.figure, tmp_path)
    check_outlines(ellipses(ax), mu[:, :, [1, 0]].reshape(4, 2),
                   cov[:, :, [1, 0]][:, :, :, [1, 0]].reshape(4, 2, 2), (1, 2))
    assert len(ax.collections) == 1       # the data, coloured by state


def test_plot_emissions_gaussian_hmm_one_feature(tmp_path):
    X, lengths = hmm_data()
    model = gmscore.GaussianHMM(3, covariance_type="diag", n_iter=10, random_state=0)
    model.fit(X, lengths)
    fig, ax = plt.subplots()
    assert gp.plot_emissions(model, features=1, ax=ax) is ax
    render(fig, tmp_path)
    assert len(ax.lines) == 3 and not ax.patches
    for s, line in enumerate(ax.lines):
        ref = stats.norm(model.means_[s, 1], np.sqrt(model.covars_[s, 1, 1]))
        assert_allclose(line.get_ydata(), ref.pdf(line.get_xdata()), rtol=1e-10)


def test_bad_input():
    X = blobs(d=2)
    gm = gmscore.GaussianMixture(2, random_state=0).fit(X)
    hmm = gmscore.GaussianHMM(2, n_iter=5, random_state=0).fit(X)
    with pytest.raises(ValueError, match="not fitted"):
        gp.plot_mixture(gmscore.GaussianMixture(2), X)
    with pytest.raises(ValueError, match="not fitted"):
        gp.plot_states(gmscore.GaussianHMM(2), X)
    with pytest.raises(ValueError, match="not fitted"):
        gp.plot_convergence(gmscore.GaussianMixture(2))
    for dims in [(0, 2), (1, 1), (0,), (0.0, 1), "01", (-1, 0)]:
        with pytest.raises(ValueError, match="dims"):
            gp.plot_mixture(gm, X, dims=dims)
    with pytest.raises(ValueError, match="dims"):
        gp.plot_emissions(hmm, dims=(0, 5))
    with pytest.raises(ValueError, match="3 features"):
        gp.plot_mixture(gm, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="projection"):
        gp.plot_mixture(gm, X, projection="tsne")
    with pytest.raises(ValueError, match="sigmas"):
        gp.plot_mixture(gm, X, sigmas=(1, -2))
    with pytest.raises(ValueError, match="resolution"):
        gp.plot_density(gm, resolution=1)
    with pytest.raises(ValueError, match="levels"):
        gp.plot_density(gm, levels=0)
    with pytest.raises(ValueError, match="criteria"):
        gp.plot_selection([{"n_components": 1, "covariance_type": "full", "bic": 1.0}],
                          criteria=("bic", "dic"))
    with pytest.raises(TypeError, match="select_mixture"):
        gp.plot_selection("table")
    with pytest.raises(ValueError, match="features"):
        gp.plot_states(hmm, X, features=[2])
    with pytest.raises(ValueError, match="features"):
        gp.plot_emissions(hmm, features=[3])
    with pytest.raises(TypeError, match="Axes"):
        gp.plot_transitions(hmm, ax="axes")
    with pytest.raises(TypeError, match="Gaussian mixture"):
        gp.plot_mixture(hmm, X)
    with pytest.raises(ValueError, match="NaN|nan|finite"):
        gp.plot_mixture(gm, np.array([[0.0, np.nan]]))


def test_classifier_estimators_keep_every_restart():
    # the classifier's interleaved EM keeps the same per-restart record as
    # an independent GaussianMixture fit of each class
    from gmscore.classifier import class_seeds

    X, y = blobs(d=2), np.repeat([0, 1, 2], [150, 150, 75])
    clf = gmscore.GaussianMixtureClassifier(2, n_init=3, random_state=0).fit(X, y)
    seeds = class_seeds(0, 3)
    for c, est in enumerate(clf.estimators_):
        ref = gmscore.GaussianMixture(2, n_init=3, random_state=seeds[c]).fit(X[y == c])
        assert len(est.restart_histories_) == 3
        for a, b in zip(est.restart_histories_, ref.restart_histories_):
            assert_allclose(a, b, rtol=1e-12)
        assert len(gp.plot_convergence(est).lines) == 3
