"""A tiny dependency-free progress bar on stderr, for the command line.

:class:`Progress` draws ``desc [#######.........]  7/20  3.1 s`` (or, with no
known total, ``desc  3.1 s`` and a spinner) on one line of stderr, redrawn in
place with a carriage return by a daemon thread four times a second. It is
drawn only when it is *enabled* (see :func:`progress_enabled`: stderr is a
terminal, or forced) and only once the task has run for ``delay`` seconds
(1 s by default, 0 when forced), so short tasks print nothing. The line is
erased on exit, leaving stderr clean for what follows.

:class:`LineWatcher` is a write-only text stream that calls a function on
every complete line written to it: with :func:`contextlib.redirect_stdout`
it turns a library's ``verbose`` output (one line per epoch, alpha or fold)
into progress updates.
"""
import io
import os
import sys
import threading
import time

__all__ = ["Progress", "LineWatcher", "progress_enabled"]

_SPINNER = "|/-\\"


def progress_enabled(quiet=False, force=False, stream=None):
    """Whether a progress bar should be drawn on ``stream`` (default stderr).

    Never with ``quiet``; always with ``force`` or the environment variable
    ``FASTREG_PROGRESS=1``; never with ``FASTREG_PROGRESS=0``; otherwise only
    when ``stream`` is a terminal.
    """
    if quiet:
        return False
    env = os.environ.get("FASTREG_PROGRESS", "").strip()
    if force or env == "1":
        return True
    if env == "0":
        return False
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Progress:
    """Progress of ``total`` steps (or of an unknown amount of work), drawn on stderr.

    Parameters
    ----------
    total : int or None
        Number of steps; None shows the elapsed time and a spinner only.
    desc : str
        Short label written before the bar.
    enabled : bool
        Draw anything at all (see :func:`progress_enabled`). A disabled
        progress bar costs nothing and draws nothing; :meth:`write` still prints.
    delay : float or None
        Seconds before the first drawing; None means 1 s, or 0 when the bar
        is forced by ``FASTREG_PROGRESS=1`` or ``force``.
    stream : file or None
        Where to draw (default: ``sys.stderr`` as it is when the bar is
        created, so that a later redirection of stderr, e.g. by
        :class:`LineWatcher`, does not capture the bar).
    width : int
        Number of characters of the bar.

    Use as a context manager; :meth:`update`, :meth:`set` and :meth:`write`
    may be called from any thread.
    """

    def __init__(self, total=None, desc="", *, enabled=True, delay=None, stream=None,
                 width=30, force=False):
        self.total = total
        self.desc = desc
        self.enabled = enabled
        forced = force or os.environ.get("FASTREG_PROGRESS", "").strip() == "1"
        self.delay = (0.0 if forced else 1.0) if delay is None else float(delay)
        self.stream = sys.stderr if stream is None else stream
        self.width = width
        self.n = 0
        self._start = time.perf_counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self._drawn_len = 0
        self._tick = 0
        self._last_draw = -1.0

    # -- lifecycle --------------------------------------------------------------------
    def __enter__(self):
        self._start = time.perf_counter()
        if self.enabled:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        """Stop redrawing and erase the line."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            self._erase()

    def _run(self):
        while not self._stop.wait(0.25):
            self._draw()

    # -- updates ----------------------------------------------------------------------
    def update(self, n=1):
        """Advance by ``n`` steps."""
        self.set(self.n + n)

    def set(self, n, desc=None):
        """Set the number of steps done (and optionally the label); redraw."""
        self.n = n
        if desc is not None:
            self.desc = desc
        if time.perf_counter() - self._last_draw >= 0.1:   # at most 10 redraws a second
            self._draw()

    def write(self, line):
        """Print ``line`` on the stream above the bar (the bar is redrawn after)."""
        with self._lock:
            self._erase()
            self.stream.write(line.rstrip("\n") + "\n")
            self.stream.flush()
        self._draw()

    # -- drawing ----------------------------------------------------------------------
    def render(self):
        """The text of the bar, without carriage return."""
        elapsed = time.perf_counter() - self._start
        head = f"{self.desc} " if self.desc else ""
        if self.total:
            done = min(max(self.n / self.total, 0.0), 1.0)
            filled = int(round(done * self.width))
            bar = "#" * filled + "." * (self.width - filled)
            return f"{head}[{bar}] {self.n}/{self.total}  {elapsed:.1f} s"
        self._tick += 1
        return f"{head}{_SPINNER[self._tick % len(_SPINNER)]} {elapsed:.1f} s"

    def _draw(self):
        if not self.enabled or time.perf_counter() - self._start < self.delay:
            return
        with self._lock:
            if self._stop.is_set() and self._thread is None:
                return
            text = self.render()
            pad = max(self._drawn_len - len(text), 0)
            self.stream.write("\r" + text + " " * pad)
            self.stream.flush()
            self._drawn_len = len(text)
            self._last_draw = time.perf_counter()

    def _erase(self):
        if self._drawn_len:
            self.stream.write("\r" + " " * self._drawn_len + "\r")
            self.stream.flush()
            self._drawn_len = 0


class LineWatcher(io.TextIOBase):
    """A write-only text stream that calls ``callback(line)`` on each complete line.

    Parameters
    ----------
    callback : callable
        Called with each line (without its newline), in order.
    """

    def __init__(self, callback):
        super().__init__()
        self._callback = callback
        self._buffer = ""

    def writable(self):
        return True

    def write(self, text):
        self._buffer += text
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            self._callback(line)
        return len(text)

    def flush(self):
        pass
