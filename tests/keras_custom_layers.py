"""The custom layer of the Keras fixtures, minigrad's side (tests/fixtures/keras/make_fixtures.py
writes the same layer in Keras): registered under the same name, so the files name it alike.
Shared by tests/test_saving_models.py and tests/fixtures/keras/write_minigrad_models.py."""
from minigrad import nn


@nn.register_keras_serializable(package="minigrad_fixtures")
class ScaleLayer(nn.Layer):
    """y = x * scale * factor, written the Keras way (build, call, get_config)."""

    def __init__(self, factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")

    def call(self, x):
        return x * self.scale * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}
