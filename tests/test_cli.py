"""The command line (gmscore.cli): every command in-process through
``main([...])``, checked against the library called directly and against
independent references (scipy densities, hmmlearn's Viterbi), its one-line
errors and exit codes, its progress output, and two real subprocess runs
outside the source tree."""
import io
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

import gmscore
from gmscore import cli
from gmscore._core import em


# -- data ---------------------------------------------------------------------

def _blobs(n=300, seed=0):
    rng = np.random.RandomState(seed)
    return np.vstack([rng.randn(n, 2), rng.randn(n, 2) * 0.5 + [5, 1]])


def _sequences(seed=0):
    """Three sequences from a 2-state sticky chain in 2-D."""
    rng = np.random.RandomState(seed)
    lengths = np.array([120, 80, 100])
    states = np.zeros(lengths.sum(), dtype=int)
    s = 0
    for t in range(lengths.sum()):
        s = s if rng.rand() < 0.9 else 1 - s
        states[t] = s
    X = rng.randn(lengths.sum(), 2) * 0.6 + np.array([[0, 0], [4, 2]])[states]
    return X, lengths


def _write_csv(path, X, names=None, fmt="%.17g"):
    header = ",".join(names) if names is not None else ""
    np.savetxt(path, X, delimiter=",", header=header, comments="", fmt=fmt)


def run(argv, capsys):
    """main(argv) in-process: (exit status, stdout, stderr)."""
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def _table(text):
    """CSV text with a header as (names, 2-D float array)."""
    lines = text.strip().splitlines()
    names = lines[0].split(",")
    return names, np.loadtxt(io.StringIO("\n".join(lines[1:])), delimiter=",", ndmin=2)


@pytest.fixture
def gmm_files(tmp_path):
    X = _blobs()
    np.save(tmp_path / "X.npy", X)
    _write_csv(tmp_path / "X.csv", X, ["a", "b"])
    return tmp_path, X


@pytest.fixture
def hmm_files(tmp_path):
    X, lengths = _sequences()
    np.save(tmp_path / "X.npy", X)
    np.savetxt(tmp_path / "lengths.txt", lengths, fmt="%d")
    return tmp_path, X, lengths


# -- fit / predict / score / sample / info: mixtures --------------------------

def test_fit_gmm_equals_the_library_fit(gmm_files, capsys):
    d, X = gmm_files
    status, out, err = run(["fit", d / "X.npy", "-k", 2, "--covariance", "diag", "--seed", 3,
                            "--n-init", 2, "-o", d / "m.gms"], capsys)
    assert status == 0, err
    assert out == ""
    assert "wrote" in err and "GaussianMixture" in err
    model = gmscore.load(d / "m.gms")
    ref = gmscore.GaussianMixture(2, covariance_type="diag", random_state=3, n_init=2).fit(X)
    np.testing.assert_array_equal(model.means_, ref.means_)
    np.testing.assert_array_equal(model.covariances_, ref.covariances_)
    assert model.n_iter_ == ref.n_iter_


def test_fit_csv_with_header_equals_npy(gmm_files, capsys):
    d, X = gmm_files
    assert run(["fit", d / "X.csv", "-k", 2, "--seed", 0, "-o", d / "a.gms", "-q"],
               capsys)[0] == 0
    assert run(["fit", d / "X.npy", "-k", 2, "--seed", 0, "-o", d / "b.gms", "-q"],
               capsys)[0] == 0
    a, b = gmscore.load(d / "a.gms"), gmscore.load(d / "b.gms")
    np.testing.assert_array_equal(a.means_, b.means_)   # %.17g round-trips exactly


def test_predict_score_against_scipy(gmm_files, capsys):
    d, X = gmm_files
    run(["fit", d / "X.npy", "-k", 2, "--seed", 0, "-o", d / "m.gms", "-q"], capsys)
    m = gmscore.load(d / "m.gms")
    # independent reference: the mixture density from scipy
    logp = np.column_stack([np.log(w) + multivariate_normal(mu, c).logpdf(X)
                            for w, mu, c in zip(m.weights_, m.means_, m.covariances_)])
    ll = logsumexp(logp, axis=1)

    status, out, _ = run(["predict", d / "m.gms", d / "X.csv"], capsys)
    names, table = _table(out)
    assert status == 0 and names == ["component"]
    np.testing.assert_array_equal(table[:, 0], logp.argmax(axis=1))

    status, out, _ = run(["predict", d / "m.gms", d / "X.npy", "--proba"], capsys)
    names, table = _table(out)
    assert names == ["p0", "p1"]
    np.testing.assert_allclose(table, np.exp(logp - ll[:, None]), rtol=1e-10, atol=1e-14)

    status, out, _ = run(["score", d / "m.gms", d / "X.npy"], capsys)
    names, table = _table(out)
    assert names == ["mean_log_likelihood", "log_likelihood", "n_samples"]
    np.testing.assert_allclose(table[0], [ll.mean(), ll.sum(), len(X)], rtol=1e-12)

    run(["score", d / "m.gms", d / "X.npy", "--per-sample", "-o", d / "ll.npy"], capsys)
    np.testing.assert_allclose(np.load(d / "ll.npy"), ll, rtol=1e-12)


def test_outputs_npy_csv_tsv_agree(gmm_files, capsys):
    d, X = gmm_files
    run(["fit", d / "X.npy", "-k", 2, "--seed", 0, "-o", d / "m.gms", "-q"], capsys)
    ref = gmscore.load(d / "m.gms").predict_proba(X)
    for out in ("p.npy", "p.csv", "p.tsv"):
        assert run(["predict", d / "m.gms", d / "X.npy", "--proba", "-o", d / out],
                   capsys)[0] == 0
    np.testing.assert_array_equal(np.load(d / "p.npy"), ref)
    np.testing.assert_array_equal(np.loadtxt(d / "p.csv", delimiter=",", skiprows=1), ref)
    np.testing.assert_array_equal(np.loadtxt(d / "p.tsv", skiprows=1), ref)
    assert (d / "p.csv").read_text().splitlines()[0] == "p0,p1"


def test_sample_gmm(gmm_files, capsys):
    d, X = gmm_files
    run(["fit", d / "X.npy", "-k", 2, "--seed", 0, "-o", d / "m.gms", "-q"], capsys)
    status, out, _ = run(["sample", d / "m.gms", "-n", 50, "--seed", 7], capsys)
    names, table = _table(out)
    ref = gmscore.load(d / "m.gms").set_params(random_state=7)
    Xs, ys = ref.sample(50)
    assert status == 0 and names == ["x0", "x1", "component"]
    np.testing.assert_array_equal(table[:, :2], Xs)
    np.testing.assert_array_equal(table[:, 2], ys)
    run(["sample", d / "m.gms", "-n", 50, "--seed", 7, "-o", d / "s.npy"], capsys)
    np.testing.assert_array_equal(np.load(d / "s.npy"), Xs)


def test_info(gmm_files, capsys):
    d, X = gmm_files
    run(["fit", d / "X.npy", "-k", 2, "--covariance", "tied", "--seed", 0, "-o", d / "m.gms",
         "-q"], capsys)
    status, out, _ = run(["info", d / "m.gms"], capsys)
    m = gmscore.load(d / "m.gms")
    assert status == 0
    assert "GaussianMixture" in out and "covariance_type='tied'" in out
    assert f"{m.n_iter_} iterations" in out and "features: 2" in out
    assert "weights_ (2,)" in out and "covariances_ (2, 2)" in out
    # without -o, fit prints the same summary and writes nothing
    status, out2, _ = run(["fit", d / "X.npy", "-k", 2, "--covariance", "tied", "--seed", 0],
                          capsys)
    assert status == 0 and out2.split("\n", 1)[1] == out.split("\n", 1)[1]


def test_columns_selection(gmm_files, capsys):
    d, X = gmm_files
    Z = np.column_stack([X[:, 1], np.arange(len(X)), X[:, 0]])
    _write_csv(d / "Z.csv", Z, ["b", "id", "a"])
    np.save(d / "Z.npy", Z)
    run(["fit", d / "Z.csv", "--columns", "a,b", "-k", 2, "--seed", 0, "-o", d / "c.gms",
         "-q"], capsys)
    run(["fit", d / "Z.npy", "--columns", "2,0", "-k", 2, "--seed", 0, "-o", d / "n.gms",
         "-q"], capsys)
    ref = gmscore.GaussianMixture(2, random_state=0).fit(X)
    for name in ("c.gms", "n.gms"):
        np.testing.assert_array_equal(gmscore.load(d / name).means_, ref.means_)


# -- the HMM families ----------------------------------------------------------

def test_fit_decode_hmm_against_hmmlearn(hmm_files, capsys):
    hmm = pytest.importorskip("hmmlearn.hmm")
    d, X, lengths = hmm_files
    status, _, err = run(["fit", d / "X.npy", "-m", "hmm", "-k", 2, "--covariance", "full",
                          "--lengths", d / "lengths.txt", "--seed", 1, "--max-iter", 20,
                          "-o", d / "h.gms"], capsys)
    assert status == 0, err
    model = gmscore.load(d / "h.gms")
    ref = gmscore.GaussianHMM(2, covariance_type="full", random_state=1, n_iter=20).fit(
        X, lengths)
    np.testing.assert_array_equal(model.transmat_, ref.transmat_)
    # Viterbi from the same parameters in hmmlearn
    peer = hmm.GaussianHMM(2, covariance_type="full", init_params="", params="")
    peer.startprob_, peer.transmat_ = model.startprob_, model.transmat_
    peer.means_, peer.covars_ = model.means_, model.covars_
    peer_lp, peer_states = peer.decode(X, lengths)
    status, out, err = run(["decode", d / "h.gms", d / "X.npy", "--lengths",
                            d / "lengths.txt"], capsys)
    names, table = _table(out)
    assert status == 0 and names == ["state"]
    np.testing.assert_array_equal(table[:, 0], peer_states)
    assert float(err.split(":")[-1]) == pytest.approx(peer_lp, rel=1e-10)

    status, out, _ = run(["score", d / "h.gms", d / "X.npy", "--lengths", d / "lengths.txt"],
                         capsys)
    names, table = _table(out)
    assert names == ["log_likelihood", "n_samples", "n_sequences"]
    np.testing.assert_allclose(table[0], [peer.score(X, lengths), len(X), 3], rtol=1e-10)

    status, out, _ = run(["predict", d / "h.gms", d / "X.npy", "--lengths",
                          d / "lengths.txt", "--proba"], capsys)
    np.testing.assert_allclose(_table(out)[1], peer.predict_proba(X, lengths), atol=1e-10)

    # per frame: log p(x_t | x_<t) sums to each sequence's log-likelihood
    run(["score", d / "h.gms", d / "X.npy", "--lengths", d / "lengths.txt", "--per-sample",
         "-o", d / "lp.npy"], capsys)
    lp = np.load(d / "lp.npy")
    cuts = np.cumsum(lengths)[:-1]
    np.testing.assert_allclose([p.sum() for p in np.split(lp, cuts)],
                               [peer.score(x) for x in np.split(X, cuts)], rtol=1e-10)


def test_hmm_sample(hmm_files, capsys):
    d, X, lengths = hmm_files
    run(["fit", d / "X.npy", "-m", "hmm", "-k", 2, "--lengths", d / "lengths.txt", "--seed",
         0, "-o", d / "h.gms", "-q"], capsys)
    status, out, _ = run(["sample", d / "h.gms", "-n", 40, "--seed", 5], capsys)
    Xs, states = gmscore.load(d / "h.gms").sample(40, random_state=5)
    names, table = _table(out)
    assert status == 0 and names == ["x0", "x1", "state"]
    np.testing.assert_array_equal(table[:, :2], Xs)
    np.testing.assert_array_equal(table[:, 2], states)


def _discrete_data(kind, seed=0):
    rng = np.random.RandomState(seed)
    if kind == "categorical":
        return np.concatenate([rng.randint(0, 2, 150), rng.randint(2, 4, 150)])[:, None]
    if kind == "poisson":
        return np.vstack([rng.poisson([1, 5], (150, 2)), rng.poisson([6, 1], (150, 2))])
    return np.vstack([rng.multinomial(6, [0.7, 0.2, 0.1], 150),
                      rng.multinomial(6, [0.1, 0.2, 0.7], 150)])


@pytest.mark.parametrize("family, cls, extra", [
    ("gmmhmm", "GMMHMM", {"n_mix": 2, "covariance_type": "diag"}),
    ("categorical", "CategoricalHMM", {}),
    ("poisson", "PoissonHMM", {}),
    ("multinomial", "MultinomialHMM", {}),
])
def test_other_families_equal_the_library(tmp_path, capsys, family, cls, extra):
    if family == "gmmhmm":
        X, lengths = _sequences(2)
    else:
        X, lengths = _discrete_data(family), np.array([100, 120, 80])
    _write_csv(tmp_path / "X.csv", X, fmt="%.17g" if family == "gmmhmm" else "%d")
    np.save(tmp_path / "L.npy", lengths)
    argv = ["fit", tmp_path / "X.csv", "-m", family, "-k", 2, "--lengths", tmp_path / "L.npy",
            "--seed", 4, "-o", tmp_path / "m.gms", "-q"]
    if family == "gmmhmm":
        argv += ["--n-mix", 2, "--covariance", "diag"]
    status, _, err = run(argv, capsys)
    assert status == 0, err
    model = gmscore.load(tmp_path / "m.gms")
    ref = getattr(gmscore, cls)(2, random_state=4, **extra).fit(X, lengths)
    assert type(model) is type(ref)
    np.testing.assert_array_equal(model.transmat_, ref.transmat_)
    status, out, _ = run(["predict", tmp_path / "m.gms", tmp_path / "X.csv", "--lengths",
                          tmp_path / "L.npy"], capsys)
    np.testing.assert_array_equal(_table(out)[1][:, 0], ref.predict(X, lengths))
    status, out, _ = run(["sample", tmp_path / "m.gms", "-n", 10, "--seed", 2], capsys)
    assert status == 0
    np.testing.assert_array_equal(_table(out)[1][:, :-1], ref.sample(10, random_state=2)[0])


def test_sequence_column_equals_sequences_from_frame(tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    X, lengths = _sequences(1)
    ids = np.repeat(["s-b", "s-a", "s-c"], lengths)
    # shuffle the rows: grouping must gather each sequence, keeping file order
    rng = np.random.RandomState(0)
    perm = rng.permutation(len(X))
    frame = pd.DataFrame({"x": X[perm, 0], "seq": ids[perm], "y": X[perm, 1]})
    frame.to_csv(tmp_path / "long.csv", index=False, float_format="%.17g")
    Xf, lf = gmscore.sequences_from_frame(frame, "seq")
    status, _, err = run(["fit", tmp_path / "long.csv", "-m", "hmm", "-k", 2,
                          "--sequence-column", "seq", "--seed", 0, "-o", tmp_path / "h.gms",
                          "-q"], capsys)
    assert status == 0, err
    ref = gmscore.GaussianHMM(2, random_state=0).fit(Xf, lf)
    np.testing.assert_array_equal(gmscore.load(tmp_path / "h.gms").means_, ref.means_)
    status, out, _ = run(["decode", tmp_path / "h.gms", tmp_path / "long.csv",
                          "--sequence-column", "seq", "-q"], capsys)
    np.testing.assert_array_equal(_table(out)[1][:, 0], ref.decode(Xf, lf)[1])


# -- errors: one line, exit status 1 (files, data) or 2 (options) ---------------

def _one_line_error(err, status, code):
    assert status == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("gmscore") and "error: " in lines[0]
    return lines[0]


def test_missing_data_file(tmp_path, capsys):
    status, out, err = run(["fit", tmp_path / "nope.npy", "-k", 2], capsys)
    assert "nope.npy: no such file" in _one_line_error(err, status, 1)
    assert out == ""


def test_bad_column(gmm_files, capsys):
    d, X = gmm_files
    status, _, err = run(["fit", d / "X.csv", "--columns", "a,zz", "-k", 2], capsys)
    line = _one_line_error(err, status, 1)
    assert "'zz'" in line and "['a', 'b']" in line
    (d / "s.csv").write_text("a,b\n1.0,x\n2.0,y\n")
    status, _, err = run(["fit", d / "s.csv", "-k", 1], capsys)
    assert "not a number" in _one_line_error(err, status, 1)
    status, _, err = run(["fit", d / "X.npy", "--columns", "5", "-k", 1], capsys)
    assert "out of range" in _one_line_error(err, status, 1)


@pytest.mark.parametrize("content", [b"", b"not a model at all", b"PK\x03\x04garbage"])
def test_unreadable_model_file(gmm_files, capsys, content):
    d, X = gmm_files
    (d / "bad.gms").write_bytes(content)
    for argv in (["info", d / "bad.gms"], ["predict", d / "bad.gms", d / "X.npy"],
                 ["sample", d / "bad.gms"]):
        status, out, err = run(argv, capsys)
        assert "Cannot load a gmscore model" in _one_line_error(err, status, 1)
        assert out == ""
    status, _, err = run(["info", d / "missing.gms"], capsys)
    assert "no such model file" in _one_line_error(err, status, 1)


def test_corrupted_model_file(gmm_files, capsys):
    d, X = gmm_files
    run(["fit", d / "X.npy", "-k", 2, "-o", d / "m.gms", "-q"], capsys)
    raw = bytearray((d / "m.gms").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (d / "m.gms").write_bytes(bytes(raw))
    status, _, err = run(["info", d / "m.gms"], capsys)
    _one_line_error(err, status, 1)


@pytest.mark.parametrize("argv", [
    ["fit", "X.npy", "--model", "nosuch"],
    ["fit", "X.npy", "-k", "0"],
    ["fit", "X.npy", "--covariance", "round"],
    ["fit", "X.npy", "--bogus"],
    ["fit"],
    ["predict", "m.gms"],
    ["select", "X.npy", "-k", "5..2"],
    ["fit", "X.npy", "-q", "-v"],
])
def test_bad_options_exit_2(gmm_files, capsys, argv):
    d, _ = gmm_files
    os.chdir(d)
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    err = capsys.readouterr().err
    _one_line_error(err, info.value.code, 2)


@pytest.mark.parametrize("argv, says", [
    (["fit", "X.npy", "-m", "gmm", "--n-mix", "2"], "--n-mix does not apply"),
    (["fit", "X.npy", "-m", "categorical", "--covariance", "full"], "--covariance"),
    (["fit", "X.npy", "-m", "gmm", "--lengths", "L.txt"], "are for the HMMs"),
    (["fit", "X.npy", "-m", "hmm", "--sequence-column", "s"], "named columns"),
])
def test_options_that_do_not_apply_exit_2(gmm_files, capsys, argv, says):
    d, _ = gmm_files
    os.chdir(d)
    status, _, err = run(argv, capsys)
    assert says in _one_line_error(err, status, 2)


def test_data_errors_are_one_line(gmm_files, hmm_files, capsys):
    d, X = gmm_files
    run(["fit", d / "X.npy", "-k", 2, "-o", d / "m.gms", "-q"], capsys)
    np.save(d / "three.npy", np.ones((10, 3)))
    status, _, err = run(["predict", d / "m.gms", d / "three.npy"], capsys)
    assert "3 features" in _one_line_error(err, status, 1)
    np.savetxt(d / "L.txt", [10, 10], fmt="%d")
    status, _, err = run(["fit", d / "X.npy", "-m", "hmm", "--lengths", d / "L.txt"], capsys)
    assert "sum to 20" in _one_line_error(err, status, 1)
    status, _, err = run(["fit", d / "X.npy", "-k", 1000], capsys)
    assert "n_components" in _one_line_error(err, status, 1)
    status, _, err = run(["decode", d / "m.gms", d / "X.npy"], capsys)
    assert "decode is for the HMMs" in _one_line_error(err, status, 1)
    (d / "X.txt2").write_text("1 2\n")
    status, _, err = run(["fit", d / "X.txt2"], capsys)
    assert "unknown file type" in _one_line_error(err, status, 1)
    status, _, err = run(["fit", d / "X.npy", "-o", d], capsys)
    assert "is a directory" in _one_line_error(err, status, 1)


def test_failed_fit_writes_nothing(gmm_files, capsys):
    d, _ = gmm_files
    np.save(d / "bad.npy", np.array([[1.0, np.nan], [2.0, 3.0], [4.0, 5.0]]))
    status, _, err = run(["fit", d / "bad.npy", "-o", d / "m.gms"], capsys)
    assert "NaN" in _one_line_error(err, status, 1)
    assert not (d / "m.gms").exists()


# -- progress ------------------------------------------------------------------

class _Recorder:
    """A reporter that writes down every call of the EM driver."""

    def __init__(self):
        self.calls = []

    def restart(self, index, n_init, max_iter):
        self.calls.append(("restart", index, n_init, max_iter))

    def initialised(self, index):
        self.calls.append(("initialised", index))

    def iteration(self, n, value):
        self.calls.append(("iteration", n, value))

    def restart_end(self, index, converged, score):
        self.calls.append(("end", index, converged, score))


def test_em_reporter_sees_every_restart_and_iteration():
    X = _blobs()
    rec = _Recorder()
    with em.reporting(rec):
        gm = gmscore.GaussianMixture(2, n_init=3, random_state=0, max_iter=50).fit(X)
    plain = gmscore.GaussianMixture(2, n_init=3, random_state=0, max_iter=50).fit(X)
    np.testing.assert_array_equal(gm.means_, plain.means_)   # reporting changes nothing
    starts = [c for c in rec.calls if c[0] == "restart"]
    assert starts == [("restart", i, 3, 50) for i in range(3)]
    # per restart: restart, initialised, iterations 1..n, end with the last value
    runs, current = [], None
    for c in rec.calls:
        if c[0] == "restart":
            current = []
        elif c[0] == "iteration":
            current.append(c)
        elif c[0] == "end":
            assert [n for _, n, _ in current] == list(range(1, len(current) + 1))
            assert c[3] == current[-1][2]
            runs.append((current, c))
    assert len(runs) == 3
    best = max(runs, key=lambda r: r[1][3])
    assert [v for _, _, v in best[0]] == gm.lower_bounds_
    assert best[1][2] is bool(gm.converged_)
    assert em._REPORTER.get() is None


def test_em_reporter_hmm_values_are_the_monitor_history():
    X, lengths = _sequences()
    rec = _Recorder()
    with em.reporting(rec):
        model = gmscore.GaussianHMM(2, n_iter=15, random_state=0).fit(X, lengths)
    values = [c[2] for c in rec.calls if c[0] == "iteration"]
    assert values == list(model.monitor_.history)[-len(values):]
    assert len(values) == model.monitor_.iter


def test_em_reporter_is_reset_after_a_failed_fit():
    rec = _Recorder()
    with pytest.raises(ValueError):
        with em.reporting(rec):
            gmscore.GaussianMixture(2).fit(np.array([[1.0, np.nan], [0.0, 1.0]]))
    assert em._REPORTER.get() is None


class _TTY(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("with_tqdm", [True, False])
def test_progress_bar_on_a_terminal(gmm_files, capsys, monkeypatch, with_tqdm):
    from gmscore import _cli_progress

    if with_tqdm:
        pytest.importorskip("tqdm")
        monkeypatch.setattr(_cli_progress, "MIN_INTERVAL", 0)   # draw every iteration
    else:
        monkeypatch.setattr(_cli_progress, "_tqdm", lambda: None)
    d, X = gmm_files
    tty = _TTY()
    monkeypatch.setattr(sys, "stderr", tty)
    status = cli.main([str(a) for a in ["fit", d / "X.npy", "-k", 2, "--n-init", 2, "--seed",
                                        0, "--tol", 0, "--max-iter", 5, "-o", d / "m.gms"]])
    text = tty.getvalue()
    assert status == 0
    assert "\r" in text                                  # redrawn in place
    assert "restart 1/2: initialising" in text and "restart 2/2: EM" in text
    assert "mean log-likelihood" in text and ("(+" in text or "(-" in text)
    assert "restart 2/2: not converged" in text          # tol=0: every iteration runs
    assert "wrote" in text
    assert capsys.readouterr().out == ""


def test_no_bar_off_a_terminal_and_with_quiet(gmm_files, capsys, monkeypatch):
    d, X = gmm_files
    status, out, err = run(["fit", d / "X.npy", "-k", 2, "-o", d / "m.gms"], capsys)
    assert status == 0 and "\r" not in err and "initialis" not in err
    assert err.startswith("wrote") and err.count("\n") == 1
    monkeypatch.setattr(sys, "stderr", _TTY())
    assert cli.main([str(a) for a in ["fit", d / "X.npy", "-k", 2, "-o", d / "m.gms",
                                      "-q"]]) == 0
    assert sys.stderr.getvalue() == ""


def test_verbose_lines(hmm_files, capsys):
    d, X, lengths = hmm_files
    status, _, err = run(["fit", d / "X.npy", "-m", "hmm", "-k", 2, "--lengths",
                          d / "lengths.txt", "--seed", 0, "--max-iter", 8, "-o",
                          d / "h.gms", "-v"], capsys)
    model = gmscore.load(d / "h.gms")
    lines = [ln for ln in err.splitlines() if ln.strip().startswith("iteration")]
    assert status == 0 and len(lines) == model.monitor_.iter
    last = float(lines[-1].split("log-likelihood")[1].split()[0])
    assert last == pytest.approx(model.monitor_.history[-1], rel=1e-9)
    assert "initialised in" in err and ("converged" in err)


# -- real processes, outside the source tree -------------------------------------

def _env():
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env


def test_subprocess_python_m_gmscore(gmm_files):
    d, X = gmm_files
    r = subprocess.run([sys.executable, "-m", "gmscore", "fit", "X.csv", "-k", "2", "--seed",
                        "0", "-o", "m.gms"], cwd=d, capture_output=True, text=True,
                       env=_env(), timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and r.stderr.startswith("wrote m.gms")
    r = subprocess.run([sys.executable, "-m", "gmscore", "predict", "m.gms", "X.npy"], cwd=d,
                       capture_output=True, text=True, env=_env(), timeout=300)
    assert r.returncode == 0
    ref = gmscore.GaussianMixture(2, random_state=0).fit(X).predict(X)
    np.testing.assert_array_equal(_table(r.stdout)[1][:, 0], ref)
    r = subprocess.run([sys.executable, "-m", "gmscore", "info", "nothere.gms"], cwd=d,
                       capture_output=True, text=True, env=_env(), timeout=300)
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0


def test_subprocess_console_script(gmm_files):
    d, X = gmm_files
    script = os.path.join(os.path.dirname(sys.executable), "gmscore")
    if not os.path.exists(script):
        pytest.skip("the gmscore console script is not installed next to this Python")
    r = subprocess.run([script, "fit", "X.npy", "-k", "3", "--covariance", "spherical", "-o",
                        "m.gms", "-q"], cwd=d, capture_output=True, text=True, env=_env(),
                       timeout=300)
    assert r.returncode == 0 and r.stderr == ""
    r = subprocess.run([script, "fit", "X.npy", "--model", "zz"], cwd=d, capture_output=True,
                       text=True, env=_env(), timeout=300)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1


def test_warnings_are_one_line_and_quiet_drops_them(gmm_files, capsys):
    d, X = gmm_files
    status, _, err = run(["fit", d / "X.npy", "-k", 2, "--max-iter", 1, "--tol", 0,
                          "-o", d / "m.gms"], capsys)
    warned = [ln for ln in err.splitlines() if ln.startswith("gmscore: warning: ")]
    assert status == 0 and len(warned) == 1 and "did not converge" in warned[0]
    status, _, err = run(["fit", d / "X.npy", "-k", 2, "--max-iter", 1, "--tol", 0,
                          "-o", d / "m.gms", "-q"], capsys)
    assert status == 0 and err == ""
    assert "not converged" in run(["info", d / "m.gms"], capsys)[1]


@pytest.mark.parametrize("with_tqdm", [True, False])
def test_a_failed_fit_clears_its_bar_before_the_error(gmm_files, monkeypatch, with_tqdm):
    from gmscore import _cli_progress

    if with_tqdm:
        pytest.importorskip("tqdm")
        monkeypatch.setattr(_cli_progress, "MIN_INTERVAL", 0)
    else:
        monkeypatch.setattr(_cli_progress, "_tqdm", lambda: None)
    d, X = gmm_files
    calls = []
    original = gmscore.GaussianMixture._em_iterate

    def failing(self, source, run):
        calls.append(1)
        if len(calls) == 3:
            raise ValueError("a made-up failure in iteration 3")
        return original(self, source, run)

    monkeypatch.setattr(gmscore.GaussianMixture, "_em_iterate", failing)
    tty = _TTY()
    monkeypatch.setattr(sys, "stderr", tty)
    status = cli.main([str(a) for a in ["fit", d / "X.npy", "-k", 2, "--tol", 0, "-o",
                                        d / "m.gms"]])
    text = tty.getvalue()
    assert status == 1 and "2/100" in text        # the bar had drawn two iterations
    # the bar's line was cleared: the error starts a line of its own
    assert text.split("\r")[-1] == "gmscore: error: a made-up failure in iteration 3\n"
    assert not (d / "m.gms").exists()


def test_the_parser_imports_nothing_heavy():
    code = ("import sys, gmscore.cli as c; c.build_parser(); print(sorted(m for m in ("
            "'tqdm', 'pandas', 'pyarrow', 'h5py', 'zarr', 'sklearn', 'hmmlearn', 'scipy', "
            "'gmscore._kernels') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=_env(), cwd=os.path.dirname(os.path.abspath(os.sep)), timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
