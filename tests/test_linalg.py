"""Matrix product: 2-D, batched with broadcasting batch axes, and the 1-D vector cases.

Shapes come from NumPy's own matmul signature "(m?,n),(n,p?)->(m?,p?)", so hypothesis draws
vectors (the optional axes left out) as well as batches of matrices whose batch axes
broadcast. Forward values against np.matmul, gradients against float64 central differences,
and a second-order check.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad import backend

from .conftest import leaf

MATMUL_SHAPES = hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=2,
                                                  max_side=4)
SMALL_MATMUL_SHAPES = hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=2,
                                                        max_side=3)


def values(shape):
    return hnp.arrays(np.float64, shape, elements=st.floats(-3, 3, allow_nan=False))


def matmul(a, b):
    return a @ b


# ----------------------------------------------------------------------------- random shapes

@given(data=st.data())
def test_matmul_forward_and_gradient(device, data):
    (shape_a, shape_b), result_shape = data.draw(MATMUL_SHAPES, label="shapes")
    a, b = data.draw(values(shape_a), label="a"), data.draw(values(shape_b), label="b")
    x, y = leaf(a, device), leaf(b, device)
    out = x @ y
    assert out.shape == result_shape and out.dtype == np.float64
    assert backend.is_backend_array(out.data)
    np.testing.assert_allclose(out.numpy(), np.matmul(a, b), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mg.matmul(x, y).numpy(), out.numpy())
    assert mg.gradcheck(matmul, x, y)


@given(data=st.data())
def test_matmul_second_order(device, data):
    (shape_a, shape_b), _ = data.draw(SMALL_MATMUL_SHAPES, label="shapes")
    x = leaf(data.draw(values(shape_a), label="a"), device)
    y = leaf(data.draw(values(shape_b), label="b"), device)
    assert mg.gradgradcheck(matmul, x, y)


# ----------------------------------------------------------------------------- pinned shapes

CASES = [
    ((3,), (3, 2), (2,)),                 # vec @ mat
    ((2, 3), (3,), (2,)),                 # mat @ vec
    ((3,), (3,), ()),                     # vec @ vec -> 0-d
    ((1,), (1,), ()),
    ((2, 3), (3, 4), (2, 4)),
    ((1, 1), (1, 1), (1, 1)),
    ((4, 2, 3), (3, 2), (4, 2, 2)),       # batch against a plain matrix
    ((2, 1, 2, 3), (5, 3, 1), (2, 5, 2, 1)),   # batch axes broadcast both ways
    ((3,), (2, 3, 4), (2, 4)),            # vector against a batch
    ((2, 2, 3), (3,), (2, 2)),
]


@pytest.mark.parametrize("shape_a, shape_b, result", CASES, ids=str)
def test_matmul_pinned_shapes(device, shape_a, shape_b, result):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    x, y = leaf(a, device), leaf(b, device)
    out = x @ y
    assert out.shape == result
    np.testing.assert_allclose(out.numpy(), np.matmul(a, b), rtol=1e-12, atol=1e-12)
    assert mg.gradcheck(matmul, x, y)
    assert mg.gradgradcheck(matmul, x, y)
    if result:
        out.sum().backward()
    else:
        out.backward()
    assert x.grad.shape == shape_a and y.grad.shape == shape_b


def test_vector_dot_vector_is_a_0d_backend_array(device):
    x, y = leaf([1.0, 2.0, 3.0], device), leaf([4.0, 5.0, 6.0], device)
    out = x @ y
    assert out.shape == () and out.data.shape == ()
    assert backend.is_backend_array(out.data) and not isinstance(out.data, np.generic)
    assert out.item() == 32.0
    out.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 5.0, 6.0])
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 2.0, 3.0])


def test_matmul_gradient_formulas(device):
    a = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    b = np.array([[1.0, -1.0, 0.5, 2.0], [0.0, 2.0, 1.0, -1.0]])
    g = np.arange(12.0).reshape(3, 4)
    x, y = leaf(a, device), leaf(b, device)
    (x @ y).backward(mg.tensor(g, device=device))
    np.testing.assert_allclose(x.grad.numpy(), g @ b.T)        # dL/dx = g y^T
    np.testing.assert_allclose(y.grad.numpy(), a.T @ g)        # dL/dy = x^T g


def test_broadcast_batch_gradient_is_summed(device):
    a = np.ones((2, 3))                                          # shared by every batch item
    b = np.arange(24.0).reshape(4, 3, 2)
    x, y = leaf(a, device), leaf(b, device)
    (x @ y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), (np.ones((4, 2, 2)) @ b.transpose(0, 2, 1)).sum(0))
    np.testing.assert_allclose(y.grad.numpy(), np.broadcast_to(a.T @ np.ones((2, 2)), (4, 3, 2)))


def test_matmul_with_a_constant(device):
    x = leaf([[1.0, 2.0]], device)
    w = mg.tensor(np.array([[3.0], [4.0]]), device=device)
    out = x @ w
    out.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[3.0, 4.0]])
    assert w.grad is None


# ----------------------------------------------------------------------------- reuse

def test_matmul_of_a_tensor_with_its_transpose(device):
    a = np.array([[1.0, 2.0, 0.5], [-1.0, 3.0, 2.0]])
    x = leaf(a, device)
    out = x @ x.T
    np.testing.assert_allclose(out.numpy(), a @ a.T)
    g = np.array([[1.0, 2.0], [3.0, 4.0]])
    out.backward(mg.tensor(g, device=device))
    np.testing.assert_allclose(x.grad.numpy(), (g + g.T) @ a)
    assert mg.gradcheck(lambda t: t @ t.T, leaf(a, device))
    assert mg.gradgradcheck(lambda t: t @ t.T, leaf(a, device))


def test_matmul_of_a_square_matrix_with_itself(device):
    a = np.array([[1.0, 2.0], [3.0, -1.0]])
    x = leaf(a, device)
    (x @ x).sum().backward()
    ones = np.ones((2, 2))
    np.testing.assert_allclose(x.grad.numpy(), ones @ a.T + a.T @ ones)
    assert mg.gradcheck(lambda t: t @ t, leaf(a, device))


def test_vector_dot_itself(device):
    x = leaf([1.0, -2.0, 3.0], device)
    (x @ x).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, -4.0, 6.0])


# ----------------------------------------------------------------------------- dtypes, zero-size

@pytest.mark.parametrize("shape_a, shape_b", [((2, 3), (3, 4)), ((3,), (3, 2)), ((3,), (3,)),
                                              ((2, 2, 3), (3, 1))], ids=str)
def test_float32_in_float32_out(device, shape_a, shape_b):
    rng = np.random.default_rng(1)
    x = leaf(rng.standard_normal(shape_a), device, dtype=np.float32)
    y = leaf(rng.standard_normal(shape_b), device, dtype=np.float32)
    out = x @ y
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32 and y.grad.dtype == np.float32


def test_zero_size_inner_axis(device):
    x, y = leaf(np.zeros((2, 0)), device), leaf(np.zeros((0, 3)), device)
    out = x @ y
    np.testing.assert_array_equal(out.numpy(), np.zeros((2, 3)))
    out.sum().backward()
    assert x.grad.shape == (2, 0) and y.grad.shape == (0, 3)


def test_zero_size_outer_axis(device):
    x, y = leaf(np.zeros((0, 2)), device), leaf(np.ones((2, 3)), device)
    out = x @ y
    assert out.shape == (0, 3)
    out.sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), np.zeros((2, 3)))


# ----------------------------------------------------------------------------- errors

@pytest.mark.parametrize("shape_a, shape_b", [((2, 3), (2, 3)), ((3,), (4,)), ((2, 3), (4,)),
                                              ((4,), (3, 2)), ((5, 2, 3), (5, 2, 3))], ids=str)
def test_inner_size_mismatch_names_both_shapes(device, shape_a, shape_b):
    x, y = leaf(np.ones(shape_a), device), leaf(np.ones(shape_b), device)
    with pytest.raises(ValueError, match=rf"matmul.*{re_shape(shape_a)}.*{re_shape(shape_b)}"):
        x @ y


def test_batch_mismatch_names_both_shapes(device):
    x, y = leaf(np.ones((2, 2, 3)), device), leaf(np.ones((5, 3, 4)), device)
    with pytest.raises(ValueError, match=r"(?i)matmul.*\(2, 2, 3\).*\(5, 3, 4\)"):
        x @ y


def test_0d_operand_is_an_error(device):
    x = leaf(np.ones(3), device)
    with pytest.raises(ValueError, match=r"matmul.*at least one axis.*use \*"):
        x @ leaf(2.0, device)


def re_shape(shape):
    """A shape as a regular expression that matches its repr."""
    return str(shape).replace("(", r"\(").replace(")", r"\)")
