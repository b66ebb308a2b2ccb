"""A1: GMM-UBM speaker verification at scale, gmscore against the same
computation written with scikit-learn's GaussianMixture (predict_proba /
weighted log-probabilities + numpy), in one run.

    python asv_bench/audio_bench.py [--speakers 1000] [--models 100]
                                    [--utterances 100] [--threads 2]

UBM: K=512 diagonal components, D=39 (fitted briefly on 40,000 random rows:
the timing does not depend on how good it is). Adapt (means, r=16) every
speaker's 3,000 frames, both with one ``ubm.adapt`` call per speaker and
with ``gmscore.adapt.adapt_many`` (all speakers in one compiled pass per
batch; the same bits); score models x utterances trials of 300 frames
(default 100 x 100 = 10,000 trials), exact and top-5. gmscore uses
``--threads`` kernel threads; scikit-learn's BLAS is pinned to the same
number with threadpoolctl. One timed run of each (the full size takes
minutes for scikit-learn).
"""
import argparse
import sys
import time

import numpy as np
from scipy.special import logsumexp
from threadpoolctl import threadpool_limits

K, D, SPEAKER_FRAMES, UTTERANCE_FRAMES = 512, 39, 3000, 300


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def sklearn_copy(model):
    from sklearn.mixture import GaussianMixture as SkGM

    sk = SkGM(model.n_components, covariance_type=model.covariance_type)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_"):
        setattr(sk, name, getattr(model, name))
    sk.n_features_in_ = model.means_.shape[1]
    return sk


def sklearn_adapt(sk, X, r=16.0):
    """Reynolds' means-only MAP update from scikit-learn's responsibilities."""
    resp = sk.predict_proba(X)
    nk = resp.sum(axis=0)
    xbar = resp.T @ X / np.maximum(nk, 1e-300)[:, None]
    alpha = (nk / (nk + r))[:, None]
    return alpha * xbar + (1 - alpha) * sk.means_


def sklearn_scores(sk_ubm, sk_models, utt, n_utt, top_c):
    """Per-trial mean log-likelihood ratios, the loop a user would write."""
    out = np.empty((len(sk_models), n_utt))
    for u in range(n_utt):
        x = utt[UTTERANCE_FRAMES * u:UTTERANCE_FRAMES * (u + 1)]
        lu = sk_ubm._estimate_weighted_log_prob(x)
        ubm_ll = logsumexp(lu, axis=1)
        top = np.argpartition(-lu, top_c, axis=1)[:, :top_c] if top_c else None
        for i, sk in enumerate(sk_models):
            lm = sk._estimate_weighted_log_prob(x)
            if top_c:
                lm = np.take_along_axis(lm, top, axis=1)
            out[i, u] = np.mean(logsumexp(lm, axis=1) - ubm_ll)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--speakers", type=int, default=1000)
    p.add_argument("--models", type=int, default=100)
    p.add_argument("--utterances", type=int, default=100)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    from gmscore import GaussianMixture
    from gmscore.adapt import adapt_many, score_utterances

    nt, S, M, U = args.threads, args.speakers, args.models, args.utterances
    rng = np.random.RandomState(0)
    ubm = GaussianMixture(K, covariance_type="diag", max_iter=2, init_params="random_from_data",
                          random_state=0, n_threads=nt).fit(rng.randn(40000, D))
    sk_ubm = sklearn_copy(ubm)
    shifts = 0.1 * rng.randn(S, D)
    # all speakers' frames in one array, speaker after speaker
    frames_all = rng.randn(S * SPEAKER_FRAMES, D) * 0.9
    frames_all += np.repeat(shifts, SPEAKER_FRAMES, axis=0)
    speakers = [frames_all[SPEAKER_FRAMES * s:SPEAKER_FRAMES * (s + 1)] for s in range(S)]
    print(f"A1: UBM K={K} diag, D={D}, float64; gmscore {nt} threads, scikit-learn BLAS at "
          f"{nt}; one run each")
    t_loop, looped = timed(lambda: [ubm.adapt(X) for X in speakers])
    t_many, models = timed(lambda: adapt_many(ubm, frames_all, [SPEAKER_FRAMES] * S))
    same = all(np.array_equal(a.means_, b.means_) for a, b in zip(looped, models))
    del looped
    with threadpool_limits(nt, user_api="blas"):
        t_sk, sk_means = timed(lambda: [sklearn_adapt(sk_ubm, X) for X in speakers])
    frames = S * SPEAKER_FRAMES
    diff = max(float(np.abs(a.means_ - b).max()) for a, b in zip(models, sk_means))
    del sk_means
    print(f"adapt {S} speakers x {SPEAKER_FRAMES} frames: gmscore adapt_many {t_many:.2f} s "
          f"({frames / t_many:.3g} frames/s), one adapt per speaker {t_loop:.2f} s "
          f"({frames / t_loop:.3g} frames/s; identical models: {same}), scikit-learn+numpy "
          f"{t_sk:.2f} s ({frames / t_sk:.3g} frames/s), {t_sk / t_many:.1f}x "
          f"(per-speaker loop {t_sk / t_loop:.1f}x); max |means diff| {diff:.1e}")
    models = models[:M]
    sk_models = [sklearn_copy(m) for m in models]
    utt = rng.randn(U * UTTERANCE_FRAMES, D) * 0.9
    lengths = [UTTERANCE_FRAMES] * U
    trial_frames = M * U * UTTERANCE_FRAMES
    results = {}
    for top_c in (None, 5):
        t_ours, ours = timed(lambda: score_utterances(models, ubm, utt, lengths, top_c=top_c,
                                                      n_threads=nt))
        with threadpool_limits(nt, user_api="blas"):
            t_sk, ref = timed(lambda: sklearn_scores(sk_ubm, sk_models, utt, U, top_c))
        results[top_c] = ours
        print(f"score {M} x {U} = {M * U} trials x {UTTERANCE_FRAMES} frames, top_c={top_c}: "
              f"gmscore {t_ours:.2f} s ({trial_frames / t_ours:.3g} trial-frames/s), "
              f"scikit-learn+numpy {t_sk:.2f} s, {t_sk / t_ours:.1f}x; max |llr diff| "
              f"{float(np.abs(ours - ref).max()):.1e}")
    err = np.abs(results[5] - results[None])
    print(f"top-5 vs exact ratio error: mean {err.mean():.2e}, max {err.max():.2e} "
          "(random UBM on noise: a hard case for top-C)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
