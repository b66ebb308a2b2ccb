"""Trust: no silent NaN, no lost digits far from the data, clear errors for
bad lengths, layouts and hyper-parameters (the numerics and input items of
the 'Trust' issue; each test failed on the code before its fix)."""
import warnings

import numpy as np
import pytest
from hmmlearn import hmm as hl
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from gmscore import GMMHMM, GaussianHMM, GaussianMixture
from gmscore._core.covariance import COV_TYPES


def quiet(f, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f(*args, **kw)


def preset_hmm(cls, means, covars, startprob, transmat, **kw):
    model = cls(len(startprob), init_params="", **kw)
    model.startprob_, model.transmat_ = np.asarray(startprob), np.asarray(transmat)
    model.means_, model.covars_ = np.asarray(means), np.asarray(covars)
    return model


# ----------------------------------------------------------- 1. NaN counts
@pytest.mark.parametrize("offset", [1e10, 1e30, 1e100])
def test_baum_welch_far_state_gives_finite_counts(offset):
    """The only possible path has a log-likelihood of ~-offset^2: the
    transition counts were scaled by exp(rounding of log P) and became NaN."""
    X = np.random.RandomState(0).randn(100, 1)
    kw = dict(startprob=[1.0, 0.0], transmat=np.eye(2), n_iter=1,
              means=[[offset], [0.0]], covars=np.ones((2, 1)))
    ours = preset_hmm(GaussianHMM, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        ours.fit(X)
    assert_array_equal(ours.transmat_, np.eye(2))
    ref = preset_hmm(hl.GaussianHMM, **{**kw, "means": [[1e10], [0.0]]})
    quiet(ref.fit, X)
    # state 0 takes every frame: its covariance is the data's about its mean
    # (plus the default covars_prior 1e-2 over the 100 frames)
    assert ours.covars_[0, 0, 0] == pytest.approx(X.var() + 1e-2 / 100, rel=1e-9)
    assert ours.covars_[0, 0, 0] == pytest.approx(ref.covars_[0, 0, 0], rel=1e-3)
    # more iterations: no misleading "zeros in startprob_/transmat_" error
    quiet(preset_hmm(GaussianHMM, **{**kw, "n_iter": 3}).fit, X)


def test_gmmhmm_far_state_gives_finite_counts():
    X = np.random.RandomState(1).randn(80, 1)
    model = GMMHMM(2, n_mix=2, init_params="", n_iter=2, covariance_type="diag")
    model.startprob_, model.transmat_ = np.array([1.0, 0.0]), np.eye(2)
    model.means_ = np.array([[[1e10], [1e10 + 1]], [[0.0], [1.0]]])
    model.weights_ = np.full((2, 2), 0.5)
    model.covars_ = np.ones((2, 2, 1))
    quiet(model.fit, X)
    assert np.isfinite(model.transmat_).all() and np.isfinite(model.covars_).all()
    assert_array_equal(model.transmat_, np.eye(2))


# --------------------------------------------------- 2. digits far away
@pytest.mark.parametrize("ct", COV_TYPES)
@pytest.mark.parametrize("offset", [1e6, 3e7, 1e8, 1e10])
def test_mixture_step_from_a_far_mean_keeps_the_digits(ct, offset):
    X = np.random.RandomState(2).randn(1000, 2)
    kw = dict(covariance_type=ct, means_init=[[offset, offset]], max_iter=1)
    ours = quiet(GaussianMixture(1, **kw).fit, X)
    ref = quiet(SkGaussianMixture(1, **kw).fit, X)
    assert_allclose(ours.covariances_, ref.covariances_, rtol=1e-10)
    assert_allclose(ours.means_, ref.means_, rtol=1e-12, atol=1e-12)
    # and a full fit from there converges like scikit-learn's
    kw = dict(covariance_type=ct, means_init=[[offset, offset]])
    full = quiet(GaussianMixture(1, **kw).fit, X)
    assert_allclose(full.covariances_, quiet(SkGaussianMixture(1, **kw).fit, X).covariances_,
                    rtol=1e-10)


@pytest.mark.parametrize("ct", COV_TYPES)
def test_hmm_step_from_a_far_mean_keeps_the_digits(ct):
    X = np.random.RandomState(3).randn(500, 1)
    cov = {"full": np.ones((1, 1, 1)), "tied": np.ones((1, 1)), "diag": np.ones((1, 1)),
           "spherical": np.ones(1)}[ct]
    kw = dict(startprob=[1.0], transmat=[[1.0]], means=[[1e6]], covars=cov, n_iter=1,
              covariance_type=ct)
    ours = preset_hmm(GaussianHMM, **kw).fit(X)
    ref = quiet(preset_hmm(hl.GaussianHMM, **kw).fit, X)
    assert_allclose(ours.covars_, ref.covars_, rtol=1e-12)


# ----------------------------------------------------- 3. predictions
def test_prediction_never_returns_nan():
    X = np.random.RandomState(4).randn(200, 2)
    gm = GaussianMixture(2, random_state=0).fit(X)
    far = np.array([[1e155, 1e155]])
    for method in (gm.predict, gm.predict_proba, gm.score_samples, gm.score):
        with pytest.raises(ValueError, match=r"samples \[0\] .*overflows"):
            method(far)
    gm.means_ = gm.means_.copy()
    gm.means_[1, 0] = np.nan
    for method in (gm.predict, gm.predict_proba, gm.score_samples):
        with pytest.raises(ValueError, match="means_ holds NaN"):
            method(X)


# ------------------------------------------- 4. fits return usable models
class _NaNFrameHMM(GaussianHMM):
    """Frame log-likelihoods with one NaN, in a later state's column mid-
    sequence (what a broken custom emission would hand the chain)."""

    def _frame_log_likelihood(self, X, n_threads, data=None):
        f, extra = super()._frame_log_likelihood(X, n_threads)
        f = f.copy()
        f[len(f) // 2, self.n_components - 1] = np.nan
        return f, extra


@pytest.mark.parametrize("implementation", ["log", "scaling"])
@pytest.mark.parametrize("k", [3, 9])
def test_hmm_chain_never_turns_a_nan_frame_into_a_number(implementation, k):
    # the chain kernels took a NaN for an impossible state (their exps give
    # 0 below -708): 'log' scoring returned a finite log-likelihood
    rng = np.random.RandomState(k)
    trans = rng.dirichlet(np.ones(k), size=k)
    model = preset_hmm(_NaNFrameHMM, rng.randn(k, 2), np.ones((k, 2)), np.full(k, 1 / k), trans,
                       implementation=implementation)
    X = rng.randn(40, 2)
    for call in (model.score, lambda X: model.score_samples(X),
                 lambda X: model.predict_proba(X), lambda X: model.decode(X, algorithm="map")):
        with pytest.raises(ValueError, match="NaN"):
            call(X)
    with pytest.raises(FloatingPointError, match="NaN"):
        model.decode(X)


def test_hmm_fit_never_returns_covariances_its_own_score_refuses():
    rng = np.random.RandomState(5)
    model = GMMHMM(2, n_mix=2, covariance_type="diag", min_covar=0, init_params="", n_iter=2)
    model.startprob_, model.transmat_ = np.array([0.5, 0.5]), np.full((2, 2), 0.5)
    model.means_, model.weights_ = rng.randn(2, 2, 5), np.full((2, 2), 0.5)
    model.covars_ = np.ones((2, 2, 5))
    before = {k: np.array(v, copy=True) for k, v in vars(model).items()
              if isinstance(v, np.ndarray)}
    with pytest.raises(ValueError, match="Baum-Welch iteration .*increase min_covar"):
        model.fit(np.zeros((43, 5)))
    for k, v in before.items():
        assert_array_equal(getattr(model, k), v)
    model.score(np.zeros((43, 5)))   # the model as it was still works


# --------------------------------------------------------- 5. layouts
def test_hmm_parameters_in_any_memory_layout(tmp_path):
    X = np.random.RandomState(6).randn(60, 2)
    trans = np.array([[0.9, 0.1], [0.3, 0.7]])
    base = preset_hmm(GaussianHMM, means=[[0, 0], [1, 1]], covars=np.ones((2, 2)),
                      startprob=[0.4, 0.6], transmat=trans)
    expected = base.score(X)
    for t in (np.asfortranarray(trans), trans.T.copy().T, trans.T.T):
        odd = preset_hmm(GaussianHMM, means=np.asfortranarray([[0.0, 0], [1, 1]]),
                         covars=np.ones((2, 2)), startprob=np.array([0.4, 0, 0.6])[::2],
                         transmat=t)
        assert odd.score(X) == expected
        assert_array_equal(odd.predict(X), base.predict(X))
        assert odd.sample(5, random_state=0)[0].shape == (5, 2)
        odd.n_iter = 1
        odd.fit(X)
    base.transmat_ = np.asfortranarray(trans)
    base.save(tmp_path / "f.gmscore")
    import gmscore

    assert gmscore.load(tmp_path / "f.gmscore").score(X) == expected


# --------------------------------------------------------- 6. lengths
@pytest.mark.parametrize("lengths, match", [
    ([2**62] * 3 + [2**62 + 100], r"positions \[0, 1, 2, 3\] .*more than the 100 samples"),
    (np.array([2**64 - 1], dtype=np.uint64), r"\[18446744073709551615\], more than"),
    (np.array([1e19]), r"\[1e\+19\], more than"),
    (np.array([50.5, 49.5]), r"must be integers; entries \[0, 1\]"),
    ([60, 60], "sum to 120 but X has 100"),
    ([1] * 101, "101 sequences but X only 100"),
])
def test_lengths_are_checked_exactly(lengths, match):
    X = np.random.RandomState(7).randn(100, 1)
    with pytest.raises(ValueError, match=match):
        GaussianHMM(2).fit(X, lengths)


# -------------------------------------------------------- 7. messages
def test_messages_name_the_real_cause():
    X = np.random.RandomState(8).randn(200, 2)
    with pytest.raises(ValueError, match="sample_weight sums to infinity"):
        GaussianMixture(2).fit(X, sample_weight=np.full(200, 1e308))
    for kw, match in [(dict(means_weight=np.nan), "means_weight must be finite"),
                      (dict(covars_prior=np.nan), "covars_prior must be finite"),
                      (dict(startprob_prior="a"), "startprob_prior must be a number"),
                      (dict(transmat_prior=[[1, np.inf]]), "transmat_prior must be finite")]:
        with pytest.raises(ValueError, match=match):
            GaussianHMM(2, **kw).fit(X, [100, 100])
    with pytest.raises(ValueError, match="weights_prior must be finite"):
        GMMHMM(2, weights_prior=np.nan).fit(X)


def test_misaligned_input_is_read_aligned(tmp_path):
    """A buffer at an odd byte offset (a chunk received over the wire, a
    memmap with offset=1): the kernels read doubles at their alignment, so
    such input is copied aligned (UBSan reported the misaligned loads)."""
    Y = np.random.RandomState(9).randn(2000, 3)
    raw = bytearray(Y.nbytes + 1)
    X = np.frombuffer(raw, dtype=np.float64, offset=1, count=Y.size).reshape(Y.shape)
    X[:] = Y
    assert not X.flags.aligned
    ref = GaussianMixture(2, max_iter=3, tol=0, random_state=0).fit(Y)
    got = GaussianMixture(2, max_iter=3, tol=0, random_state=0).fit(X)
    assert_array_equal(got.means_, ref.means_)
    path = tmp_path / "odd.dat"
    path.write_bytes(b"\0" + Y.tobytes())
    mm = np.memmap(path, dtype=np.float64, mode="r", offset=1, shape=Y.shape)
    assert not mm.flags.aligned
    assert_array_equal(GaussianMixture(2, max_iter=3, tol=0, random_state=0).fit(mm).means_,
                       ref.means_)
    assert_array_equal(ref.predict(X), ref.predict(Y))
