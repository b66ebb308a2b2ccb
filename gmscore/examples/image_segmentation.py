"""Colour segmentation of a photograph with a GaussianMixture.

The photograph is scikit-learn's bundled sample image ``china.jpg`` (a
427 x 640 view of a Chinese temple; ``sklearn.datasets.load_sample_image``
reads it with pillow, which matplotlib depends on; no download). Each of
its 273,280 pixels is a point in RGB space (scaled to [0, 1]); a
full-covariance ``GaussianMixture`` with 8 components is fitted to all of
them, every pixel is assigned to its most probable component
(``predict``), and the segmented image paints each pixel with its
component's mean colour.

Printed: the fit (pixels, iterations, time, mean log-likelihood per
pixel), the segments' sizes and colours, and the root-mean-square colour
error of the segmented image against the photograph (0-255 scale) next to
that of a one-colour image (the spread of the photograph's colours).

``--out segments.png`` saves the photograph, the segmented image and the
pixel colours with the components' 1, 2 and 3 sigma ellipses
(``gmscore.plot.plot_mixture`` on the first two principal axes of the
colours) side by side.

Run ``python -m gmscore.examples.image_segmentation --out segments.png``
(``--quick``: every 4th row and column, 17,120 pixels; ``--components``,
``--covariance-type``). ``main`` returns the figures as a dict.
"""
import argparse
import time

import numpy as np


def load_pixels(step=1):
    """(image of shape (rows, columns, 3) as float64 in [0, 1], pixels of
    shape (rows * columns, 3)), every ``step``-th row and column."""
    from sklearn.datasets import load_sample_image

    image = load_sample_image("china.jpg")[::step, ::step].astype(np.float64) / 255.0
    return image, image.reshape(-1, 3)


def segment(pixels, n_components=8, covariance_type="full", random_state=0):
    """The fitted mixture and each pixel's component."""
    from gmscore import GaussianMixture

    model = GaussianMixture(n_components, covariance_type=covariance_type, max_iter=200,
                            random_state=random_state).fit(pixels)
    return model, model.predict(pixels)


def save_figure(model, image, pixels, labels, path):
    import matplotlib.pyplot as plt

    from gmscore.plot import plot_mixture

    fig, axes = plt.subplots(1, 3, figsize=(17, 4.6))
    axes[0].imshow(image)
    axes[0].set_title("china.jpg")
    segmented = np.clip(model.means_[labels], 0.0, 1.0).reshape(image.shape)
    axes[1].imshow(segmented)
    axes[1].set_title(f"{model.n_components} segments (each pixel: its component's mean)")
    for ax in axes[:2]:
        ax.set_axis_off()
    plot_mixture(model, pixels, projection="pca", max_points=5000, ax=axes[2])
    axes[2].set_title("pixel colours (PCA of RGB), 1/2/3 sigma")
    fig.tight_layout()
    fig.savefig(path, dpi=70)
    plt.close(fig)


def run(step=1, n_components=8, covariance_type="full", random_state=0, out=None, show=True):
    image, pixels = load_pixels(step)
    t0 = time.perf_counter()
    model, labels = segment(pixels, n_components, covariance_type, random_state)
    elapsed = time.perf_counter() - t0
    segmented = model.means_[labels]
    result = {
        "n_pixels": len(pixels),
        "n_iter": int(model.n_iter_),
        "converged": bool(model.converged_),
        "fit_time_s": elapsed,
        "log_likelihood_per_pixel": float(model.score(pixels)),
        "segment_sizes": np.bincount(labels, minlength=n_components),
        "rmse": 255.0 * float(np.sqrt(((segmented - pixels) ** 2).mean())),
        "rmse_one_colour": 255.0 * float(np.sqrt(pixels.var(axis=0).mean())),
    }
    if show:
        print(f"{result['n_pixels']} pixels ({image.shape[0]} x {image.shape[1]}), "
              f"{n_components} components ({covariance_type}): {result['n_iter']} EM "
              f"iterations in {elapsed:.2f} s, converged={result['converged']}, "
              f"log-likelihood {result['log_likelihood_per_pixel']:.3f} per pixel")
        order = np.argsort(-result["segment_sizes"])
        for k in order:
            r, g, b = np.clip(255 * model.means_[k], 0, 255).round().astype(int)
            print(f"  segment {k}: {result['segment_sizes'][k] / len(pixels):6.1%} of the "
                  f"pixels, mean colour #{r:02x}{g:02x}{b:02x}")
        print(f"RMS colour error of the segmented image: {result['rmse']:.1f} (0-255; one "
              f"colour: {result['rmse_one_colour']:.1f})")
    if out is not None:
        save_figure(model, image, pixels, labels, out)
        if show:
            print(f"figure written to {out}")
    return result


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--components", type=int, default=8)
    p.add_argument("--covariance-type", default="full",
                   choices=("full", "tied", "diag", "spherical"))
    p.add_argument("--step", type=int, default=1, help="use every step-th row and column")
    p.add_argument("--quick", action="store_true", help="--step 4 (17,120 pixels)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="PNG path for the figure")
    a = p.parse_args(argv)
    if a.step < 1:
        p.error("--step must be at least 1")
    return run(step=4 if a.quick else a.step, n_components=a.components,
               covariance_type=a.covariance_type, random_state=a.seed, out=a.out)


if __name__ == "__main__":
    main()
