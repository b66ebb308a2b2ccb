"""The worked examples (gmscore/examples/), each run in its quick
configuration: the figures they print reach the bounds stated here (what
a correct implementation reaches on these data sets, with a margin), and
the PNG each is asked for is written."""
import os
import subprocess
import sys
from itertools import permutations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.image import imread  # noqa: E402

from gmscore.examples import digits, image_segmentation, regimes  # noqa: E402


def check_png(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert imread(path).std() > 0.02


def test_image_segmentation(tmp_path, capsys):
    out = tmp_path / "segments.png"
    result = image_segmentation.main(["--quick", "--out", str(out)])
    printed = capsys.readouterr().out
    check_png(out)
    assert result["n_pixels"] == 107 * 160       # every 4th row and column of 427 x 640
    assert result["converged"]
    # 8 colour components on RGB in [0, 1]: the fit reaches ~4.0 nats per pixel
    assert result["log_likelihood_per_pixel"] >= 3.9
    assert np.all(result["segment_sizes"] > 0.02 * result["n_pixels"])
    # the segmented image is close to the photograph: ~25 of 255 RMS, against
    # ~86 for the best single colour
    assert result["rmse"] <= 30.0
    assert result["rmse"] <= 0.4 * result["rmse_one_colour"]
    assert f"{result['log_likelihood_per_pixel']:.3f} per pixel" in printed
    assert f"segmented image: {result['rmse']:.1f}" in printed
    # the one-colour error is the pixels' spread, by a direct formula
    _, pixels = image_segmentation.load_pixels(4)
    ref = 255 * np.sqrt(((pixels - pixels.mean(axis=0)) ** 2).mean())
    assert result["rmse_one_colour"] == pytest.approx(ref, rel=1e-12)


def test_digits(tmp_path, capsys):
    out = tmp_path / "means.png"
    result = digits.main(["--quick", "--out", str(out)])
    printed = capsys.readouterr().out
    check_png(out)
    assert result["n_images"] == 1797
    # unsupervised: ~0.84 adjusted Rand at seed 0 (0.65-0.84 over seeds)
    assert result["adjusted_rand"] >= 0.6
    assert result["cluster_accuracy"] >= 0.7
    assert sorted(result["cluster_digit"]) == list(range(10))
    # supervised: one full Gaussian per digit, ~0.99 on the held-out quarter
    assert result["n_test"] == 450
    assert result["test_accuracy"] >= 0.97
    assert f"test accuracy {result['test_accuracy']:.3f}" in printed
    assert f"adjusted Rand index {result['adjusted_rand']:.3f}" in printed


def test_digits_matching_is_the_best_permutation():
    # brute force over every assignment of 4 clusters to 4 digits
    rng = np.random.RandomState(0)
    y = rng.randint(0, 4, 200)
    labels = np.where(rng.rand(200) < 0.7, (y + 1) % 4, rng.randint(0, 4, 200))
    accuracy, digit = digits.match_clusters(labels, y, 4)
    best = max(np.mean(np.array(p)[labels] == y) for p in permutations(range(4)))
    assert accuracy == pytest.approx(best)
    assert np.mean(digit[labels] == y) == pytest.approx(best)


def test_regimes(tmp_path, capsys):
    out = tmp_path / "regimes.png"
    result = regimes.main(["--quick", "--out", str(out)])
    printed = capsys.readouterr().out
    check_png(out)
    assert result["n_quarters"] == 202               # 1959Q2-2009Q3
    means = result["means"]
    r = result["recession_state"]
    # a recession state: GDP shrinking and unemployment rising; the other
    # state: growth and falling unemployment
    assert means[r, 0] < 0 < means[1 - r, 0]
    assert means[r, 1] > 0 > means[1 - r, 1]
    assert result["expected_duration"][r] < result["expected_duration"][1 - r]
    # against the NBER dating (never seen by the fit): recall ~1.0,
    # precision ~0.81, accuracy ~0.965
    assert result["recall"] >= 0.85
    assert result["precision"] >= 0.7
    assert result["accuracy"] >= 0.9
    assert f"accuracy {result['accuracy']:.3f}" in printed


def test_regimes_nber_mask():
    X, years, quarters = regimes.load_quarters()
    assert X.shape == (202, 2) and (years[0], quarters[0]) == (1959, 2)
    mask = regimes.nber_mask(years, quarters)
    # each recession lasts (trough - peak) quarters
    durations = [(ty * 4 + tq) - (py * 4 + pq) for (py, pq), (ty, tq) in regimes.NBER_RECESSIONS]
    assert mask.sum() == sum(durations)
    assert mask[(years == 2009) & (quarters == 2)].all()
    assert not mask[(years == 2007) & (quarters == 4)].any()


def test_examples_run_as_scripts(tmp_path):
    out = tmp_path / "regimes.png"
    env = dict(os.environ, MPLBACKEND="Agg")
    env.pop("PYTHONPATH", None)   # the installed package, run from outside the source tree
    result = subprocess.run([sys.executable, "-m", "gmscore.examples.regimes", "--quick",
                             "--out", str(out)], capture_output=True, text=True, env=env,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "against NBER recessions" in result.stdout
    check_png(out)
    for module in ("image_segmentation", "digits", "regimes"):
        result = subprocess.run([sys.executable, "-m", f"gmscore.examples.{module}", "--help"],
                                capture_output=True, text=True, env=env, cwd=tmp_path)
        assert result.returncode == 0 and "--quick" in result.stdout, result.stderr
