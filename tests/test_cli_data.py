"""The command line's data files and task commands: .parquet, .h5, .zarr,
large files streamed through the out-of-core path, --lengths and
--sequence-column; ``select`` and ``bench`` (see test_cli.py for the
commands on .npy / .csv, the errors and the progress output)."""
import io

import numpy as np
import pytest

import gmscore
import gmscore._core.sources
from gmscore import cli


def _blobs(n=300, seed=0):
    rng = np.random.RandomState(seed)
    return np.vstack([rng.randn(n, 2), rng.randn(n, 2) * 0.5 + [5, 1]])


def _sequences(seed=0):
    """Three sequences from a 2-state sticky chain in 2-D."""
    rng = np.random.RandomState(seed)
    lengths = np.array([120, 80, 100])
    flips = rng.rand(lengths.sum()) >= 0.9
    states = np.cumsum(flips) % 2
    X = rng.randn(lengths.sum(), 2) * 0.6 + np.array([[0, 0], [4, 2]])[states]
    return X, lengths


def run(argv, capsys):
    """main(argv) in-process: (exit status, stdout, stderr)."""
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def _table(text):
    """CSV text with a header as (names, 2-D float array)."""
    lines = text.strip().splitlines()
    return lines[0].split(","), np.loadtxt(io.StringIO("\n".join(lines[1:])), delimiter=",",
                                           ndmin=2)


def _one_line_error(err, status, code):
    assert status == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "error: " in lines[0], err
    return lines[0]


@pytest.fixture
def gmm_files(tmp_path):
    X = _blobs()
    np.save(tmp_path / "X.npy", X)
    return tmp_path, X


@pytest.fixture
def hmm_files(tmp_path):
    X, lengths = _sequences()
    np.save(tmp_path / "X.npy", X)
    return tmp_path, X, lengths


# -- more formats, and streaming through the out-of-core path -------------------

def _spy_fit(monkeypatch, cls):
    """Record what X ``cls.fit`` receives."""
    seen = []
    original = cls.fit

    def fit(self, X, *args, **kwargs):
        seen.append(X)
        return original(self, X, *args, **kwargs)

    monkeypatch.setattr(cls, "fit", fit)
    return seen


def test_large_npy_is_streamed_as_a_memory_map(gmm_files, capsys, monkeypatch):
    from gmscore import _cli_io

    d, X = gmm_files
    seen = _spy_fit(monkeypatch, gmscore.GaussianMixture)
    monkeypatch.setattr(_cli_io, "STREAM_BYTES", 0)
    assert run(["fit", d / "X.npy", "-k", 2, "--seed", 0, "-o", d / "s.gms", "-q"],
               capsys)[0] == 0
    assert isinstance(seen[-1], np.memmap) and not seen[-1].flags.writeable
    # every row in one sample and chunks of whole blocks: the in-memory fit exactly
    ref = gmscore.GaussianMixture(2, random_state=0).fit(X)
    np.testing.assert_array_equal(gmscore.load(d / "s.gms").means_, ref.means_)
    status, out, _ = run(["predict", d / "s.gms", d / "X.npy"], capsys)
    np.testing.assert_array_equal(_table(out)[1][:, 0], ref.predict(X))
    # a column subset of a streamed file stays streamed
    Z = np.column_stack([X[:, 1], np.zeros(len(X)), X[:, 0]])
    np.save(d / "Z.npy", Z)
    assert run(["fit", d / "Z.npy", "--columns", "2,0", "-k", 2, "--seed", 0, "-o",
                d / "z.gms", "-q"], capsys)[0] == 0
    assert not isinstance(seen[-1], np.ndarray)
    np.testing.assert_array_equal(gmscore.load(d / "z.gms").means_, ref.means_)


def test_streamed_hmm_with_lengths(hmm_files, capsys, monkeypatch):
    from gmscore import _cli_io

    d, X, lengths = hmm_files
    np.save(d / "L.npy", lengths)
    monkeypatch.setattr(_cli_io, "STREAM_BYTES", 0)
    seen = _spy_fit(monkeypatch, gmscore.GaussianHMM)
    assert run(["fit", d / "X.npy", "-m", "hmm", "-k", 2, "--lengths", d / "L.npy", "--seed",
                0, "-o", d / "h.gms", "-q"], capsys)[0] == 0
    assert isinstance(seen[-1], np.memmap)
    ref = gmscore.GaussianHMM(2, random_state=0).fit(X, lengths)
    np.testing.assert_allclose(gmscore.load(d / "h.gms").means_, ref.means_, rtol=1e-10)


def test_hdf5_input(gmm_files, capsys):
    h5py = pytest.importorskip("h5py")
    d, X = gmm_files
    with h5py.File(d / "one.h5", "w") as f:
        f.create_dataset("grp/X", data=X, chunks=(100, 2))
    with h5py.File(d / "two.h5", "w") as f:
        f["a"] = X
        f["b"] = X[:, :1]
    ref = gmscore.GaussianMixture(2, random_state=0).fit(X)
    for argv in ([d / "one.h5"], [f"{d / 'two.h5'}:a"], [d / "two.h5", "--dataset", "a"]):
        status, _, err = run(["fit", *argv, "-k", 2, "--seed", 0, "-o", d / "m.gms", "-q"],
                             capsys)
        assert status == 0, err
        np.testing.assert_array_equal(gmscore.load(d / "m.gms").means_, ref.means_)
    status, out, _ = run(["predict", d / "m.gms", d / "one.h5"], capsys)
    np.testing.assert_array_equal(_table(out)[1][:, 0], ref.predict(X))
    status, _, err = run(["fit", d / "two.h5", "-k", 2], capsys)
    assert "--dataset" in _one_line_error(err, status, 1)
    status, _, err = run(["fit", d / "two.h5", "--dataset", "c", "-k", 2], capsys)
    assert "no dataset 'c'" in _one_line_error(err, status, 1)


def test_zarr_input(gmm_files, capsys):
    zarr = pytest.importorskip("zarr")
    d, X = gmm_files
    arr = zarr.open(str(d / "X.zarr"), mode="w", shape=X.shape, chunks=(128, 2), dtype="f8")
    arr[:] = X
    group = zarr.open_group(str(d / "g.zarr"), mode="w")
    group.create_group("sub")
    make = group.create_array if hasattr(group, "create_array") else group.create_dataset
    make("data", shape=X.shape, dtype="f8")[:] = X
    ref = gmscore.GaussianMixture(2, random_state=0).fit(X)
    for argv in ([d / "X.zarr"], [d / "g.zarr", "--dataset", "data"], [d / "g.zarr"]):
        status, _, err = run(["fit", *argv, "-k", 2, "--seed", 0, "-o", d / "m.gms", "-q"],
                             capsys)
        assert status == 0, err
        np.testing.assert_array_equal(gmscore.load(d / "m.gms").means_, ref.means_)
    status, _, err = run(["fit", d / "X.zarr", "--dataset", "x"], capsys)
    _one_line_error(err, status, 1)


@pytest.mark.parametrize("streamed", [False, True])
def test_parquet_input(gmm_files, capsys, monkeypatch, streamed):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from gmscore import _cli_io

    d, X = gmm_files
    table = pa.table({"b": X[:, 1], "label": np.repeat(["u", "v"], len(X) // 2),
                      "a": X[:, 0]})
    pq.write_table(table, d / "X.parquet", row_group_size=250)
    if streamed:
        monkeypatch.setattr(_cli_io, "STREAM_BYTES", 0)
        monkeypatch.setattr(gmscore._core.sources, "chunk_rows", lambda n, itemsize: 256)
    seen = _spy_fit(monkeypatch, gmscore.GaussianMixture)
    status, _, err = run(["fit", d / "X.parquet", "--columns", "a,b", "-k", 2, "--seed", 0,
                          "-o", d / "m.gms", "-q"], capsys)
    assert status == 0, err
    assert callable(seen[-1]) is streamed
    ref = gmscore.GaussianMixture(2, random_state=0).fit(X)
    np.testing.assert_allclose(gmscore.load(d / "m.gms").means_, ref.means_, rtol=1e-12)
    status, out, _ = run(["predict", d / "m.gms", d / "X.parquet", "--columns", "a,b"],
                         capsys)
    np.testing.assert_array_equal(_table(out)[1][:, 0], ref.predict(X))
    # a string column is refused by name, a missing one with the list of columns
    status, _, err = run(["fit", d / "X.parquet", "-k", 2], capsys)
    assert "'label'" in _one_line_error(err, status, 1)
    status, _, err = run(["fit", d / "X.parquet", "--columns", "a,zz"], capsys)
    assert "no column 'zz'" in _one_line_error(err, status, 1)


def test_parquet_sequence_column(tmp_path, capsys):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    X, lengths = _sequences(3)
    ids = np.repeat([7, 3, 5], lengths)
    t = np.concatenate([np.arange(n)[::-1] for n in lengths])   # time runs backwards
    table = pa.table({"seq": ids, "t": t, "x": X[:, 0], "y": X[:, 1]})
    pq.write_table(table, tmp_path / "long.parquet")
    Xf, lf = gmscore.sequences_from_frame(table, "seq", features=["x", "y"])
    status, _, err = run(["fit", tmp_path / "long.parquet", "-m", "hmm", "-k", 2,
                          "--sequence-column", "seq", "--columns", "x,y", "--seed", 0, "-o",
                          tmp_path / "h.gms", "-q"], capsys)
    assert status == 0, err
    ref = gmscore.GaussianHMM(2, random_state=0).fit(Xf, lf)
    np.testing.assert_array_equal(gmscore.load(tmp_path / "h.gms").means_, ref.means_)


@pytest.mark.parametrize("name, text", [("L.txt", "120\n80\n100\n"), ("L.csv", "120,80,100"),
                                        ("L.csv", "120\n80\n100\n")])
def test_lengths_text_formats(hmm_files, capsys, name, text):
    d, X, lengths = hmm_files
    (d / name).write_text(text)
    assert run(["fit", d / "X.npy", "-m", "hmm", "-k", 2, "--lengths", d / name, "--seed", 0,
                "-o", d / "h.gms", "-q"], capsys)[0] == 0
    ref = gmscore.GaussianHMM(2, random_state=0).fit(X, lengths)
    np.testing.assert_array_equal(gmscore.load(d / "h.gms").means_, ref.means_)


@pytest.mark.parametrize("text, says", [("120\n80\n", "sum to 200"), ("120\n-80\n280\n",
                                        "positive whole"), ("1.5\n", "positive whole"),
                                        ("abc\n", "cannot read")])
def test_bad_lengths(hmm_files, capsys, text, says):
    d, X, _ = hmm_files
    (d / "L.txt").write_text(text)
    status, _, err = run(["fit", d / "X.npy", "-m", "hmm", "--lengths", d / "L.txt"], capsys)
    assert says in _one_line_error(err, status, 1)


# -- select and bench ------------------------------------------------------------

def test_select_table_and_best_model(gmm_files, capsys):
    d, X = gmm_files
    status, out, err = run(["select", d / "X.npy", "-k", "1..3", "--covariance", "full,diag",
                            "--seed", 0, "-o", d / "best.gms", "--table", d / "t.csv"],
                           capsys)
    assert status == 0, err
    ref = gmscore.select_mixture(X, [1, 2, 3], ["full", "diag"], random_state=0)
    lines = out.strip().splitlines()
    assert lines[0].split()[:3] == ["n_components", "covariance_type", "bic"]
    assert lines[-1] == f"* best by bic: {ref.best_params_}"
    rows = [ln.split() for ln in lines[1:-1]]
    assert [(int(r[0]), r[1]) for r in rows] == [(r["n_components"], r["covariance_type"])
                                                 for r in ref.rows]
    starred = [r for r in rows if r[-1] == "*"]
    assert len(starred) == 1 and (int(starred[0][0]), starred[0][1]) == (
        ref.best_params_["n_components"], ref.best_params_["covariance_type"])
    # the table file holds the same numbers, exactly; the best cell has the lowest BIC
    names = (d / "t.csv").read_text().splitlines()[0].split(",")
    bic = np.loadtxt(d / "t.csv", delimiter=",", skiprows=1, usecols=[names.index("bic")])
    np.testing.assert_array_equal(bic, [r["bic"] for r in ref.rows])
    assert ref.rows[int(np.argmin(bic))]["n_components"] == ref.best_params_["n_components"]
    best = gmscore.load(d / "best.gms")
    np.testing.assert_array_equal(best.means_, ref.best_.means_)
    assert "wrote" in err


def test_select_options(gmm_files, capsys):
    d, _ = gmm_files
    status, _, err = run(["select", d / "X.npy", "--covariance", "round"], capsys)
    assert "--covariance" in _one_line_error(err, status, 1)
    status, out, err = run(["select", d / "X.npy", "-k", "2,3", "--covariance", "tied",
                            "--criterion", "held_out", "-v"], capsys)
    assert status == 0
    assert err.count("select_mixture [") == 2     # --verbose: a line per fit
    assert "best by held_out" in out
    with pytest.raises(SystemExit) as info:
        cli.main(["select", str(d / "X.npy"), "-k", "zz"])
    assert info.value.code == 2


def test_bench_small(capsys):
    pytest.importorskip("sklearn")
    pytest.importorskip("hmmlearn")
    status, out, err = run(["bench", "--workloads", "G1,h1", "--scale", "0.003", "--n-iter",
                            "2", "--threads", "1"], capsys)
    assert status == 0, err
    lines = out.strip().splitlines()
    assert lines[0].startswith("seconds per iteration, 1 threads")
    rows = {ln.split()[0]: ln for ln in lines if ln[:2] in ("G1", "H1")}
    assert set(rows) == {"G1", "H1"}
    assert "(scikit-learn)" in rows["G1"] and "(hmmlearn)" in rows["H1"]
    # identical starts and iteration counts: the log-likelihoods agree to rounding
    for line in rows.values():
        assert float(line.split()[-1]) < 1e-9
        assert float(line.split("x  ")[0].split()[-1]) > 0    # a speed-up was computed


def test_bench_without_peers_and_bad_options(capsys):
    status, out, _ = run(["bench", "--workloads", "H3", "--scale", "0.001", "--n-iter", "1",
                          "--no-peers", "-q"], capsys)
    assert status == 0
    row = [ln for ln in out.splitlines() if ln.startswith("H3")][0]
    assert row.split()[-1] == "-" and "GMMHMM diag" in row
    status, _, err = run(["bench", "--workloads", "G9"], capsys)
    assert "G9" in _one_line_error(err, status, 2)


def test_large_parquet_for_an_hmm_is_one_sequence(hmm_files, capsys, monkeypatch):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from gmscore import _cli_io

    d, X, _ = hmm_files
    pq.write_table(pa.table({"a": X[:, 0], "b": X[:, 1]}), d / "X.parquet", row_group_size=64)
    monkeypatch.setattr(_cli_io, "STREAM_BYTES", 0)
    # batches of 256 rows: streamed, each would have been a sequence of its own
    monkeypatch.setattr(gmscore._core.sources, "chunk_rows", lambda n, itemsize: 256)
    assert run(["fit", d / "X.parquet", "-m", "hmm", "-k", 2, "--seed", 0, "-o", d / "h.gms",
                "-q"], capsys)[0] == 0
    ref = gmscore.GaussianHMM(2, random_state=0).fit(X)     # X as one sequence
    np.testing.assert_array_equal(gmscore.load(d / "h.gms").means_, ref.means_)
