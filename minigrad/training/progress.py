"""Per-epoch progress display for fit() and evaluate(): tqdm when installed, else a text bar.

    Epoch 3/10
    8/8 [==============================] - 0.1s - loss: 0.3412 - accuracy: 0.8750
"""
from __future__ import annotations

import sys
import time


def format_values(values: dict) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in values.items())


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class ProgressBar:
    """ProgressBar(steps, verbose): update(step, values) after each batch, close(values) at the end.

    verbose=0 shows nothing, 1 a bar that redraws in place, 2 one line per epoch.
    """

    width = 30

    def __init__(self, steps: int, verbose: int = 1, stream=None):
        self.steps, self.verbose = max(int(steps), 1), int(verbose)
        self.stream = stream or sys.stdout
        if self.verbose == 1 and not _is_terminal(self.stream):
            self.verbose = 2             # a log file gets one line per epoch, not redraws
        self.start = self._last_draw = time.perf_counter()
        self._tqdm = None
        if self.verbose == 1:
            try:
                from tqdm.auto import tqdm
                self._tqdm = tqdm(total=self.steps, file=self.stream, leave=True, unit="batch",
                                  dynamic_ncols=True)
            except ImportError:
                pass

    def update(self, step: int, values: dict) -> None:
        if self.verbose != 1:
            return
        if self._tqdm is not None:
            self._tqdm.set_postfix({k: f"{v:.4f}" for k, v in values.items()}, refresh=False)
            self._tqdm.update(step - self._tqdm.n)
            return
        now = time.perf_counter()
        if step < self.steps and now - self._last_draw < 0.1:      # redraw at most 10x a second
            return
        self._last_draw = now
        self._draw(self._line(step, values))
        self.stream.flush()

    def close(self, values: dict) -> None:
        if self.verbose == 0:
            return
        if self._tqdm is not None:
            self._tqdm.set_postfix({k: f"{v:.4f}" for k, v in values.items()}, refresh=False)
            self._tqdm.update(self.steps - self._tqdm.n)
            self._tqdm.close()
            return
        if self.verbose == 1:
            self._draw(self._line(self.steps, values))
        else:
            self.stream.write(self._line(self.steps, values))
        self.stream.write("\n")
        self.stream.flush()

    _drawn = 0

    def _draw(self, text: str) -> None:
        """Overwrite the current line (padding with spaces where the old one was longer)."""
        self.stream.write("\r" + text + " " * max(self._drawn - len(text), 0))
        self._drawn = len(text)
        self.stream.flush()

    def _line(self, step: int, values: dict) -> str:
        done = int(self.width * step / self.steps)
        bar = "=" * done + (">" if done < self.width else "") + "." * max(self.width - done - 1, 0)
        digits = len(str(self.steps))
        text = f"{step:>{digits}}/{self.steps} [{bar}] - {time.perf_counter() - self.start:.1f}s"
        return text + (" - " + format_values(values) if values else "")
