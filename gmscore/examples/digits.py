"""Handwritten digits: clustering with a GaussianMixture, classification
with a GaussianMixtureClassifier.

The data is scikit-learn's bundled ``load_digits``: 1,797 images of 8 x 8
pixels (grey levels 0-16, 64 features) of the digits 0-9 (no download).

1. Clustering, without the labels: the images are centred and projected
   on their first 20 principal axes (numpy's SVD), a full-covariance
   ``GaussianMixture`` with 10 components is fitted, and its clusters are
   compared with the true digits: adjusted Rand index, and accuracy after
   matching clusters to digits one-to-one (the Hungarian algorithm,
   ``scipy.optimize.linear_sum_assignment``).
2. Classification: a stratified 75/25 train/test split;
   ``GaussianMixtureClassifier`` fits one full-covariance Gaussian per
   digit on the 64 raw pixels (``reg_covar=1.0`` regularises the pixels
   that are nearly constant within a digit) and predicts the test images
   by Bayes' rule; its test accuracy is printed.

``--out means.png`` saves the cluster means as images (mapped back from
the principal axes), each titled with the digit it was matched to.

Run ``python -m gmscore.examples.digits --out means.png`` (``--quick``:
one initialisation of the clustering instead of 3). ``main`` returns the
figures as a dict.
"""
import numpy as np

from ._script import parse_run_options, save_figure

N_AXES = 20


def load():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X.astype(np.float64), y


def principal_axes(X, n_axes=N_AXES):
    """(centre, axes of shape (n_axes, n_features)): the first principal
    axes of X, by SVD of the centred data."""
    centre = X.mean(axis=0)
    _, _, vt = np.linalg.svd(X - centre, full_matrices=False)
    return centre, vt[:n_axes]


def match_clusters(labels, y, n_clusters):
    """(accuracy, digit of each cluster) of the one-to-one matching of
    clusters to digits that agrees on most images."""
    from scipy.optimize import linear_sum_assignment

    counts = np.zeros((n_clusters, int(y.max()) + 1))
    np.add.at(counts, (labels, y), 1)
    rows, cols = linear_sum_assignment(-counts)
    digit = np.full(n_clusters, -1)
    digit[rows] = cols
    return counts[rows, cols].sum() / len(y), digit


def cluster(X, y, n_init=3, random_state=0):
    from sklearn.metrics import adjusted_rand_score

    from gmscore import GaussianMixture

    centre, axes = principal_axes(X)
    Z = (X - centre) @ axes.T
    model = GaussianMixture(10, covariance_type="full", reg_covar=1e-3, n_init=n_init,
                            random_state=random_state).fit(Z)
    labels = model.predict(Z)
    accuracy, digit = match_clusters(labels, y, 10)
    return {"model": model, "centre": centre, "axes": axes, "labels": labels,
            "adjusted_rand": float(adjusted_rand_score(y, labels)),
            "cluster_accuracy": float(accuracy), "cluster_digit": digit}


def classify(X, y, random_state=0):
    from sklearn.model_selection import train_test_split

    from gmscore import GaussianMixtureClassifier

    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                        random_state=random_state)
    clf = GaussianMixtureClassifier(n_components=1, covariance_type="full", reg_covar=1.0,
                                    random_state=random_state).fit(X_train, y_train)
    return {"classifier": clf, "n_train": len(X_train), "n_test": len(X_test),
            "test_accuracy": float(clf.score(X_test, y_test))}


def save_means(clusters, path):
    import matplotlib.pyplot as plt

    model = clusters["model"]
    images = clusters["centre"] + model.means_ @ clusters["axes"]
    fig, axes = plt.subplots(1, 10, figsize=(12, 1.8))
    for k, ax in enumerate(axes):
        ax.imshow(images[k].reshape(8, 8), cmap="gray_r", vmin=0, vmax=16)
        ax.set_title(f"{clusters['cluster_digit'][k]} ({model.weights_[k]:.0%})",
                     fontsize="small")
        ax.set_axis_off()
    fig.suptitle("GaussianMixture cluster means (matched digit, weight)", fontsize="medium")
    save_figure(fig, path, dpi=70)


def run(n_init=3, random_state=0, out=None, show=True):
    X, y = load()
    clusters = cluster(X, y, n_init=n_init, random_state=random_state)
    classes = classify(X, y, random_state=random_state)
    result = {k: v for k, v in clusters.items() if k in ("adjusted_rand", "cluster_accuracy",
                                                          "cluster_digit")}
    result.update({k: v for k, v in classes.items() if k != "classifier"})
    result["n_images"] = len(X)
    if show:
        print(f"{len(X)} digit images, 64 pixels each")
        print(f"clustering (10 components, full covariances, {N_AXES} principal axes): "
              f"adjusted Rand index {result['adjusted_rand']:.3f}, accuracy of the matched "
              f"clusters {result['cluster_accuracy']:.3f}")
        print(f"classification (one full-covariance Gaussian per digit, {result['n_train']} "
              f"training images): test accuracy {result['test_accuracy']:.3f} on "
              f"{result['n_test']} images")
    if out is not None:
        save_means(clusters, out)
        if show:
            print(f"cluster means written to {out}")
    return result


def main(argv=None):
    return run(**parse_run_options(__doc__, argv, n_init=3, quick_n_init=1,
                                   n_init_help="clustering initialisations",
                                   quick_help="one clustering initialisation",
                                   out_help="PNG path for the cluster means"))


if __name__ == "__main__":
    main()
