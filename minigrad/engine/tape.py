"""GradientTape: TensorFlow's spelling of "the gradient of this loss", for Keras lessons.

    with mg.GradientTape() as tape:          # tf.GradientTape() in the lesson
        z_mean, z_log_var, z = self.encoder(data)
        total_loss = ...
    grads = tape.gradient(total_loss, self.trainable_weights)
    self.optimizer.apply_gradients(zip(grads, self.trainable_weights))

minigrad records every op on tensors that require grad whether a tape is open or not, so the
tape records nothing itself: gradient(target, sources) is mg.grad(target, sources), which
walks the graph back from `target` without touching any .grad. As in TensorFlow, a source
the target does not depend on gets None, and a tape gives one gradient unless it was made
persistent=True.
"""
from __future__ import annotations

from .autograd import grad
from .tensor import Tensor


class GradientTape:
    """A context whose gradient(target, sources) is d target / d sources (see the module docstring)."""

    def __init__(self, persistent=False, watch_accessed_variables=True):
        if not watch_accessed_variables:
            raise TypeError("GradientTape(watch_accessed_variables=False) is not supported: minigrad "
                            "records every tensor that requires grad; leave it out")
        self.persistent = bool(persistent)
        self._used = False

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False

    def watch(self, tensor) -> None:
        """TensorFlow's watch(t): here t must require grad (mg.tensor(..., requires_grad=True))."""
        for t in tensor if isinstance(tensor, (list, tuple)) else [tensor]:
            if not (isinstance(t, Tensor) and t.requires_grad):
                raise TypeError(f"GradientTape.watch: minigrad differentiates tensors that require grad; "
                                f"make it one with mg.tensor(..., requires_grad=True), got {t!r}")

    def gradient(self, target, sources):
        """d target / d each source: a list (or one tensor, for one source); None where unused."""
        if self._used and not self.persistent:
            raise RuntimeError("GradientTape.gradient can be called once on a tape; make it with "
                               "GradientTape(persistent=True) to call it again")
        self._used = True
        single = isinstance(sources, Tensor)
        sources = [sources] if single else list(sources)
        grads = grad(target, sources, retain_graph=self.persistent, allow_unused=True)
        return grads[0] if single else list(grads)
