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

Lockstep restarts (optional): a model whose ``_em_lockstep(source,
n_init)`` says yes runs its restarts side by side. Every restart is
initialised first, in restart order (so each draws from ``random_state``
what it draws when they run one after another); then each iteration's
``_em_iterate_many(source, runs, params) -> (values, params)`` advances
every restart still running (one pass over the data for all of them;
``params[i]`` is restart i's ``_em_params()``) and a restart drops out
when it converges or reaches ``max_iter``. Each restart's EM depends only
on its own parameters, so histories, the chosen best and its parameters
are those of the sequential loop, provided the model's many-restart
E-step gives each restart the statistics its own E-step would. With a
reporter the restarts run one after another (it follows one restart at a
time).

Progress: ``with reporting(reporter):`` around a fit makes the driver
notify ``reporter`` (any object with the methods below; the command line
draws its progress bar from them) and models know nothing of it:
``restart(index, n_init, max_iter)`` before a restart's initialisation,
``initialised(index)`` after it, ``iteration(n, value)`` after each
iteration (its objective: the lower bound per sample of a mixture, the
total log-likelihood of an HMM) and ``restart_end(index, converged,
score)``. The reporter is context-local, so threads and other fits do not
see it.
"""
import contextlib
import contextvars

from .._threads import single_threaded_blas

_REPORTER = contextvars.ContextVar("gmscore_em_reporter", default=None)


@contextlib.contextmanager
def reporting(reporter):
    """Notify ``reporter`` of every EM fit run in this context (see above)."""
    token = _REPORTER.set(reporter)
    try:
        yield reporter
    finally:
        _REPORTER.reset(token)


def fit_em(model, source, n_init, max_iter, random_state):
    """Fit ``model`` on ``source``; returns the best restart's run."""
    saved = model._em_state()
    report = _REPORTER.get()
    try:
        # the kernels' BLAS at one thread (only it, where the kernels found
        # its thread count; see _threads): the kernels call it from their
        # threads, and the M-step's small triangular solves and factorisations
        # run far slower threaded (OpenBLAS threads a 16 x 16 trsm) while
        # the OpenMP threads spin between passes
        with single_threaded_blas():
            lockstep = getattr(model, "_em_lockstep", None)
            if (n_init > 1 and report is None and lockstep is not None
                    and lockstep(source, n_init)):
                best, best_params, histories = _lockstep(model, source, n_init, max_iter,
                                                         random_state)
                best.histories = histories
                model._em_adopt(best_params, best)
                return best
            best = best_params = None
            histories = []
            for index in range(n_init):
                if report is not None:
                    report.restart(index, n_init, max_iter)
                run = model._em_start(source, random_state, index)
                history = []
                histories.append(history)
                if report is not None:
                    report.initialised(index)
                for n in range(1, max_iter + 1):
                    value = model._em_iterate(source, run)
                    history.append(float(value))
                    run.record(value)
                    if report is not None:
                        report.iteration(n, value)
                    if run.converged:
                        break
                model._em_end(run)
                if report is not None:
                    report.restart_end(index, bool(run.converged), run.score)
                if best is None or run.score > best.score:
                    best, best_params = run, model._em_params()
            best.histories = histories
            model._em_adopt(best_params, best)
        return best
    except BaseException:
        model._em_restore(saved)
        raise


def _lockstep(model, source, n_init, max_iter, random_state):
    """The restarts side by side (see the module docstring); returns the
    best run, its parameters and every restart's history."""
    runs, params = [], []
    for index in range(n_init):
        runs.append(model._em_start(source, random_state, index))
        params.append(model._em_params())
    histories = [[] for _ in runs]
    active = list(range(n_init))
    for _ in range(max_iter):
        if not active:
            break
        values, new = model._em_iterate_many(source, [runs[i] for i in active],
                                             [params[i] for i in active])
        for i, value, p in zip(active, values, new):
            params[i] = p
            histories[i].append(float(value))
            runs[i].record(value)
        active = [i for i in active if not runs[i].converged]
    best = best_params = None
    for run, p in zip(runs, params):
        model._em_end(run)
        if best is None or run.score > best.score:
            best, best_params = run, p
    return best, best_params, histories


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
