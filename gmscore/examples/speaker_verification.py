"""GMM-UBM speaker verification on synthetic speakers (no download).

The classic recipe (Reynolds, Quatieri & Dunn 2000), end to end with
numpy, scipy and gmscore:

1. Speakers. ``make_speaker`` draws a synthetic speaker: a pitch (f0,
   85-255 Hz), a vocal-tract scale (formants times 0.82-1.18, as for a
   shorter or longer tract), a small personal offset of each vowel's
   formants, and a spectral tilt. ``synthesize`` renders speech-like
   audio from it by source-filter synthesis: a glottal pulse train at the
   speaker's pitch (with jitter and a slow intonation drift) through a
   cascade of second-order resonators at the formants of a random sequence
   of vowels (/a/ /e/ /i/ /o/ /u/, Peterson & Barney-like averages), plus
   a little noise. 8 kHz sampling.
2. Front end. ``mfcc``: 25 ms Hamming frames every 10 ms, FFT power
   spectrum, 24 triangular mel filters, log, DCT-II, 13 coefficients (c0
   is the log energy), energy-based removal of silent frames and per-
   utterance cepstral mean normalisation. (A library such as librosa or
   python_speech_features does the same; the few lines here keep the
   example free of extra dependencies.)
3. A diagonal-covariance UBM (64 components by default) fitted on the
   background speakers' frames.
4. Enrolment: one MAP-adapted model per enrolled speaker
   (``ubm.adapt(frames, relevance_factor=16, update='m')``, means only, as
   in Reynolds' recipe).
5. Trials: every test utterance against every enrolled model, scored by
   the average log-likelihood ratio to the UBM
   (``gmscore.adapt.score_utterances``, exact and top-5), and the equal
   error rate of target vs impostor trials.
6. Streaming: the real-time HMM filter (``GMMHMM.filter``) tracks which of
   a few enrolled speakers is talking, 100 ms of frames per update
   (``stream_speakers``).

Run ``python -m gmscore.examples.speaker_verification`` (``--help`` for
the sizes); ``run(...)`` returns the figures as a dict.
"""
import argparse
import time

import numpy as np
from scipy import fft, signal

SAMPLE_RATE = 8000

# (F1, F2, F3) in Hz of an average adult voice, and formant bandwidths.
VOWELS = np.array([[730.0, 1090.0, 2440.0],   # /a/
                   [530.0, 1840.0, 2480.0],   # /e/
                   [270.0, 2290.0, 3010.0],   # /i/
                   [570.0, 840.0, 2410.0],    # /o/
                   [300.0, 870.0, 2240.0]])   # /u/
BANDWIDTHS = np.array([80.0, 100.0, 140.0])


def make_speaker(rng):
    """A synthetic speaker's voice parameters (a dict)."""
    return {
        "f0": rng.uniform(85.0, 255.0),
        "tract": rng.uniform(0.82, 1.18),
        "formants": VOWELS * (1.0 + 0.06 * rng.randn(*VOWELS.shape)),
        "tilt": rng.uniform(0.85, 0.97),
    }


def _resonator(x, freq, bw):
    """Second-order all-pole resonance at freq (Hz) with bandwidth bw."""
    r = np.exp(-np.pi * bw / SAMPLE_RATE)
    theta = 2 * np.pi * freq / SAMPLE_RATE
    a = [1.0, -2 * r * np.cos(theta), r * r]
    return signal.lfilter([1.0 - r], a, x)


def synthesize(speaker, seconds, rng):
    """Speech-like audio of ``speaker``: a random sequence of vowels of
    80-250 ms, each a glottal pulse train through its formant cascade."""
    n_total = int(seconds * SAMPLE_RATE)
    out, n = [], 0
    while n < n_total:
        length = int(rng.uniform(0.08, 0.25) * SAMPLE_RATE)
        vowel = rng.randint(len(VOWELS))
        f0 = speaker["f0"] * (1.0 + 0.08 * np.sin(np.linspace(0, rng.uniform(1, 3), length)))
        # pulses where the accumulated phase (with 1% jitter) wraps
        phase = np.cumsum(f0 * (1.0 + 0.01 * rng.randn(length)) / SAMPLE_RATE)
        source = np.diff(np.floor(phase), prepend=0.0)
        source = signal.lfilter([1.0], [1.0, -speaker["tilt"]], source)   # glottal tilt
        x = source
        for f, bw in zip(speaker["formants"][vowel] * speaker["tract"], BANDWIDTHS):
            x = _resonator(x, min(f, 0.45 * SAMPLE_RATE), bw)
        x = x * np.hanning(length) ** 0.3 * rng.uniform(0.5, 1.5)
        out.append(x)
        n += length
    audio = np.concatenate(out)[:n_total]
    return audio + 1e-3 * np.std(audio) * rng.randn(n_total)


def mel_filterbank(n_mels, n_fft, sample_rate):
    """(n_mels, n_fft // 2 + 1) triangular filters equally spaced in mel."""
    mel = np.linspace(0.0, 2595 * np.log10(1 + (sample_rate / 2) / 700), n_mels + 2)
    hz = 700 * (10 ** (mel / 2595) - 1)
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    lo, mid, hi = hz[:-2, None], hz[1:-1, None], hz[2:, None]
    rise = (bins - lo) / (mid - lo)
    fall = (hi - bins) / (hi - mid)
    return np.maximum(0.0, np.minimum(rise, fall))


def mfcc(audio, n_mfcc=13, n_mels=24, frame=200, hop=80, n_fft=256, energy_drop=30.0):
    """MFCC frames (n_frames, n_mfcc) of 8 kHz audio: framing, Hamming
    window, FFT power, mel filterbank, log, DCT-II; frames more than
    ``energy_drop`` dB below the loudest are dropped, then the utterance's
    mean is subtracted (cepstral mean normalisation)."""
    n = 1 + (len(audio) - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(n)[:, None]
    frames = audio[idx] * np.hamming(frame)
    power = np.abs(np.fft.rfft(frames, n_fft)) ** 2
    logmel = np.log(power @ mel_filterbank(n_mels, n_fft, SAMPLE_RATE).T + 1e-10)
    ceps = fft.dct(logmel, type=2, norm="ortho", axis=1)[:, :n_mfcc]
    energy = 10 * np.log10(np.sum(frames ** 2, axis=1) + 1e-12)
    ceps = ceps[energy > energy.max() - energy_drop]
    return ceps - ceps.mean(axis=0)


def equal_error_rate(target, impostor):
    """The error rate where false acceptances (impostor scores >= t) and
    false rejections (target scores < t) are equal, over every threshold
    t (the mean of the two rates at the closest crossing)."""
    thresholds = np.sort(np.concatenate([target, impostor]))
    n_imp, n_tar = len(impostor), len(target)
    fa = n_imp - np.searchsorted(np.sort(impostor), thresholds, side="left")
    fr = np.searchsorted(np.sort(target), thresholds, side="left")
    # |FAR - FRR| in integers: exact ties, the lowest threshold wins
    i = np.argmin(np.abs(fa * n_tar - fr * n_imp))
    return 0.5 * (fa[i] / n_imp + fr[i] / n_tar)


def stream_speakers(models, speakers, rng, seconds=2.0, block=10):
    """Track who is talking in a stream with the real-time HMM filter: a
    GMMHMM whose states are the enrolled speakers (each state's mixture is
    that speaker's adapted model, a sticky chain between them) is fed the
    MFCC frames of consecutive turns of several speakers, one block of
    ``block`` frames (10: 100 ms of audio) per call (``GMMHMM.filter``).
    Returns the fraction of frames whose filtered (causal) most probable
    state is the true speaker.
    (The cepstral mean is removed per turn here; a live front end would
    use a running mean.)"""
    from gmscore import GMMHMM

    s = len(models)
    k, d = models[0].means_.shape
    hmm = GMMHMM(n_components=s, n_mix=k, covariance_type="diag", init_params="",
                 params="")
    hmm.startprob_ = np.full(s, 1.0 / s)
    hmm.transmat_ = np.full((s, s), 0.01 / (s - 1)) + (0.99 - 0.01 / (s - 1)) * np.eye(s)
    hmm.weights_ = np.stack([m.weights_ for m in models])
    hmm.means_ = np.stack([m.means_ for m in models])
    hmm.covars_ = np.stack([m.covariances_ for m in models])
    turns = rng.permutation(np.repeat(np.arange(s), 2))
    frames = [mfcc(synthesize(speakers[who], seconds, rng)) for who in turns]
    labels = np.concatenate([np.full(len(f), who) for f, who in zip(frames, turns)])
    X = np.vstack(frames)
    f = hmm.filter(max_lag=1, decode=False)
    filtered = [f.update_many(X[start:start + block]).argmax(axis=1)   # one call per block
                for start in range(0, len(X), block)]
    return float(np.mean(np.concatenate(filtered) == labels))


def run(n_background=24, n_enrolled=12, n_impostors=12, n_components=64,
        background_seconds=4.0, enrol_seconds=6.0, test_seconds=2.0, n_tests=2,
        top_c=5, relevance_factor=16.0, seed=0, n_stream=4, verbose=True):
    """Build the UBM, enrol, score every trial; returns a dict with the EERs
    (exact and top-C), the mean |top-C - exact| score error, timings, and
    the frame accuracy of tracking ``n_stream`` enrolled speakers in a
    stream with the real-time filter (``stream_speakers``; 0: skipped)."""
    from gmscore import GaussianMixture
    from gmscore.adapt import score_utterances

    rng = np.random.RandomState(seed)
    t0 = time.perf_counter()
    background = [make_speaker(rng) for _ in range(n_background)]
    enrolled = [make_speaker(rng) for _ in range(n_enrolled)]
    impostors = [make_speaker(rng) for _ in range(n_impostors)]
    ubm_frames = np.vstack([mfcc(synthesize(s, background_seconds, rng)) for s in background])
    enrol = [mfcc(synthesize(s, enrol_seconds, rng)) for s in enrolled]
    tests, owner = [], []
    for who, s in enumerate(enrolled + impostors):
        for _ in range(n_tests):
            tests.append(mfcc(synthesize(s, test_seconds, rng)))
            owner.append(who)          # >= n_enrolled: an impostor nobody enrolled
    t_front = time.perf_counter() - t0

    t0 = time.perf_counter()
    ubm = GaussianMixture(n_components, covariance_type="diag", max_iter=50,
                          random_state=seed).fit(ubm_frames)
    t_ubm = time.perf_counter() - t0
    t0 = time.perf_counter()
    models = [ubm.adapt(frames, relevance_factor=relevance_factor, update="m")
              for frames in enrol]
    t_adapt = time.perf_counter() - t0

    X = np.vstack(tests)
    lengths = [len(t) for t in tests]
    target = np.array(owner)[None, :] == np.arange(n_enrolled)[:, None]
    result = {"n_trials": int(target.size), "n_frames": int(X.shape[0])}
    for name, c in (("exact", None), (f"top{top_c}", top_c)):
        t0 = time.perf_counter()
        scores = score_utterances(models, ubm, X, lengths, top_c=c)
        result[f"time_{name}"] = time.perf_counter() - t0
        result[f"eer_{name}"] = equal_error_rate(scores[target], scores[~target])
        result[f"scores_{name}"] = scores
    result["top_c_error"] = float(np.mean(np.abs(result[f"scores_top{top_c}"]
                                                 - result["scores_exact"])))
    if n_stream >= 2:
        t0 = time.perf_counter()
        result["stream_accuracy"] = stream_speakers(models[:n_stream], enrolled[:n_stream],
                                                    rng)
        result["time_stream"] = time.perf_counter() - t0
    if verbose:
        print(f"front end: {len(background)} background, {n_enrolled} enrolled, "
              f"{n_impostors} impostor speakers; {ubm_frames.shape[0]} UBM frames "
              f"({t_front:.2f} s synthesis + MFCC)")
        print(f"UBM: {n_components} diagonal components, {ubm.n_iter_} EM iterations, "
              f"{t_ubm:.2f} s; {n_enrolled} speakers adapted in {t_adapt:.3f} s")
        for name in ("exact", f"top{top_c}"):
            fps = n_enrolled * X.shape[0] / result[f"time_{name}"]
            print(f"scoring {name:>6}: {result['n_trials']} trials, "
                  f"{result[f'time_{name}']:.3f} s ({fps:.3g} model-frames/s), "
                  f"EER {100 * result[f'eer_{name}']:.2f}%")
        print(f"top-{top_c} vs exact: mean |score difference| {result['top_c_error']:.2e}")
        if "stream_accuracy" in result:
            print(f"streaming: {n_stream} enrolled speakers taking turns, GMMHMM filter fed "
                  f"100 ms blocks: {100 * result['stream_accuracy']:.1f}% of frames "
                  f"attributed to the right speaker causally ({result['time_stream']:.2f} s "
                  "with synthesis)")
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--components", type=int, default=64)
    p.add_argument("--background", type=int, default=24)
    p.add_argument("--enrolled", type=int, default=12)
    p.add_argument("--impostors", type=int, default=12)
    p.add_argument("--top-c", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    run(n_background=a.background, n_enrolled=a.enrolled, n_impostors=a.impostors,
        n_components=a.components, top_c=a.top_c, seed=a.seed)


if __name__ == "__main__":
    main()
