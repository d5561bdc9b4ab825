"""The IMDb movie reviews (Maas et al., 2011), as the chapter loads them (section 2).

The chapter calls ``tfds.load("imdb_reviews", split="train", as_supervised=True)``. This module
gives the same data with the same element spec, ``(text: tf.string scalar, label: tf.int64
scalar)``, from one of three sources, found by :func:`resolve_imdb_source`:

1. a local copy named explicitly: ``data=PATH`` (the CLI's ``--data PATH``) or the environment
   variable ``ATTENTION_LAB_IMDB``. ``PATH`` is the official ``aclImdb_v1.tar.gz`` or the
   ``aclImdb/`` directory extracted from it (or the folder that holds ``aclImdb/``);
2. tensorflow-datasets, when ``imdb_reviews`` is already prepared in its data directory, or
   when it can download it (a 3-second connection probe decides; no hang offline);
3. otherwise an :class:`~attention_lab.errors.AttentionLabError` that says where to get the
   archive and how to pass it.

Reading the archive: a ``.tar.gz`` cannot be read at random, so the first use streams through
all of it once and writes each split to a cache folder, ``~/.cache/attention_lab/imdb/<key>/``
(or ``$ATTENTION_LAB_CACHE/imdb/<key>/``), as one file of concatenated UTF-8 texts, one ``.npy``
of offsets and one ``.npy`` of labels, written as a whole folder (:mod:`attention_lab.io`). The
key is a hash of the archive's absolute path, size and modification time, so a changed archive
is read again. Later runs read the split's three files instead of decompressing the archive;
nothing is extracted to 100,000 small files. The cache's ``manifest.json`` records each file's
size and SHA-256 and each split's review count: a cache that disagrees with it (truncated,
edited, half-deleted) is never used; it is rebuilt from the archive, with a warning on stderr
that says so. An extracted ``aclImdb/`` directory is read file by file directly (no cache).

Text and labels are exactly what tensorflow-datasets stores: the file's bytes with surrounding
whitespace stripped; label 0 for the archive folder ``neg``, 1 for ``pos`` (:data:`LABEL_FOLDERS`;
for people, :data:`LABEL_NAMES` ``negative``/``positive``) and -1 for the unlabelled split. The
order is a fixed pseudo-random permutation of the files (tensorflow-datasets also stores a fixed
shuffle), so that a prefix such as ``dataset.take(1000)`` holds both labels. For
tensorflow-datasets' own order (the chapter's printed reviews), :func:`prepare_tfds_imdb` builds
its ``imdb_reviews`` from the local archive (what ``attention_lab.compat.tfds.load`` does).

Public API (stable): :data:`SPLITS`, :data:`LABEL_FOLDERS`, :data:`LABEL_NAMES`,
:func:`resolve_imdb_source`, :class:`ImdbSource`, :func:`read_imdb` (numpy/Python side),
:func:`load_imdb` (``tf.data``), :func:`load_imdb_unsupervised`, :func:`prepare_tfds_imdb` and
:func:`tfds_manual_archive`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
import logging
import os
import re
import socket
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from attention_lab.errors import AttentionLabError
from attention_lab.io import atomic_directory, cache_root

SPLITS = ("train", "test", "unsupervised")
ENV_VAR = "ATTENTION_LAB_IMDB"
ARCHIVE_URL = "http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
TFDS_ARCHIVE_NAME = "aclImdb_v1.tar.gz"  # the file name tensorflow-datasets registers
# Label 0 and label 1: the archive's folder names, and the names shown to people.
LABEL_FOLDERS = ("neg", "pos")
LABEL_NAMES = ("negative", "positive")
_CACHE_FORMAT = 2  # 2: manifest.json records sizes and SHA-256 of every file
_CACHE_FILES = ("texts.bin", "offsets.npy", "labels.npy")  # per split: {split}.{name}
_ORDER_SEED = 20110619  # fixed permutation of the files; any prefix then mixes both labels
# "aclImdb/train/pos/123_8.txt" -> split "train", folder "pos"
_MEMBER_RE = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg|unsup)/[^/]+\.txt$")

_log = logging.getLogger(__name__)

_OFFLINE_HELP = (
    "no copy of the IMDb reviews found and tensorflow-datasets cannot download it (offline). "
    f"Download aclImdb_v1.tar.gz (84 MB) from {ARCHIVE_URL} on a machine with internet, copy it "
    f"here, and pass it with --data PATH (CLI), data=PATH (Python) or the environment variable "
    f"{ENV_VAR}=PATH; an extracted aclImdb/ directory works too"
)


@dataclass(frozen=True)
class ImdbSource:
    """Where the reviews come from: ``kind`` is ``"tfds"``, ``"archive"`` or ``"directory"``."""

    kind: str
    path: Path | None = None

    def describe(self) -> str:
        return "tensorflow-datasets imdb_reviews" if self.kind == "tfds" else str(self.path)


@dataclass(frozen=True)
class ImdbSplit:
    """One split in memory: ``texts`` (UTF-8 bytes, as tfds stores them) and int64 ``labels``."""

    split: str
    texts: list[bytes]
    labels: np.ndarray
    source: ImdbSource

    def __len__(self) -> int:
        return len(self.texts)

    def label_counts(self) -> dict[str, int]:
        """Reviews per label folder (``neg``/``pos``, or ``unlabelled`` for -1)."""
        names = {0: LABEL_FOLDERS[0], 1: LABEL_FOLDERS[1], -1: "unlabelled"}
        values, counts = np.unique(self.labels, return_counts=True)
        return {names[int(v)]: int(c) for v, c in zip(values, counts, strict=True)}

    def empty_reviews(self) -> int:
        """Reviews whose text is empty after stripping whitespace."""
        return sum(1 for text in self.texts if not text)


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise AttentionLabError(f"unknown IMDb split {split!r}; choose one of {', '.join(SPLITS)}")


def _find_directory(path: Path) -> Path:
    """The ``aclImdb`` folder itself, given it or its parent; error if neither looks like one."""
    for candidate in (path, path / "aclImdb"):
        if (candidate / "train").is_dir() and (candidate / "test").is_dir():
            return candidate
    raise AttentionLabError(
        f"{path} is not an aclImdb directory: expected train/ and test/ folders (each with pos/ "
        f"and neg/) in it or in {path / 'aclImdb'}; pass the extracted aclImdb/ folder or the "
        "aclImdb_v1.tar.gz archive"
    )


def _local_source(path: str | os.PathLike, origin: str) -> ImdbSource:
    path = Path(path).expanduser()
    if not path.exists():
        raise AttentionLabError(
            f"IMDb data not found at {path} (given by {origin}); pass the path of "
            f"aclImdb_v1.tar.gz or of the extracted aclImdb/ directory ({ARCHIVE_URL})"
        )
    if path.is_dir():
        return ImdbSource("directory", _find_directory(path).resolve())
    return ImdbSource("archive", path.resolve())


def _tfds_prepared() -> bool:
    import tensorflow_datasets as tfds

    try:
        return tfds.builder("imdb_reviews").is_prepared()
    except Exception:  # noqa: BLE001 - any failure means "not usable", we fall through
        return False


def online(host: str = "ai.stanford.edu", timeout: float = 3.0) -> bool:
    """Whether the archive's host answers within ``timeout`` seconds (no hang offline)."""
    try:
        with socket.create_connection((host, 80), timeout=timeout):
            return True
    except OSError:
        return False


def resolve_imdb_source(data: str | os.PathLike | None = None, download: bool = True) -> ImdbSource:
    """Find the IMDb reviews: ``data``, then ``$ATTENTION_LAB_IMDB``, then tensorflow-datasets.

    ``download=False`` never touches the network (tensorflow-datasets is used only when the
    dataset is already prepared). Raises :class:`AttentionLabError` with download instructions
    when nothing is found.
    """
    if data is not None:
        return _local_source(data, "data/--data")
    if os.environ.get(ENV_VAR):
        return _local_source(os.environ[ENV_VAR], ENV_VAR)
    if _tfds_prepared() or (download and online()):
        return ImdbSource("tfds")
    raise AttentionLabError(_OFFLINE_HELP)


def _archive_cache_dir(archive: Path) -> Path:
    stat = archive.stat()
    key = f"{archive.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{_CACHE_FORMAT}"
    return cache_root() / "imdb" / hashlib.sha256(key.encode()).hexdigest()[:16]


def _split_and_label(split: str, folder: str) -> tuple[str, int] | None:
    if folder == "unsup":
        return ("unsupervised", -1) if split == "train" else None
    return split, LABEL_FOLDERS.index(folder)


def _check_utf8(where: str, text: bytes) -> bytes:
    """``text`` if it is UTF-8, else one line naming the review and the byte: IMDb's reviews
    are UTF-8, and a review that is not would stop the tokenizers much later."""
    try:
        text.decode("utf-8")
    except UnicodeDecodeError as err:
        raise AttentionLabError(
            f"{where} is not UTF-8 text (byte {err.start}: {text[err.start : err.start + 1]!r}); "
            "IMDb's reviews are UTF-8: download aclImdb_v1.tar.gz again, or fix that review"
        ) from None
    return text


def _shuffled(items: list[tuple[str, bytes, int]]) -> tuple[list[bytes], np.ndarray]:
    items.sort(key=lambda item: item[0])
    order = np.random.default_rng(_ORDER_SEED).permutation(len(items))
    texts = [items[i][1] for i in order]
    labels = np.array([items[i][2] for i in order], dtype=np.int64)
    return texts, labels


def _check_complete(archive: Path) -> None:
    """Read a gzip archive to its end marker (EOFError if it is cut short): done once, when
    the cache is built."""
    import gzip

    with archive.open("rb") as raw:
        if raw.read(2) != b"\x1f\x8b":
            return
    with gzip.open(archive, "rb") as stream:
        while stream.read(1 << 24):
            pass


def _scan_archive(archive: Path) -> dict[str, tuple[list[bytes], np.ndarray]]:
    """Stream once through the tar archive and collect every review, per split."""
    found: dict[str, list[tuple[str, bytes, int]]] = {split: [] for split in SPLITS}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                match = _MEMBER_RE.search(member.name)
                if not member.isfile() or not match:
                    continue
                target = _split_and_label(match.group(1), match.group(2))
                if target is None:
                    continue
                handle = tar.extractfile(member)
                text = handle.read() if handle is not None else b""
                text = _check_utf8(f"{archive}: {member.name}", text).strip()
                found[target[0]].append((member.name, text, target[1]))
        _check_complete(archive)  # tarfile takes a cut between two reviews for the end
    except EOFError as err:
        raise AttentionLabError(
            f"the IMDb archive {archive} is truncated (its compressed data ends early, after "
            f"{sum(map(len, found.values())):,} reviews): it is damaged or not a tar archive "
            f"written whole; download aclImdb_v1.tar.gz again from {ARCHIVE_URL}"
        ) from err
    except (tarfile.TarError, zlib.error, OSError) as err:
        raise AttentionLabError(
            f"cannot read the IMDb archive {archive}: {' '.join(str(err).split())}. The file is "
            "damaged or not a tar "
            f"archive; download aclImdb_v1.tar.gz again from {ARCHIVE_URL}"
        ) from err
    if not found["train"] or not found["test"]:
        raise AttentionLabError(
            f"{archive} holds no aclImdb/train/{{pos,neg}} or aclImdb/test/{{pos,neg}} reviews; "
            f"it is not the IMDb archive (expected aclImdb_v1.tar.gz from {ARCHIVE_URL})"
        )
    return {split: _shuffled(items) for split, items in found.items()}


def _write_cache(target: Path, splits: dict[str, tuple[list[bytes], np.ndarray]]) -> None:
    """Write every split and a manifest of sizes, checksums and counts, as one folder."""
    # The cache root is ours (cache_root()): a damaged cache folder there is replaced.
    with atomic_directory(target, overwrite=True, is_ours=lambda folder: True) as tmp:
        manifest = {"format": _CACHE_FORMAT, "splits": {}}
        for split, (texts, labels) in splits.items():
            lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
            offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
            contents = {"texts.bin": b"".join(texts)}
            for name, array in (("offsets.npy", offsets), ("labels.npy", labels)):
                buffer = io.BytesIO()
                np.save(buffer, array)
                contents[name] = buffer.getvalue()
            files = {}
            for name, data in contents.items():
                (tmp / f"{split}.{name}").write_bytes(data)
                files[name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            manifest["splits"][split] = {"reviews": len(texts), "files": files}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))


class _DamagedCache(Exception):
    """The cache folder disagrees with its manifest; the message says how."""


def _read_cache(folder: Path, split: str) -> tuple[list[bytes], np.ndarray]:
    """The split's texts and labels, each file checked against the manifest as it is read."""
    try:
        entry = json.loads((folder / "manifest.json").read_text())["splits"][split]
        reviews, expected = int(entry["reviews"]), entry["files"]
        contents = {}
        for name in _CACHE_FILES:
            path = folder / f"{split}.{name}"
            if not path.is_file():
                raise _DamagedCache(f"{path.name} is missing")
            data = path.read_bytes()
            if len(data) != expected[name]["size"]:
                raise _DamagedCache(
                    f"{path.name} has {len(data):,} bytes, not {expected[name]['size']:,}"
                )
            if hashlib.sha256(data).hexdigest() != expected[name]["sha256"]:
                raise _DamagedCache(f"{path.name} does not match its SHA-256")
            contents[name] = data
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise _DamagedCache(f"unreadable: {type(err).__name__}: {err}") from err
    offsets = np.load(io.BytesIO(contents["offsets.npy"]))
    labels = np.load(io.BytesIO(contents["labels.npy"]))
    blob = contents["texts.bin"]
    if len(offsets) != reviews + 1 or len(labels) != reviews or offsets[-1] != len(blob):
        raise _DamagedCache(f"the {split} files do not hold {reviews:,} reviews")
    starts, ends = offsets[:-1].tolist(), offsets[1:].tolist()
    return [blob[s:e] for s, e in zip(starts, ends, strict=True)], labels


def _read_archive(archive: Path, split: str) -> tuple[list[bytes], np.ndarray]:
    folder = _archive_cache_dir(archive)
    if folder.exists():
        try:
            return _read_cache(folder, split)
        except _DamagedCache as damage:
            _log.warning(
                "attention-lab: warning: the IMDb cache %s is damaged (%s); rebuilding it from %s",
                folder,
                damage,
                archive,
            )
    _write_cache(folder, _scan_archive(archive))
    return _read_cache(folder, split)


def _read_directory(root: Path, split: str) -> tuple[list[bytes], np.ndarray]:
    parent = "train" if split == "unsupervised" else split
    folders = ("unsup",) if split == "unsupervised" else LABEL_FOLDERS
    items: list[tuple[str, bytes, int]] = []
    for folder in folders:
        directory = root / parent / folder
        if not directory.is_dir():
            raise AttentionLabError(
                f"{directory} is missing: {root} is not a complete aclImdb directory for the "
                f"{split!r} split; extract aclImdb_v1.tar.gz again or pass the archive itself"
            )
        label = _split_and_label(parent, folder)[1]
        for path in directory.glob("*.txt"):
            text = _check_utf8(str(path), path.read_bytes()).strip()
            items.append((str(path.relative_to(root)), text, label))
    if not items:
        raise AttentionLabError(f"no reviews (*.txt) under {root / parent} for split {split!r}")
    return _shuffled(items)


def _read_tfds(split: str) -> tuple[list[bytes], np.ndarray]:
    import tensorflow_datasets as tfds

    texts, labels = [], []
    for text, label in tfds.as_numpy(tfds.load("imdb_reviews", split=split, as_supervised=True)):
        texts.append(bytes(text))
        labels.append(int(label))
    return texts, np.array(labels, dtype=np.int64)


def tfds_manual_archive(data_dir: str | os.PathLike | None = None) -> Path:
    """Where tensorflow-datasets' download manager looks for a manually downloaded archive:
    ``<data_dir>/downloads/manual/aclImdb_v1.tar.gz`` (default data_dir
    ``~/tensorflow_datasets`` or ``$TFDS_DATA_DIR``)."""
    import tensorflow_datasets as tfds

    root = tfds.builder("imdb_reviews", data_dir=data_dir).data_dir_root
    return Path(root) / "downloads" / "manual" / TFDS_ARCHIVE_NAME


@functools.cache
def _local_archive_builder() -> type:
    """tensorflow-datasets' ``imdb_reviews`` builder that "downloads" a given local archive.

    Everything but the download is the real builder's: features, info, splits and the order
    (each split's examples sorted by the md5 of the split name and the file's path in the
    archive). The official archive's registered checksum would refuse any other file, so this
    builder registers the given file's own size and sha256 instead.
    """
    from tensorflow_datasets.core.download import checksums
    from tensorflow_datasets.datasets.imdb_reviews import imdb_reviews_dataset_builder as real

    class LocalArchiveImdb(real.Builder, skip_registration=True):
        name = "imdb_reviews"

        def __init__(self, *, archive: Path, **kwargs):
            self.archive = archive
            super().__init__(**kwargs)

        @classmethod
        def get_metadata(cls):  # the description and citation beside the real builder
            return real.Builder.get_metadata()

        @property
        def url_infos(self):
            url_info = checksums.compute_url_info(self.archive)
            return {real._DOWNLOAD_URL: dataclasses.replace(url_info, filename=TFDS_ARCHIVE_NAME)}

    return LocalArchiveImdb


def prepare_tfds_imdb(archive: str | os.PathLike, data_dir: str | os.PathLike | None = None):
    """Prepare tensorflow-datasets' ``imdb_reviews`` from a local ``aclImdb_v1.tar.gz``, offline.

    Then ``tfds.load("imdb_reviews", data_dir=data_dir)`` reads it as if downloaded (the
    chapter's first review is "This was an absolutely terrible movie. Don't be lured in by
    Christopher Walken..."). All three splits take about 30 s on a laptop CPU.
    """
    import tensorflow_datasets as tfds

    archive = Path(archive).expanduser().resolve()
    if not archive.is_file():
        raise AttentionLabError(
            f"{archive} is not a file; tensorflow-datasets builds imdb_reviews from the "
            f"aclImdb_v1.tar.gz archive ({ARCHIVE_URL}), not from an extracted folder"
        )
    builder = _local_archive_builder()(archive=archive, data_dir=data_dir)
    with tempfile.TemporaryDirectory() as manual:
        (Path(manual) / TFDS_ARCHIVE_NAME).symlink_to(archive)
        config = tfds.download.DownloadConfig(manual_dir=manual)
        builder.download_and_prepare(download_config=config)
    return builder


def read_imdb(
    split: str, data: str | os.PathLike | None = None, source: ImdbSource | None = None
) -> ImdbSplit:
    """One split as Python bytes and a numpy label array (fast for Python-side preprocessing).

    ``split`` is ``"train"``, ``"test"`` or ``"unsupervised"``; ``data`` as for
    :func:`resolve_imdb_source`, or pass an already resolved ``source``.
    """
    _check_split(split)
    source = source or resolve_imdb_source(data)
    if source.kind == "archive":
        texts, labels = _read_archive(source.path, split)
    elif source.kind == "directory":
        texts, labels = _read_directory(source.path, split)
    else:
        texts, labels = _read_tfds(split)
    return ImdbSplit(split, texts, labels, source)


def load_imdb(split: str, data: str | os.PathLike | None = None, download: bool = True):
    """``tf.data.Dataset`` of ``(text, label)``, like ``tfds.load(..., as_supervised=True)``.

    Element spec: ``(TensorSpec((), tf.string), TensorSpec((), tf.int64))``. ``split`` is
    ``"train"``, ``"test"`` (25,000 labelled reviews each) or ``"unsupervised"`` (50,000, label
    -1). ``data``/``download``: see :func:`resolve_imdb_source`. The cardinality is known.
    """
    import tensorflow as tf

    _check_split(split)
    source = resolve_imdb_source(data, download=download)
    if source.kind == "tfds":
        import tensorflow_datasets as tfds

        return tfds.load("imdb_reviews", split=split, as_supervised=True)
    loaded = read_imdb(split, source=source)
    texts = tf.constant(loaded.texts, dtype=tf.string)
    return tf.data.Dataset.from_tensor_slices((texts, tf.constant(loaded.labels, tf.int64)))


def load_imdb_unsupervised(data: str | os.PathLike | None = None, download: bool = True):
    """The 50,000 unlabelled reviews (label -1), the split the chapter ignores."""
    return load_imdb("unsupervised", data=data, download=download)
