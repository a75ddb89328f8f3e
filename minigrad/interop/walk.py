"""The old import path of the converters' shared walk: it lives in minigrad/nn/walk.py."""
from ..nn.walk import *  # noqa: F401,F403
from ..nn.walk import UnsupportedLayer, calls, describe, flat_calls, is_functional, is_model  # noqa: F401
