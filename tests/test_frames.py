"""Data frames as X (pandas, polars, pyarrow): feature names with
scikit-learn's semantics (reordered columns are an error, not wrong
labels), values column by column with named errors; and
sequences_from_frame (long format -> X, lengths) against a direct sort."""
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from gmscore import GaussianHMM, GaussianMixture, sequences_from_frame

pd = pytest.importorskip("pandas")


def frames():
    rng = np.random.RandomState(0)
    A = rng.randn(400, 3) + np.repeat([[0, 0, 0], [6, 0, -6]], 200, axis=0)
    df = pd.DataFrame(A, columns=["a", "b", "c"])
    out = [("pandas", df, lambda f, cols: f[cols])]
    try:
        import polars as pl
        out.append(("polars", pl.DataFrame(df), lambda f, cols: f.select(cols)))
    except ImportError:
        pass
    try:
        import pyarrow as pa
        out.append(("pyarrow", pa.Table.from_pandas(df), lambda f, cols: f.select(cols)))
    except ImportError:
        pass
    return A, out


@pytest.mark.parametrize("which", ["pandas", "polars", "pyarrow"])
def test_frames_names_and_values(which):
    A, cases = frames()
    case = [c for c in cases if c[0] == which]
    if not case:
        pytest.skip(f"{which} is not installed")
    _, frame, select = case[0]
    gm = GaussianMixture(2, random_state=0).fit(frame)
    ref = GaussianMixture(2, random_state=0).fit(A)
    assert_array_equal(gm.feature_names_in_, ["a", "b", "c"])
    assert_array_equal(gm.means_, ref.means_)
    assert_array_equal(gm.predict(frame), ref.predict(A))
    # reordered columns: scikit-learn's error, never silently permuted features
    with pytest.raises(ValueError, match="same order as they were in fit"):
        gm.predict(select(frame, ["c", "b", "a"]))
    with pytest.raises(ValueError, match="seen at fit time, yet now missing"):
        gm.predict(select(frame, ["a", "b"]))
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        gm.predict(A)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gm.predict(frame)
    hmm = GaussianHMM(2, n_iter=3, random_state=0).fit(frame, [200, 200])
    assert_array_equal(hmm.feature_names_in_, ["a", "b", "c"])
    with pytest.raises(ValueError, match="same order"):
        hmm.predict(select(frame, ["b", "a", "c"]), [200, 200])


def test_non_numeric_and_missing_columns_are_named():
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "colour": pd.Categorical(["r", "g", "r"])})
    with pytest.raises(TypeError, match="column 'colour'.*not numeric"):
        GaussianMixture(1).fit(df)
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "s": ["x", "1", "2"]})
    with pytest.raises(TypeError, match="column 's'"):
        GaussianMixture(1).fit(df)
    nullable = pd.DataFrame({"a": pd.array([1, None, 3], dtype="Int64"), "b": [1.0, 2, 3]})
    with pytest.raises(ValueError, match="NaN"):
        GaussianMixture(1).fit(nullable)
    ints = pd.DataFrame({"a": pd.array([1, 2, 3, 5], dtype="Int64"), "b": [1.0, 2, 3, 4]})
    assert_array_equal(GaussianMixture(1).fit(ints).means_, [[2.75, 2.5]])
    pl = pytest.importorskip("polars")
    with pytest.raises(TypeError, match="column 's' of X has dtype String"):
        GaussianMixture(1).fit(pl.DataFrame({"a": [1.0, 2.0], "s": ["x", "y"]}))
    f32 = pl.DataFrame({"a": np.arange(4, dtype=np.float32), "b": np.ones(4, np.float32)})
    assert GaussianMixture(1).fit(f32).score_samples(f32).dtype == np.float32


def test_sequences_from_frame_against_a_direct_sort():
    rng = np.random.RandomState(1)
    n = 300
    ids = rng.choice(["u", "v", "w", "x"], size=n)
    t = rng.permutation(n)
    df = pd.DataFrame({"seq": ids, "t": t, "f1": rng.randn(n), "f2": rng.randn(n)})
    X, lengths, order_ids = sequences_from_frame(df, "seq", "t", return_ids=True)
    first_seen = list(dict.fromkeys(ids))
    assert list(order_ids) == first_seen
    expected = np.vstack([df[df.seq == s].sort_values("t")[["f1", "f2"]].to_numpy()
                          for s in first_seen])
    assert_array_equal(X, expected)
    assert_array_equal(lengths, [np.sum(ids == s) for s in first_seen])
    X2, l2 = sequences_from_frame(df, "seq", "t", features=["f2"])
    assert_array_equal(X2[:, 0], expected[:, 1])
    GaussianHMM(2, n_iter=2, random_state=0).fit(X, lengths)
    for module in ("polars", "pyarrow"):
        lib = pytest.importorskip(module)
        other = lib.DataFrame(df) if module == "polars" else lib.Table.from_pandas(df)
        Xo, lo = sequences_from_frame(other, "seq", "t")
        assert_array_equal(Xo, X)
        assert_array_equal(lo, lengths)


def test_sequences_from_frame_bad_input():
    df = pd.DataFrame({"seq": ["a", None, "b"], "t": [1, 2, 3], "x": [1.0, 2, 3]})
    with pytest.raises(ValueError, match="missing id"):
        sequences_from_frame(df, "seq", "t")
    df = pd.DataFrame({"seq": ["a", "a", "b"], "t": [1, 2, 3], "x": [1.0, 2, 3]})
    with pytest.raises(ValueError, match="not in the frame"):
        sequences_from_frame(df, "sequence", "t")
    with pytest.raises(ValueError, match="not in the frame"):
        sequences_from_frame(df, "seq", "t", features=["y"])
    with pytest.raises(ValueError, match="cannot also be a feature"):
        sequences_from_frame(df, "seq", "t", features=["x", "t"])
    with pytest.raises(TypeError, match="DataFrame"):
        sequences_from_frame(df.to_numpy(), "seq")
    with pytest.raises(TypeError, match="order column 't'"):
        sequences_from_frame(df.assign(t=["p", "q", "r"]), "seq", "t")
