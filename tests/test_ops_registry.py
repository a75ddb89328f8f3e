"""The one place an op is published: each family's __all__ -> mg.*, F.*, activation names,
Tensor methods; old names keep working; every public op is recorded on symbolic tensors."""
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
import minigrad.functional as F
from minigrad import ops
from minigrad.nn import activations
from minigrad.ops import activations as op_activations
from minigrad.symbolic import Evaluation, SymbolicTensor
from minigrad.tensor import Tensor

from .test_ops_table import CASES, _first_example


@pytest.mark.parametrize("family", ops.FAMILIES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_every_name_in_a_family_all_is_published_as_mg_name(family):
    assert family.__all__ or family is ops.losses, family.__name__   # losses: used via minigrad.losses
    for name in family.__all__:
        assert getattr(mg, name, None) is getattr(family, name), f"mg.{name} is not {family.__name__}.{name}"


def test_every_ops_module_is_a_family():
    files = sorted(p.stem for p in Path(ops.__file__).parent.glob("*.py") if p.stem != "__init__")
    families = [m.__name__.rsplit(".", 1)[-1] for m in ops.FAMILIES]
    assert sorted(set(families) | (set(ops.HELPERS) & set(files))) == files


@pytest.mark.parametrize("family", [ops.activations, ops.conv, ops.normalization, ops.embedding],
                         ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_functional_is_built_from_the_same_lists(family):
    for name in family.__all__:
        assert getattr(F, name, None) is getattr(family, name), f"F.{name} is not {family.__name__}.{name}"


def test_the_new_families_compute_what_their_layers_do(device):
    x = mg.randn(2, 3, 6, 6, device=device)
    w = mg.randn(4, 3, 3, 3, device=device)
    assert mg.conv2d(x, w, padding=1).shape == (2, 4, 6, 6)
    assert mg.max_pool2d(x, 2).shape == mg.avg_pool2d(x, 2).shape == (2, 3, 3, 3)
    mean, var = mg.zeros(3, device=device), mg.ones(3, device=device)
    y = mg.batch_norm(x, mean, var, training=False, epsilon=0.0)
    np.testing.assert_allclose(y.numpy(), x.numpy(), rtol=1e-6)
    table = mg.randn(5, 2, device=device)
    np.testing.assert_array_equal(mg.embedding([[4, 0]], table).numpy(), table.numpy()[[[4, 0]]])


def test_activations_are_in_functional_and_by_keras_name():
    for name in op_activations.__all__:
        fn = getattr(op_activations, name)
        assert getattr(F, name) is fn, f"F.{name}"
        assert activations.get(name) is fn, f"activations.get({name!r})"
    for name in ("relu", "sigmoid", "tanh", "softmax", "softplus", "leaky_relu", "linear", "gelu", "swish",
                 "hard_sigmoid", "exponential", "SELU"):
        assert callable(activations.get(name))
    with pytest.raises(ValueError, match="mish"):        # the error lists the names, new ones included
        activations.get("no_such_activation")


def test_tensor_methods_are_built_from_the_ops():
    x = mg.tensor(np.array([[0.5, -1.5, 2.0], [1.0, 0.25, -0.75]]))
    for name, fn in ops.TENSOR_METHODS.items():
        assert hasattr(Tensor, name), name
    np.testing.assert_array_equal(x.sin().numpy(), mg.sin(x).numpy())
    np.testing.assert_array_equal(x.cumsum(axis=1).numpy(), np.cumsum(x.numpy(), axis=1))
    np.testing.assert_array_equal(x.prod(axis=0).numpy(), np.prod(x.numpy(), axis=0))
    np.testing.assert_array_equal(x.flip(1).numpy(), x.numpy()[:, ::-1])
    np.testing.assert_array_equal((x % 1.0).numpy(), np.remainder(x.numpy(), 1.0))
    np.testing.assert_array_equal((3.0 // x).numpy(), np.floor_divide(3.0, x.numpy()))
    # methods tensor.py defines itself are not replaced
    assert "exp" not in ops.TENSOR_METHODS or vars(Tensor)["exp"] is not ops.TENSOR_METHODS["exp"]


def test_existing_public_names_still_work():
    x = mg.tensor(np.array([[1.0, -2.0], [3.0, 0.5]]), requires_grad=True)
    assert mg.exp(x).shape == x.exp().shape == (2, 2)
    assert activations.get("relu") is F.relu and F.relu is mg.relu
    for fn in (mg.abs, mg.clip, mg.expm1, mg.log, mg.maximum, mg.minimum, mg.sigmoid, mg.softplus, mg.sqrt,
               mg.tanh, mg.where, mg.matmul, mg.broadcast_to, mg.concat, mg.flatten, mg.pad, mg.reshape,
               mg.stack, mg.transpose, mg.log_softmax, mg.logsumexp, mg.mean, mg.softmax, mg.std, mg.var,
               mg.leaky_relu, F.softmax, F.log_softmax, F.conv2d, F.dropout, F.linear, F.batch_norm):
        assert callable(fn)
    assert mg.sum(x, axis=-1).numpy().tolist() == [-1.0, 3.5]
    assert mg.max(x, axis=-2).numpy().tolist() == [3.0, 0.5]
    assert mg.min(x).item() == -2.0


# cases whose test lambda itself reads values (detach() of a symbolic tensor has no value yet) or
# moves devices; the ops under them are recorded (they are covered by the other cases)
NOT_SYMBOLIC = {"equal": "lambda uses b.detach()", "where": "lambda uses a.detach()",
                "masked_fill": "lambda uses b.detach()", "to_device": "a device move of the probe",
                "one_hot": "its indices are a constant made inside the lambda"}


@pytest.mark.parametrize("name", [c.name for c in CASES if c.name not in NOT_SYMBOLIC])
def test_every_public_op_is_recorded_on_symbolic_tensors(name):
    """Ops on symbolic (functional-API) tensors must go through Function.apply (or be
    recordable composites): recorded, not computed, and run later they give what eager code does."""
    case = next(c for c in CASES if c.name == name)
    arrays_, kw = _first_example(case)
    inputs = [SymbolicTensor(a.shape, "float64") for a in arrays_]
    out = case.mg(*inputs, **kw)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    assert all(isinstance(o, SymbolicTensor) for o in outs), f"{name} computed instead of recording"
    run = Evaluation()
    for s, a in zip(inputs, arrays_):
        run.set(s, mg.tensor(a))
    eager = case.mg(*[mg.tensor(a) for a in arrays_], **kw)
    eager = list(eager) if isinstance(eager, (list, tuple)) else [eager]
    for o, e in zip(outs, eager):
        np.testing.assert_allclose(run.value_of(o).numpy(), e.numpy(), rtol=1e-12, err_msg=name)
