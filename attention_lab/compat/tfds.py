"""The names the chapter uses from ``tensorflow_datasets`` (section 2), on attention_lab.

The chapter's code runs with ``import attention_lab.compat.tfds as tfds``:

- ``tfds.load("imdb_reviews", split=..., with_info=..., as_supervised=...)`` is
  tensorflow-datasets' own ``load``, so the order, the info object and the features are its
  own. Offline, ``imdb_reviews`` is first prepared from a local archive
  (:func:`attention_lab.data.imdb.prepare_tfds_imdb`): ``$ATTENTION_LAB_IMDB``, or
  ``aclImdb_v1.tar.gz`` where tensorflow-datasets looks for a manual download
  (``~/tensorflow_datasets/downloads/manual/``).
- ``tfds.features.text.Tokenizer`` and ``TokenTextEncoder``, which tensorflow-datasets 4 moved
  to ``tfds.deprecated.text``, as tensorflow-datasets 2.x/3.x had them, on
  :mod:`attention_lab.data.text_encoder`.
"""

from __future__ import annotations

import os
import types
from collections.abc import Iterable
from pathlib import Path

from attention_lab.data import imdb
from attention_lab.data.text_encoder import TokenEncoder, tokenize
from attention_lab.errors import AttentionLabError

NAMES = ("imdb_reviews", "imdb_reviews/plain_text")
# tensorflow-datasets' load keywords that pass through unchanged.
LOAD_KEYWORDS = (
    "split",
    "data_dir",
    "batch_size",
    "shuffle_files",
    "download",
    "as_supervised",
    "with_info",
    "read_config",
    "as_dataset_kwargs",
)


def load(name: str, **kwargs):
    """``tfds.load`` for the chapter's data set, ``imdb_reviews``, also offline.

    Returns what tensorflow-datasets returns: ``(text, label)`` pairs with
    ``as_supervised=True``, and ``(dataset, info)`` with ``with_info=True``.
    """
    import tensorflow_datasets as real

    if name not in NAMES:
        raise AttentionLabError(
            f"tfds.load({name!r}): attention_lab.compat.tfds loads only the chapter's "
            "'imdb_reviews'; import tensorflow_datasets itself for other data sets"
        )
    unknown = sorted(set(kwargs) - set(LOAD_KEYWORDS))
    if unknown:
        raise AttentionLabError(
            f"tfds.load does not take {', '.join(unknown)}; it takes {', '.join(LOAD_KEYWORDS)}"
        )
    data_dir = kwargs.get("data_dir")
    if not real.builder(name, data_dir=data_dir).is_prepared():
        archive = _local_archive(data_dir, kwargs.get("download", True))
        if archive is not None:
            imdb.prepare_tfds_imdb(archive, data_dir)
    return real.load(name, **kwargs)


def _local_archive(data_dir: str | None, download: bool) -> Path | None:
    """The archive to prepare ``imdb_reviews`` from: ``$ATTENTION_LAB_IMDB``, else the file
    where tensorflow-datasets looks for a manual download; None when it can download."""
    if os.environ.get(imdb.ENV_VAR):
        return imdb.resolve_imdb_source().path
    manual = imdb.tfds_manual_archive(data_dir)
    if manual.is_file():
        return manual
    if download and imdb.online():
        return None
    raise AttentionLabError(
        "imdb_reviews is not prepared and tensorflow-datasets cannot download it (offline): "
        f"download aclImdb_v1.tar.gz from {imdb.ARCHIVE_URL} on a machine with internet, then "
        f"set {imdb.ENV_VAR}=PATH or copy it to {manual}"
    )


class Tokenizer:
    """``tfds.features.text.Tokenizer()`` (tensorflow-datasets 2.x/3.x): split on runs of
    non-word characters, empty pieces dropped (:func:`attention_lab.data.text_encoder.tokenize`)."""

    def __init__(self, alphanum_only: bool = True, reserved_tokens: Iterable[str] | None = None):
        if not alphanum_only or reserved_tokens:
            raise AttentionLabError(
                "Tokenizer takes only its defaults here (alphanum_only=True, no "
                "reserved_tokens), the chapter's; use tfds.deprecated.text.Tokenizer for others"
            )

    def tokenize(self, s: str | bytes) -> list[str]:
        return tokenize(s)

    def join(self, tokens: Iterable[str]) -> str:
        return " ".join(tokens)


class TokenTextEncoder(TokenEncoder):
    """``tfds.features.text.TokenTextEncoder`` (tensorflow-datasets 2.x/3.x) on our
    :class:`~attention_lab.data.text_encoder.TokenEncoder`: id 0 padding, the vocabulary from
    1, one out-of-vocabulary id (``vocab_size`` = vocabulary + 2), ``lowercase`` off by
    default as in tensorflow-datasets.

    The chapter passes a Python ``set``, whose order changes from run to run; it is sorted, so
    the ids are the same in every run (``vocab_size`` does not depend on the order).
    """

    def __init__(
        self,
        vocab_list: Iterable[str],
        oov_buckets: int = 1,
        oov_token: str = "UNK",
        lowercase: bool = False,
        tokenizer: Tokenizer | None = None,
        strip_vocab: bool = True,
        decode_token_separator: str = " ",
    ):
        defaults = (oov_buckets, oov_token, strip_vocab, decode_token_separator)
        if defaults != (1, "UNK", True, " ") or not isinstance(tokenizer, Tokenizer | None):
            raise AttentionLabError(
                "TokenTextEncoder takes vocab_list, lowercase and a tfds.features.text."
                "Tokenizer() here, the chapter's; leave oov_buckets, oov_token, strip_vocab "
                "and decode_token_separator at their defaults"
            )
        if isinstance(vocab_list, set | frozenset):
            vocab_list = sorted(vocab_list)
        super().__init__(list(vocab_list), lowercase=lowercase)
        self.tokenizer = tokenizer or Tokenizer()


features = types.SimpleNamespace(
    text=types.SimpleNamespace(Tokenizer=Tokenizer, TokenTextEncoder=TokenTextEncoder)
)
