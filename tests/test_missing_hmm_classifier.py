"""HMMClassifier(nan_policy='marginalize') against independent references:
per-class GaussianHMM / GMMHMM fits with nan_policy='marginalize' from the
same seeds, a brute-force scorer (scipy's multivariate normal on each
frame's observed features, a plain log-space forward recursion), the
'raise' policy on complete data, and bad input."""
import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from gmscore import GMMHMM, GaussianHMM, HMMClassifier
from gmscore.classifier import class_seeds

COV_TYPES = ("full", "tied", "diag", "spherical")


def _sequences(n_seq=18, n_classes=3, d=3, frac=0.2, seed=0):
    """Sequences of classes with different means and dynamics; a fraction
    ``frac`` of the entries NaN and, when frac > 0, a few frames entirely
    NaN (the first of them a sequence's first frame)."""
    rng = np.random.RandomState(seed)
    seqs, y = [], []
    for i in range(n_seq):
        c = i % n_classes
        T = rng.randint(15, 35)
        states = np.zeros(T, dtype=int)
        for t in range(1, T):
            states[t] = states[t - 1] if rng.rand() < 0.6 + 0.15 * c else 1 - states[t - 1]
        x = np.array([[0.0] * d, [3.0] * d])[states] + 0.7 * c + rng.randn(T, d)
        x[rng.rand(T, d) < frac] = np.nan
        if frac > 0 and i % 4 == 0:
            x[0 if i == 0 else T // 2] = np.nan
        seqs.append(x)
        y.append(c)
    return seqs, np.array(y)


def _components(model, d):
    """Per state: a list of (log weight, mean, full covariance)."""
    k = model.n_components
    if not isinstance(model, GMMHMM):
        cov = model.covars_                               # (K, D, D) always
        return [[(0.0, model.means_[s], cov[s])] for s in range(k)]
    m, ct, cov = model.n_mix, model.covariance_type, np.asarray(model.covars_)
    full = {"full": lambda s, j: cov[s, j], "tied": lambda s, j: cov[s],
            "diag": lambda s, j: np.diag(cov[s, j]),
            "spherical": lambda s, j: cov[s, j] * np.eye(d)}[ct]
    with np.errstate(divide="ignore"):
        log_w = np.log(model.weights_)
    return [[(log_w[s, j], model.means_[s, j], full(s, j)) for j in range(m)]
            for s in range(k)]


def _ref_framelogprob(model, X):
    """log p(x_t | state) = log sum_m w_m N(x_to; mu_mo, S_moo) over the
    observed features o of frame t (0 when none is observed)."""
    comps = _components(model, X.shape[1])
    out = np.zeros((X.shape[0], len(comps)))
    for t, x in enumerate(X):
        o = ~np.isnan(x)
        if not o.any():
            continue
        for s, mix in enumerate(comps):
            out[t, s] = logsumexp([lw + multivariate_normal(mu[o], S[np.ix_(o, o)]).logpdf(x[o])
                                   for lw, mu, S in mix])
    return out


def _ref_forward(logB, startprob, transmat):
    with np.errstate(divide="ignore"):
        log_a, la = np.log(transmat), np.log(startprob) + logB[0]
    for t in range(1, logB.shape[0]):
        la = logsumexp(la[:, None] + log_a, axis=0) + logB[t]
    return logsumexp(la)


def _ref_log_likelihoods(clf, seqs):
    return np.array([[_ref_forward(_ref_framelogprob(m, x), m.startprob_, m.transmat_)
                      for m in clf.estimators_] for x in seqs])


def _assert_same_state(clf, state):
    """The classifier's fitted state is ``state`` (from _state), bit for bit."""
    now = _state(clf)
    assert now[0] == state[0]
    assert len(now[1]) == len(state[1])
    for a, b in zip(now[1], state[1]):
        assert a.keys() == b.keys()
        for name in a:
            assert_array_equal(a[name], b[name], err_msg=name)


def _state(clf):
    return (pickle.dumps((clf.get_params(), clf.classes_, clf.priors_, clf.n_features_in_)),
            [dict(_params(m), history=np.asarray(m.monitor_.history))
             for m in clf.estimators_])


def _params(model):
    names = ("startprob_", "transmat_", "means_", "covars_", "weights_")
    return {n: np.asarray(getattr(model, n)) for n in names if hasattr(model, n)}


@pytest.mark.parametrize("n_mix", [None, 2])
@pytest.mark.parametrize("ct", COV_TYPES)
def test_log_likelihoods_equal_brute_force(ct, n_mix):
    seqs, y = _sequences(seed=1)
    clf = HMMClassifier(2, n_mix=n_mix, covariance_type=ct, random_state=0, n_iter=5,
                        nan_policy="marginalize").fit(seqs, y)
    test, _ = _sequences(n_seq=6, seed=2, frac=0.3)
    test.append(np.full((4, 3), np.nan))     # nothing observed: log 1 under every class
    L = clf.log_likelihoods(test)
    ref = _ref_log_likelihoods(clf, test)
    assert np.isfinite(ref).all()
    assert_allclose(L, ref, rtol=1e-10, atol=1e-10)
    assert_allclose(L[-1], 0.0, atol=1e-12)   # (rows of transmat sum to 1 within rounding)
    # the posteriors and decisions built on them
    log_joint = ref + np.log(clf.priors_)
    log_post = log_joint - logsumexp(log_joint, axis=1, keepdims=True)
    assert_allclose(clf.predict_log_proba(test), log_post, rtol=1e-9, atol=1e-10)
    assert_allclose(clf.predict_proba(test), np.exp(log_post), rtol=1e-9, atol=1e-12)
    # (the last sequence's posteriors are the priors, equal here: a tie)
    assert_array_equal(clf.predict(test[:-1]), clf.classes_[np.argmax(log_joint[:-1], axis=1)])
    # frames + lengths give what the list gives
    frames, lengths = np.concatenate(test), [len(x) for x in test]
    assert_array_equal(clf.log_likelihoods(frames, lengths), L)


@pytest.mark.parametrize("n_mix", [None, 2])
@pytest.mark.parametrize("ct", ["diag", "full", "tied"])
def test_class_hmms_equal_standalone_marginalised_fits(ct, n_mix):
    seqs, y = _sequences(seed=3)
    names = np.array(["c", "a", "b"])           # classes_ sorted: a, b, c
    clf = HMMClassifier(2, n_mix=n_mix, covariance_type=ct, random_state=7, n_iter=6,
                        nan_policy="marginalize").fit(seqs, names[y])
    seeds = class_seeds(7, 3)
    for c, label in enumerate(clf.classes_):
        own = [x for x, lab in zip(seqs, names[y]) if lab == label]
        kw = dict(covariance_type=ct, random_state=int(seeds[c]), n_iter=6,
                  nan_policy="marginalize")
        ref = (GaussianHMM(2, **kw) if n_mix is None else GMMHMM(2, n_mix=n_mix, **kw))
        ref.fit(np.concatenate(own), [len(x) for x in own])
        got, want = _params(clf.estimators_[c]), _params(ref)
        assert got.keys() == want.keys()
        for name in want:
            assert_allclose(got[name], want[name], rtol=1e-10, atol=1e-12, err_msg=name)
        assert_allclose(clf.estimators_[c].monitor_.history, ref.monitor_.history,
                        rtol=1e-10)
        assert clf.estimators_[c].nan_policy == "marginalize"
    # frames + lengths: the same fits
    again = HMMClassifier(2, n_mix=n_mix, covariance_type=ct, random_state=7, n_iter=6,
                          nan_policy="marginalize")
    again.fit(np.concatenate(seqs), names[y], lengths=[len(x) for x in seqs])
    for a, b in zip(again.estimators_, clf.estimators_):
        for name, value in _params(b).items():
            assert_array_equal(_params(a)[name], value, err_msg=name)


@pytest.mark.parametrize("n_mix", [None, 2])
def test_no_nan_equals_raise_policy_and_fast_path(n_mix, monkeypatch):
    seqs, y = _sequences(seed=4, frac=0.0)
    kw = dict(n_mix=n_mix, covariance_type="full", random_state=0, n_iter=5)
    a = HMMClassifier(2, **kw).fit(seqs, y)
    b = HMMClassifier(2, nan_policy="marginalize", **kw).fit(seqs, y)
    for ma, mb in zip(a.estimators_, b.estimators_):
        pa, pb = _params(ma), _params(mb)
        for name in pa:
            assert_array_equal(pa[name], pb[name], err_msg=name)
    # complete frames never reach the missing-value kernel
    import gmscore._missing_hmm as missing_hmm

    def refuse(*args, **kwargs):
        raise AssertionError("the missing-value path ran on complete frames")

    monkeypatch.setattr(missing_hmm, "frames_log_likelihood", refuse)
    assert_array_equal(b.log_likelihoods(seqs), a.log_likelihoods(seqs))
    assert_array_equal(b.predict_proba(seqs), a.predict_proba(seqs))
    assert b.score(seqs, y) == a.score(seqs, y)
    assert_allclose(b.log_likelihoods(seqs), _ref_log_likelihoods(b, seqs), rtol=1e-10)


def test_nan_scores_do_not_depend_on_threads_or_dtype():
    seqs, y = _sequences(seed=5)
    kw = dict(covariance_type="full", random_state=0, n_iter=4, nan_policy="marginalize")
    one = HMMClassifier(2, n_threads=1, **kw).fit(seqs, y)
    two = HMMClassifier(2, n_threads=2, **kw).fit(seqs, y)
    for m1, m2 in zip(one.estimators_, two.estimators_):
        assert_allclose(m1.means_, m2.means_, rtol=1e-12, atol=1e-12)
    frames = np.concatenate(seqs * 20)        # enough frames for two threads to be used
    lengths = [len(x) for x in seqs] * 20
    L1 = one.log_likelihoods(frames, lengths)
    assert_allclose(two.log_likelihoods(frames, lengths), L1, rtol=1e-12)
    # float32 frames: the marginal kernel reads them as float64
    L32 = one.log_likelihoods(frames.astype(np.float32), lengths)
    ref32 = one.log_likelihoods(frames.astype(np.float32).astype(np.float64), lengths)
    assert_array_equal(L32, ref32)


def test_bad_input_leaves_the_classifier_unchanged():
    seqs, y = _sequences(seed=6)
    clf = HMMClassifier(2, covariance_type="diag", random_state=0, n_iter=3,
                        nan_policy="marginalize").fit(seqs, y)
    before = _state(clf)
    L = clf.log_likelihoods(seqs)

    # a feature NaN in every frame of one class: nothing to learn about it
    bad = [x.copy() for x in seqs]
    for i in np.flatnonzero(y == 1):
        bad[i][:, 2] = np.nan
    with pytest.raises(ValueError, match=r"class 1.*feature\(s\) \[2\]"):
        clf.fit(bad, y)
    with pytest.raises(ValueError, match="nan_policy"):
        HMMClassifier(2, nan_policy="drop").fit(seqs, y)
    with pytest.raises(ValueError, match="nan_policy"):
        clf.set_params(nan_policy="drop").fit(seqs, y)
    clf.set_params(nan_policy="marginalize")
    with pytest.raises(ValueError, match="infinity|inf"):
        clf.fit([np.where(np.isnan(x), np.inf, x) for x in seqs], y)
    with pytest.raises(ValueError, match="features"):
        clf.log_likelihoods([x[:, :2] for x in seqs])
    _assert_same_state(clf, before)
    assert_array_equal(clf.log_likelihoods(seqs), L)

    # 'raise' (the default) refuses NaN in fit and in scoring, as before
    with pytest.raises(ValueError, match="NaN"):
        HMMClassifier(2, random_state=0).fit(seqs, y)
    clean = [np.nan_to_num(x, nan=0.5) for x in seqs]
    strict = HMMClassifier(2, random_state=0, n_iter=3).fit(clean, y)
    before = _state(strict)
    for method in ("log_likelihoods", "predict", "predict_proba", "predict_log_proba"):
        with pytest.raises(ValueError, match="NaN"):
            getattr(strict, method)(seqs)
    with pytest.raises(ValueError, match="NaN"):
        strict.score(seqs, y)
    _assert_same_state(strict, before)


def test_cross_validation_over_sequences_with_nan():
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    seqs, y = _sequences(n_seq=24, seed=9, frac=0.6)
    clf = HMMClassifier(2, covariance_type="diag", random_state=0, n_iter=4,
                        nan_policy="marginalize")
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(clf, seqs, y, cv=cv)
    want = []
    for train, test in cv.split(np.zeros(len(y)), y):   # the same folds by hand
        fold = HMMClassifier(**clf.get_params()).fit([seqs[i] for i in train], y[train])
        ref = _ref_log_likelihoods(fold, [seqs[i] for i in test]) + np.log(fold.priors_)
        want.append(np.mean(fold.classes_[np.argmax(ref, axis=1)] == y[test]))
    assert_allclose(scores, want, rtol=0, atol=0)
