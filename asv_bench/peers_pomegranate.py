"""pomegranate (1.x, PyTorch, CPU) as an optional peer of ``compare.py
--pomegranate`` on G1-G3 (``GeneralMixtureModel`` of ``Normal``) and H1-H2
(``DenseHMM`` of ``Normal``).

pomegranate needs torch, which the project's environment does not have to
hold: the fits run in a child process of the interpreter given by
``--pomegranate-python`` (default: this one), e.g. a separate venv with
``pip install pomegranate``.  The parent writes the data and the shared
start to a temporary .npz; the child (``python peers_pomegranate.py IN OUT``)
imports only numpy, torch and pomegranate, times the fits with
``torch.set_num_threads(threads)`` and writes s/it and the fitted parameters
to OUT (.npz).  When the interpreter cannot import pomegranate the column is
left out with the reason.

Identical starts: the GMMs start from the shared start (weights ->
``priors``, means, covariances = inverse precisions), float64 throughout.
The HMMs start from the shared startprob_ / transmat_ / means_ / covars_,
with end probabilities fixed at 1 (``ends`` = log 1, frozen), so that the
first E-step is hmmlearn's.  Remaining differences of the models, not of the
starts: pomegranate has no ``reg_covar`` (scikit-learn and gmscore add 1e-6
to the covariances' diagonals) and no covariance prior; its DenseHMM counts
the end of every sequence as an outgoing transition, so its M-step gives
transition rows summing to slightly less than 1 (by about the fraction of
frames that end a sequence, 1/1000 here) and no ``covars_prior`` /
``min_covar``.  Every fit runs exactly ``n_iter`` iterations
(``tol=-inf``, DenseHMM ``tol=0``: it would stop on a drop only).
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

#: Design workloads pomegranate is run on.
WORKLOADS = ("G1", "G2", "G3", "H1", "H2")


def probe(python):
    """pomegranate's and torch's versions in ``python``, or (None, why)."""
    code = ("import pomegranate, torch; from importlib.metadata import version; "
            "print('pomegranate', version('pomegranate') + ', torch', torch.__version__)")
    try:
        proc = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{python}: {exc}"
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
        return None, f"{python} cannot import pomegranate/torch: {tail[:200]}"
    return proc.stdout.strip(), None


def run(python, name, X, lengths, start, covariance_type, n_iter, repeat, threads,
        timeout=3600.0):
    """Time pomegranate on one workload in a child of ``python``: a dict of
    ``s_per_it``, ``means`` (K, D), ``covs``, ``loglik`` (the last E-step's
    total log-likelihood), or of ``error``."""
    with tempfile.TemporaryDirectory(prefix="gmscore-pom-") as tmp:
        src, dst = os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.npz")
        kind = "hmm" if lengths is not None else "gmm"
        extra = {"lengths": np.asarray(lengths)} if lengths is not None else {}
        np.savez(src, X=X, kind=kind, covariance_type=covariance_type, n_iter=n_iter,
                 repeat=repeat, threads=threads, **extra,
                 **{f"start_{k}": v for k, v in start.items()})
        try:
            proc = subprocess.run([python, os.path.abspath(__file__), src, dst],
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:g} s"}
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
            return {"error": f"{name}: exit status {proc.returncode}: {tail[:200]}"}
        with np.load(dst) as f:
            return {k: f[k] for k in f.files} | {"s_per_it": float(f["s_per_it"])}


# ------------------------------------------------------------------ child
def _gmm(torch, X, s, cov, n_iter):
    from pomegranate.distributions import Normal
    from pomegranate.gmm import GeneralMixtureModel

    prec = s["start_precisions_init"]
    covs = np.linalg.inv(prec) if cov == "full" else 1.0 / prec
    dists = [Normal(torch.tensor(m), torch.tensor(c), covariance_type=cov)
             for m, c in zip(s["start_means_init"], covs)]
    return GeneralMixtureModel(dists, priors=torch.tensor(s["start_weights_init"]),
                               max_iter=n_iter, tol=-np.inf).double()  # see _hmm


def _hmm(torch, X, s, cov, n_iter):
    from pomegranate.distributions import Normal
    from pomegranate.hmm import DenseHMM

    dists = [Normal(torch.tensor(m), torch.tensor(c), covariance_type=cov)
             for m, c in zip(s["start_means_"], s["start_covars_"])]
    k = len(dists)
    model = DenseHMM(dists, edges=torch.tensor(s["start_transmat_"]),
                     starts=torch.tensor(s["start_startprob_"]),
                     ends=torch.ones(k, dtype=torch.float64), max_iter=n_iter, tol=0.0)
    # double(): the model's dtype is that of its first buffer (a float32
    # ``inertia``), which would make its work arrays float32.
    model = model.double()
    model.ends.frozen = True  # hmmlearn has no end probabilities
    return model


def child(src, dst):
    import torch

    with np.load(src) as f:
        s = {k: f[k] for k in f.files}
    threads, n_iter, repeat = int(s["threads"]), int(s["n_iter"]), int(s["repeat"])
    cov, kind = str(s["covariance_type"]), str(s["kind"])
    torch.set_num_threads(threads)
    X = torch.from_numpy(s["X"])
    if kind == "hmm":  # equal-length sequences: (n_sequences, T, D)
        lengths = s["lengths"]
        if np.any(lengths != lengths[0]):
            raise ValueError("DenseHMM here takes equal-length sequences only")
        X = X.reshape(len(lengths), int(lengths[0]), -1)
    make = _hmm if kind == "hmm" else _gmm
    make(torch, X, s, cov, 1).fit(X)  # untimed warm-up
    times = []
    for _ in range(repeat):
        model = make(torch, X, s, cov, n_iter)
        t0 = time.perf_counter()
        model.fit(X)
        times.append((time.perf_counter() - t0) / n_iter)
    dists = model.distributions
    with torch.no_grad():
        loglik = float(model.log_probability(X).sum())  # of the fitted model
    np.savez(dst, s_per_it=statistics.median(times),
             means=np.stack([d.means.detach().numpy() for d in dists]),
             covs=np.stack([d.covs.detach().numpy() for d in dists]), loglik=loglik,
             info=json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2])
