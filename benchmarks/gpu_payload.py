"""What travels to the GPU machine for the GPU run (:mod:`benchmarks.gpu_run`), in 64 MiB.

The machine has PyTorch, JAX and transformers, no TensorFlow and no network; at most 64 MiB
travel with the repository. The payload folder (``gpu_payload/`` by default, ignored by git)
holds:

- ``wheels/``: Keras and the two packages it needs that the machine lacks (namex, optree) at
  the versions installed here, for Python 3.12 on manylinux x86-64 (its other requirements,
  absl-py, h5py, ml-dtypes, numpy, packaging and rich, are there);
- ``all-MiniLM-L6-v2/``: its config and tokenizer files, and ``weights.npz``: every float
  tensor rounded to float16 (a relative change of at most 2⁻¹¹), since its 91 MB of float32
  do not fit. On the machine they become a float32 checkpoint again, which Hugging Face and
  ours both load: parity compares the two on identical weights;
- ``imdb-512.npz``: IMDb's 25,000 training and 25,000 test reviews encoded with that
  checkpoint's own vocabulary by ``attention_lab``'s tokenizer to at most 512 WordPieces (the
  first ones, as the chapter's text says), stored ragged as uint16 ids with their lengths
  (the 84 MB archive does not fit);
- ``reviews.txt``: the first eight test reviews, for parity at 512 tokens;
- ``manifest.json``: how the payload was made, and every file's size and SHA-256, checked
  on arrival.

Both ``.npz`` files hold LZMA-compressed members, which ``np.load`` reads like any other.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TRAVEL_LIMIT = 64 * 2**20  # what may travel, the repository included

WHEELS = ("keras", "namex", "optree")
WHEEL_PLATFORMS = (
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux1_x86_64",
)
MODEL_DIR, WEIGHTS = "all-MiniLM-L6-v2", "weights.npz"
IMDB, REVIEWS, MANIFEST = "imdb-512.npz", "reviews.txt", "manifest.json"
MAX_LEN, SMOKE_MAX_LEN = 512, 32
PARITY_MAX_LEN = {False: MAX_LEN, True: SMOKE_MAX_LEN}  # by smoke
PARITY_REVIEWS = 8
TRUNCATION = "first"


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An ``.npz`` of LZMA-compressed members, written atomically."""
    from attention_lab.io import atomic_file

    with atomic_file(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_LZMA) as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(array))


# --- made here ------------------------------------------------------------------------------


def fetch_wheels(dest: Path) -> list[Path]:
    """Download :data:`WHEELS`, at the versions installed here, for the GPU machine."""
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in WHEELS]
    platforms = [arg for name in WHEEL_PLATFORMS for arg in ("--platform", name)]
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
         "--python-version", "3.12", "--implementation", "cp", *platforms, "-d", str(dest),
         *pins],
        check=True,
    )  # fmt: skip
    return sorted(dest.glob("*.whl"))


def write_model(hf_dir: Path, dest: Path) -> None:
    """``hf_dir``'s config and tokenizer files, and its tensors (floats in float16)."""
    from attention_lab.convert import read_state_dict
    from attention_lab.convert.bert_folder import CONFIG
    from attention_lab.tokenization.vocab import TOKENIZER_FILES

    dest.mkdir(parents=True, exist_ok=True)
    for name in (CONFIG, *TOKENIZER_FILES):
        if (hf_dir / name).is_file():
            shutil.copyfile(hf_dir / name, dest / name)
    tensors = read_state_dict(hf_dir)
    half = {k: v.astype(np.float16) if v.dtype.kind == "f" else v for k, v in tensors.items()}
    write_npz(dest / WEIGHTS, half)


def encode_split(tokenizer, texts, labels, max_len: int) -> dict[str, np.ndarray]:
    """Reviews encoded, ragged: ``ids`` (every review's tokens, one after the other),
    ``lengths`` and ``labels``."""
    from attention_lab.training.data import encode_reviews

    encoded = encode_reviews(tokenizer, texts, labels, max_len, TRUNCATION)
    ids = encoded.features["input_ids"]
    if ids.max() >= 2**16:
        raise ValueError(f"token id {ids.max()} does not fit in uint16")
    return {
        "ids": ids[encoded.features["attention_mask"].astype(bool)].astype(np.uint16),
        "lengths": encoded.lengths.astype(np.uint16),
        "labels": encoded.labels.astype(np.uint8),
    }


def write_imdb(tokenizer, splits: dict, max_len: int, path: Path) -> dict:
    """``splits`` (name: (texts, labels)) encoded into one npz; returns counts per split."""
    arrays, counts = {"max_len": np.asarray(max_len)}, {}
    for split, (texts, labels) in splits.items():
        encoded = encode_split(tokenizer, texts, labels, max_len)
        arrays.update({f"{split}_{key}": value for key, value in encoded.items()})
        counts[split] = {
            "reviews": len(texts),
            "tokens": int(encoded["lengths"].astype(np.int64).sum()),
            "truncated": int((encoded["lengths"] == max_len).sum()),
        }
    write_npz(path, arrays)
    return counts


def write_reviews(texts, path: Path) -> None:
    """One review per line; tabs and line breaks become spaces (a tab would make a pair)."""
    path.write_text("\n".join(" ".join(t.split()) for t in texts) + "\n", encoding="utf-8")


def write_manifest(payload: Path, about: dict) -> dict:
    from attention_lab.convert.integrity import sha256
    from attention_lab.io import atomic_write_json

    files = {
        str(p.relative_to(payload)): {"bytes": p.stat().st_size, "sha256": sha256(p)}
        for p in sorted(payload.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    manifest = {**about, "files": files, "bytes": sum(f["bytes"] for f in files.values())}
    atomic_write_json(payload / MANIFEST, manifest, indent=1)
    return manifest


def repository_bytes() -> int:
    """What travels of the repository: its tracked and untracked, not ignored, files."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    paths = (ROOT / os.fsdecode(name) for name in listed if name)
    return sum(p.stat().st_size for p in paths if p.is_file())


def prepare(payload: Path, model_dir: Path, archive: Path, wheels: bool = True) -> dict:
    """The payload of the real run; refused when it and the repository exceed 64 MiB."""
    from attention_lab.data.imdb import read_imdb
    from attention_lab.tokenization import BertTokenizer

    if wheels:
        fetch_wheels(payload / "wheels")
    write_model(model_dir, payload / MODEL_DIR)
    splits = {}
    for split in ("train", "test"):
        reviews = read_imdb(split, archive)
        splits[split] = ([t.decode("utf-8") for t in reviews.texts], reviews.labels)
    tokenizer = BertTokenizer.from_pretrained(model_dir)
    counts = write_imdb(tokenizer, splits, MAX_LEN, payload / IMDB)
    write_reviews(splits["test"][0][:PARITY_REVIEWS], payload / REVIEWS)
    about = {
        "model": MODEL_DIR,
        "source": str(model_dir),
        "weights": "float tensors rounded to float16; float32 again on arrival",
        "imdb": {"max_len": MAX_LEN, "truncation": TRUNCATION, "splits": counts},
        "reviews": f"the first {PARITY_REVIEWS} test reviews in the loader's order",
    }
    manifest = write_manifest(payload, about)
    travel = manifest["bytes"] + repository_bytes()
    print(
        f"payload {manifest['bytes'] / 2**20:.1f} MiB; with the repository {travel / 2**20:.1f} MiB"
    )
    if travel > TRAVEL_LIMIT:
        raise SystemExit(f"{travel / 2**20:.1f} MiB would travel: more than 64 MiB")
    return manifest


SMOKE_WORDS = ["good", "great", "fun", "bad", "awful", "dull", "the", "movie", "plot", "was"]


def prepare_smoke(payload: Path) -> dict:
    """A tiny payload, no wheels: a BERT that transformers makes, with a vocabulary of
    :data:`SMOKE_WORDS`, and reviews whose words tell their label."""
    import torch
    import transformers

    from attention_lab.io import atomic_write_json
    from attention_lab.tokenization import BertTokenizer
    from attention_lab.tokenization.vocab import SPECIAL_TOKENS_MAP

    hf_dir = payload / "hf"
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *SMOKE_WORDS]
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=48,
        max_position_embeddings=40,
    )
    transformers.BertModel(config).save_pretrained(hf_dir)
    (hf_dir / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    atomic_write_json(
        hf_dir / "tokenizer_config.json", {"do_lower_case": True, **SPECIAL_TOKENS_MAP}
    )
    write_model(hf_dir, payload / MODEL_DIR)
    shutil.rmtree(hf_dir)

    rng = np.random.default_rng(0)
    words = {1: SMOKE_WORDS[:3], 0: SMOKE_WORDS[3:6]}

    def reviews(n: int):
        labels = rng.integers(0, 2, n)
        pool = {label: words[label] + SMOKE_WORDS[6:] for label in words}
        texts = [" ".join(rng.choice(pool[y], rng.integers(3, 40))) for y in labels]
        return texts, labels

    splits = {"train": reviews(96), "test": reviews(48)}
    tokenizer = BertTokenizer.from_pretrained(payload / MODEL_DIR)
    counts = write_imdb(tokenizer, splits, SMOKE_MAX_LEN, payload / IMDB)
    write_reviews(splits["test"][0][:3], payload / REVIEWS)
    return write_manifest(payload, {"smoke": True, "imdb": {"splits": counts}})


# --- read on the machine ------------------------------------------------------------------


def check_payload(payload: Path) -> dict:
    """The manifest, after checking every file it names against its size and SHA-256."""
    from attention_lab.convert.integrity import sha256

    manifest = json.loads((payload / MANIFEST).read_text())
    for name, expected in manifest["files"].items():
        path = payload / name
        if not path.is_file() or sha256(path) != expected["sha256"]:
            raise SystemExit(f"{path} is missing or differs from {payload / MANIFEST}")
    return manifest


def missing_wheels(wheel_dir: Path) -> list[Path]:
    """The wheels in ``wheel_dir`` whose distribution is not installed."""
    missing = []
    for wheel in sorted(wheel_dir.glob("*.whl")):
        try:
            importlib.metadata.version(wheel.name.split("-")[0])
        except importlib.metadata.PackageNotFoundError:
            missing.append(wheel)
    return missing


def restore_model(payload: Path, dest: Path) -> Path:
    """The payload's model as a float32 Hugging Face folder at ``dest``."""
    from safetensors.numpy import save_file

    from attention_lab.convert.hf_checkpoint import SAFETENSORS

    source = payload / MODEL_DIR
    dest.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if path.name != WEIGHTS:
            shutil.copyfile(path, dest / path.name)
    with np.load(source / WEIGHTS) as weights:
        tensors = {name: weights[name] for name in weights.files}
    full = {k: v.astype(np.float32) if v.dtype.kind == "f" else v for k, v in tensors.items()}
    save_file(full, str(dest / SAFETENSORS), metadata={"format": "pt"})
    return dest


def read_encoded(path: Path, split: str):
    """One split of :data:`IMDB` as an :class:`~attention_lab.training.data.EncodedDataset`
    (training and evaluation check its ids against the model before any compiled step)."""
    from attention_lab.training.data import EncodedDataset

    with np.load(path) as data:
        max_len = int(data["max_len"])
        ids, lengths = data[f"{split}_ids"].astype(np.int32), data[f"{split}_lengths"]
        labels = data[f"{split}_labels"].astype(np.int32)
    mask = np.arange(max_len)[None, :] < lengths[:, None]  # (reviews, max_len)
    input_ids = np.zeros(mask.shape, np.int32)
    input_ids[mask] = ids  # row after row, as encode_split took them out
    mask = mask.astype(np.int32)
    features = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": 0 * mask}
    return EncodedDataset(features, labels)
