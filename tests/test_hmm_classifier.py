"""HMMClassifier against independent references: per-class hmmlearn
``score`` calls on the fitted parameters, a brute-force forward pass for
the multi-chain kernel, per-class gmscore fits, scikit-learn's
cross_val_score / GridSearchCV / metadata routing, and bad input."""
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp

from gmscore import GMMHMM, GaussianHMM, HMMClassifier
from gmscore import _hmmc
from gmscore.classifier import class_seeds

hmmlearn_hmm = pytest.importorskip("hmmlearn.hmm")
COV_TYPES = ("full", "tied", "diag", "spherical")


def _sequences(n_seq=30, n_classes=3, d=3, seed=0):
    """Classes that differ in their dynamics (same state means, different
    transition matrices) and in their means."""
    rng = np.random.RandomState(seed)
    seqs, y = [], []
    for i in range(n_seq):
        c = i % n_classes
        stay = 0.6 + 0.15 * c
        T = rng.randint(30, 80)
        states = np.zeros(T, dtype=int)
        for t in range(1, T):
            states[t] = states[t - 1] if rng.rand() < stay else 1 - states[t - 1]
        seqs.append(np.array([[0.0] * d, [3.0] * d])[states] + 0.5 * c + rng.randn(T, d))
        y.append(c)
    return seqs, np.array(y)


def _hmmlearn_copy(model):
    """An hmmlearn model with the parameters of a fitted gmscore HMM."""
    if isinstance(model, GMMHMM):
        ref = hmmlearn_hmm.GMMHMM(model.n_components, model.n_mix,
                                  covariance_type=model.covariance_type)
        ref.weights_ = model.weights_
        ref.covars_ = model.covars_
    else:
        ref = hmmlearn_hmm.GaussianHMM(model.n_components,
                                       covariance_type=model.covariance_type)
        ref.covars_ = model._covars_
    ref.n_features = model.means_.shape[-1]
    ref.startprob_, ref.transmat_, ref.means_ = model.startprob_, model.transmat_, model.means_
    return ref


@pytest.mark.parametrize("n_mix", [None, 2])
@pytest.mark.parametrize("ct", COV_TYPES)
def test_per_sequence_scores_equal_hmmlearn_score(ct, n_mix):
    seqs, y = _sequences(seed=1)
    names = np.array(["walk", "run", "jump"])
    clf = HMMClassifier(2, n_mix=n_mix, covariance_type=ct, random_state=0).fit(seqs, names[y])
    L = clf.log_likelihoods(seqs)
    refs = [_hmmlearn_copy(m) for m in clf.estimators_]
    expected = np.array([[r.score(s) for r in refs] for s in seqs])
    assert_allclose(L, expected, rtol=1e-10)
    # frames + lengths give the same, and so do posteriors from them
    X, lengths = np.concatenate(seqs), [len(s) for s in seqs]
    assert_allclose(clf.log_likelihoods(X, lengths=lengths), L, rtol=1e-13)
    joint = expected + np.log(clf.priors_)
    assert_allclose(clf.predict_proba(X, lengths=lengths),
                    np.exp(joint - logsumexp(joint, 1, keepdims=True)), atol=1e-10)
    assert_array_equal(clf.predict(seqs), clf.classes_[np.argmax(joint, 1)])


def test_each_class_is_the_per_class_hmm_fit():
    seqs, y = _sequences(seed=2)
    clf = HMMClassifier(2, covariance_type="full", n_iter=20, random_state=5,
                        n_threads=1).fit(seqs, y)
    seeds = class_seeds(5, 3)
    for c in range(3):
        mine = [s for s, lab in zip(seqs, y) if lab == c]
        ref = GaussianHMM(2, covariance_type="full", n_iter=20, random_state=int(seeds[c]),
                          n_threads=1).fit(np.concatenate(mine), [len(s) for s in mine])
        for name in ("startprob_", "transmat_", "means_", "covars_"):
            assert_array_equal(getattr(clf.estimators_[c], name), getattr(ref, name))


def test_classifies_by_dynamics():
    seqs, y = _sequences(n_seq=90, seed=3)
    train, test = np.arange(90) < 60, np.arange(90) >= 60
    clf = HMMClassifier(2, random_state=0).fit([s for s, t in zip(seqs, train) if t], y[train])
    assert clf.score([s for s, t in zip(seqs, test) if t], y[test]) > 0.8


def test_priors_and_hmm_params():
    seqs, y = _sequences(seed=4)
    assert_allclose(HMMClassifier(2, random_state=0).fit(seqs, y).priors_, [1 / 3] * 3)
    clf = HMMClassifier(2, priors=[0.0, 0.5, 0.5], random_state=0,
                        hmm_params={"transmat_prior": 2.0}).fit(seqs, y)
    assert (clf.predict(seqs) != 0).all()
    assert clf.estimators_[0].transmat_prior == 2.0
    with pytest.raises(ValueError, match="sum to 1"):
        HMMClassifier(priors=[0.5, 0.4, 0.0]).fit(seqs, y)


# ============================================================ the kernel
def _brute_force_forward(f, pi, A):
    with np.errstate(divide="ignore"):
        a = np.log(pi) + f[0]
        for t in range(1, len(f)):
            a = logsumexp(a[:, None] + np.log(A), axis=0) + f[t]
    return logsumexp(a)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_multi_chain_kernel_equals_brute_force(n_threads):
    rng = np.random.RandomState(0)
    # every state count the kernel unrolls (2-6, 8) and the general loop
    ks = [1, 3, 5, 2, 4, 6, 8, 7, 9]
    lengths = [1, 7, 40, 3, 120]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    cols = np.concatenate([[0], np.cumsum(ks)]).astype(np.int64)
    f = rng.randn(offsets[-1], cols[-1]) * 30      # wide range: the exact redo paths
    pis = [rng.dirichlet(np.ones(k)) for k in ks]
    As = [rng.dirichlet(np.ones(k), size=k) for k in ks]
    As[2][1] = 0.0
    As[2][1, 3] = 1.0                               # structural zeros
    pis[1][0] = 0.0
    pis[1] /= pis[1].sum()
    out = np.empty((len(lengths), len(ks)))
    _hmmc.multi_chain_loglik(f, cols, offsets, np.concatenate(pis),
                             np.concatenate([A.ravel() for A in As]), out, n_threads)
    for s in range(len(lengths)):
        for c in range(len(ks)):
            fs = f[offsets[s]:offsets[s + 1], cols[c]:cols[c + 1]]
            assert_allclose(out[s, c], _brute_force_forward(fs, pis[c], As[c]), rtol=1e-12)
    # thread-count invariant
    other = np.empty_like(out)
    _hmmc.multi_chain_loglik(f, cols, offsets, np.concatenate(pis),
                             np.concatenate([A.ravel() for A in As]), other, 3 - n_threads)
    assert_array_equal(out, other)


def test_multi_chain_kernel_impossible_and_bad_arguments():
    f = np.zeros((4, 2))
    out = np.empty((1, 1))
    # the chain starts in state 0 and never leaves it, and state 0 cannot
    # emit frame 2: zero probability, -inf (an answer, not an error)
    f_imp = f.copy()
    f_imp[2, 0] = -np.inf
    _hmmc.multi_chain_loglik(f_imp, np.array([0, 2]), np.array([0, 4]), np.array([1.0, 0.0]),
                             np.array([1.0, 0.0, 0.0, 1.0]), out, 1)
    assert out[0, 0] == -np.inf
    with pytest.raises(ValueError, match="offsets"):
        _hmmc.multi_chain_loglik(f, np.array([0, 2]), np.array([0, 3]), np.array([0.5, 0.5]),
                                 np.full(4, 0.5), out, 1)
    with pytest.raises(ValueError, match="transmat length"):
        _hmmc.multi_chain_loglik(f, np.array([0, 2]), np.array([0, 4]), np.array([0.5, 0.5]),
                                 np.full(3, 0.5), out, 1)
    with pytest.raises(ValueError, match="NaN"):
        _hmmc.multi_chain_loglik(np.full((4, 2), np.nan), np.array([0, 2]), np.array([0, 4]),
                                 np.array([0.5, 0.5]), np.full(4, 0.5), out, 1)
    # one NaN in a later state's column mid-sequence, other chains fine:
    # an error, never a number
    f3 = np.zeros((6, 7))
    f3[3, 4] = np.nan
    cols3 = np.array([0, 3, 7])
    with pytest.raises(ValueError, match="NaN"):
        _hmmc.multi_chain_loglik(f3, cols3, np.array([0, 6]), np.full(7, 0.5),
                                 np.concatenate([np.full(9, 1 / 3), np.full(16, 0.25)]),
                                 np.empty((1, 2)), 2)


# ================================================= scikit-learn tooling
def test_cross_val_score_and_grid_search_on_lists_of_sequences():
    from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score

    seqs, y = _sequences(n_seq=60, seed=5)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(HMMClassifier(2, random_state=0), seqs, y, cv=cv)
    assert scores.shape == (3,) and scores.mean() > 0.7
    gs = GridSearchCV(HMMClassifier(random_state=0),
                      {"n_components": [1, 2], "covariance_type": ["diag", "full"]}, cv=cv)
    gs.fit(seqs, y)
    assert gs.best_params_["n_components"] == 2   # one state cannot see the dynamics
    assert gs.score(seqs, y) > 0.7
    # the same with scikit-learn's metadata routing switched on
    import sklearn

    with sklearn.config_context(enable_metadata_routing=True):
        routed = cross_val_score(HMMClassifier(2, random_state=0), seqs, y, cv=cv)
    assert_array_equal(routed, scores)


def test_lengths_routed_by_metadata_routing():
    import sklearn
    from sklearn.pipeline import Pipeline

    seqs, y = _sequences(n_seq=30, seed=6)
    X, lengths = np.concatenate(seqs), np.array([len(s) for s in seqs])
    direct = HMMClassifier(2, random_state=0).fit(X, y, lengths=lengths)
    with sklearn.config_context(enable_metadata_routing=True):
        pipe = Pipeline([("hmm", HMMClassifier(2, random_state=0))])
        pipe.fit(X, y, lengths=lengths)
        assert_array_equal(pipe.predict(X, lengths=lengths), direct.predict(X, lengths))
        assert pipe.score(X, y, lengths=lengths) == direct.score(X, y, lengths)
        # declined: the router refuses to pass it
        off = Pipeline([("hmm", HMMClassifier(2).set_fit_request(lengths=False))])
        with pytest.raises(Exception, match="lengths"):
            off.fit(X, y, lengths=lengths)


def test_clone_and_params():
    from sklearn.base import clone, is_classifier

    clf = HMMClassifier(3, n_mix=2, hmm_params={"covars_prior": 0.1})
    c = clone(clf)
    assert c.get_params() == clf.get_params()
    assert is_classifier(clf)


# ================================================================ bad input
def test_bad_input():
    seqs, y = _sequences(seed=7)
    clf = HMMClassifier(2, random_state=0).fit(seqs, y)
    before = [m.means_.copy() for m in clf.estimators_]
    X, lengths = np.concatenate(seqs), [len(s) for s in seqs]
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clf.fit(seqs, y[:-1])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clf.fit(X, np.repeat(y, lengths), lengths=lengths)   # per-frame labels
    with pytest.raises(ValueError, match="single class"):
        clf.fit(seqs, np.zeros(len(seqs)))
    with pytest.raises(ValueError, match="do not also give lengths"):
        clf.fit(seqs, y, lengths=lengths)
    with pytest.raises(ValueError, match="lengths sum"):
        clf.fit(X, y, lengths=np.array(lengths) + 1)
    with pytest.raises(ValueError, match="class 'tiny' has 2 frames"):
        HMMClassifier(3).fit(seqs + [np.zeros((2, 3))], list(y.astype(str)) + ["tiny"])
    with pytest.raises(ValueError, match="expecting 3 features"):
        clf.predict([s[:, :2] for s in seqs])
    with pytest.raises(ValueError, match="different feature counts"):
        clf.predict([seqs[0], seqs[1][:, :2]])
    for m, b in zip(clf.estimators_, before):
        assert_array_equal(m.means_, b)
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        HMMClassifier().predict(seqs)
