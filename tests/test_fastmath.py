"""The kernels' vectorisable exp and log against numpy's (libm-quality)."""
import numpy as np

from gmscore import _kernels


def ulps(a, b):
    """Distance in units in the last place (finite doubles of one sign)."""
    ia = np.abs(a).view(np.int64)
    ib = np.abs(b).view(np.int64)
    return np.abs(ia - ib)


def run(x):
    x = np.ascontiguousarray(x, dtype=np.float64)
    e, l = np.empty_like(x), np.empty_like(x)
    _kernels.fast_exp_log(x, e, l)
    return e, l


def test_exp_within_a_few_ulp_over_the_whole_range():
    rng = np.random.default_rng(0)
    x = -np.concatenate([rng.uniform(0, 1, 200_000), rng.uniform(0, 708, 200_000),
                         np.logspace(-300, 2.85, 20_000), [0.0, 1e-320, 707.99]])
    e, _ = run(x)
    assert ulps(e, np.exp(x)).max() <= 2


def test_exp_edges():
    e, _ = run(np.array([-708.5, -745.0, -1e10, -np.inf, 0.0]))
    np.testing.assert_array_equal(e, [0.0, 0.0, 0.0, 0.0, 1.0])


def test_log_within_a_few_ulp_for_normal_numbers():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(0.5, 2.0, 200_000), 10.0 ** rng.uniform(-307, 308, 200_000),
                        1 + rng.uniform(-1e-8, 1e-8, 10_000), [np.finfo(float).tiny, 1.0,
                                                               np.finfo(float).max]])
    _, l = run(x)
    ref = np.log(x)
    near_one = np.abs(ref) < 1e-300
    assert (l[near_one] == 0).all()
    assert ulps(l[~near_one], ref[~near_one]).max() <= 4
