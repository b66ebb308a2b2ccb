"""MAP adaptation (GMM-UBM), utterance scoring with top-C, and the
speaker-verification example, against direct numpy/scipy formulas."""
import itertools
import warnings

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from gmscore import GaussianMixture, GMMHMM
from gmscore._core.covariance import COVARIANCE

COV_TYPES = ("full", "tied", "diag", "spherical")
UPDATES = ["".join(c) for n in (1, 2, 3) for c in itertools.combinations("wmc", n)]


def _data(seed=0, n=600, d=3):
    rng = np.random.RandomState(seed)
    centres = np.array([[0.0, 0.0, 0.0], [4.0, 1.0, -2.0], [-3.0, 3.0, 1.0]])[:, :d]
    X = np.vstack([c + rng.randn(n // 3, d) * (0.5 + i * 0.3) for i, c in enumerate(centres)])
    return X + 1.0


@pytest.fixture(scope="module")
def ubms():
    X = _data(0)
    return {ct: GaussianMixture(3, covariance_type=ct, random_state=0).fit(X) for ct in COV_TYPES}


def _full_covs(gm):
    k, d = gm.means_.shape
    return COVARIANCE[gm.covariance_type].as_full(np.asarray(gm.covariances_), k, d)


def _responsibilities(gm, X):
    covs = _full_covs(gm)
    lp = np.column_stack([np.log(gm.weights_[k]) + multivariate_normal(gm.means_[k], covs[k])
                          .logpdf(X) for k in range(gm.n_components)])
    return np.exp(lp - logsumexp(lp, axis=1, keepdims=True))


def reference_map(gm, X, r, update, sw=None):
    """Reynolds et al. (2000) in their uncentred form, from scipy
    responsibilities (the covariances about the UBM means when the means
    are not adapted)."""
    sw = np.ones(len(X)) if sw is None else sw
    resp = _responsibilities(gm, X) * sw[:, None]
    k, d = gm.means_.shape
    nk = resp.sum(axis=0)
    n = nk.sum()
    xbar = resp.T @ X / nk[:, None]
    exx = np.einsum("ik,il,im->klm", resp, X, X) / nk[:, None, None]
    alpha = nk / (nk + r)
    w, mu, reg = gm.weights_, gm.means_, gm.reg_covar
    new_w = alpha * nk / n + (1 - alpha) * w
    new_w = new_w / new_w.sum() if "w" in update else w
    new_mu = alpha[:, None] * xbar + (1 - alpha[:, None]) * mu if "m" in update else mu
    if "c" not in update:
        return new_w, new_mu, gm.covariances_
    S = _full_covs(gm)
    eye = np.eye(d)
    ct = gm.covariance_type
    if ct == "tied":
        a = n / (n + r)
        scatter = sum(np.einsum("i,ij,il->jl", resp[:, j], X - new_mu[j], X - new_mu[j])
                      for j in range(k))
        return new_w, new_mu, a * (scatter / n + reg * eye) + (1 - a) * gm.covariances_
    if "m" in update:
        full = (alpha[:, None, None] * (exx + reg * eye)
                + (1 - alpha[:, None, None]) * (S + mu[:, :, None] * mu[:, None, :])
                - new_mu[:, :, None] * new_mu[:, None, :])
    else:
        about = exx - xbar[:, :, None] * mu[:, None, :] - mu[:, :, None] * xbar[:, None, :] \
            + mu[:, :, None] * mu[:, None, :]
        full = alpha[:, None, None] * (about + reg * eye) + (1 - alpha[:, None, None]) * S
    if ct == "full":
        return new_w, new_mu, full
    diag = np.diagonal(full, axis1=1, axis2=2)
    return new_w, new_mu, diag if ct == "diag" else diag.mean(axis=1)


# Tolerances below are relative to the parameter's scale: the largest
# absolute difference over all entries of a parameter (weights, means,
# covariances) must be at most tol * max |reference entry|. The issue asks
# for 1e-12; the observed differences are ~1e-16 (weights, means) to ~1e-14
# (covariances), the rounding of float64 statistics.
TOL = 1e-12


def assert_close_to_scale(got, want, tol=TOL, what="parameter"):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, (what, got.shape, want.shape)
    assert np.isfinite(got).all(), what
    scale = np.abs(want).max()
    err = np.abs(got - want).max()
    assert err <= tol * scale, f"{what}: max |diff| {err:.3e} > {tol:g} x scale {scale:.3e}"


def _check_close(model, ref, tol=TOL):
    for name, got, want in zip(("weights_", "means_", "covariances_"),
                               (model.weights_, model.means_, model.covariances_), ref):
        assert_close_to_scale(got, want, tol, name)


# ------------------------------------------------------------ adapt
@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("update", UPDATES)
def test_adapt_equals_reynolds_formulas(ubms, ct, update):
    ubm = ubms[ct]
    X = _data(1, n=150) + 0.3     # a "speaker": shifted, less data
    model = ubm.adapt(X, relevance_factor=16.0, update=update)
    _check_close(model, reference_map(ubm, X, 16.0, update))
    # the precision factors belong to the adapted covariances
    k, d = model.means_.shape
    cov = COVARIANCE[ct].as_full(model.covariances_, k, d)
    prec = COVARIANCE[ct].as_full(model.precisions_, k, d)
    np.testing.assert_allclose(cov @ prec, np.broadcast_to(np.eye(d), cov.shape), atol=1e-9)
    assert model is not ubm and model.n_features_in_ == d


@pytest.mark.parametrize("ct", COV_TYPES)
def test_adapt_with_sample_weight(ubms, ct):
    ubm = ubms[ct]
    X = _data(2, n=150)
    sw = np.random.RandomState(3).uniform(0.2, 2.0, len(X))
    model = ubm.adapt(X, relevance_factor=4.0, update="wmc", sample_weight=sw)
    _check_close(model, reference_map(ubm, X, 4.0, "wmc", sw))


@pytest.mark.parametrize("ct", COV_TYPES)
def test_relevance_zero_is_one_em_step(ubms, ct):
    ubm = ubms[ct]
    X = _data(4, n=300)
    model = ubm.adapt(X, relevance_factor=0.0, update="wmc")
    # scikit-learn, started at the UBM's parameters, one EM iteration
    from sklearn.mixture import GaussianMixture as SkGM

    sk = SkGM(3, covariance_type=ct, max_iter=1, weights_init=ubm.weights_,
              means_init=ubm.means_, precisions_init=ubm.precisions_,
              reg_covar=ubm.reg_covar)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sk.fit(X)
    for name in ("weights_", "means_", "covariances_"):
        assert_close_to_scale(getattr(model, name), getattr(sk, name), what=name)
    # and the numpy Reynolds formulas at r = 0 (a numpy M-step)
    _check_close(model, reference_map(ubm, X, 0.0, "wmc"))


@pytest.mark.parametrize("ct", COV_TYPES)
def test_large_relevance_gives_the_ubm(ubms, ct):
    ubm = ubms[ct]
    X = _data(5, n=150) + 2.0
    for r in (1e18, np.inf):
        model = ubm.adapt(X, relevance_factor=r, update="wmc")
        for name in ("weights_", "means_", "covariances_"):
            assert_close_to_scale(getattr(model, name), getattr(ubm, name), what=name)


def _chunked(X, sizes):
    def chunks():
        i = 0
        for s in itertools.cycle(sizes):
            if i >= len(X):
                return
            yield X[i:i + s]
            i += s
    return chunks


@pytest.mark.parametrize("ct", ("full", "diag"))
def test_out_of_core_sources_equal_in_memory(ubms, ct, tmp_path):
    ubm = ubms[ct]
    X = _data(6, n=1500)
    want = ubm.adapt(X, update="wmc")
    mm = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=X.dtype, shape=X.shape)
    mm[:] = X
    mm.flush()
    for source in (np.load(tmp_path / "x.npy", mmap_mode="r"), _chunked(X, [256, 512])):
        got = ubm.adapt(source, update="wmc")
        for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
            np.testing.assert_allclose(getattr(got, name), getattr(want, name), rtol=1e-12,
                                       atol=1e-14)


def _snapshot(gm):
    return {k: np.array(v, copy=True) for k, v in vars(gm).items()
            if isinstance(v, np.ndarray)}


def test_ubm_is_not_modified(ubms):
    ubm = ubms["full"]
    before = _snapshot(ubm)
    ubm.adapt(_data(7, n=150), update="wmc")
    after = _snapshot(ubm)
    assert before.keys() == after.keys()
    for name in before:
        np.testing.assert_array_equal(before[name], after[name])


def test_adapt_bad_input(ubms):
    ubm = ubms["diag"]
    X = _data(8, n=150)
    before = _snapshot(ubm)
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        GaussianMixture(3).adapt(X)
    for update in ("x", "", "mz", "W"):
        with pytest.raises(ValueError, match="update must be"):
            ubm.adapt(X, update=update)
    with pytest.raises(TypeError, match="update must be"):
        ubm.adapt(X, update=None)
    for r in (-1.0, np.nan):
        with pytest.raises(ValueError, match="relevance_factor must be >= 0"):
            ubm.adapt(X, relevance_factor=r)
    for r in ("16", None, True):
        with pytest.raises(TypeError, match="relevance_factor"):
            ubm.adapt(X, relevance_factor=r)
    with pytest.raises(ValueError, match="features"):
        ubm.adapt(X[:, :2])
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ubm.adapt(bad)
    after = _snapshot(ubm)
    for name in before:
        np.testing.assert_array_equal(before[name], after[name])


# ------------------------------------------------------- adapt_many
SPEAKER_LENGTHS = [300, 1, 256, 2048, 2100, 13]    # blocks of 256, leaves of 8 blocks


def _speakers(seed=71):
    rng = np.random.RandomState(seed)
    parts = [_data(seed + i, n=3 * ((n + 2) // 3))[:n] + rng.randn(3) * 0.3
             for i, n in enumerate(SPEAKER_LENGTHS)]
    return np.vstack(parts), np.cumsum([0] + SPEAKER_LENGTHS)


@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("update", ("m", "wmc", "c", "wm"))
@pytest.mark.parametrize("weighted", (False, True))
def test_adapt_many_equals_adapt_per_speaker(ubms, ct, update, weighted):
    from gmscore.adapt import adapt_many

    ubm = ubms[ct]
    X, cuts = _speakers()
    sw = np.random.RandomState(72).uniform(0.2, 2.0, len(X)) if weighted else None
    models = adapt_many(ubm, X, SPEAKER_LENGTHS, relevance_factor=8.0, update=update,
                        sample_weight=sw)
    assert len(models) == len(SPEAKER_LENGTHS)
    for i, model in enumerate(models):
        rows = slice(cuts[i], cuts[i + 1])
        w = None if sw is None else sw[rows]
        one = ubm.adapt(X[rows], relevance_factor=8.0, update=update, sample_weight=w)
        for name in ("weights_", "means_", "covariances_", "precisions_cholesky_",
                     "precisions_"):     # the same bits as one adapt call per speaker
            np.testing.assert_array_equal(getattr(model, name), getattr(one, name))
        if i in (0, 4):                  # and the brute-force Reynolds formulas
            _check_close(model, reference_map(ubm, X[rows], 8.0, update, w))
        assert model is not ubm and model.n_features_in_ == X.shape[1]


def test_adapt_many_batches_threads_and_float32(ubms, monkeypatch):
    import gmscore.adapt as adapt_module

    ubm = ubms["diag"]
    X, cuts = _speakers(73)
    want = adapt_module.adapt_many(ubm, X, SPEAKER_LENGTHS, update="wmc")
    monkeypatch.setattr(adapt_module, "_BATCH_BYTES", 1)     # one speaker per call
    got = adapt_module.adapt_many(ubm, X, SPEAKER_LENGTHS, update="wmc")
    monkeypatch.undo()
    one_thread = GaussianMixture(**{**ubm.get_params(), "n_threads": 1})
    for name, value in vars(ubm).items():
        if name.endswith("_") and not name.startswith("_"):
            setattr(one_thread, name, value)
    single = adapt_module.adapt_many(one_thread, X, SPEAKER_LENGTHS, update="wmc")
    for a, b, c in zip(want, got, single):
        for name in ("weights_", "means_", "covariances_"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
            np.testing.assert_array_equal(getattr(a, name), getattr(c, name))
    X32 = X.astype(np.float32)
    many32 = adapt_module.adapt_many(ubm, X32, SPEAKER_LENGTHS, update="wmc")
    for i, model in enumerate(many32):
        one = ubm.adapt(X32[cuts[i]:cuts[i + 1]], update="wmc")
        np.testing.assert_array_equal(model.means_, one.means_)
        np.testing.assert_array_equal(model.covariances_, one.covariances_)


def test_adapt_many_bad_input(ubms):
    from sklearn.exceptions import NotFittedError

    from gmscore.adapt import adapt_many

    ubm = ubms["diag"]
    X, _ = _speakers(74)
    before = _snapshot(ubm)
    with pytest.raises(NotFittedError):
        adapt_many(GaussianMixture(3), X, SPEAKER_LENGTHS)
    with pytest.raises(ValueError, match="needs lengths"):
        adapt_many(ubm, X, None)
    with pytest.raises(ValueError, match="lengths"):
        adapt_many(ubm, X, [5, 5])
    with pytest.raises(ValueError, match="lengths must be positive"):
        adapt_many(ubm, X, SPEAKER_LENGTHS[:-1] + [0, SPEAKER_LENGTHS[-1]])
    with pytest.raises(ValueError, match="update must be"):
        adapt_many(ubm, X, SPEAKER_LENGTHS, update="mx")
    with pytest.raises(ValueError, match="relevance_factor must be >= 0"):
        adapt_many(ubm, X, SPEAKER_LENGTHS, relevance_factor=-1.0)
    with pytest.raises(ValueError, match="features"):
        adapt_many(ubm, X[:, :2], SPEAKER_LENGTHS)
    bad = X.copy()
    bad[400, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        adapt_many(ubm, bad, SPEAKER_LENGTHS)
    sw = np.ones(len(X))
    sw[300:301] = 0.0             # speaker 1 (one frame) has no weight
    with pytest.raises(ValueError, match=r"speaker 1 .*no sample weight"):
        adapt_many(ubm, X, SPEAKER_LENGTHS, sample_weight=sw)
    after = _snapshot(ubm)
    for name in before:
        np.testing.assert_array_equal(before[name], after[name])


# ---------------------------------------------------------- scoring
def _frame_lp(gm, X):
    covs = _full_covs(gm)
    return np.column_stack([np.log(gm.weights_[k]) + multivariate_normal(
        gm.means_[k], covs[k]).logpdf(X) for k in range(gm.n_components)])


def reference_scores(model, ubm, X, lengths, top_c=None):
    lu = _frame_lp(ubm, X)
    lm = _frame_lp(model, X)
    if top_c is None:
        frame = logsumexp(lm, axis=1)
    else:
        idx = np.arange(lu.shape[1])
        top = np.array([np.lexsort((idx, -row))[:top_c] for row in lu])
        frame = logsumexp(np.take_along_axis(lm, top, axis=1), axis=1)
    llr = frame - logsumexp(lu, axis=1)
    cuts = np.cumsum(lengths)[:-1]
    return np.array([part.mean() for part in np.split(llr, cuts)])


@pytest.fixture(scope="module")
def scoring_case():
    rng = np.random.RandomState(11)
    X = _data(12, n=900) + 0.4 * rng.randn(900, 3)
    lengths = [700, 3, 1, 196]       # blocks of 256 inside a long utterance
    return X, lengths


@pytest.mark.parametrize("ct", COV_TYPES)
def test_exact_scores_equal_scipy(ubms, scoring_case, ct):
    from gmscore.adapt import score_utterances

    ubm = ubms[ct]
    X, lengths = scoring_case
    model = ubm.adapt(_data(13, n=150) + 0.5, update="wmc")
    got = score_utterances(model, ubm, X, lengths)
    assert_close_to_scale(got, reference_scores(model, ubm, X, lengths), what="scores")
    # top-C with C = K is the exact computation, bit for bit
    np.testing.assert_array_equal(score_utterances(model, ubm, X, lengths, top_c=3), got)
    np.testing.assert_array_equal(score_utterances(model, ubm, X, lengths, top_c=99), got)


@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("top_c", (1, 2))
def test_top_c_scores_equal_numpy_selection(ubms, scoring_case, ct, top_c):
    from gmscore.adapt import score_utterances

    ubm = ubms[ct]
    X, lengths = scoring_case
    model = ubm.adapt(_data(14, n=150) - 0.5, update="m")
    got = score_utterances(model, ubm, X, lengths, top_c=top_c)
    assert_close_to_scale(got, reference_scores(model, ubm, X, lengths, top_c), what="scores")


def test_many_models_threads_and_layouts(ubms, scoring_case):
    from gmscore.adapt import score_utterances

    ubm = ubms["diag"]
    X, lengths = scoring_case
    models = [ubm.adapt(_data(s, n=150) + s * 0.1, update="wm") for s in range(15, 19)]
    many = score_utterances(models, ubm, X, lengths, top_c=2, n_threads=2)
    assert many.shape == (4, len(lengths))
    for i, model in enumerate(models):
        one = score_utterances(model, ubm, X, lengths, top_c=2, n_threads=1)
        np.testing.assert_array_equal(many[i], one)     # thread-count invariant
    Xf = np.asfortranarray(X)
    np.testing.assert_array_equal(score_utterances(models, ubm, Xf, lengths, top_c=2), many)
    # the UBM against itself scores 0
    np.testing.assert_array_equal(score_utterances(ubm, ubm, X, lengths), 0.0)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_scores_thread_count_invariant(ubms, scoring_case, ct):
    from gmscore.adapt import score_utterances

    ubm = ubms[ct]
    X, lengths = scoring_case
    models = [ubm.adapt(_data(s, n=150) + s * 0.1, update="wmc") for s in (51, 52)]
    for top_c in (None, 2):
        one = score_utterances(models, ubm, X, lengths, top_c=top_c, n_threads=1)
        np.testing.assert_array_equal(
            score_utterances(models, ubm, X, lengths, top_c=top_c, n_threads=2), one)


@pytest.mark.parametrize("ct", ("full", "tied"))
def test_scores_through_the_gemm_path(ct):
    """D = 20 features: full log-densities go through the E-step's GEMM
    (above its small-D path); scores against scipy at 1e-12 of their scale."""
    from gmscore.adapt import score_utterances

    rng = np.random.RandomState(61)
    d = 20
    A = rng.randn(d, d) * 0.3 + np.eye(d)
    X = np.vstack([rng.randn(300, d) @ A + 2.0, rng.randn(300, d) @ A.T - 1.0])
    ubm = GaussianMixture(4, covariance_type=ct, random_state=0, max_iter=20).fit(X)
    model = ubm.adapt(X[:300] + 0.2, update="wmc")
    test = rng.randn(520, d) @ A + 0.5
    lengths = [300, 220]
    for top_c in (None, 2):
        got = score_utterances(model, ubm, test, lengths, top_c=top_c, n_threads=2)
        assert_close_to_scale(got, reference_scores(model, ubm, test, lengths, top_c),
                              what="scores")
        np.testing.assert_array_equal(
            score_utterances(model, ubm, test, lengths, top_c=top_c, n_threads=1), got)


def test_scoring_bad_input(ubms, scoring_case):
    from gmscore.adapt import score_utterances

    ubm = ubms["diag"]
    X, lengths = scoring_case
    model = ubm.adapt(X)
    for c in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="top_c"):
            score_utterances(model, ubm, X, lengths, top_c=c)
    with pytest.raises(ValueError, match="form"):
        score_utterances(ubms["full"], ubm, X, lengths)
    with pytest.raises(ValueError, match="lengths"):
        score_utterances(model, ubm, X, [5, 5])
    with pytest.raises(ValueError, match="features"):
        score_utterances(model, ubm, X[:, :2], lengths)
    with pytest.raises(ValueError, match="at least one"):
        score_utterances([], ubm, X, lengths)
    bad = X.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity|NaN"):
        score_utterances(model, ubm, bad, lengths)


# ------------------------------------------------------------ GMMHMM
def _hmm_case(ct):
    rng = np.random.RandomState(21)
    X = np.vstack([rng.randn(120, 2) * 0.7 + [2, 0], rng.randn(120, 2) * 0.6 - [1, 2],
                   rng.randn(120, 2) * 0.8 + [0, 3]])
    hmm = GMMHMM(n_components=2, n_mix=2, covariance_type=ct, random_state=0, n_iter=5)
    hmm.fit(X, [180, 180])
    return hmm


def reference_hmm_map(hmm, X, lengths, r, update):
    """Reynolds per state mixture, responsibilities gamma_tk (from
    hmmlearn, same parameters) times the within-state posteriors (scipy)."""
    from hmmlearn.hmm import GMMHMM as HlGMMHMM

    ct = hmm.covariance_type
    k, m, d = hmm.means_.shape
    peer = HlGMMHMM(k, m, covariance_type=ct, init_params="", params="")
    peer.startprob_, peer.transmat_ = hmm.startprob_, hmm.transmat_
    peer.weights_, peer.means_, peer.covars_ = hmm.weights_, hmm.means_, hmm.covars_
    gamma = peer.predict_proba(X, lengths)
    cov = np.asarray(hmm.covars_)
    full = {"full": lambda: cov, "tied": lambda: np.repeat(cov[:, None], m, axis=1),
            "diag": lambda: cov[..., :, None] * np.eye(d),
            "spherical": lambda: cov[..., None, None] * np.eye(d)}[ct]()
    new_w, new_mu, new_cov = hmm.weights_.copy(), hmm.means_.copy(), None
    covs = []
    for s in range(k):
        lp = np.column_stack([np.log(hmm.weights_[s, j]) + multivariate_normal(
            hmm.means_[s, j], full[s, j]).logpdf(X) for j in range(m)])
        resp = gamma[:, s:s + 1] * np.exp(lp - logsumexp(lp, axis=1, keepdims=True))
        nk = resp.sum(axis=0)
        xbar = resp.T @ X / nk[:, None]
        exx = np.einsum("ik,il,im->klm", resp, X, X) / nk[:, None, None]
        alpha = nk / (nk + r)
        mu = hmm.means_[s]
        if "w" in update:
            w = alpha * nk / nk.sum() + (1 - alpha) * hmm.weights_[s]
            new_w[s] = w / w.sum()
        if "m" in update:
            new_mu[s] = alpha[:, None] * xbar + (1 - alpha[:, None]) * mu
        nm = new_mu[s]
        if ct == "tied":
            n = nk.sum()
            a = n / (n + r)
            scatter = sum(np.einsum("i,ij,il->jl", resp[:, j], X - nm[j], X - nm[j])
                          for j in range(m))
            covs.append(a * scatter / n + (1 - a) * cov[s])
            continue
        if "m" in update:
            c = (alpha[:, None, None] * exx
                 + (1 - alpha[:, None, None]) * (full[s] + mu[:, :, None] * mu[:, None, :])
                 - nm[:, :, None] * nm[:, None, :])
        else:
            about = exx - xbar[:, :, None] * mu[:, None, :] - mu[:, :, None] * xbar[:, None, :] \
                + mu[:, :, None] * mu[:, None, :]
            c = alpha[:, None, None] * about + (1 - alpha[:, None, None]) * full[s]
        dg = np.diagonal(c, axis1=1, axis2=2)
        covs.append({"full": c, "diag": dg, "spherical": dg.mean(axis=1)}[ct])
    if "c" in update:
        new_cov = np.array(covs)
    else:
        new_cov = cov
    return new_w, new_mu, new_cov


@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("update", ("m", "wmc", "c", "wc"))
def test_gmmhmm_adapt_equals_reference(ct, update):
    hmm = _hmm_case(ct)
    rng = np.random.RandomState(22)
    X = np.vstack([rng.randn(60, 2) * 0.7 + [2.5, 0.3], rng.randn(60, 2) * 0.6 - [0.7, 2]])
    lengths = [70, 50]
    before = {n: np.array(getattr(hmm, n), copy=True)
              for n in ("startprob_", "transmat_", "weights_", "means_", "covars_")}
    model = hmm.adapt(X, lengths, relevance_factor=8.0, update=update)
    w, mu, cov = reference_hmm_map(hmm, X, lengths, 8.0, update)
    assert_close_to_scale(model.weights_, w, what="weights_")
    assert_close_to_scale(model.means_, mu, what="means_")
    assert_close_to_scale(model.covars_, cov, what="covars_")
    np.testing.assert_array_equal(model.startprob_, hmm.startprob_)   # chain unchanged
    np.testing.assert_array_equal(model.transmat_, hmm.transmat_)
    for name, value in before.items():                                 # hmm untouched
        np.testing.assert_array_equal(getattr(hmm, name), value)
    model.score(X, lengths)        # a usable model


def test_gmmhmm_adapt_bad_input():
    hmm = _hmm_case("diag")
    X = np.random.RandomState(23).randn(50, 2)
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        GMMHMM(2, n_mix=2).adapt(X)
    with pytest.raises(ValueError, match="update must be"):
        hmm.adapt(X, update="s")
    with pytest.raises(ValueError, match="relevance_factor"):
        hmm.adapt(X, relevance_factor=-2)
    with pytest.raises(ValueError, match="features"):
        hmm.adapt(X[:, :1])
    with pytest.raises(ValueError, match="lengths"):
        hmm.adapt(X, [10, 10])


# ----------------------------------------------------------- example
def test_equal_error_rate_brute_force():
    from gmscore.examples.speaker_verification import equal_error_rate

    rng = np.random.RandomState(31)
    for _ in range(5):
        tar, imp = rng.randn(40) + 1.0, rng.randn(70)
        best = None
        for t in sorted(np.concatenate([tar, imp])):   # the lowest threshold on ties
            far, frr = np.mean(imp >= t), np.mean(tar < t)
            if best is None or abs(far - frr) < best[0] - 1e-12:
                best = (abs(far - frr), 0.5 * (far + frr))
        assert equal_error_rate(tar, imp) == pytest.approx(best[1], abs=1e-12)
    assert equal_error_rate(np.array([2.0, 3.0]), np.array([0.0, 1.0])) == 0.0


def test_mfcc_front_end_matches_a_direct_frame():
    from scipy.fft import dct

    from gmscore.examples import speaker_verification as sv

    rng = np.random.RandomState(32)
    audio = sv.synthesize(sv.make_speaker(rng), 0.5, rng)
    feats = sv.mfcc(audio, energy_drop=np.inf)        # keep every frame
    n = 1 + (len(audio) - 200) // 80
    assert feats.shape == (n, 13)
    fb = sv.mel_filterbank(24, 256, sv.SAMPLE_RATE)
    rows = []
    for i in range(n):
        spec = np.abs(np.fft.rfft(audio[80 * i:80 * i + 200] * np.hamming(200), 256)) ** 2
        rows.append(dct(np.log(fb @ spec + 1e-10), type=2, norm="ortho")[:13])
    rows = np.array(rows)
    np.testing.assert_allclose(feats, rows - rows.mean(axis=0), rtol=1e-9, atol=1e-9)


def test_speaker_verification_example_reaches_its_eer():
    """The small configuration (64-component UBM, 8 enrolled speakers, 8
    unseen impostors, 2-s test utterances): a correct adaptation and
    scoring separates the speakers (EER 6.25% with this seed; chance is
    50%; the bound leaves room for other platforms' rounding in EM), and
    top-5 scoring stays close to exact."""
    from gmscore.examples.speaker_verification import run

    r = run(n_background=16, n_enrolled=8, n_impostors=8, n_components=64,
            background_seconds=3.0, enrol_seconds=5.0, test_seconds=2.0, seed=0,
            verbose=False)
    assert r["eer_exact"] <= 0.15
    assert r["eer_top5"] <= 0.15
    assert r["top_c_error"] < 0.05
    s = r["scores_exact"]
    assert r["n_trials"] == s.size == 8 * 32
    # the real-time filter tracks 4 speakers taking turns (chance: 25%;
    # 77.5% of frames with this seed)
    assert r["stream_accuracy"] > 0.6


def test_float32_input_and_docstring_examples(ubms):
    import doctest

    import gmscore.adapt

    ubm = ubms["diag"]
    X = _data(41, n=150)
    got = ubm.adapt(X.astype(np.float32), update="wmc")
    want = reference_map(ubm, X.astype(np.float32).astype(np.float64), 16.0, "wmc")
    _check_close(got, want, tol=1e-6)      # the float32 kernel, float64 statistics
    result = doctest.testmod(gmscore.adapt, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_adapt_reads_the_data_once(ubms):
    """One pass over X: a chunk callable is called once, even when some
    components' data lie far from their UBM means."""
    ubm = ubms["diag"]
    X = np.vstack([_data(42, n=600), np.full((3, 3), 40.0)])   # far-off frames
    calls = []

    def chunks():
        calls.append(1)
        return iter([X[:256], X[256:]])

    got = ubm.adapt(chunks, update="wmc")
    assert len(calls) == 1
    _check_close(got, reference_map(ubm, X, 16.0, "wmc"))
