"""The old import path of Keras' weight files: they live in minigrad/nn/saving/keras_h5.py."""
from ..nn.saving.keras_h5 import (keras_layer_order, keras_leaves, load_keras_weights,  # noqa: F401
                                  save_keras3_weights, save_keras_weights)
