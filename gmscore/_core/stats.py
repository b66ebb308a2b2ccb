"""Sufficient statistics as values: what every E-step produces and every
M-step consumes.

``GaussianStats`` holds, for K weighted Gaussian components and their
centres c_k, the sums over rows x_i with weights r_ik (sample weight times
responsibility):

    nk[k]  = sum_i r_ik
    s1[k]  = sum_i r_ik (x_i - c_k)
    s2     = full:       sum_i r_ik (x_i - c_k)(x_i - c_k)^T     (K, D, D)
             tied:       sum_k sum_i r_ik (x_i - c_k)(...)^T     (D, D)
             diag/sph.:  sum_i r_ik (x_i - c_k)^2 per feature   (K, D)

plus the log-likelihood of the rows, their total sample weight and their
count. ``ChainStats`` adds an HMM's start and transition counts and its
per-sequence log-likelihoods around the emission statistics.

Both merge exactly (``a + b``: the sums of the union of the rows; b is
re-centred on a's centres first when they differ), re-centre to new
centres (an identity, no data needed), scale by a factor (online EM), and
pickle and save (``save`` / ``gmscore.load_stats``, the .npz of their
arrays, no pickle).
"""
import numpy as np

# Accumulator kinds: spherical components keep per-feature sums (the mean
# over features is taken by the M-step), as the kernels compute them.
STATS_KINDS = ("full", "tied", "diag", "spherical")
# CountStats kinds (the discrete HMMs' emission statistics)
COUNT_KINDS = ("categorical", "poisson", "multinomial")


def symmetric_from_upper(s2, k, d):
    """(K, D, D) symmetric matrices from the kernels' upper triangles."""
    s2 = s2.reshape(k, d, d)
    return np.triu(s2) + np.transpose(np.triu(s2, 1), (0, 2, 1))


def _same(a, b):
    return a.shape == b.shape and np.array_equal(a, b)


class GaussianStats:
    """Sufficient statistics of K weighted Gaussian components.

    Parameters
    ----------
    kind : {'full', 'tied', 'diag', 'spherical'}
        Which second moments ``s2`` holds (see the module docstring).
    centres : ndarray of shape (K, D)
    nk, s1, s2 : ndarray
        Component masses (K,), first moments (K, D) about the centres, and
        second moments about the centres (full (K, D, D), tied (D, D),
        diag / spherical (K, D)).
    loglik : float
        Sum over rows of sample weight x log-likelihood (0 when the
        statistics came from given responsibilities).
    weight_sum : float
        Total sample weight of the rows.
    count : float
        Number of rows (scaled along with the sums by ``scaled``).

    Examples
    --------
    >>> import numpy as np
    >>> from gmscore import GaussianMixture
    >>> X = np.random.RandomState(0).randn(1000, 2)
    >>> gm = GaussianMixture(2, random_state=0).fit(X)
    >>> stats = gm.accumulate(X[:500]) + gm.accumulate(X[500:])
    >>> bool(np.allclose(stats.nk, gm.accumulate(X).nk))
    True
    >>> gm = gm.maximize(stats)          # one M-step from the statistics
    """

    def __init__(self, kind, centres, nk, s1, s2, loglik=0.0, weight_sum=None, count=None):
        if kind not in STATS_KINDS:
            raise ValueError(f"kind must be one of {STATS_KINDS}, got {kind!r}")
        self.kind = kind
        self.centres = np.array(centres, dtype=np.float64)
        self.nk = np.array(nk, dtype=np.float64)
        self.s1 = np.array(s1, dtype=np.float64)
        self.s2 = np.array(s2, dtype=np.float64)
        self.loglik = float(loglik)
        self.weight_sum = float(self.nk.sum() if weight_sum is None else weight_sum)
        self.count = float(self.weight_sum if count is None else count)
        if self.centres.ndim != 2:
            raise ValueError(f"centres must have shape (K, D), got {self.centres.shape}")
        k, d = self.centres.shape
        want = {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k, d)}[kind]
        if self.nk.shape != (k,) or self.s1.shape != (k, d) or self.s2.shape != want:
            raise ValueError(
                f"{kind} statistics of {k} components in {d} features need nk {(k,)}, "
                f"s1 {(k, d)} and s2 {want}; got {self.nk.shape}, {self.s1.shape}, "
                f"{self.s2.shape}")

    @classmethod
    def from_leaf(cls, kind, centres, leaf, count):
        """From a kernel reducer's total (nk, s1, s2 upper triangles,
        log-likelihood, total weight), making s2 symmetric."""
        k, d = centres.shape
        nk = leaf[:k]
        s1 = leaf[k:k + k * d].reshape(k, d)
        s2 = leaf[k + k * d:-2]
        if kind == "full":
            s2 = symmetric_from_upper(s2, k, d)
        elif kind == "tied":
            s2 = symmetric_from_upper(s2, 1, d)[0]
        else:
            s2 = s2.reshape(k, d)
        return cls(kind, centres, nk, s1, s2, leaf[-2], leaf[-1], count)

    # ------------------------------------------------------------ shape
    @property
    def n_components(self):
        return self.centres.shape[0]

    @property
    def n_features(self):
        return self.centres.shape[1]

    def __repr__(self):
        return (f"GaussianStats(kind={self.kind!r}, n_components={self.n_components}, "
                f"n_features={self.n_features}, weight_sum={self.weight_sum:.6g}, "
                f"loglik={self.loglik:.6g})")

    # ---------------------------------------------------------- algebra
    def recentred(self, centres):
        """The same statistics about new centres (exact identity):
        s1' = s1 - n d and s2' = s2 - d s1^T - s1 d^T + n d d^T, d = c' - c."""
        centres = np.asarray(centres, dtype=np.float64)
        if centres.shape != self.centres.shape:
            raise ValueError(f"centres must have shape {self.centres.shape}, got {centres.shape}")
        dm = centres - self.centres
        nk, s1 = self.nk, self.s1
        if self.kind == "full":
            cross = dm[:, :, None] * s1[:, None, :]
            s2 = (self.s2 - cross - np.transpose(cross, (0, 2, 1))
                  + nk[:, None, None] * dm[:, :, None] * dm[:, None, :])
        elif self.kind == "tied":
            cross = dm.T @ s1
            s2 = self.s2 - cross - cross.T + (dm * nk[:, None]).T @ dm
        else:
            s2 = self.s2 - 2.0 * dm * s1 + nk[:, None] * dm * dm
        return GaussianStats(self.kind, centres, nk, s1 - nk[:, None] * dm, s2,
                             self.loglik, self.weight_sum, self.count)

    def better_centres(self, max_loss=2.0 ** 10):
        """Centres to accumulate about again, or None when these keep the
        digits: re-centring the second moments on the components' own
        means m = c + s1 / n subtracts n (m - c)^2 from every variance, and
        when that leaves less than 1/max_loss of it (centres far from the
        data: a bad start, a mean 1e6 away) the difference has lost
        log2(max_loss) bits or more. Then the statistics should be formed
        about m instead (the same E-step, other centres)."""
        nk = self.nk
        has = nk > 0
        dm = np.where(has[:, None], self.s1 / np.where(has, nk, 1.0)[:, None], 0.0)
        if self.kind == "full":
            about_c = np.diagonal(self.s2, axis1=1, axis2=2)
        elif self.kind == "tied":
            about_c = np.diag(self.s2)[None, :]
        else:
            about_c = self.s2
        shift = nk[:, None] * dm * dm          # n d^2 per component and feature
        if self.kind == "tied":
            shift = shift.sum(axis=0, keepdims=True)
        about_m = about_c - shift
        with np.errstate(divide="ignore", invalid="ignore"):
            lost = np.where(about_c > 0, about_c / about_m, 1.0)
        if np.all((lost >= 0) & (lost <= max_loss)) and np.all(np.isfinite(lost)):
            return None
        return self.centres + dm

    # Passes an E-step may take to find centres that keep the digits: each
    # pass's centres are within ~eps * |previous centres| of the data, so a
    # start 1e100 away needs about 100 / 16 + 1 of them.
    MAX_CENTRING_PASSES = 8

    def scaled(self, factor):
        """Every sum times ``factor`` (for online EM's discounting)."""
        f = float(factor)
        if not np.isfinite(f) or f < 0:
            raise ValueError(f"factor must be a finite non-negative number, got {factor!r}")
        return GaussianStats(self.kind, self.centres, f * self.nk, f * self.s1, f * self.s2,
                             f * self.loglik, f * self.weight_sum, f * self.count)

    def _check_compatible(self, other):
        if not isinstance(other, GaussianStats):
            raise TypeError(f"cannot add GaussianStats and {type(other).__name__}")
        if other.kind != self.kind or other.centres.shape != self.centres.shape:
            raise ValueError(
                f"cannot add {other.kind} statistics of shape {other.centres.shape} to "
                f"{self.kind} statistics of shape {self.centres.shape}")

    def __add__(self, other):
        self._check_compatible(other)
        if not _same(other.centres, self.centres):
            other = other.recentred(self.centres)
        return GaussianStats(self.kind, self.centres, self.nk + other.nk, self.s1 + other.s1,
                             self.s2 + other.s2, self.loglik + other.loglik,
                             self.weight_sum + other.weight_sum, self.count + other.count)

    def __eq__(self, other):
        return (isinstance(other, GaussianStats) and self.kind == other.kind
                and all(_same(a, b) for a, b in zip(self._arrays(), other._arrays())))

    __hash__ = None

    def _arrays(self):
        return (self.centres, self.nk, self.s1, self.s2,
                np.array([self.loglik, self.weight_sum, self.count]))

    def __radd__(self, other):
        if isinstance(other, (int, float)) and other == 0:  # sum([a, b, ...])
            return self
        return NotImplemented

    def check_valid(self, what="statistics"):
        """Raise ValueError unless every sum is finite and the masses are
        non-negative (what an M-step or a file may be given)."""
        if not all(np.isfinite(a).all() for a in self._arrays()):
            raise ValueError(f"the {what} hold NaN or infinity")
        if (self.nk < 0).any() or self.weight_sum < 0 or self.count < 0:
            raise ValueError(f"the {what} hold negative masses")
        return self

    def copy(self):
        return GaussianStats(self.kind, self.centres, self.nk, self.s1, self.s2,
                             self.loglik, self.weight_sum, self.count)

    # -------------------------------------------------------- persistence
    def _to_arrays(self, prefix=""):
        return {prefix + "centres": self.centres, prefix + "nk": self.nk,
                prefix + "s1": self.s1, prefix + "s2": self.s2,
                prefix + "scalars": np.array([self.loglik, self.weight_sum, self.count])}

    @classmethod
    def _from_arrays(cls, kind, arrays, prefix=""):
        sc = arrays[prefix + "scalars"]
        if sc.shape != (3,):
            raise ValueError("statistics file: malformed scalars entry")
        return cls(kind, arrays[prefix + "centres"], arrays[prefix + "nk"],
                   arrays[prefix + "s1"], arrays[prefix + "s2"], *sc)

    def save(self, path):
        """Write the statistics to ``path`` (.npz of float64 arrays, no
        pickle); ``gmscore.load_stats(path)`` reads them back exactly."""
        from .stats_io import save_stats

        save_stats(self, path)


class ChainStats:
    """Statistics of a hidden Markov model: the chain's expected start and
    transition counts, the per-sequence log-likelihoods, and the emission
    statistics (a GaussianStats over states, or over (state, mixture)
    pairs for GMMHMM).

    ``a + b`` adds the counts and emission statistics and concatenates the
    sequences' log-likelihoods (b's sequences after a's).
    """

    def __init__(self, start, trans, seq_loglik, emissions=None, loglik=None):
        self.start = np.array(start, dtype=np.float64)
        self.trans = np.array(trans, dtype=np.float64)
        self.seq_loglik = np.array(seq_loglik, dtype=np.float64).reshape(-1)
        self.emissions = emissions
        # the kernels' tree sum; the plain sum for hand-made statistics
        self.loglik = float(self.seq_loglik.sum() if loglik is None else loglik)
        k = self.start.shape[0]
        if self.start.shape != (k,) or self.trans.shape != (k, k):
            raise ValueError(f"start must be (K,) and trans (K, K); got {self.start.shape}, "
                             f"{self.trans.shape}")
        if emissions is not None and not isinstance(emissions, (GaussianStats, CountStats)):
            raise TypeError("emissions must be GaussianStats, CountStats or None")

    @property
    def n_components(self):
        return self.start.shape[0]

    @property
    def n_sequences(self):
        return self.seq_loglik.shape[0]

    def __repr__(self):
        return (f"ChainStats(n_components={self.n_components}, "
                f"n_sequences={self.n_sequences}, loglik={self.loglik:.6g}, "
                f"emissions={self.emissions!r})")

    def recentred(self, centres):
        """The emission statistics re-centred (see GaussianStats.recentred)."""
        return ChainStats(self.start, self.trans, self.seq_loglik,
                          self.emissions.recentred(centres), self.loglik)

    def scaled(self, factor):
        f = float(factor)
        if not np.isfinite(f) or f < 0:
            raise ValueError(f"factor must be a finite non-negative number, got {factor!r}")
        em = None if self.emissions is None else self.emissions.scaled(f)
        return ChainStats(f * self.start, f * self.trans, f * self.seq_loglik, em,
                          f * self.loglik)

    def __add__(self, other):
        if not isinstance(other, ChainStats):
            raise TypeError(f"cannot add ChainStats and {type(other).__name__}")
        if other.start.shape != self.start.shape:
            raise ValueError(f"cannot add chain statistics of {other.n_components} states to "
                             f"those of {self.n_components}")
        if (self.emissions is None) != (other.emissions is None):
            raise ValueError("cannot add chain statistics with and without emission statistics")
        em = None if self.emissions is None else self.emissions + other.emissions
        return ChainStats(self.start + other.start, self.trans + other.trans,
                          np.concatenate([self.seq_loglik, other.seq_loglik]), em,
                          self.loglik + other.loglik)

    def __radd__(self, other):
        if isinstance(other, (int, float)) and other == 0:  # sum([a, b, ...])
            return self
        return NotImplemented

    def check_valid(self, what="statistics"):
        """Raise ValueError unless the counts are finite and non-negative
        and the emission statistics valid."""
        arrays = (self.start, self.trans, self.seq_loglik, np.array([self.loglik]))
        if not all(np.isfinite(a).all() for a in arrays):
            raise ValueError(f"the {what} hold NaN or infinity")
        if (self.start < 0).any() or (self.trans < 0).any():
            raise ValueError(f"the {what} hold negative counts")
        if self.emissions is not None:
            self.emissions.check_valid(what)
        return self

    def __eq__(self, other):
        return (isinstance(other, ChainStats) and _same(self.start, other.start)
                and _same(self.trans, other.trans) and _same(self.seq_loglik, other.seq_loglik)
                and self.loglik == other.loglik and self.emissions == other.emissions)

    __hash__ = None

    def save(self, path):
        """Write the statistics to ``path`` (.npz, no pickle); read back
        with ``gmscore.load_stats``."""
        from .stats_io import save_stats

        save_stats(self, path)


class CountStats:
    """Emission statistics of the discrete HMMs (gmscore.discrete): per
    state the posterior mass ``nk[k] = sum_t gamma_tk`` and the weighted
    counts ``counts[k] = sum_t gamma_tk x_t`` (a one-hot x_t for the
    categorical model: the expected symbol counts), shape (K, D). ``kind``
    names the model ('categorical', 'poisson', 'multinomial'). Merge with
    ``+``, ``scaled`` for online EM; no centres (the sums are linear)."""

    def __init__(self, kind, nk, counts):
        if kind not in COUNT_KINDS:
            raise ValueError(f"kind must be one of {COUNT_KINDS}, got {kind!r}")
        self.kind = str(kind)
        self.nk = np.array(nk, dtype=np.float64)
        self.counts = np.array(counts, dtype=np.float64)
        if self.counts.ndim != 2 or self.nk.shape != self.counts.shape[:1]:
            raise ValueError(f"nk must be (K,) and counts (K, D); got {self.nk.shape}, "
                             f"{self.counts.shape}")

    @property
    def n_components(self):
        return self.nk.shape[0]

    def __repr__(self):
        return f"CountStats({self.kind!r}, shape={self.counts.shape})"

    def scaled(self, factor):
        f = float(factor)
        if not np.isfinite(f) or f < 0:
            raise ValueError(f"factor must be a finite non-negative number, got {factor!r}")
        return CountStats(self.kind, f * self.nk, f * self.counts)

    def __add__(self, other):
        if not isinstance(other, CountStats):
            raise TypeError(f"cannot add CountStats and {type(other).__name__}")
        if other.kind != self.kind or other.counts.shape != self.counts.shape:
            raise ValueError(f"cannot add {other.kind} statistics of shape "
                             f"{other.counts.shape} to {self.kind} statistics of shape "
                             f"{self.counts.shape}")
        return CountStats(self.kind, self.nk + other.nk, self.counts + other.counts)

    def __radd__(self, other):
        if isinstance(other, (int, float)) and other == 0:
            return self
        return NotImplemented

    def __eq__(self, other):
        return (isinstance(other, CountStats) and self.kind == other.kind
                and _same(self.nk, other.nk) and _same(self.counts, other.counts))

    __hash__ = None

    def _to_arrays(self, prefix=""):
        return {prefix + "nk": self.nk, prefix + "counts": self.counts}

    @classmethod
    def _from_arrays(cls, kind, arrays, prefix=""):
        return cls(kind, arrays[prefix + "nk"], arrays[prefix + "counts"])

    def check_valid(self, what="statistics"):
        if not (np.isfinite(self.nk).all() and np.isfinite(self.counts).all()):
            raise ValueError(f"the {what} hold NaN or infinity")
        if (self.nk < 0).any() or (self.counts < 0).any():
            raise ValueError(f"the {what} hold negative counts")
        return self
