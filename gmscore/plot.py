"""Plots of fitted mixtures and HMMs (needs matplotlib:
``pip install 'gmscore[plot]'``).

This is the only module of gmscore that imports matplotlib, and it does so
inside the functions: ``import gmscore`` and ``import gmscore.plot`` stay
light. Every function takes ``ax=`` (an existing Axes to draw on; a new
figure otherwise) and returns the Axes it drew on, or the Figure when it
drew several Axes (``plot_states`` with posteriors, ``plot_emissions`` of
several features).

Mixtures (``GaussianMixture``, or scikit-learn's, which has the same
attributes):

- ``plot_mixture(model, X)``: the data coloured by component, and each
  component's 1, 2 and 3 sigma ellipses, on two chosen dimensions
  (``dims=(i, j)``) or a PCA projection (``projection='pca'``);
- ``plot_density(model, X)``: contours of the (marginal) log-density;
- ``plot_selection(selection)``: BIC / AIC curves of ``select_mixture``;
- ``plot_convergence(model)``: the objective per iteration, every restart.

HMMs (``GaussianHMM``, ``GMMHMM``; ``plot_states``, ``plot_transitions``
and ``plot_convergence`` also take the discrete HMMs):

- ``plot_states(model, X, lengths)``: the series on decoded-state bands,
  state posteriors beneath;
- ``plot_transitions(model)``: the transition matrix as a heat map;
- ``plot_emissions(model)``: each state's emission density per feature,
  or its ellipses on two dimensions.

Everything over samples or grid points is vectorised numpy or a model
method (predict, predict_proba, decode); loops run over components,
states or features only. What is computed before drawing (argument
checks, model parameters as full covariances, projections, ellipse
geometry, axis ranges, the 2-D log-density) is in gmscore._plot_geometry,
which never imports matplotlib.
"""
import numpy as np

from ._plot_geometry import (
    _bounds,
    _check_data,
    _check_dims,
    _check_hmm,
    _check_sigmas,
    _ellipse_geometry,
    _emission_parameters,
    _feature_label,
    _log_density_2d,
    _mixture_parameters,
    _projection,
    _subset,
)
from ._validation import check_is_fitted

SIGMAS = (1, 2, 3)
MAX_POINTS = 20_000      # points drawn in a scatter (a fixed random subset beyond)
SERIES_COLORS = ("black", "darkred", "navy", "darkgreen", "purple", "saddlebrown")
DENSITY_RANGE = 12.0     # plot_density's default levels span this much log-density


# ---------------------------------------------------------------- helpers
def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - the plot extra is not installed
        raise ImportError("gmscore.plot needs matplotlib: pip install 'gmscore[plot]'") \
            from None
    return plt


def _axes(ax):
    if ax is None:
        return _pyplot().subplots()[1]
    if not hasattr(ax, "plot") or not hasattr(ax, "figure"):
        raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
    return ax


def _colors(n):
    """n distinguishable colours (tab10, tab20, then viridis)."""
    import matplotlib

    name = "tab10" if n <= 10 else "tab20" if n <= 20 else "viridis"
    cmap = matplotlib.colormaps[name]
    if name == "viridis":
        return [cmap(x) for x in np.linspace(0.0, 1.0, n)]
    return [cmap(i) for i in range(n)]


def _integer_ticks(axis):
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def _draw_ellipses(ax, centres, cov2, sigmas, colors, alpha=1.0):
    """One Ellipse patch per (component, sigma), outlines in the component's
    colour, fainter as sigma grows."""
    from matplotlib.patches import Ellipse

    widths, heights, angles = _ellipse_geometry(cov2)
    fade = np.linspace(1.0, 0.4, len(sigmas)) * alpha
    for c, (w, h, a) in enumerate(zip(widths, heights, angles)):
        for s, f in zip(sigmas, fade):
            ax.add_patch(Ellipse(centres[c], s * w, s * h, angle=a, fill=False,
                                 edgecolor=colors[c], alpha=float(f), linewidth=1.5))


# ---------------------------------------------------------------- mixtures
def plot_mixture(model, X=None, *, dims=(0, 1), projection=None, sigmas=SIGMAS,
                 max_points=MAX_POINTS, ax=None, **scatter_kwargs):
    """The data coloured by component (``model.predict``) and each
    component's ellipses at ``sigmas`` standard deviations (1, 2, 3), on
    features ``dims=(i, j)`` or, with ``projection='pca'``, on the first
    two principal axes (of X, or of the mixture when X is None). A
    projected component is the exact Gaussian P mu, P Sigma P^T.

    Draws one scatter collection (when X is given; at most ``max_points``
    points, a fixed random subset beyond), one Ellipse patch per component
    and sigma, and one line of 'x' markers at the means. Other keyword
    arguments go to ``ax.scatter``. Returns the Axes.
    """
    weights, means, covs = _mixture_parameters(model)
    sigmas = _check_sigmas(sigmas)
    Xf = None if X is None else _check_data(model, X, means.shape[1])
    P, centre, labels = _projection(model, Xf, dims, projection, weights, means, covs)
    ax = _axes(ax)
    colors = _colors(len(weights))
    pts = None
    if X is not None:
        rows = _subset(len(Xf), max_points)
        comp = np.asarray(model.predict(X))[rows]
        pts = (Xf[rows] - centre) @ P.T
        kw = dict(s=6, alpha=0.5, linewidths=0)
        kw.update(scatter_kwargs)
        ax.scatter(pts[:, 0], pts[:, 1], c=np.asarray(colors)[comp], **kw)
    m2 = (means - centre) @ P.T
    c2 = P @ covs @ P.T
    _draw_ellipses(ax, m2, c2, sigmas, colors)
    ax.plot(m2[:, 0], m2[:, 1], "x", color="black", markersize=8, linestyle="none",
            label="means")
    lo, hi = _bounds(pts, m2, c2, margin=float(sigmas.max()))
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title(f"{type(model).__name__}: {len(weights)} components "
                 f"({model.covariance_type}), ellipses at {', '.join(f'{s:g}' for s in sigmas)}"
                 " sigma")
    return ax


def plot_density(model, X=None, *, dims=(0, 1), projection=None, resolution=150,
                 levels=12, filled=False, max_points=MAX_POINTS, ax=None, **contour_kwargs):
    """Contours of the mixture's log-density on features ``dims`` (or the
    ``projection='pca'`` plane): for more than two features, the exact
    marginal density of those two (a mixture of the projected components),
    on a ``resolution`` x ``resolution`` grid. ``levels``: a count (spread
    over the top 12 nats below the grid's maximum) or the log-density
    values themselves. With X, the points are drawn beneath in grey. ``filled=True`` uses filled contours. Other keyword
    arguments go to ``ax.contour`` / ``ax.contourf``. Returns the Axes.
    """
    weights, means, covs = _mixture_parameters(model)
    if not isinstance(resolution, (int, np.integer)) or resolution < 2:
        raise ValueError(f"resolution must be an integer >= 2, got {resolution!r}")
    Xf = None if X is None else _check_data(model, X, means.shape[1])
    P, centre, labels = _projection(model, Xf, dims, projection, weights, means, covs)
    ax = _axes(ax)
    m2 = (means - centre) @ P.T
    c2 = P @ covs @ P.T
    pts = None
    if Xf is not None:
        pts = (Xf[_subset(len(Xf), max_points)] - centre) @ P.T
        ax.scatter(pts[:, 0], pts[:, 1], s=3, color="0.6", alpha=0.4, linewidths=0)
    lo, hi = _bounds(pts, m2, c2)
    gx, gy = np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    xx, yy = np.meshgrid(gx, gy)
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    z = _log_density_2d(weights, m2, c2, grid).reshape(xx.shape)
    if isinstance(levels, (int, np.integer)):
        if levels < 1:
            raise ValueError(f"levels must be a positive count or the level values, got "
                             f"{levels!r}")
        # the top DENSITY_RANGE nats: the far tails would take every level
        top = float(z.max())
        levels = np.linspace(max(float(z.min()), top - DENSITY_RANGE), top, int(levels) + 1)[:-1]
    draw = ax.contourf if filled else ax.contour
    contours = draw(xx, yy, z, levels=levels, **contour_kwargs)
    ax.figure.colorbar(contours, ax=ax, label="log density")
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title(f"{type(model).__name__}: log-density")
    return ax


_CRITERION_COLUMN = {"bic": "bic", "aic": "aic", "icl": "icl",
                     "held_out": "held_out_log_likelihood"}


def plot_selection(selection, criteria=("bic", "aic"), *, ax=None):
    """Model-selection curves: each criterion against n_components, one
    line per covariance type, from ``gmscore.select_mixture``'s result (or
    its ``rows``: dicts with n_components, covariance_type and the
    criteria). Each criterion's best cell is marked with a star (lowest
    BIC / AIC / ICL, highest held-out log-likelihood; 'held_out' goes on a
    second y axis when drawn with the others). Returns the Axes.
    """
    rows = getattr(selection, "rows", selection)
    if hasattr(rows, "to_dict"):          # a pandas DataFrame (to_pandas())
        rows = rows.to_dict("records")
    if not isinstance(rows, (list, tuple)) or not rows or \
            not all(isinstance(r, dict) for r in rows):
        raise TypeError("selection must be select_mixture's result or its rows (a list of "
                        f"dicts), got {type(selection).__name__}")
    criteria = [criteria] if isinstance(criteria, str) else list(criteria)
    bad = [c for c in criteria if c not in _CRITERION_COLUMN]
    if not criteria or bad:
        raise ValueError(f"criteria must name some of {list(_CRITERION_COLUMN)}, got "
                         f"{criteria!r}")
    ax = _axes(ax)
    held_ax = ax.twinx() if "held_out" in criteria and len(criteria) > 1 else None
    cts = list(dict.fromkeys(r["covariance_type"] for r in rows))
    colors = dict(zip(cts, _colors(len(cts))))
    styles = ["-", "--", ":", "-."]
    for n, crit in enumerate(criteria):
        col = _CRITERION_COLUMN[crit]
        target = held_ax if crit == "held_out" and held_ax is not None else ax
        values = [r.get(col) for r in rows]
        if any(v is None for v in values):
            raise ValueError(f"criterion {crit!r} has no value in some rows (held-out "
                             "log-likelihoods need select_mixture(validation_fraction=...))")
        ks = np.array([r["n_components"] for r in rows])
        vals = np.array(values, dtype=float)
        cell = np.array([r["covariance_type"] for r in rows])
        for ct in cts:
            sel = cell == ct
            order = np.argsort(ks[sel])
            target.plot(ks[sel][order], vals[sel][order], styles[n % 4], marker="o",
                        markersize=4, color=colors[ct], label=f"{crit} ({ct})")
        best = int(np.argmax(vals) if crit == "held_out" else np.argmin(vals))
        target.plot([ks[best]], [vals[best]], "*", color="black", markersize=14,
                    linestyle="none", label=f"best {crit}: {ks[best]} ({cell[best]})")
    ax.set_xlabel("n_components")
    _integer_ticks(ax.xaxis)
    ax.set_ylabel(", ".join(c for c in criteria if held_ax is None or c != "held_out")
                  + (" (lower is better)" if criteria != ["held_out"]
                     else " (higher is better)"))
    if held_ax is not None:
        held_ax.set_ylabel("held-out mean log-likelihood (higher is better)")
    handles, labels = ax.get_legend_handles_labels()
    if held_ax is not None:
        h2, l2 = held_ax.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    ax.legend(handles, labels, fontsize="small")
    ax.set_title("model selection")
    return ax


def plot_convergence(model, *, restarts=True, start=1, ax=None, **kwargs):
    """The EM objective per iteration: a GaussianMixture's lower bound
    (mean log-likelihood per sample, ``lower_bounds_``) or an HMM's total
    log-likelihood (``monitor_.history``). With ``restarts`` and an
    ``n_init > 1`` fit, every restart's curve (``restart_histories_``) is
    overlaid, the kept one drawn bold. ``start``: the first iteration drawn
    (the first values of a random start can dwarf the rest). One Line2D
    per curve; other keyword arguments go to ``ax.plot``. Returns the Axes.
    """
    if not isinstance(start, (int, np.integer)) or isinstance(start, bool) or start < 1:
        raise ValueError(f"start must be an iteration number >= 1, got {start!r}")
    if hasattr(model, "monitor_") and hasattr(model, "transmat_"):
        best, ylabel = list(model.monitor_.history), "log-likelihood"
    elif hasattr(model, "lower_bounds_"):
        best, ylabel = list(model.lower_bounds_), "lower bound (mean log-likelihood per sample)"
    else:
        check_is_fitted(model, ("lower_bounds_",))
        raise TypeError(f"{type(model).__name__} has no convergence history "
                        "(lower_bounds_ or monitor_.history)")
    if not best:
        raise ValueError(f"the {type(model).__name__} ran no EM iteration (max_iter / n_iter "
                         "was 0): nothing to plot")
    histories = [list(h) for h in getattr(model, "restart_histories_", [])] if restarts else []
    kept = next((i for i, h in enumerate(histories) if h == best), None)
    if kept is None:          # no per-restart record (or not this fit's): the kept one only
        histories, kept = [best], 0
    ax = _axes(ax)
    colors = _colors(len(histories))
    for i, h in enumerate(histories):
        mine = dict(color=colors[i], marker="o", markersize=3,
                    linewidth=2.5 if i == kept else 1.0, alpha=1.0 if i == kept else 0.6,
                    label=f"restart {i}" + (" (kept)" if i == kept else ""))
        mine.update(kwargs)
        ax.plot(np.arange(start, len(h) + 1), h[start - 1:], **mine)
    ax.set_xlabel("iteration")
    _integer_ticks(ax.xaxis)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="small")
    ax.set_title(f"{type(model).__name__}: convergence")
    return ax


# ---------------------------------------------------------------- HMMs
def _state_handles(colors, alpha=1.0):
    from matplotlib.patches import Patch

    return [Patch(color=c, alpha=alpha, label=f"state {k}") for k, c in enumerate(colors)]


def plot_states(model, X, lengths=None, *, features=None, algorithm=None, posteriors=True,
                ax=None):
    """The series X (``features``: the columns to draw, default all) over
    coloured bands of its decoded states (``model.decode(X, lengths,
    algorithm)``), and beneath it the state posteriors
    (``model.predict_proba``) stacked to 1. Sequence boundaries (from
    ``lengths``) are dashed lines; the x axis counts frames of the
    concatenated sequences.

    ``ax``: None (a new figure), one Axes (the posteriors go in a new Axes
    appended beneath it), or a pair of Axes (series, posteriors). The bands
    are one image (``ax.images``), the posteriors one stack collection per
    state. Returns the Figure.
    """
    _check_hmm(model)
    _, states = model.decode(X, lengths, algorithm=algorithm)
    states = np.asarray(states)
    series = np.asarray(X, dtype=np.float64)
    if series.ndim == 1:
        series = series[:, None]
    n, k = len(states), model.n_components
    cols = list(range(series.shape[1])) if features is None else \
        [features] if np.isscalar(features) else list(features)
    for f in cols:
        if not isinstance(f, (int, np.integer)) or not 0 <= f < series.shape[1]:
            raise ValueError(f"features must be column indices in [0, {series.shape[1]}), "
                             f"got {features!r}")
    if isinstance(ax, (tuple, list, np.ndarray)):
        if len(ax) != 2 or not posteriors:
            raise ValueError("ax as a sequence must be two Axes (series, posteriors), with "
                             "posteriors=True")
        top, bottom = _axes(ax[0]), _axes(ax[1])
    elif ax is None:
        plt = _pyplot()
        if posteriors:
            fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(10, 5),
                                              gridspec_kw=dict(height_ratios=(2, 1)))
        else:
            fig, top = plt.subplots(figsize=(10, 3.5))
            bottom = None
    else:
        top = _axes(ax)
        bottom = None
        if posteriors:
            from mpl_toolkits.axes_grid1 import make_axes_locatable

            bottom = make_axes_locatable(top).append_axes("bottom", size="50%", pad=0.3,
                                                          sharex=top)
    colors = _colors(k)
    t = np.arange(n)
    for i, f in enumerate(cols):     # dark lines over the pale state bands
        top.plot(t, series[:, f], linewidth=0.9, color=SERIES_COLORS[i % len(SERIES_COLORS)],
                 label=_feature_label(model, f))
    y0, y1 = top.get_ylim()
    from matplotlib.colors import ListedColormap

    top.imshow(states[None, :], aspect="auto", extent=(-0.5, n - 0.5, y0, y1),
               cmap=ListedColormap(colors), vmin=-0.5, vmax=k - 0.5, alpha=0.35,
               interpolation="nearest", zorder=0)
    top.set_ylim(y0, y1)
    top.set_xlim(-0.5, n - 0.5)
    if lengths is not None and len(lengths) > 1:
        bounds = np.cumsum(np.asarray(lengths))[:-1] - 0.5
        top.vlines(bounds, y0, y1, colors="black", linestyles="--", linewidth=1)
    top.legend(handles=_state_handles(colors, 0.35) + top.get_legend_handles_labels()[0],
               fontsize="small", loc="upper right", ncol=2)
    top.set_ylabel("value")
    top.set_title(f"{type(model).__name__}: decoded states")
    if bottom is not None:
        post = np.asarray(model.predict_proba(X, lengths))
        bottom.stackplot(t, post.T, colors=colors, step="mid")
        bottom.set_ylim(0, 1)
        bottom.set_ylabel("posterior")
        if lengths is not None and len(lengths) > 1:
            bottom.vlines(bounds, 0, 1, colors="black", linestyles="--", linewidth=1)
        bottom.set_xlabel("frame")
    else:
        top.set_xlabel("frame")
    return top.figure


def plot_transitions(model, *, annotate=True, fmt=".2f", cmap="Blues", ax=None):
    """The transition matrix ``transmat_`` as a heat map (rows: from,
    columns: to; colour scale 0 to 1) with each probability written in its
    cell (``annotate``, format ``fmt``). Returns the Axes."""
    _check_hmm(model)
    A = np.asarray(model.transmat_, dtype=np.float64)
    k = len(A)
    ax = _axes(ax)
    image = ax.imshow(A, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, label="probability")
    if annotate:
        for i in range(k):
            for j in range(k):
                ax.text(j, i, format(A[i, j], fmt), ha="center", va="center",
                        color="white" if A[i, j] > 0.6 else "black", fontsize="small")
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xlabel("to state")
    ax.set_ylabel("from state")
    ax.set_title("transition probabilities")
    return ax


def plot_emissions(model, X=None, lengths=None, *, features=None, dims=None, sigmas=SIGMAS,
                   resolution=300, max_points=MAX_POINTS, ax=None):
    """Each state's emission density. Without ``dims``: for each feature
    in ``features`` (default all) the 1-D marginal density of every state
    (a GMMHMM state's mixture summed), one line per state, over a
    histogram of X's column when X is given; one Axes per feature.
    With ``dims=(i, j)``: every state's Gaussians (each mixture component
    of a GMMHMM state) as ellipses at ``sigmas``, over X coloured by
    decoded state when given.

    ``ax``: an Axes, or one per feature. Returns the Axes when one was
    drawn, the Figure when several.
    """
    weights, means, covs = _emission_parameters(model)
    k, m, d = means.shape
    Xf = None if X is None else _check_data(model, X, d)
    colors = _colors(k)
    if dims is not None:
        i, j = _check_dims(dims, d)
        sigmas = _check_sigmas(sigmas)
        ax = _axes(ax)
        pts = None
        if Xf is not None:
            rows = _subset(len(Xf), max_points)
            states = np.asarray(model.predict(X, lengths))[rows]
            pts = Xf[rows][:, [i, j]]
            ax.scatter(pts[:, 0], pts[:, 1], c=np.asarray(colors)[states], s=6, alpha=0.4,
                       linewidths=0)
        m2 = means[:, :, [i, j]].reshape(k * m, 2)
        c2 = covs[:, :, [i, j]][:, :, :, [i, j]].reshape(k * m, 2, 2)
        _draw_ellipses(ax, m2, c2, sigmas, np.repeat(np.asarray(colors), m, axis=0))
        lo, hi = _bounds(pts, m2, c2, margin=float(sigmas.max()))
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        ax.set_xlabel(_feature_label(model, i))
        ax.set_ylabel(_feature_label(model, j))
        ax.legend(handles=_state_handles(colors), fontsize="small")
        ax.set_title(f"{type(model).__name__}: state emissions")
        return ax
    cols = list(range(d)) if features is None else \
        [features] if np.isscalar(features) else list(features)
    if not cols or any(not isinstance(f, (int, np.integer)) or not 0 <= f < d for f in cols):
        raise ValueError(f"features must be feature indices in [0, {d}), got {features!r}")
    if ax is None:
        fig, axes = _pyplot().subplots(len(cols), 1, figsize=(7, 2.6 * len(cols)),
                                       squeeze=False)
        axes = list(axes[:, 0])
    else:
        axes = [ax] if not isinstance(ax, (tuple, list, np.ndarray)) else list(np.ravel(ax))
        if len(axes) != len(cols):
            raise ValueError(f"ax must hold one Axes per feature ({len(cols)}), got "
                             f"{len(axes)}")
        axes = [_axes(a) for a in axes]
    for a, f in zip(axes, cols):
        mu, var = means[:, :, f], covs[:, :, f, f]            # (K, M)
        sd = np.sqrt(var)
        lo, hi = (mu - 4 * sd).min(), (mu + 4 * sd).max()
        if Xf is not None:
            lo, hi = min(lo, Xf[:, f].min()), max(hi, Xf[:, f].max())
            a.hist(Xf[:, f], bins=50, density=True, color="0.8", label="data")
        x = np.linspace(lo, hi, resolution)
        z = (x[:, None, None] - mu) / sd
        dens = (weights * np.exp(-0.5 * z * z) / (sd * np.sqrt(2 * np.pi))).sum(axis=2)
        for s in range(k):
            a.plot(x, dens[:, s], color=colors[s], linewidth=1.5, label=f"state {s}")
        a.set_xlabel(_feature_label(model, f))
        a.set_ylabel("density")
        a.legend(fontsize="small")
    axes[0].set_title(f"{type(model).__name__}: state emission densities")
    return axes[0] if len(axes) == 1 else axes[0].figure
