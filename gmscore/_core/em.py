"""The one EM driver of every model: restarts, best-of selection, the
family's convergence policy, restore on failure, BLAS pinning.

A model supplies the hooks (scikit-learn's BaseMixture and hmmlearn's
BaseHMM have the same shape):

- ``_em_start(source, random_state, index) -> run``: initialise (or keep
  the parameters, for a warm start) and return the restart's ``run``,
  whose ``record(value)`` takes one iteration's objective, whose
  ``converged`` says when to stop and whose ``score`` ranks restarts;
- ``_em_iterate(source, run) -> value``: one E-step (statistics from the
  current parameters) and M-step (parameters from the statistics);
- ``_em_end(run)``: the restart is over (verbose output);
- ``_em_params()`` / ``_em_adopt(params, run)``: copy out the fitted
  parameters, and install the best restart's (``run.histories`` then
  holds every restart's objective per iteration, in restart order, for
  convergence plots);
- ``_em_state()`` / ``_em_restore(state)``: everything a fit may change
  (``model_state``), so that a failed fit leaves the model exactly as it
  was.
"""
from .._threads import single_threaded_blas


def fit_em(model, source, n_init, max_iter, random_state):
    """Fit ``model`` on ``source``; returns the best restart's run."""
    saved = model._em_state()
    try:
        # the kernels' BLAS at one thread (only it, where the kernels found
        # its thread count; see _threads): the kernels call it from their
        # threads, and the M-step's small triangular solves and factorisations
        # run far slower threaded (OpenBLAS threads a 16 x 16 trsm) while
        # the OpenMP threads spin between passes
        with single_threaded_blas():
            best = best_params = None
            histories = []
            for index in range(n_init):
                run = model._em_start(source, random_state, index)
                history = []
                histories.append(history)
                for _ in range(max_iter):
                    value = model._em_iterate(source, run)
                    history.append(float(value))
                    run.record(value)
                    if run.converged:
                        break
                model._em_end(run)
                if best is None or run.score > best.score:
                    best, best_params = run, model._em_params()
            best.histories = histories
            model._em_adopt(best_params, best)
        return best
    except BaseException:
        model._em_restore(saved)
        raise


class RestoresOnFailure:
    """The ``_em_state`` / ``_em_restore`` hooks every model uses: all of
    its attributes, put back exactly after a failed fit."""

    def _em_state(self):
        return model_state(self)

    def _em_restore(self, state):
        restore_model_state(self, state)


def model_state(model):
    """Every attribute of ``model`` (a shallow copy: fits replace arrays,
    they never write into them), for ``_em_state``."""
    return dict(vars(model))


def restore_model_state(model, state):
    """Put back what model_state copied, dropping anything added since."""
    vars(model).clear()
    vars(model).update(state)
