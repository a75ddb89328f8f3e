"""Embedding (integer ids -> learned vectors) and the masks that mark padding.

    Embedding(input_dim=10000, output_dim=32, mask_zero=True)
      ids (batch, time) int -> vectors (batch, time, 32); table `embeddings` (10000, 32)

Masking, Keras-style: with mask_zero=True, id 0 means "padding, not a word". The layer's
output then carries a boolean mask (batch, time), True where there is a real token, and
the recurrent layers and GlobalAveragePooling1D that receive it skip the padded steps.
minigrad has no mask slot on tensors, so the mask is remembered beside the output tensor
(mask_of(t), kept in module.py); layers that keep the time axis as it is (Dropout,
Activation, Dense, BatchNormalization, ...: `supports_masking = True`) hand it on to their
output, as Keras' do.
"""
from __future__ import annotations

from ..engine import backend
from ..engine.ops.embedding import embedding_lookup
from ..engine.tensor import Tensor
from . import initializers
from .module import Module, _as_shape, attach_mask, mask_of  # noqa: F401  (attach_mask, mask_of: nn.embedding's names, as before)


class Embedding(Module):
    """Turns integer ids into dense vectors: out[b, t] = embeddings[ids[b, t]].

    Embedding(input_dim, output_dim, mask_zero=False, input_length=None, input_shape=None,
              embeddings_initializer="uniform")
      input_dim   vocabulary size: ids run 0..input_dim-1
      output_dim  length of each vector
      mask_zero   id 0 is padding: the output carries a mask (see module docstring), and
                  input_dim must count the 0 (vocabulary + 1), as in Keras
    The table is initialised uniform in [-0.05, 0.05] as Keras does. Its gradient is a
    scatter-add (minigrad/ops/embedding.py): rows of ids used several times add up.
    Ids may have any shape; float ids are an error (they are not silently truncated).
    """
    accepts_integer_input = True      # fit/predict keep this layer's inputs as integers

    def __init__(self, input_dim, output_dim, mask_zero=False, input_length=None, input_shape=None,
                 embeddings_initializer="uniform", name=None, trainable=True):
        if input_shape is None and input_length is not None:
            input_shape = (input_length,)
        super().__init__(name=name, input_shape=input_shape, trainable=trainable)
        for what, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if int(value) != value or int(value) < 1:
                raise ValueError(f"Embedding: {what} must be a positive integer, got {value!r}")
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.mask_zero = bool(mask_zero)
        self.embeddings_initializer = initializers.check(embeddings_initializer, "Embedding",
                                                         "embeddings_initializer")

    def __call__(self, ids, *args, **kwargs):
        # Module.__call__ turns arrays into float tensors of the layer's dtype; ids must stay
        # integers, so arrays and lists become integer tensors here first.
        if not isinstance(ids, Tensor):
            host = backend.np.asarray(ids)
            if host.dtype.kind in "iub":
                ids = Tensor(host, device=self.device)
        return super().__call__(ids, *args, **kwargs)

    def build(self, input_shape):
        self.embeddings = self.add_weight((self.input_dim, self.output_dim), self.embeddings_initializer)

    def compute_output_shape(self, input_shape):
        return _as_shape(input_shape) + (self.output_dim,)

    def compute_mask(self, ids):
        """True where ids != 0 (with mask_zero), else None."""
        if not self.mask_zero:
            return None
        data = ids.data if isinstance(ids, Tensor) else backend.asarray(backend.np.asarray(ids),
                                                                         device=self.device)
        return Tensor._make(data != 0)

    def forward(self, ids):
        out = embedding_lookup(self.embeddings, ids, op=f"Embedding layer '{self.name}'")
        return attach_mask(out, self.compute_mask(ids))

    def __repr__(self):
        return (f"Embedding({self.input_dim}, {self.output_dim}, mask_zero={self.mask_zero}, "
                f"name='{self.name}')")
