"""``attention-lab convert``: a checked copy of a checkpoint in our folder form, with its origin.

:func:`convert_checkpoint` is :func:`~attention_lab.convert.bert_folder.load_bert` (which
checks every tensor) then :func:`~attention_lab.convert.bert_folder.save_bert`; the new folder
records in config.json's ``attention_lab`` block where it came from: the source, the sha256 of
the files read, the tensors skipped and the date.
"""

from __future__ import annotations

import os
from pathlib import Path

from attention_lab.convert.bert_folder import CONFIG, is_our_folder, load_bert, save_bert
from attention_lab.convert.hf_checkpoint import weight_files
from attention_lab.convert.integrity import sha256
from attention_lab.io import check_destination, check_separate, utc_now


def convert_checkpoint(
    source: str | os.PathLike,
    out_dir: str | os.PathLike,
    overwrite: bool = False,
) -> Path:
    """``load_bert(source)`` then ``save_bert``: a checked copy of ``source`` in our folder form.

    The new folder records where it came from (``source``, the sha256 of the files read, the
    tensors skipped) in config.json's ``attention_lab`` block.
    """
    out = Path(out_dir)
    local = Path(source).expanduser()
    check_destination(out, overwrite, is_our_folder, (local,) if local.exists() else ())
    loaded = load_bert(source)
    check_separate(out, loaded.directory)  # convert X --out X (or inside X) would destroy X
    read = [loaded.directory / CONFIG, *weight_files(loaded.directory)]
    provenance = {
        "source": str(source),
        "source_sha256": {p.name: sha256(p) for p in read},
        "skipped_tensors": loaded.report.skipped,
        "converted_at": utc_now(),
    }
    tokenizer = loaded.directory if (loaded.directory / "vocab.txt").is_file() else None
    return save_bert(
        loaded.model, out, tokenizer, loaded.label_names or None, overwrite, provenance
    )
