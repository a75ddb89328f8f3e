"""Linear models of the lessons, and the step that turns a trained conv net into features.

The lessons' flow, line by line:

    # 1. linear regression: y = 2*x1 + 3*x2 + 1 from 30 noisy points
    model = linear_regression()                    # Sequential([Dense(1, input_shape=(2,))])
    model.compile(optimizer=SGD(lr=0.1), loss="mse")
    model.fit(x, y, epochs=5, batch_size=1)
    (w1, w2), b = model.get_weights()[0][:, 0], model.get_weights()[1][0]

    # 2. transfer learning: a conv net trained on digits 0-4 ...
    net = small_convnet(n_classes=5)
    net.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    net.fit(x_04, y_04, epochs=3)
    # ... frozen, its head popped: what is left maps an image to a feature vector
    extractor = feature_extractor(net)             # net.trainable = False; net.pop()
    features = extractor.predict(x_59)
    # ... and a softmax linear model on those features learns digits 5-9 from few labels
    clf = softmax_classifier(5, input_dim=features.shape[1])
    clf.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    clf.fit(features, y_59 - 5, epochs=100)

Everything here uses minigrad's public API only (minigrad.nn, the same as a user's script).
"""
from __future__ import annotations

from minigrad.nn import Conv2D, Dense, Dropout, Flatten, MaxPooling2D, Sequential

__all__ = ["linear_regression", "softmax_classifier", "small_convnet", "feature_extractor",
           "unfreeze_last"]


def linear_regression(n_features: int = 2, name: str | None = None) -> Sequential:
    """y = x @ w + b: one Dense unit, no activation (the lesson's Sequential([Dense(1, input_shape=(2,))])).

    Train it with loss="mse"; get_weights() gives [kernel (n_features, 1), bias (1,)].
    """
    return Sequential([Dense(1, input_shape=(n_features,))], name=name or "linear_regression")


def softmax_classifier(n_classes: int, input_dim: int | None = None, name: str | None = None) -> Sequential:
    """p(class | x) = softmax(x @ W + b): multinomial logistic regression, one Dense layer.

    input_dim   the number of features (inferred from the first batch when left out); for raw
                pixels, flatten images first (x.reshape(len(x), -1)).
    Train it with loss="sparse_categorical_crossentropy" on integer labels 0..n_classes-1.
    """
    shape = None if input_dim is None else (int(input_dim),)
    return Sequential([Dense(n_classes, activation="softmax", input_shape=shape)],
                      name=name or "softmax_classifier")


def small_convnet(n_classes: int = 10, input_shape=(1, 28, 28), filters=(16, 32), dropout: float = 0.5,
                  name: str | None = None) -> Sequential:
    """A small digit classifier, quick on a CPU: the base network of the transfer lesson.

        Conv2D(16, 3, relu) -> MaxPooling2D(2) -> Conv2D(32, 3, relu) -> MaxPooling2D(2)
        -> Flatten -> Dropout(0.5) -> Dense(n_classes, softmax)          (Keras' MNIST convnet,
                                                                          with half the filters)
    The last layer is the "head": feature_extractor() pops it, leaving an encoder from an
    image to 800 features (32 channels x 5 x 5). Dropout passes its input through unchanged
    in predict() and evaluate(), so it may stay in the extractor.
    """
    f1, f2 = filters
    return Sequential([
        Conv2D(f1, 3, activation="relu", input_shape=tuple(input_shape)),
        MaxPooling2D(2),
        Conv2D(f2, 3, activation="relu"),
        MaxPooling2D(2),
        Flatten(),
        Dropout(dropout),
        Dense(n_classes, activation="softmax"),
    ], name=name or "small_convnet")


def feature_extractor(model: Sequential, n_pop: int = 1) -> Sequential:
    """Freeze a trained Sequential model and pop its last `n_pop` layers (its head).

    The same model object is changed in place and returned, as in the Keras lesson:

        model.trainable = False      # no weight of it changes in later training
        model.pop()                  # the output is now the layer before the classifier

    What is left maps inputs to features: call extractor.predict(x), or stack a new head on
    it (Sequential([*extractor.layers, Dense(5, activation="softmax")])). As in Keras 2,
    freezing counts from the next compile() of whichever model trains these layers.
    Returns the extractor (the popped layers are dropped; pop them yourself to keep them).
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"feature_extractor: expected a Sequential model, got {type(model).__name__}")
    n_pop = int(n_pop)
    if not 0 <= n_pop < len(model.layers):
        raise ValueError(f"feature_extractor: cannot pop {n_pop} of the {len(model.layers)} layers of "
                         f"'{model.name}'; at least one layer must stay")
    model.trainable = False
    for _ in range(n_pop):
        model.pop()
    return model


def unfreeze_last(model, n_layers: int) -> list:
    """Make the last `n_layers` layers that have weights trainable again (for fine-tuning).

    Layers without weights (pooling, flatten, dropout) are not counted. Returns the layers
    unfrozen. Compile again afterwards (with a lower learning rate) for it to take effect.
    """
    with_weights = [layer for layer in model.layers if layer.weights]
    chosen = with_weights[len(with_weights) - int(n_layers):] if n_layers > 0 else []
    for layer in chosen:
        layer.trainable = True
    return chosen
