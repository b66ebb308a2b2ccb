"""Business-cycle regimes of the US economy with a 2-state GaussianHMM.

The data is statsmodels' bundled ``macrodata`` (US quarterly series
1959Q1-2009Q3, no download; ``pip install 'gmscore[examples]'``). Each
quarter is described by two numbers: the annualised growth of real GDP
(400 x the change of its log, in %) and the change of the unemployment
rate (percentage points). A 2-state ``GaussianHMM`` with diagonal
covariances, fitted by Baum-Welch from 10 restarts, finds an "expansion"
state (growth about 4%, unemployment falling) and a "recession" state
(growth below zero, unemployment rising), as Hamilton's (1989) Markov-
switching model does for GNP.

No dates go into the fit. Afterwards the decoded recession quarters are
compared with the NBER business-cycle dating committee's recessions
(``NBER_RECESSIONS``: the quarters after each peak up to its trough) and
the agreement printed: the share of NBER recession quarters found
(recall), the share of decoded recession quarters that are NBER ones
(precision), and the share of all quarters classified alike (accuracy).

``--out states.png`` saves ``gmscore.plot.plot_states`` of the two series:
decoded states as coloured bands, the state posteriors beneath, years on
the x axis.

Run ``python -m gmscore.examples.regimes --out regimes.png``
(``--quick``: 3 restarts instead of 10). ``main`` returns the figures as
a dict.
"""
import numpy as np

from ._script import parse_run_options, save_figure

# NBER recessions within 1959-2009, as (peak, trough) quarters
# (https://www.nber.org/research/data/us-business-cycle-expansions-and-contractions)
NBER_RECESSIONS = [((1960, 2), (1961, 1)), ((1969, 4), (1970, 4)), ((1973, 4), (1975, 1)),
                   ((1980, 1), (1980, 3)), ((1981, 3), (1982, 4)), ((1990, 3), (1991, 1)),
                   ((2001, 1), (2001, 4)), ((2007, 4), (2009, 2))]
FEATURES = ("real GDP growth (% a year)", "change in unemployment (points)")


def load_quarters():
    """(X, years, quarters): X a pandas DataFrame of the two features of
    every quarter from 1959Q2 on (one is lost to differencing); its column
    names become the model's feature_names_in_ and the plot's labels."""
    import pandas as pd
    from statsmodels.datasets import macrodata

    data = macrodata.load_pandas().data
    X = pd.DataFrame({FEATURES[0]: 400.0 * np.diff(np.log(data["realgdp"].to_numpy())),
                      FEATURES[1]: np.diff(data["unemp"].to_numpy())})
    years = data["year"].to_numpy().astype(int)[1:]
    quarters = data["quarter"].to_numpy().astype(int)[1:]
    return X, years, quarters


def nber_mask(years, quarters):
    """True for the quarters in an NBER recession (after its peak quarter,
    up to and including its trough quarter)."""
    index = years * 4 + quarters - 1
    mask = np.zeros(len(index), dtype=bool)
    for (py, pq), (ty, tq) in NBER_RECESSIONS:
        mask |= (index > py * 4 + pq - 1) & (index <= ty * 4 + tq - 1)
    return mask


def fit(X, n_init=10, random_state=0):
    from gmscore import GaussianHMM

    return GaussianHMM(2, covariance_type="diag", n_iter=500, tol=1e-6, n_init=n_init,
                       random_state=random_state).fit(X)


def save_state_plot(model, X, years, quarters, path):
    from gmscore.plot import plot_states

    fig = plot_states(model, X)
    top, bottom = fig.axes[:2]
    ticks = np.flatnonzero((quarters == 1) & (years % 10 == 0))
    bottom.set_xticks(ticks)
    bottom.set_xticklabels([str(y) for y in years[ticks]])
    bottom.set_xlabel("year")
    top.set_title("US business-cycle regimes (GaussianHMM, 2 states)")
    save_figure(fig, path, dpi=80)


def run(n_init=10, random_state=0, out=None, show=True):
    X, years, quarters = load_quarters()
    model = fit(X, n_init=n_init, random_state=random_state)
    states = model.predict(X)
    recession_state = int(np.argmin(model.means_[:, 0]))
    decoded = states == recession_state
    nber = nber_mask(years, quarters)
    both = int((decoded & nber).sum())
    result = {
        "n_quarters": len(X),
        "log_likelihood": float(model.score(X)),
        "recession_state": recession_state,
        "means": np.array(model.means_),
        "transmat": model.transmat_.copy(),
        "expected_duration": 1.0 / (1.0 - np.diag(model.transmat_)),
        "recall": both / max(int(nber.sum()), 1),
        "precision": both / max(int(decoded.sum()), 1),
        "accuracy": float((decoded == nber).mean()),
        "decoded": decoded,
    }
    if show:
        print(f"{len(X)} quarters {years[0]}Q{quarters[0]}-{years[-1]}Q{quarters[-1]}, "
              f"log-likelihood {result['log_likelihood']:.2f}")
        for k in range(2):
            name = "recession" if k == recession_state else "expansion"
            print(f"state {k} ({name}): GDP growth {model.means_[k, 0]:+.2f}% a year, "
                  f"unemployment {model.means_[k, 1]:+.2f} points a quarter, expected "
                  f"duration {result['expected_duration'][k]:.1f} quarters")
        print(f"against NBER recessions: recall {result['recall']:.3f}, precision "
              f"{result['precision']:.3f}, accuracy {result['accuracy']:.3f}")
    if out is not None:
        save_state_plot(model, X, years, quarters, out)
        if show:
            print(f"state plot written to {out}")
    return result


def main(argv=None):
    return run(**parse_run_options(__doc__, argv, n_init=10, quick_n_init=3,
                                   n_init_help="Baum-Welch restarts",
                                   quick_help="3 restarts",
                                   out_help="PNG path for the state plot"))


if __name__ == "__main__":
    main()
