"""GloVe word vectors (Pennington et al., 2014) and the chapter's embedding matrix (section 2).

:func:`load_glove` reads ``glove.6B.{50,100,200,300}d.txt``, the same gzipped (``.txt.gz``), or
the official ``glove.6B.zip`` (the member is chosen by ``dim``). Each line is
``word v1 ... vD``. Parsing is vectorised: the whole file is split into lines once and every
well-formed line's numbers go through one ``np.fromstring`` call, not a Python float loop.
A line with the wrong number of values (as a word with a space in it makes) or a value that is
not a number is skipped, not fatal: it is recorded (``GloveVectors.skipped``: line number, word,
problem) and named in a warning on stderr. A file whose lines are mostly of another dimension
is an error that names the dimension it has, and so is a NaN or infinite value (a damaged
file: it would make the embedding matrix, and everything trained on it, NaN).

:func:`build_embedding_matrix` is the chapter's loop: zeros of shape ``(vocab_size, dim)``; for
each entry of the encoder's token list found in GloVe, its vector at the id the encoder gives
that token; every entry not found is counted (over the token list, duplicates included, as the
chapter counts).
"""

from __future__ import annotations

import gzip
import logging
import re
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from attention_lab.errors import AttentionLabError

GLOVE_URL = "https://nlp.stanford.edu/data/glove.6B.zip"
DIMENSIONS = (50, 100, 200, 300)
_DIM_IN_NAME = re.compile(r"(\d+)d\.txt")
_SHOWN_SKIPPED = 5  # skipped lines named in the warning; all are in GloveVectors.skipped
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SkippedLine:
    """A line of the file that was not loaded: where, which word, and why."""

    number: int  # 1-based
    word: str
    problem: str

    def __str__(self) -> str:
        return f"line {self.number} ({self.word!r}: {self.problem})"


@dataclass
class GloveVectors:
    """Words, their ``(n, dim)`` float32 vectors, and the lines skipped while parsing."""

    words: list[str]
    vectors: np.ndarray
    path: Path
    skipped: list[SkippedLine] = field(default_factory=list)

    @property
    def skipped_lines(self) -> list[int]:
        """The 1-based numbers of the skipped lines."""
        return [line.number for line in self.skipped]

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.words)

    @cached_property
    def index(self) -> dict[str, int]:
        """Word -> row (a repeated word keeps its last row, like the chapter's dict)."""
        return {word: row for row, word in enumerate(self.words)}

    def get(self, word: str) -> np.ndarray | None:
        row = self.index.get(word)
        return None if row is None else self.vectors[row]


def _read_bytes(path: Path, dim: int | None) -> tuple[bytes, int | None]:
    """The text file's bytes, and the dimension its name announces (if any)."""
    try:
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                names = [n for n in archive.namelist() if n.endswith(".txt")]
                if dim is None:
                    raise AttentionLabError(
                        f"{path} holds several GloVe files ({', '.join(names)}); choose one "
                        f"with dim= (CLI: --dim), one of {DIMENSIONS}"
                    )
                wanted = [n for n in names if n.endswith(f".{dim}d.txt")]
                if not wanted:
                    raise AttentionLabError(
                        f"{path} has no {dim}-d member (it holds {', '.join(names) or 'none'})"
                    )
                return archive.read(wanted[0]), dim
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except FileNotFoundError as err:
        raise AttentionLabError(
            f"GloVe file not found: {path}; download glove.6B.zip from {GLOVE_URL} and pass the "
            "zip or one of its glove.6B.<dim>d.txt files (gzipped is fine)"
        ) from err
    except EOFError as err:  # gzip's stream ends before its end marker
        raise AttentionLabError(
            f"GloVe file {path} is truncated (its compressed data ends early: "
            f"{' '.join(str(err).split())}); download glove.6B.zip again from {GLOVE_URL}"
        ) from err
    except (OSError, zlib.error, zipfile.BadZipFile) as err:
        reason = " ".join(str(err).split())  # one line, whatever the library wrote
        raise AttentionLabError(f"cannot read GloVe file {path}: {reason}") from err
    match = _DIM_IN_NAME.search(path.name)
    return raw, int(match.group(1)) if match else None


def load_glove(path: str | Path, dim: int | None = None) -> GloveVectors:
    """Parse a GloVe text file (``.txt``, ``.txt.gz`` or ``glove.6B.zip``) into vectors.

    ``dim``: the dimension to expect; by default the one in the file name (``50d``), else the
    most common line length. Lines of another length, or with a value that is not a number, are
    skipped, recorded and named in a warning; if most lines have another length, or a value is
    NaN or infinite, raise :class:`AttentionLabError` naming it.
    """
    path = Path(path).expanduser()
    raw, named_dim = _read_bytes(path, dim)
    lines = raw.rstrip(b"\n").split(b"\n")
    if lines == [b""]:
        raise AttentionLabError(f"GloVe file {path} is empty")
    heads, _, rests = zip(*(line.rstrip(b"\r ").partition(b" ") for line in lines), strict=True)
    counts = np.fromiter((rest.count(b" ") + 1 if rest else 0 for rest in rests), np.int64)
    common = int(np.bincount(counts).argmax())
    expected = dim or named_dim or common
    good = counts == expected
    if good.sum() * 2 < len(lines):
        raise AttentionLabError(
            f"{path} holds {common}-d vectors (most lines have {common} values), not {expected}-d;"
            f" pass dim={common} (CLI: --dim {common}) or the {expected}-d file"
        )
    rows = np.flatnonzero(good)
    values = _parse_floats([rests[i] for i in rows], expected)
    unparsed: set[int] = set()
    if values is None:  # some "numbers" do not parse: find those lines one by one
        parsed = [_parse_floats([rests[i]], expected) for i in rows]
        unparsed = {int(i) for i, p in zip(rows, parsed, strict=True) if p is None}
        rows = np.array([i for i in rows if int(i) not in unparsed], dtype=np.int64)
        if not rows.size:
            raise AttentionLabError(
                f"{path}: no line holds {expected} numbers after its word; it is not a GloVe "
                f"file (download glove.6B.zip from {GLOVE_URL})"
            )
        values = np.concatenate([p for p in parsed if p is not None]).reshape(-1, expected)
    finite = np.isfinite(values).all(axis=1)
    if not finite.all():
        line = int(rows[np.argmin(finite)])
        raise AttentionLabError(
            f"{path}: line {line + 1} ({_word(heads[line])!r}) holds a NaN or infinite value "
            f"(or one beyond float32), as do {int((~finite).sum())} line(s) in all; the file is "
            f"damaged. Download glove.6B.zip again from {GLOVE_URL}"
        )

    def problem(i: int) -> str:
        if i in unparsed:
            return "a value that is not a number"
        return f"{counts[i]} value{'' if counts[i] == 1 else 's'}, not {expected}"

    bad = sorted({*np.flatnonzero(~good).tolist(), *unparsed})
    skipped = [SkippedLine(i + 1, _word(heads[i]), problem(i)) for i in bad]
    if skipped:
        shown = ", ".join(str(line) for line in skipped[:_SHOWN_SKIPPED])
        more = f" and {len(skipped) - _SHOWN_SKIPPED} more" if len(skipped) > _SHOWN_SKIPPED else ""
        _log.warning(
            "attention-lab: warning: %s: skipped %d malformed line(s): %s%s",
            path,
            len(skipped),
            shown,
            more,
        )
    try:
        words = [heads[i].decode("utf-8") for i in rows]
    except UnicodeDecodeError:
        _refuse_non_utf8(path, lines, rows)
    return GloveVectors(words, values, path, skipped)


def _refuse_non_utf8(path: Path, lines: list[bytes], rows) -> None:
    """One line naming the first word that is not UTF-8: its line and its byte offset in the
    (decompressed) file. GloVe's files are UTF-8; a word that is not cannot match any token."""
    offset = 0
    for i, line in enumerate(lines):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as err:
            raise AttentionLabError(
                f"{path}: line {i + 1} is not UTF-8 text (byte {offset + err.start} of the "
                f"file{', decompressed' if path.suffix in ('.gz', '.zip') else ''}); GloVe's "
                f"files are UTF-8: download glove.6B.zip again from {GLOVE_URL}"
            ) from None
        offset += len(line) + 1


def _word(head: bytes) -> str:
    return head.decode("utf-8", errors="replace")


def _parse_floats(rests: list[bytes], dim: int) -> np.ndarray | None:
    """All numbers of ``rests`` as a ``(len(rests), dim)`` float32 array; None if any is bad."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # older numpy warns, newer raises
        try:
            flat = np.fromstring(b" ".join(rests), dtype=np.float32, sep=" ")
        except ValueError:
            return None
    if flat.size != len(rests) * dim:
        return None
    return flat.reshape(len(rests), dim)


@dataclass
class EmbeddingMatrix:
    """The chapter's embedding matrix and what was not found in GloVe."""

    matrix: np.ndarray  # (vocab_size, dim), float32; padding/OOV/unknown rows are zeros
    unknown_tokens: int  # entries of the token list not in GloVe (duplicates counted)
    unknown_words: list[str]  # the distinct ones, sorted
    token_count: int  # length of the encoder's token list

    @property
    def coverage(self) -> float:
        """Fraction of the token list found in GloVe."""
        return 1.0 - self.unknown_tokens / self.token_count


def build_embedding_matrix(encoder, glove: GloveVectors) -> EmbeddingMatrix:
    """Zeros ``(encoder.vocab_size, glove.dim)``; each known token's vector at its id."""
    tokens = encoder.tokens
    matrix = np.zeros((encoder.vocab_size, glove.dim), dtype=np.float32)
    index = glove.index
    ids, rows, unknown = [], [], []
    for token in tokens:
        row = index.get(token)
        if row is None:
            unknown.append(token)
        else:
            ids.append(encoder.token_id(token))
            rows.append(row)
    matrix[np.array(ids, dtype=np.int64)] = glove.vectors[np.array(rows, dtype=np.int64)]
    return EmbeddingMatrix(matrix, len(unknown), sorted(set(unknown)), len(tokens))
