"""Shared test set-up: hypothesis profiles and the device switch.

Hypothesis profiles (choose with HYPOTHESIS_PROFILE=ci|dev|thorough; CI=true picks ci):
    ci        the default in CI: enough examples per test to catch real bugs, whole suite < 10 min
    dev       fewer examples, for a quick loop while editing
    thorough  many examples, for a nightly or pre-release run

Devices (MINIGRAD_TEST_DEVICES, comma-separated; default "cpu,strict,cuda"):
    tests that take the `device` fixture run once per listed device. "strict" is the
    CuPy-like stand-in that catches NumPy-only code without a GPU; "cuda" runs on a real
    GPU and is skipped, with the reason shown, where CuPy or a GPU is missing.
    MINIGRAD_TEST_DEVICES=cuda runs the device tests on the GPU alone.
"""
import os

# pytest -n auto runs one worker per core; each gets one BLAS thread, or OpenBLAS' own thread
# pool oversubscribes the cores (8x slower conv training seen on 2 busy cores). Set before
# NumPy loads; an explicit setting in the environment wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

import minigrad as mg  # noqa: E402
from minigrad import backend  # noqa: E402

# `device` is a plain string fixture, so sharing it across generated examples is safe.
SUPPRESSED = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]
settings.register_profile(
    "ci", max_examples=25, deadline=None, print_blob=True, derandomize=True,
    suppress_health_check=SUPPRESSED)
settings.register_profile(
    "dev", max_examples=10, deadline=None, print_blob=True,
    suppress_health_check=SUPPRESSED)
settings.register_profile(
    "thorough", max_examples=300, deadline=None, print_blob=True,
    suppress_health_check=SUPPRESSED)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))

TEST_DEVICES = [d.strip() for d in os.environ.get("MINIGRAD_TEST_DEVICES", "cpu,strict,cuda").split(",")
                if d.strip()]


def pytest_report_header(config):
    return (f"minigrad test devices: {', '.join(TEST_DEVICES)}; hypothesis profile: "
            f"{settings._current_profile}; CUDA available: {backend.cuda_is_available()}")


@pytest.fixture(params=TEST_DEVICES)
def device(request):
    """Each device under test; 'cuda' skips with a visible reason where there is no GPU."""
    name = request.param
    if name.startswith("cuda") and not backend.cuda_is_available():
        pytest.skip(f"CUDA device not available ({backend._cupy_error!r}); "
                    "install minigrad[cuda12] or [cuda13] on a GPU machine to run these")
    return name


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same random state."""
    mg.manual_seed(0)
    yield


@pytest.fixture(scope="module")
def mnist_available():
    """Skip (with the reason shown) where no MNIST digits can be loaded."""
    from .example_runner import mnist_unavailable_reason
    reason = mnist_unavailable_reason()
    if reason:
        pytest.skip(reason)


def to_device(array, device, requires_grad=False):
    """A float64 host array as a tensor on `device`."""
    return mg.tensor(np.asarray(array), device=device, requires_grad=requires_grad)


def leaf(array, device, dtype=np.float64):
    """A float64 (or `dtype`) leaf tensor on `device` that requires grad."""
    return mg.tensor(np.asarray(array, dtype=dtype), device=device, requires_grad=True)


def assert_forward(out, expected, dtype=np.float64):
    """An op's output: right shape and dtype, a backend array, values as NumPy's to 1e-10."""
    expected = np.asarray(expected)
    assert out.shape == expected.shape
    assert out.dtype == dtype
    assert backend.is_backend_array(out.data)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-12)


def float64_model(model, device, seed, input_shape=None):
    """A tiny model for gradient checks: built (when input_shape is given), in float64 on
    `device`, with small random biases instead of zeros so that every term matters."""
    if input_shape is not None:
        model.build_for(input_shape)
    model.to(device, dtype="float64")
    rng = np.random.default_rng(seed)
    for m in model.modules():
        bias = getattr(m, "bias", None)
        if isinstance(bias, mg.nn.Parameter):
            bias.data = mg.tensor(rng.normal(0, 0.1, bias.shape), dtype="float64", device=device).data
    return model
