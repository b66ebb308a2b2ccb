"""gmscore.BaseHMM against hmmlearn.base.BaseHMM running the very same
subclass code: each emission model below is a mixin, combined once with
hmmlearn's base and once with ours, and both are run from identical
starting parameters."""
import logging
import pickle
import string

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import poisson

import gmscore
from gmscore._custom_hmm import _log_lattices, _scaled_lattices

hmmlearn_base = pytest.importorskip("hmmlearn.base")
hmmlearn_hmmc = pytest.importorskip("hmmlearn._hmmc")

TIGHT = dict(rtol=1e-10, atol=1e-10)


# ------------------------------------------------------------ emission mixins
class PoissonEmissions:
    """State k emits independent Poisson counts with rates lambdas_[k]
    (letter 'l'), with a Gamma(lambdas_prior * lambdas_weight + 1,
    lambdas_weight) prior as in hmmlearn's PoissonHMM."""

    lambdas_prior = 0.0
    lambdas_weight = 0.0

    def _init(self, X, lengths=None):
        super()._init(X, lengths)
        rs = np.random.RandomState(None if self.random_state is None else 17)
        if self._needs_init("l", "lambdas_"):
            pick = rs.choice(X.shape[0], self.n_components, replace=False)
            self.lambdas_ = X[pick].astype(float) + rs.uniform(0.1, 1.0, (self.n_components,
                                                                          X.shape[1]))

    def _check(self):
        super()._check()
        self.lambdas_ = np.asarray(self.lambdas_, dtype=float)
        if self.lambdas_.shape != (self.n_components, self.n_features):
            raise ValueError("lambdas_ must have shape (n_components, n_features)")
        if not (self.lambdas_ > 0).all():
            raise ValueError("lambdas_ must be positive")

    def _get_n_fit_scalars_per_param(self):
        k, d = self.n_components, self.n_features
        return {"s": k - 1, "t": k * (k - 1), "l": k * d}

    def _compute_log_likelihood(self, X):
        return np.stack([poisson.logpmf(X, lam).sum(axis=1) for lam in self.lambdas_],
                        axis=1)

    def _generate_sample_from_state(self, state, random_state):
        return random_state.poisson(self.lambdas_[state])

    def _initialize_sufficient_statistics(self):
        stats = super()._initialize_sufficient_statistics()
        stats["post"] = np.zeros(self.n_components)
        stats["obs"] = np.zeros((self.n_components, self.n_features))
        return stats

    def _accumulate_sufficient_statistics(self, stats, X, lattice, posteriors, fwdlattice,
                                          bwdlattice):
        super()._accumulate_sufficient_statistics(stats, X, lattice, posteriors, fwdlattice,
                                                  bwdlattice)
        if "l" in self.params:
            stats["post"] += posteriors.sum(axis=0)
            stats["obs"] += posteriors.T @ X

    def _do_mstep(self, stats):
        super()._do_mstep(stats)
        if "l" in self.params:
            alpha = self.lambdas_prior * self.lambdas_weight
            self.lambdas_ = ((alpha + stats["obs"])
                             / (self.lambdas_weight + stats["post"])[:, None])


class LatticeProbe(PoissonEmissions):
    """Poisson emissions that also record what hmmlearn hands the
    accumulation: the lattice, the forward/backward lattices and nobs."""

    def _initialize_sufficient_statistics(self):
        stats = super()._initialize_sufficient_statistics()
        stats["lattice"], stats["fwd"], stats["bwd"], stats["first"] = [], [], [], []
        return stats

    def _accumulate_sufficient_statistics(self, stats, X, lattice, posteriors, fwdlattice,
                                          bwdlattice):
        super()._accumulate_sufficient_statistics(stats, X, lattice, posteriors, fwdlattice,
                                                  bwdlattice)
        stats["lattice"].append(np.array(lattice))
        stats["fwd"].append(np.array(fwdlattice))
        stats["bwd"].append(np.array(bwdlattice))
        stats["first"].append(posteriors[0].copy())


class CategoricalLikelihood:
    """One integer symbol per frame; only _compute_likelihood is given (the
    log-likelihood is derived by the base class). Letter 'e'."""

    def _init(self, X, lengths=None):
        super()._init(X, lengths)
        if self._needs_init("e", "emissionprob_"):
            rs = np.random.RandomState(3)
            self.emissionprob_ = rs.dirichlet(np.ones(int(X.max()) + 1),
                                              size=self.n_components)

    def _check(self):
        super()._check()
        self.emissionprob_ = np.asarray(self.emissionprob_)
        self._check_sum_1("emissionprob_")

    def _get_n_fit_scalars_per_param(self):
        k, m = self.n_components, self.emissionprob_.shape[1]
        return {"s": k - 1, "t": k * (k - 1), "e": k * (m - 1)}

    def _check_and_set_n_features(self, X):
        if not np.issubdtype(X.dtype, np.integer):
            raise ValueError("symbols must be integers")
        super()._check_and_set_n_features(X)

    def _compute_likelihood(self, X):
        return self.emissionprob_[:, X[:, 0]].T

    def _generate_sample_from_state(self, state, random_state):
        return [random_state.choice(self.emissionprob_.shape[1], p=self.emissionprob_[state])]

    def _initialize_sufficient_statistics(self):
        stats = super()._initialize_sufficient_statistics()
        stats["obs"] = np.zeros_like(self.emissionprob_)
        return stats

    def _accumulate_sufficient_statistics(self, stats, X, lattice, posteriors, fwdlattice,
                                          bwdlattice):
        super()._accumulate_sufficient_statistics(stats, X, lattice, posteriors, fwdlattice,
                                                  bwdlattice)
        if "e" in self.params:
            np.add.at(stats["obs"].T, X[:, 0], posteriors)

    def _do_mstep(self, stats):
        super()._do_mstep(stats)
        if "e" in self.params:
            self.emissionprob_ = stats["obs"] / stats["obs"].sum(axis=1, keepdims=True)


def _pair(mixin, name):
    """The mixin on hmmlearn's base and on ours (HL<name>, GS<name>)."""
    theirs = type("HL" + name, (mixin, hmmlearn_base.BaseHMM), {})
    ours = type("GS" + name, (mixin, gmscore.BaseHMM), {})
    return theirs, ours


HLPoisson, GSPoisson = _pair(PoissonEmissions, "Poisson")
HLProbe, GSProbe = _pair(LatticeProbe, "Probe")
HLCategorical, GSCategorical = _pair(CategoricalLikelihood, "Categorical")


# ------------------------------------------------------------------- data
def _poisson_data(seed=0, lengths=(120, 80, 1, 60), d=2):
    rs = np.random.RandomState(seed)
    rates = np.array([[1.0, 6.0], [5.0, 2.0], [12.0, 9.0]])[:, :d]
    trans = np.array([[0.9, 0.08, 0.02], [0.05, 0.9, 0.05], [0.1, 0.1, 0.8]])
    X, states = [], []
    for n in lengths:
        s = rs.randint(3)
        for _ in range(n):
            states.append(s)
            X.append(rs.poisson(rates[s]))
            s = rs.choice(3, p=trans[s])
    return np.array(X), np.array(lengths)


def _start(model, k=3, d=2, seed=5):
    rs = np.random.RandomState(seed)
    model.startprob_ = rs.dirichlet(np.ones(k))
    model.transmat_ = rs.dirichlet(np.ones(k), size=k)
    model.lambdas_ = rs.uniform(1.0, 10.0, (k, d))
    model.n_features = d
    return model


def _models(theirs_cls, ours_cls, start=_start, **kw):
    return start(theirs_cls(**kw)), start(ours_cls(**kw))


# ------------------------------------------------------------------ fitting
@pytest.mark.parametrize("implementation", ["log", "scaling"])
@pytest.mark.parametrize("params", ["stl", "l", "st", "tl"])
def test_fit_matches_hmmlearn_from_same_start(implementation, params):
    X, lengths = _poisson_data()
    hl, gs = _models(HLPoisson, GSPoisson, n_components=3, n_iter=15, tol=-np.inf,
                     params=params, init_params="", implementation=implementation)
    hl.fit(X, lengths)
    gs.fit(X, lengths)
    assert len(gs.monitor_.history) == len(hl.monitor_.history) == 15
    np.testing.assert_allclose(list(gs.monitor_.history), list(hl.monitor_.history),
                               rtol=1e-11)
    for name in ("startprob_", "transmat_", "lambdas_"):
        np.testing.assert_allclose(getattr(gs, name), getattr(hl, name), **TIGHT)
    np.testing.assert_array_equal(gs.predict(X, lengths), hl.predict(X, lengths))
    np.testing.assert_allclose(gs.predict_proba(X, lengths), hl.predict_proba(X, lengths),
                               **TIGHT)
    for method in ("score", "aic", "bic"):
        assert getattr(gs, method)(X, lengths) == pytest.approx(
            getattr(hl, method)(X, lengths), rel=1e-12)
    lp_gs, path_gs = gs.decode(X, lengths)
    lp_hl, path_hl = hl.decode(X, lengths)
    assert lp_gs == pytest.approx(lp_hl, rel=1e-12)
    np.testing.assert_array_equal(path_gs, path_hl)
    lp_gs, path_gs = gs.decode(X, lengths, algorithm="map")
    lp_hl, path_hl = hl.decode(X, lengths, algorithm="map")
    assert lp_gs == pytest.approx(lp_hl, rel=1e-12)
    np.testing.assert_array_equal(path_gs, path_hl)


def test_fit_with_priors_and_tol_matches_hmmlearn():
    X, lengths = _poisson_data(seed=1)
    kw = dict(n_components=3, n_iter=100, tol=1e-4, params="stl", init_params="",
              startprob_prior=np.array([2.0, 1.5, 3.0]),
              transmat_prior=np.full((3, 3), 1.2) + np.eye(3))
    hl, gs = _models(HLPoisson, GSPoisson, **kw)
    hl.lambdas_prior = gs.lambdas_prior = 4.0
    hl.lambdas_weight = gs.lambdas_weight = 0.5
    hl.fit(X, lengths)
    gs.fit(X, lengths)
    np.testing.assert_allclose(list(gs.monitor_.history), list(hl.monitor_.history),
                               rtol=1e-11)
    assert gs.monitor_.iter == hl.monitor_.iter < 100
    for name in ("startprob_", "transmat_", "lambdas_"):
        np.testing.assert_allclose(getattr(gs, name), getattr(hl, name), **TIGHT)


def test_fit_with_initialisation_matches_hmmlearn():
    # _init draws startprob_/transmat_ from random_state exactly as hmmlearn
    X, lengths = _poisson_data(seed=2)
    # (params spelt out: hmmlearn's _init looks every letter of params up)
    kw = dict(n_components=3, n_iter=12, tol=-np.inf, random_state=4, params="stl",
              init_params="stl")
    hl, gs = HLPoisson(**kw), GSPoisson(**kw)
    hl.fit(X, lengths)
    gs.fit(X, lengths)
    np.testing.assert_allclose(list(gs.monitor_.history), list(hl.monitor_.history),
                               rtol=1e-11)
    for name in ("startprob_", "transmat_", "lambdas_"):
        np.testing.assert_allclose(getattr(gs, name), getattr(hl, name), **TIGHT)
    assert gs.n_features == 2 and gs.n_features_in_ == 2


def test_single_sequence_and_one_frame_sequences():
    X, _ = _poisson_data(seed=3, lengths=(90,))
    for lengths in (None, np.ones(len(X), dtype=int)):
        hl, gs = _models(HLPoisson, GSPoisson, n_components=3, n_iter=5, tol=-np.inf,
                         params="stl", init_params="")
        start_trans = gs.transmat_
        hl.fit(X, lengths)
        gs.fit(X, lengths)
        np.testing.assert_allclose(list(gs.monitor_.history), list(hl.monitor_.history),
                                   rtol=1e-11)
        for name in ("startprob_", "lambdas_"):
            np.testing.assert_allclose(getattr(gs, name), getattr(hl, name), **TIGHT)
        if lengths is None:
            np.testing.assert_allclose(gs.transmat_, hl.transmat_, **TIGHT)
        else:
            # no transition observed: hmmlearn leaves rows of zeros (and warns),
            # gmscore keeps the rows it had (a deliberate difference)
            assert not hl.transmat_.any()
            np.testing.assert_array_equal(gs.transmat_, start_trans)


@pytest.mark.parametrize("implementation", ["log", "scaling"])
def test_estep_statistics_and_lattices_match_hmmlearn(implementation):
    # what _accumulate_sufficient_statistics receives, call by call
    X, lengths = _poisson_data(seed=4)
    hl, gs = _models(HLProbe, GSProbe, n_components=3, implementation=implementation,
                     init_params="")
    hl._check()
    gs._check()
    s_hl, lp_hl = hl._do_estep(X, lengths)
    s_gs, lp_gs = gs._do_estep(X, lengths)
    assert lp_gs == pytest.approx(lp_hl, rel=1e-12)
    assert s_gs["nobs"] == s_hl["nobs"] == len(lengths)
    for key in ("start", "trans", "post", "obs"):
        np.testing.assert_allclose(s_gs[key], s_hl[key], **TIGHT)
    for key in ("lattice", "fwd", "bwd", "first"):
        assert len(s_gs[key]) == len(s_hl[key]) == len(lengths)
        for a, b in zip(s_gs[key], s_hl[key]):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-300)


@pytest.mark.parametrize("lengths", [[1], [2], [40], [7, 1, 40, 3, 40, 2]])
def test_numpy_lattices_match_hmmlearn_kernels(lengths):
    rs = np.random.RandomState(len(lengths))
    k = 4
    sp, tm = rs.dirichlet(np.ones(k)), rs.dirichlet(np.ones(k), size=k)
    tm[0, 1] = 0.0   # a forbidden transition
    tm[0] /= tm[0].sum()
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    flp = rs.normal(-3, 2, (offsets[-1], k))
    fp = np.exp(flp)
    ours_log = _log_lattices(flp, offsets, sp, tm)
    ours_scaled = _scaled_lattices(fp, offsets, sp, tm)
    for a, b in zip(offsets[:-1], offsets[1:]):
        _, fwd = hmmlearn_hmmc.forward_log(sp, tm, flp[a:b])
        bwd = hmmlearn_hmmc.backward_log(sp, tm, flp[a:b])
        np.testing.assert_allclose(ours_log[0][a:b], fwd, rtol=1e-12)
        np.testing.assert_allclose(ours_log[1][a:b], bwd, rtol=1e-12, atol=1e-12)
        _, fwd, scale = hmmlearn_hmmc.forward_scaling(sp, tm, fp[a:b])
        bwd = hmmlearn_hmmc.backward_scaling(sp, tm, fp[a:b], scale)
        np.testing.assert_allclose(ours_scaled[0][a:b], fwd, rtol=1e-12)
        np.testing.assert_allclose(ours_scaled[1][a:b], bwd, rtol=1e-12)


def test_lattices_can_be_switched_off():
    X, lengths = _poisson_data(seed=5)
    quick = type("QuickPoisson", (GSPoisson,), {"_needs_lattices": False})
    a = _start(GSPoisson(n_components=3, n_iter=4, tol=-np.inf, init_params=""))
    b = _start(quick(n_components=3, n_iter=4, tol=-np.inf, init_params=""))
    a.fit(X, lengths)
    b.fit(X, lengths)
    np.testing.assert_array_equal(a.lambdas_, b.lambdas_)
    probe = type("QuickProbe", (GSProbe,), {"_needs_lattices": False})
    stats, _ = _start(probe(n_components=3, init_params=""))._do_estep(X, lengths)
    assert all(f.shape == () for f in stats["fwd"])   # np.array(None)


def test_integer_symbols_and_likelihood_only_subclass():
    rs = np.random.RandomState(6)
    X = rs.randint(0, 4, (300, 1))
    lengths = [100, 150, 50]

    def start(model):
        r = np.random.RandomState(8)
        model.startprob_ = r.dirichlet(np.ones(2))
        model.transmat_ = r.dirichlet(np.ones(2), size=2)
        model.emissionprob_ = r.dirichlet(np.ones(4), size=2)
        return model

    for implementation in ("log", "scaling"):
        hl, gs = _models(HLCategorical, GSCategorical, start=start, n_components=2,
                         n_iter=10, tol=-np.inf, params="ste", init_params="",
                         implementation=implementation)
        hl.fit(X, lengths)
        gs.fit(X, lengths)
        np.testing.assert_allclose(list(gs.monitor_.history), list(hl.monitor_.history),
                                   rtol=1e-11)
        for name in ("startprob_", "transmat_", "emissionprob_"):
            np.testing.assert_allclose(getattr(gs, name), getattr(hl, name), **TIGHT)
        np.testing.assert_array_equal(gs.predict(X, lengths), hl.predict(X, lengths))
    with pytest.raises(ValueError, match="integers"):
        start(GSCategorical(n_components=2)).fit(X.astype(float))


# -------------------------------------------------------------- protocol
def test_sample():
    gs = _start(GSPoisson(n_components=3, random_state=0))
    X, states = gs.sample(500)
    assert X.shape == (500, 2) and states.shape == (500,)
    assert np.issubdtype(X.dtype, np.integer) and set(states) <= {0, 1, 2}
    X2, states2 = gs.sample(500)          # an int random_state: the same draw
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(states, states2)
    _, states = gs.sample(5, random_state=np.random.RandomState(1), currstate=2)
    assert states[0] == 2
    # the chain's frequencies follow transmat_
    gs.transmat_ = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    _, states = gs.sample(30, random_state=3)
    assert (np.diff(states) % 3 == 1).all()
    with pytest.raises(ValueError, match="n_samples"):
        gs.sample(0)
    with pytest.raises(ValueError, match="currstate"):
        gs.sample(3, currstate=3)


def test_degenerate_and_overwrite_notices(caplog):
    X = np.array([[1, 2], [3, 4]])
    with caplog.at_level(logging.WARNING):
        gs = _start(GSPoisson(n_components=3, n_iter=1, init_params="st"))
        gs.fit(X)
    assert "degenerate solution" in caplog.text
    assert "will be overwritten" in caplog.text


def test_scoring_leaves_attributes_as_set():
    X, lengths = _poisson_data()
    gs = _start(GSPoisson(n_components=3))
    gs.lambdas_ = gs.lambdas_.tolist()     # _check converts; scoring must not keep that
    del gs.n_features
    gs.n_features = 2
    before = dict(vars(gs))
    gs.score(X, lengths)
    gs.decode(X, lengths)
    gs.sample(3)
    assert vars(gs).keys() == before.keys()
    assert all(vars(gs)[k] is before[k] for k in before)


def test_failed_fit_leaves_model_unchanged():
    class Failing(GSPoisson):
        def _do_mstep(self, stats):
            self.lambdas_ *= 1.5              # writes into its own array first
            self.calls = getattr(self, "calls", 0) + 1
            if self.calls == 3:
                raise RuntimeError("boom")
            super()._do_mstep(stats)

    X, lengths = _poisson_data()
    rs = np.random.RandomState(0)
    # init_params 'st': _init draws from rs, and lambdas_ is the array written into
    gs = _start(Failing(n_components=3, n_iter=10, init_params="st", random_state=rs))
    before = dict(vars(gs))
    arrays = {k: v.copy() for k, v in before.items() if isinstance(v, np.ndarray)}
    rs_state = rs.get_state()
    with pytest.raises(RuntimeError, match="boom"):
        gs.fit(X, lengths)
    assert vars(gs).keys() == before.keys()
    for k, v in before.items():
        assert vars(gs)[k] is v
    for k, v in arrays.items():
        np.testing.assert_array_equal(vars(gs)[k], v)
    np.testing.assert_array_equal(rs.get_state()[1], rs_state[1])
    assert rs.get_state()[2] == rs_state[2]


def test_check_failure_after_mstep_is_a_value_error():
    class Collapsing(GSPoisson):
        def _do_mstep(self, stats):
            super()._do_mstep(stats)
            self.lambdas_ = np.zeros_like(self.lambdas_)

    X, lengths = _poisson_data()
    gs = _start(Collapsing(n_components=3, init_params=""))
    lam = gs.lambdas_
    with pytest.raises(ValueError, match="iteration 1 .*lambdas_ must be positive"):
        gs.fit(X, lengths)
    assert gs.lambdas_ is lam and gs.monitor_.iter == 0


@pytest.mark.parametrize("X, lengths, match", [
    (np.array([[1.0, np.nan]] * 5), None, "NaN"),
    (np.ones((5, 2)), [2, 2], "sum to 4"),
    (np.ones(5), None, "2D"),
    (np.array([["a", "b"]] * 5), None, "numbers"),
])
def test_bad_input(X, lengths, match):
    gs = _start(GSPoisson(n_components=3, init_params=""))
    with pytest.raises(ValueError, match=match):
        gs.fit(X, lengths)
    with pytest.raises(ValueError, match=match):
        gs.score(X, lengths)


def test_bad_log_likelihoods_and_hyperparameters():
    X, lengths = _poisson_data()

    class WrongShape(GSPoisson):
        def _compute_log_likelihood(self, X):
            return super()._compute_log_likelihood(X)[:, :2]

    class NaNs(GSPoisson):
        def _compute_log_likelihood(self, X):
            out = super()._compute_log_likelihood(X)
            out[3, 1] = np.nan
            return out

    with pytest.raises(ValueError, match=r"shape \(261, 2\)"):
        _start(WrongShape(n_components=3, init_params="")).fit(X, lengths)
    with pytest.raises(ValueError, match="NaN"):
        _start(NaNs(n_components=3, init_params="")).score(X, lengths)
    with pytest.raises(NotImplementedError, match="_compute_log_likelihood"):
        _start(gmscore.BaseHMM(n_components=3)).score(X, lengths)
    with pytest.raises(ValueError, match="implementation"):
        _start(GSPoisson(n_components=3, implementation="fast")).fit(X, lengths)
    with pytest.raises(ValueError, match="params"):
        _start(GSPoisson(n_components=3, params=None)).fit(X, lengths)
    with pytest.raises(ValueError, match="transmat_prior"):
        _start(GSPoisson(n_components=3, transmat_prior=np.ones(2))).fit(X, lengths)
    gs = _start(GSPoisson(n_components=3, init_params=""))
    gs.startprob_ = np.array([0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="startprob_"):
        gs.fit(X, lengths)


def test_impossible_sequence_scores_minus_inf_and_fit_raises():
    X, lengths = _poisson_data()
    gs = _start(GSPoisson(n_components=3, init_params=""))
    gs.startprob_ = np.array([1.0, 0.0, 0.0])
    gs.transmat_ = np.eye(3)

    class Impossible(GSPoisson):
        def _compute_log_likelihood(self, X):
            out = super()._compute_log_likelihood(X)
            out[:, 0] = -np.inf
            return out

    bad = Impossible(n_components=3, init_params="")
    bad.__dict__.update({k: v for k, v in vars(gs).items() if k.endswith("_")})
    bad.n_features = 2
    assert bad.score(X, lengths) == -np.inf
    with pytest.raises(ValueError, match="zero probability"):
        bad.fit(X, lengths)


def test_accumulate_and_maximize_are_one_iteration():
    X, lengths = _poisson_data()
    a = _start(GSPoisson(n_components=3, n_iter=1, init_params=""))
    b = _start(GSPoisson(n_components=3, init_params=""))
    a.fit(X, lengths)
    stats = b.accumulate(X, lengths)
    assert stats["nobs"] == len(lengths)
    b.maximize(stats)
    for name in ("startprob_", "transmat_", "lambdas_"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    with pytest.raises(TypeError):
        b.maximize([1, 2])
    before = b.lambdas_
    with pytest.raises(ValueError, match="trans"):
        b.maximize({**stats, "trans": -np.ones((3, 3))})
    assert b.lambdas_ is before


def test_estimator_plumbing(tmp_path):
    sklearn_base = pytest.importorskip("sklearn.base")
    gs = GSPoisson(n_components=2, n_iter=3, random_state=0)
    assert gs.get_params()["params"] == string.ascii_letters
    clone = sklearn_base.clone(gs)
    assert clone.get_params() == gs.get_params()
    gs.set_params(tol=1e-3)
    assert gs.monitor_.tol == 1e-3
    X, lengths = _poisson_data(d=1)
    gs.fit(X, lengths)
    again = pickle.loads(pickle.dumps(gs))
    assert again.score(X, lengths) == gs.score(X, lengths)
    with pytest.raises(TypeError, match="pickle"):
        gs.save(tmp_path / "m.gms")
    assert "BaseHMM" in dir(gmscore) and gmscore.BaseHMM.__module__ == "gmscore._custom_hmm"
    probs = gs.get_stationary_distribution()
    assert probs.shape == (2,) and probs.sum() == pytest.approx(1.0)


def test_docstring_example_runs():
    import doctest

    import gmscore._custom_hmm as module

    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
