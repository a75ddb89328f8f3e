"""Movement ops: reshape, transpose/permute/.T, flatten, indexing, broadcast_to, concat, stack, pad.

Forward values against NumPy and gradients against float64 central differences over random
shapes (0-d and size-1 axes included), plus a second-order check for every op. Indexing
covers basic indices (ints, slices with negative steps, None, Ellipsis), integer arrays
with repeated entries (their gradients must add up) and boolean masks.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad import backend

from .conftest import leaf

MAX_SIDE, SMALL_MAX_SIDE = 4, 3          # the second-order checks use the smaller shapes


def shapes_up_to(max_side, min_dims=0):
    return hnp.array_shapes(min_dims=min_dims, max_dims=3, min_side=1, max_side=max_side)


def values(shape):
    return hnp.arrays(np.float64, shape, elements=st.floats(-3, 3, allow_nan=False))


def assert_forward(out, expected, dtype=np.float64):
    expected = np.asarray(expected)
    assert out.shape == expected.shape
    assert out.dtype == dtype
    assert backend.is_backend_array(out.data)
    np.testing.assert_array_equal(out.numpy(), expected)


def _prime_factors(n):
    factors, p = [], 2
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    return factors


# ----------------------------------------------------------------------------- one case per op
# Each strategy draws (inputs as NumPy arrays, the minigrad function, the NumPy reference),
# with every axis at most max_side long.

@st.composite
def reshape_case(draw, max_side):
    shape = draw(shapes_up_to(max_side), label="shape")
    n = int(np.prod(shape))
    ndim = draw(st.integers(0 if n == 1 else 1, 4), label="new ndim")
    new = [1] * ndim
    for p in _prime_factors(n):
        new[draw(st.integers(0, ndim - 1))] *= p
    if ndim and draw(st.booleans(), label="use -1"):
        new[draw(st.integers(0, ndim - 1))] = -1
    new = tuple(new)
    form = draw(st.sampled_from(["method-tuple", "method-args", "function"]), label="form")
    fn = {"method-tuple": lambda t: t.reshape(new), "method-args": lambda t: t.reshape(*new),
          "function": lambda t: mg.reshape(t, new)}[form]
    a = draw(values(shape))
    return [a], fn, lambda x: x.reshape(new)


@st.composite
def transpose_case(draw, max_side):
    shape = draw(shapes_up_to(max_side), label="shape")
    ndim = len(shape)
    perm = tuple(draw(st.permutations(range(ndim)), label="perm"))
    if draw(st.booleans(), label="negative axes"):
        perm = tuple(p - ndim for p in perm)
    form = draw(st.sampled_from(["transpose-args", "transpose-tuple", "permute", "function", ".T"]))
    fn = {"transpose-args": lambda t: t.transpose(*perm), "transpose-tuple": lambda t: t.transpose(perm),
          "permute": lambda t: t.permute(*perm), "function": lambda t: mg.transpose(t, perm),
          ".T": lambda t: t.T}[form]
    ref = (lambda x: x.T) if form == ".T" else (lambda x: np.transpose(x, perm))
    return [draw(values(shape))], fn, ref


@st.composite
def flatten_case(draw, max_side):
    shape = draw(shapes_up_to(max_side), label="shape")
    ndim = len(shape)
    if ndim == 0:
        return [draw(values(shape))], lambda t: t.flatten(), lambda x: x.reshape(1)
    start = draw(st.integers(0, ndim - 1), label="start")
    end = draw(st.integers(start, ndim - 1), label="end")
    start_arg = start - ndim if draw(st.booleans()) else start
    end_arg = end - ndim if draw(st.booleans()) else end
    merged = shape[:start] + (-1,) + shape[end + 1:]
    return ([draw(values(shape))], lambda t: mg.flatten(t, start_arg, end_arg),
            lambda x: x.reshape(merged))


@st.composite
def basic_index_case(draw, max_side):
    shape = draw(shapes_up_to(max_side), label="shape")
    index = draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True), label="index")
    return [draw(values(shape))], lambda t: t[index], lambda x: x[index]


@st.composite
def integer_array_index_case(draw, max_side):
    """Integer arrays (NumPy, list or device tensor), repeats likely; alone or after a slice."""
    shape = draw(shapes_up_to(max_side, min_dims=1), label="shape")
    index = draw(hnp.integer_array_indices(
        shape, result_shape=hnp.array_shapes(min_dims=0, max_dims=2, max_side=5)), label="index")
    kind = draw(st.sampled_from(["all axes", "first axis", "list on first axis", "after a slice"]))
    if kind == "first axis":
        index = index[0]
    elif kind == "list on first axis":
        index = np.atleast_1d(index[0]).tolist()
    elif kind == "after a slice" and len(shape) >= 2:
        index = (slice(None, None, -1), np.asarray(index[1]))
    elif kind == "after a slice":
        index = (Ellipsis, index[0])
    return [draw(values(shape))], lambda t: t[index], lambda x: x[index]


@st.composite
def boolean_mask_case(draw, max_side):
    shape = draw(shapes_up_to(max_side, min_dims=1), label="shape")
    full = draw(st.booleans(), label="mask every axis")
    mask = draw(hnp.arrays(np.bool_, shape if full else shape[:1]), label="mask")
    as_tensor = draw(st.booleans(), label="mask as a device tensor")
    return [draw(values(shape))], (
        (lambda t: t[mg.tensor(mask, device=t.device)]) if as_tensor else (lambda t: t[mask])), \
        lambda x: x[mask]


@st.composite
def broadcast_to_case(draw, max_side):
    (shape, _), target = draw(hnp.mutually_broadcastable_shapes(
        num_shapes=2, max_dims=3, max_side=max_side), label="shapes")
    as_method = draw(st.booleans())
    fn = (lambda t: t.broadcast_to(target)) if as_method else (lambda t: mg.broadcast_to(t, target))
    return [draw(values(shape))], fn, lambda x: np.broadcast_to(x, target)


@st.composite
def concat_case(draw, max_side):
    shape = draw(shapes_up_to(max_side, min_dims=1), label="shape")
    ndim = len(shape)
    axis = draw(st.integers(-ndim, ndim - 1), label="axis")
    sizes = draw(st.lists(st.integers(0, 3), min_size=1, max_size=3), label="sizes along axis")
    arrays = []
    for n in sizes:
        piece = list(shape)
        piece[axis] = n
        arrays.append(draw(values(tuple(piece))))
    return arrays, lambda *ts: mg.concat(ts, axis=axis), \
        lambda *xs: np.concatenate(xs, axis=axis)


@st.composite
def stack_case(draw, max_side):
    shape = draw(shapes_up_to(max_side), label="shape")
    ndim = len(shape)
    axis = draw(st.integers(-ndim - 1, ndim), label="axis")
    k = draw(st.integers(1, 3), label="count")
    arrays = [draw(values(shape)) for _ in range(k)]
    return arrays, lambda *ts: mg.stack(list(ts), axis=axis), lambda *xs: np.stack(xs, axis=axis)


@st.composite
def pad_case(draw, max_side):
    shape = draw(shapes_up_to(max_side, min_dims=1), label="shape")    # NumPy pads no 0-d array
    widths = tuple(draw(st.tuples(st.integers(0, 2), st.integers(0, 2))) for _ in shape)
    value = draw(st.sampled_from([0.0, -1.5]), label="value")
    return [draw(values(shape))], lambda t: mg.pad(t, widths, value=value), \
        lambda x: np.pad(x, widths, constant_values=value)


CASES = {
    "reshape": reshape_case, "transpose": transpose_case, "flatten": flatten_case,
    "getitem-basic": basic_index_case, "getitem-int-array": integer_array_index_case,
    "getitem-bool-mask": boolean_mask_case, "broadcast_to": broadcast_to_case,
    "concat": concat_case, "stack": stack_case, "pad": pad_case,
}


@pytest.mark.parametrize("name", CASES)
@given(data=st.data())
def test_forward_and_gradient(device, name, data):
    arrays, fn, ref = data.draw(CASES[name](MAX_SIDE))
    xs = [leaf(a, device) for a in arrays]
    assert_forward(fn(*xs), ref(*arrays))
    assert mg.gradcheck(fn, *xs)


@pytest.mark.parametrize("name", CASES)
@given(data=st.data())
def test_second_order(device, name, data):
    arrays, fn, _ = data.draw(CASES[name](SMALL_MAX_SIDE))
    assert mg.gradgradcheck(fn, *[leaf(a, device) for a in arrays])


# ----------------------------------------------------------------------------- pinned examples

def test_reshape_with_minus_one(device):
    x = leaf(np.arange(12.0), device)
    assert x.reshape(3, -1).shape == (3, 4)
    assert x.reshape(-1, 2, 2).shape == (3, 2, 2)
    assert x.reshape((2, -1)).shape == (2, 6)
    y = leaf(5.0, device)
    assert y.reshape(-1).shape == (1,) and y.reshape(1, 1).reshape(()).shape == ()


def test_transpose_forms(device):
    a = np.arange(24.0).reshape(2, 3, 4)
    x = leaf(a, device)
    np.testing.assert_array_equal(x.T.numpy(), a.T)
    np.testing.assert_array_equal(x.transpose().numpy(), a.T)
    np.testing.assert_array_equal(x.permute(2, 0, 1).numpy(), a.transpose(2, 0, 1))
    np.testing.assert_array_equal(x.transpose(-1, 0, 1).numpy(), a.transpose(2, 0, 1))
    x.permute(1, 2, 0).backward(mg.tensor(a.transpose(1, 2, 0), device=device))
    np.testing.assert_array_equal(x.grad.numpy(), a)        # the inverse permutation


def test_flatten_defaults(device):
    x = leaf(np.ones((2, 3, 4)), device)
    assert x.flatten().shape == (24,)
    assert x.flatten(1).shape == (2, 12)
    assert x.flatten(0, 1).shape == (6, 4)
    assert x.flatten(-2, -1).shape == (2, 12)
    assert leaf(1.0, device).flatten().shape == (1,)


def test_negative_step_slices(device):
    a = np.arange(10.0)
    x = leaf(a, device)
    out = x[::-3]
    np.testing.assert_array_equal(out.numpy(), a[::-3])
    out.backward(mg.tensor(np.array([1.0, 2.0, 3.0, 4.0]), device=device))
    np.testing.assert_array_equal(x.grad.numpy(), [4, 0, 0, 3, 0, 0, 2, 0, 0, 1])


def test_none_and_ellipsis_index(device):
    a = np.arange(24.0).reshape(2, 3, 4)
    x = leaf(a, device)
    for index in [(None, Ellipsis, 1), (Ellipsis, None, slice(1, None)), (0, None, Ellipsis, -1)]:
        np.testing.assert_array_equal(x[index].numpy(), a[index])
        assert mg.gradcheck(lambda t: t[index], x)


def test_repeated_integer_indices_accumulate(device):
    x = leaf(np.arange(8.0).reshape(4, 2), device)
    x[[0, 0, 1]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[2, 2], [1, 1], [0, 0], [0, 0]])


def test_repeated_indices_in_several_arrays_accumulate(device):
    x = leaf(np.zeros((3, 3)), device)
    rows = mg.tensor(np.array([0, 0, 2, 0]), device=device)
    cols = np.array([1, 1, 2, 1])
    out = x[rows, cols]
    out.backward(mg.tensor(np.array([1.0, 2.0, 3.0, 4.0]), device=device))
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 7, 0], [0, 0, 0], [0, 0, 3]])


def test_negative_integer_indices(device):
    x = leaf(np.arange(5.0), device)
    out = x[[-1, 4, -5]]
    np.testing.assert_array_equal(out.numpy(), [4.0, 4.0, 0.0])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 0, 0, 0, 2])


def test_boolean_mask_from_a_comparison(device):
    a = np.array([[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]])
    x = leaf(a, device)
    out = x[x > 0]
    np.testing.assert_array_equal(out.numpy(), [1.0, 3.0, 5.0])
    (out * out).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[2, 0, 6], [0, 10, 0]])


def test_broadcast_to_sums_the_gradient(device):
    x = leaf([[1.0], [2.0]], device)
    out = x.broadcast_to((3, 2, 4))
    assert out.shape == (3, 2, 4)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[12.0], [12.0]])


def test_concat_and_stack_route_gradients_back(device):
    x = leaf([[1.0, 2.0]], device)
    y = leaf([[3.0, 4.0], [5.0, 6.0]], device)
    out = mg.concat([x, y], axis=0)
    np.testing.assert_array_equal(out.numpy(), [[1, 2], [3, 4], [5, 6]])
    out.backward(mg.tensor(np.arange(6.0).reshape(3, 2), device=device))
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1]])
    np.testing.assert_array_equal(y.grad.numpy(), [[2, 3], [4, 5]])
    a, b = leaf([1.0, 2.0], device), leaf([3.0, 4.0], device)
    s = mg.stack([a, b], axis=1)
    np.testing.assert_array_equal(s.numpy(), [[1, 3], [2, 4]])
    s.backward(mg.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), device=device))
    np.testing.assert_array_equal(a.grad.numpy(), [1, 3])
    np.testing.assert_array_equal(b.grad.numpy(), [2, 4])


def test_pad_with_one_int_and_a_value(device):
    x = leaf([[1.0, 2.0]], device)
    out = mg.pad(x, 1, value=9.0)
    np.testing.assert_array_equal(out.numpy(), np.pad([[1.0, 2.0]], 1, constant_values=9.0))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 1.0]])


def test_stack_of_0d_tensors(device):
    xs = [leaf(float(i), device) for i in range(3)]
    out = mg.stack(xs)
    np.testing.assert_array_equal(out.numpy(), [0.0, 1.0, 2.0])
    out.backward(mg.tensor(np.array([1.0, 2.0, 3.0]), device=device))
    assert [x.grad.item() for x in xs] == [1.0, 2.0, 3.0]


# ----------------------------------------------------------------------------- reuse

def test_concat_of_a_tensor_with_itself(device):
    x = leaf([1.0, 2.0], device)
    out = mg.concat([x, x, x[::-1]])
    np.testing.assert_array_equal(out.numpy(), [1, 2, 1, 2, 2, 1])
    out.backward(mg.tensor(np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), device=device))
    np.testing.assert_array_equal(x.grad.numpy(), [1 + 3 + 6, 2 + 4 + 5])


def test_stack_of_a_tensor_with_itself(device):
    x = leaf([[1.0, 2.0]], device)
    mg.stack([x, x], axis=-1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[2.0, 2.0]])


def test_transpose_added_to_itself(device):
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    x = leaf(a, device)
    out = x + x.T
    np.testing.assert_array_equal(out.numpy(), a + a.T)
    out.backward(mg.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), device=device))
    np.testing.assert_array_equal(x.grad.numpy(), [[2, 5], [5, 8]])


def test_movements_compose(device):
    a = np.arange(24.0).reshape(2, 3, 4)
    x = leaf(a, device)

    def fn(t):                                  # reshape of a transposed (non-contiguous) view
        return mg.pad(t.T.reshape(4, -1)[::-2, None, 1:], ((0, 1), (1, 0), (0, 0))).flatten()
    np.testing.assert_array_equal(
        fn(x).numpy(), np.pad(a.T.reshape(4, -1)[::-2, None, 1:], ((0, 1), (1, 0), (0, 0))).ravel())
    assert mg.gradcheck(fn, x)
    assert mg.gradgradcheck(fn, x)


def test_reshape_and_slice_of_one_tensor(device):
    x = leaf(np.arange(6.0), device)
    (x.reshape(2, 3)[1] * x[3:]).sum().backward()            # x[3:]**2 reached by two paths
    np.testing.assert_array_equal(x.grad.numpy(), [0, 0, 0, 6, 8, 10])


# ----------------------------------------------------------------------------- dtypes, zero-size

FLOAT32_CASES = {
    "reshape": lambda t: t.reshape(-1), "T": lambda t: t.T, "flatten": lambda t: t.flatten(),
    "getitem": lambda t: t[[1, 1], ::-1], "broadcast_to": lambda t: t.broadcast_to((2, 2, 3)),
    "concat": lambda t: mg.concat([t, t], axis=1), "stack": lambda t: mg.stack([t, t]),
    "pad": lambda t: mg.pad(t, 1), "mask": lambda t: t[t > 0],
}


@pytest.mark.parametrize("name", FLOAT32_CASES)
def test_float32_in_float32_out(device, name):
    x = leaf(np.array([[1.0, -2.0, 3.0], [0.5, 2.5, -1.0]]), device, dtype=np.float32)
    out = FLOAT32_CASES[name](x)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.shape == (2, 3)


def test_zero_size_movements(device):
    x = leaf(np.arange(6.0).reshape(2, 3), device)
    empty = x[1:1]
    assert empty.shape == (0, 3)
    y = leaf(np.zeros((0, 3)), device)
    out = mg.concat([x, empty, y]).reshape(-1)
    assert out.shape == (6,)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 3)))
    assert y.grad.shape == (0, 3)
    z = leaf(np.zeros((0, 3)), device)
    assert z.reshape(3, 0).T.shape == (0, 3) and z.flatten().shape == (0,)
    z[np.array([], dtype=np.int64)].sum().backward()
    assert z.grad.shape == (0, 3)


def test_empty_list_index(device):
    x = leaf(np.arange(6.0).reshape(2, 3), device)
    out = x[[]]
    assert out.shape == (0, 3)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 3)))


# ----------------------------------------------------------------------------- errors

def test_reshape_to_a_wrong_size(device):
    x = leaf(np.ones((2, 3)), device)
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\).*\(4, 2\)"):
        x.reshape(4, 2)
    with pytest.raises(ValueError, match=r"reshape.*\(-1, -1\)"):
        x.reshape(-1, -1)
    with pytest.raises(ValueError, match=r"reshape.*\(4, -1\)"):
        x.reshape(4, -1)


def test_transpose_needs_a_permutation(device):
    x = leaf(np.ones((2, 3)), device)
    with pytest.raises(ValueError, match="not a permutation"):
        x.transpose(0, 0)
    with pytest.raises(ValueError, match="not a permutation"):
        x.transpose(0, 1, 2)


def test_transpose_with_an_out_of_range_axis(device):
    x = leaf(np.ones((2, 3)), device)
    with pytest.raises(ValueError, match="axis"):
        x.transpose(0, 5)


def test_flatten_with_an_out_of_range_axis(device):
    x = leaf(np.ones((2, 3)), device)
    with pytest.raises(ValueError, match="axis"):
        x.flatten(3)


def test_concat_shape_mismatch(device):
    x, y = leaf(np.ones((2, 3)), device), leaf(np.ones((3, 3)), device)
    with pytest.raises(ValueError, match=r"concat.*\(2, 3\).*\(3, 3\)"):
        mg.concat([x, y], axis=1)
    with pytest.raises(ValueError, match=r"concat.*\(2, 3\).*\(3,\)"):
        mg.concat([x, leaf(np.ones(3), device)])
    with pytest.raises(ValueError, match="at least one tensor"):
        mg.concat([])


def test_concat_with_an_out_of_range_axis(device):
    x = leaf(np.ones((2, 3)), device)
    with pytest.raises(ValueError, match=r"concat.*axis 5.*out of range"):
        mg.concat([x, x], axis=5)
    with pytest.raises(ValueError, match=r"concat.*axis -3.*out of range"):
        mg.concat([x, x], axis=-3)


def test_concat_of_0d_tensors_is_a_clear_error(device):
    x = leaf(1.0, device)
    with pytest.raises(ValueError, match="concat: 0-d tensors"):
        mg.concat([x, x])


def test_stack_shape_mismatch(device):
    with pytest.raises(ValueError, match=r"stack.*\(2,\).*\(3,\)"):
        mg.stack([leaf(np.ones(2), device), leaf(np.ones(3), device)])
    with pytest.raises(ValueError, match="at least one tensor"):
        mg.stack([])


def test_stack_with_an_out_of_range_axis(device):
    x = leaf(np.ones(3), device)
    with pytest.raises(ValueError, match=r"stack.*axis 7.*out of range"):
        mg.stack([x, x], axis=7)
    with pytest.raises(ValueError, match=r"stack.*axis -3.*out of range"):
        mg.stack([x, x], axis=-3)


def test_broadcast_to_mismatch(device):
    x = leaf(np.ones((2, 3)), device)
    with pytest.raises(ValueError, match=r"broadcast_to.*\(2, 3\).*\(4, 3\)"):
        x.broadcast_to((4, 3))


@pytest.mark.parametrize("shape, target", [((2, 3), (3,)), ((2, 1), (1, 3))])
def test_broadcast_to_a_target_the_tensor_cannot_grow_into(device, shape, target):
    x = leaf(np.ones(shape), device)
    with pytest.raises(ValueError, match=r"broadcast_to: a tensor of shape"):
        mg.broadcast_to(x, target)


def test_pad_needs_one_pair_per_axis(device):
    x = leaf(np.ones((2, 3)), device)
    with pytest.raises(ValueError, match=r"pad: need one non-negative.*\(2, 3\)"):
        mg.pad(x, ((1, 1),))
    with pytest.raises(ValueError, match="pad: need one non-negative"):
        mg.pad(x, ((1, 1), (0, -1)))


def test_index_out_of_range(device):
    x = leaf(np.ones((2, 3)), device)
    with pytest.raises(IndexError):
        x[2]
    with pytest.raises(IndexError):
        x[[0, 3]]
