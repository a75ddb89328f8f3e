"""minigrad.nn: Keras-style layers and models on minigrad's autograd (NCHW, float32 by default).

    from minigrad.nn import Sequential, Dense, Conv2D, Flatten
    model = Sequential([Conv2D(8, 3, activation="relu", input_shape=(1, 28, 28)),
                        Flatten(), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=3)

Files, in reading order:
    module.py        Parameter, Module (parameters, train/eval, trainable, size inference, add_loss)
    layer.py         Layer: the Keras-style base for custom layers (call, full shapes)
    graph.py         the functional API: layer calls on symbolic tensors, the model's graph
    merge.py         Add, Concatenate, ... (and add, concatenate, ...)
    data_format.py   channels_first / channels_last for image layers
    initializers.py  Keras' Glorot-uniform / zeros / ones, seeded by mg.manual_seed
    activations.py   activation functions by Keras name
    layers.py        Dense, BatchNormalization, Dropout, LeakyReLU, Activation, Flatten, Reshape, Input
    conv_layers.py   Conv2D, Conv2DTranspose, MaxPooling2D, UpSampling2D, ZeroPadding2D
    trainer.py       Trainer: compile, fit/evaluate/predict and the steps they call (train_step,
                     test_step, predict_step, compute_loss, compute_metrics), which a model may override
    compile_utils.py the compiled loss and metrics, per output
    model.py         Model = Trainer + Module: functional or subclassed; summary, save_weights/load_weights
    sequential.py    Sequential: a stack of layers with add/pop
    data_adapter.py  arrays, lists/dicts of arrays, generators of batches
    preprocessing.py RandomTranslation, RandomRotation, RandomZoom, RandomFlip, Rescaling (augmentation)
    separable.py     DepthwiseConv2D, SeparableConv2D (grouped convolution)
    metrics.py       metrics
    weights.py       a model's weights as records (get_weights/set_weights and every file share it)
    saving/, serialization.py, models.py   model files (.npz, Keras' .weights.h5/.h5/.keras),
                     configs, to_json/model_from_json, clone_model, load_model
Callbacks, regularizers and the progress bar live in minigrad/training/ (also nn.callbacks,
nn.regularizers).
"""
from ..training import callbacks, regularizers
from . import metrics
from .conv_layers import Conv2D, Conv2DTranspose, MaxPooling2D, UpSampling2D, ZeroPadding2D
from .data_format import image_data_format, set_image_data_format
from .layer import Layer
from .layers import frozen_batch_norm_mode, set_frozen_batch_norm_mode
from .layers import (Activation, BatchNormalization, Dense, Dropout, Flatten, Input, InputLayer, Lambda,
                     LeakyReLU, Reshape)
from .layers import Softmax
from .conv_layers import Convolution2D
from . import utils
from .utils import clear_session, image_dataset_from_directory, to_categorical
from .merge import (Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract, add, average,
                    concatenate, maximum, minimum, multiply, subtract)
from .model import History, Model
from .module import Module, Parameter
from .sequential import Sequential

# -- sequence layers (recurrent.py, embedding.py, conv1d.py): imports and names added below --
from .conv1d import (AveragePooling1D, Conv1D, GlobalAveragePooling1D, GlobalAveragePooling2D,
                     GlobalMaxPooling1D, GlobalMaxPooling2D, MaxPooling1D)
from .embedding import Embedding
from .recurrent import GRU, LSTM, Bidirectional, SimpleRNN

__all__ = [
    "Module", "Parameter", "Model", "Sequential", "History",
    "Dense", "Activation", "LeakyReLU", "Dropout", "Flatten", "Reshape", "BatchNormalization",
    "Input", "InputLayer", "Layer", "Lambda", "Softmax", "Convolution2D",
    "utils", "to_categorical", "image_dataset_from_directory", "clear_session",
    "Conv2D", "Conv2DTranspose", "MaxPooling2D", "UpSampling2D", "ZeroPadding2D",
    "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate",
    "add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate",
    "set_image_data_format", "image_data_format", "set_frozen_batch_norm_mode", "frozen_batch_norm_mode",
    "callbacks", "regularizers", "metrics",
]
__all__ += ["Embedding", "SimpleRNN", "LSTM", "GRU", "Bidirectional", "Conv1D", "MaxPooling1D", "AveragePooling1D", "GlobalMaxPooling1D", "GlobalAveragePooling1D", "GlobalMaxPooling2D", "GlobalAveragePooling2D"]

# -- image augmentation and separable convolution (preprocessing.py, separable.py) --
from .preprocessing import RandomFlip, RandomRotation, RandomTranslation, RandomZoom, Rescaling
from .separable import DepthwiseConv2D, SeparableConv2D

__all__ += ["RandomTranslation", "RandomRotation", "RandomZoom", "RandomFlip", "Rescaling",
            "DepthwiseConv2D", "SeparableConv2D"]

# -- model files (saving/, serialization.py, models.py): Keras' load_model, configs, the registry --
from . import models
from .models import clone_model, load_model, model_from_json, register_keras_serializable, save_model

__all__ += ["models", "load_model", "save_model", "clone_model", "model_from_json", "register_keras_serializable"]
