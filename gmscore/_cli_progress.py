"""Progress of the command line's fits, drawn from the EM driver's
reporter hook (gmscore._core.em.reporting): a bar per restart on stderr
(initialisation, then iterations with the current log-likelihood and its
change), a line per restart, or with ``--verbose`` a line per iteration.

The bar is tqdm's when tqdm is installed (``pip install 'gmscore[cli]'``:
small, pure Python, well kept, and it handles terminal widths, rates and
redraws) and a one-line status rewritten with a carriage return otherwise.
No bar is drawn when stderr is not a terminal or with ``--quiet``.
"""
import sys
import time

# Least seconds between two redraws of a tqdm bar.
MIN_INTERVAL = 0.1


def _tqdm():
    """tqdm's class, or None when it is not installed."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


class _LineBar:
    """The fallback bar: ``desc [n/total] postfix`` on one rewritten line."""

    def __init__(self, total, desc, file):
        self.total, self.desc, self.file = total, desc, file
        self.n, self.postfix, self._width = 0, "", 0
        self._draw()

    def _draw(self):
        text = f"{self.desc} [{self.n}/{self.total}] {self.postfix}".rstrip()
        self.file.write("\r" + text.ljust(self._width))
        self.file.flush()
        self._width = len(text)

    def set_description(self, desc):
        self.desc = desc
        self._draw()

    def set_postfix_str(self, text, refresh=True):
        self.postfix = text
        if refresh:
            self._draw()

    def update(self, n=1):
        self.n += n
        self._draw()

    def close(self):
        self.file.write("\r" + " " * self._width + "\r")
        self.file.flush()


def _open_bar(total, desc, file):
    tqdm = _tqdm()
    if tqdm is None:
        return _LineBar(total, desc, file)
    return tqdm(total=total, desc=desc, file=file, leave=False, unit="it",
                dynamic_ncols=True, mininterval=MIN_INTERVAL)


class FitProgress:
    """The EM driver's reporter for one command: ``mode`` is 'bar' (a bar
    per restart and a line when it ends) or 'lines' (``--verbose``: a line
    per step and per iteration)."""

    def __init__(self, file, mode, what):
        self.file, self.mode, self.what = file, mode, what
        self.bar = None
        self.prev = None

    def _line(self, text):
        if self.bar is not None and hasattr(self.bar, "clear"):
            self.bar.clear()
        print(text, file=self.file, flush=True)

    def _name(self, index):
        return f"restart {index + 1}/{self.n_init}" if self.n_init > 1 else "fit"

    def restart(self, index, n_init, max_iter):
        self.n_init, self.prev, self.t0 = n_init, None, time.perf_counter()
        desc = f"{self._name(index)}: initialising"
        if self.mode == "bar":
            self.bar = _open_bar(max_iter, desc, self.file)
        else:
            self._line(desc)

    def initialised(self, index):
        text = f"{self._name(index)}: initialised in {time.perf_counter() - self.t0:.3g} s"
        if self.bar is not None:
            self.bar.set_description(f"{self._name(index)}: EM")
        else:
            self._line(text)

    def iteration(self, n, value):
        change = "" if self.prev is None else f" ({value - self.prev:+.3e})"
        self.prev = value
        if self.bar is not None:
            self.bar.set_postfix_str(f"{self.what} {value:.8g}{change}", refresh=False)
            self.bar.update(1)
        else:
            self._line(f"  iteration {n}: {self.what} {value:.10g}{change}")

    def restart_end(self, index, converged, score):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        self._line(f"{self._name(index)}: {'converged' if converged else 'not converged'}, "
                   f"{self.what} {score:.10g}, {time.perf_counter() - self.t0:.3g} s")


    def close(self):
        """Clear a bar left open (the fit failed or was interrupted)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class CountProgress:
    """A reporter that counts whole fits (``select``: one bar over the grid;
    each fit's iterations show as the postfix)."""

    def __init__(self, file, total, desc):
        self.bar = _open_bar(total, desc, file)

    def restart(self, index, n_init, max_iter):
        pass

    def initialised(self, index):
        pass

    def iteration(self, n, value):
        self.bar.set_postfix_str(f"iteration {n}")

    def restart_end(self, index, converged, score):
        self.bar.update(1)

    def close(self):
        self.bar.close()


def progress_mode(args, file=None):
    """'lines' (--verbose), 'bar' (a terminal), or None (--quiet, or not a
    terminal)."""
    file = sys.stderr if file is None else file
    if getattr(args, "quiet", False):
        return None
    if getattr(args, "verbose", False):
        return "lines"
    isatty = getattr(file, "isatty", None)
    return "bar" if isatty is not None and isatty() else None


def fit_progress(args, what):
    """The reporter of ``gmscore fit`` (None: no progress); ``what`` names
    the value of each iteration."""
    mode = progress_mode(args)
    return None if mode is None else FitProgress(sys.stderr, mode, what)
