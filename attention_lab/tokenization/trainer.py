"""Training a subword vocabulary: WordPiece and BPE, as chapter section 3 describes them.

Both start from characters and merge adjacent pieces until the vocabulary has ``vocab_size``
tokens; a piece inside a word carries the ``##`` prefix, so both write a ``vocab.txt`` that our
:class:`~attention_lab.tokenization.BertTokenizer` and Hugging Face's ``BertTokenizerFast`` load.
They differ in which pair they merge next:

- **BPE** (Sennrich et al., 2016): the most frequent pair;
- **WordPiece** (Schuster & Nakajima, 2012): the pair that most raises the likelihood of the
  training words under a unigram model of pieces, i.e. the highest
  ``count(ab) / (count(a) · count(b))``, which prefers pairs whose parts rarely occur apart.

Words come from BERT's basic tokenizer (so training and tokenization see the same words), each
with its frequency. Counts are updated incrementally: a merge only revisits the words that
contain the merged pair, which is what makes a 30,000-token vocabulary a matter of minutes.
"""

from __future__ import annotations

import heapq
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from attention_lab.errors import AttentionLabError
from attention_lab.io import atomic_directory, atomic_write_json, atomic_write_text
from attention_lab.tokenization.basic import BasicTokenizer
from attention_lab.tokenization.vocab import TRAINED_VOCAB_SPECIALS, VOCAB_FILE

ALGORITHMS = ("wordpiece", "bpe")
PREFIX = "##"


@dataclass
class TrainedVocabulary:
    """The tokens in id order and the merges that made them, in the order they were made."""

    tokens: list[str]
    merges: list[tuple[str, str]] = field(default_factory=list)
    do_lower_case: bool = True
    algorithm: str = "wordpiece"

    def save(self, directory: str | os.PathLike, overwrite: bool = False) -> None:
        """Write ``vocab.txt`` and ``tokenizer_config.json`` (a loadable tokenizer directory)."""
        config = {
            "do_lower_case": self.do_lower_case,
            "tokenizer_class": "BertTokenizer",
            "trained_with": f"attention_lab {self.algorithm}",
        }
        with atomic_directory(directory, overwrite, writer="train-tokenizer") as tmp:
            atomic_write_text(tmp / VOCAB_FILE, "".join(t + "\n" for t in self.tokens))
            atomic_write_json(tmp / "tokenizer_config.json", config, indent=2)


class _Merger:
    """Words as lists of piece ids, with pair counts kept up to date as pieces merge."""

    def __init__(self, words: dict[str, int], alphabet: list[str], algorithm: str, min_count: int):
        self.algorithm = algorithm
        self.min_count = min_count
        self.tokens: list[str] = []
        self.ids: dict[str, int] = {}
        for token in alphabet:
            self._id(token)
        self.words = [[self.ids[w[0]], *(self.ids[PREFIX + c] for c in w[1:])] for w in words]
        self.freqs = list(words.values())
        self.unit_counts = Counter()
        self.pair_counts = Counter()
        self.where = defaultdict(set)  # pair → indices of the words that hold it
        self.pairs_of = defaultdict(set)  # piece → pairs it is part of (WordPiece scores)
        for index, (word, freq) in enumerate(zip(self.words, self.freqs, strict=True)):
            for unit in word:
                self.unit_counts[unit] += freq
            for pair in zip(word, word[1:], strict=False):
                self._add_pair(pair, freq, index)
        self.heap = []
        for pair in self.pair_counts:
            self._push(pair)

    def _id(self, token: str) -> int:
        if token not in self.ids:
            self.ids[token] = len(self.tokens)
            self.tokens.append(token)
        return self.ids[token]

    def _add_pair(self, pair, freq: int, index: int) -> None:
        self.pair_counts[pair] += freq
        self.where[pair].add(index)
        self.pairs_of[pair[0]].add(pair)
        self.pairs_of[pair[1]].add(pair)

    def score(self, pair) -> float:
        count = self.pair_counts[pair]
        if self.algorithm == "bpe":
            return count
        return count / (self.unit_counts[pair[0]] * self.unit_counts[pair[1]])

    def _push(self, pair) -> None:
        """Queue ``pair`` with its current score, if it occurs often enough to be merged."""
        if self.pair_counts[pair] >= self.min_count:
            # Ties go to the pair whose tokens sort first, so training is deterministic.
            a, b = self.tokens[pair[0]], self.tokens[pair[1]]
            heapq.heappush(self.heap, (-self.score(pair), a, b, pair))

    def best(self):
        """The pair to merge next (``None`` when no pair occurs ``min_count`` times)."""
        while self.heap:
            negative_score, _, _, pair = heapq.heappop(self.heap)
            if self.pair_counts[pair] >= self.min_count and -negative_score == self.score(pair):
                return pair
            # Otherwise stale: the pair's count or score changed after it was queued.
        return None

    def merge(self, pair) -> str:
        """Replace every occurrence of ``pair`` by one new piece; return the new token."""
        a, b = pair
        token = self.tokens[a] + self.tokens[b][len(PREFIX) :]
        new = self._id(token)
        changed = set()
        # ``where`` only ever grows: an index whose word lost the pair is simply skipped.
        for index in self.where.pop(pair):
            word = self.words[index]
            merged, i = [], 0
            while i < len(word):
                if word[i] == a and i + 1 < len(word) and word[i + 1] == b:
                    merged.append(new)
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            if len(merged) == len(word):
                continue
            freq, times = self.freqs[index], len(word) - len(merged)
            self.unit_counts[a] -= times * freq
            self.unit_counts[b] -= times * freq
            self.unit_counts[new] += times * freq
            # Only the pairs around each merge change: count what the word lost and gained.
            lost = Counter(zip(word, word[1:], strict=False))
            lost.subtract(zip(merged, merged[1:], strict=False))
            for other, times_lost in lost.items():
                if times_lost > 0:
                    self.pair_counts[other] -= times_lost * freq
                elif times_lost < 0:  # gained
                    self._add_pair(other, -times_lost * freq, index)
                if times_lost:
                    changed.add(other)
            self.words[index] = merged
        if self.algorithm == "wordpiece":  # every pair with a, b or the new piece has a new score
            for unit in (a, b, new):
                changed |= self.pairs_of[unit]
        for other in changed:
            if self.pair_counts[other] > 0:
                self._push(other)
            else:
                self.pairs_of[other[0]].discard(other)
                self.pairs_of[other[1]].discard(other)
        return token


def train_vocabulary(
    texts: Iterable[str],
    vocab_size: int,
    algorithm: str = "wordpiece",
    do_lower_case: bool = True,
    min_frequency: int = 2,
    limit_alphabet: int = 1000,
    progress: Callable[[int, int], None] | None = None,
) -> TrainedVocabulary:
    """Learn ``vocab_size`` tokens (special tokens and characters included) from ``texts``.

    Characters beyond the ``limit_alphabet`` most frequent ones are left out, and words
    containing them skipped (they will be ``[UNK]``). Training stops early when no pair occurs
    ``min_frequency`` times. ``progress(size, vocab_size)`` is called every 1,000 tokens.
    """
    if algorithm not in ALGORITHMS:
        raise AttentionLabError(f"unknown algorithm {algorithm!r}; choose wordpiece or bpe")
    basic = BasicTokenizer(lowercase=do_lower_case)
    counts = Counter(word for text in texts for word in basic.tokenize(text))
    if not counts:
        raise AttentionLabError("no words to train on; pass non-empty texts")
    characters = Counter()
    for word, freq in counts.items():
        for char in word:
            characters[char] += freq
    kept = {char for char, _ in characters.most_common(limit_alphabet)}
    words = {w: f for w, f in counts.items() if set(w) <= kept}
    alphabet = sorted({w[0] for w in words}) + sorted({PREFIX + c for w in words for c in w[1:]})
    specials = list(TRAINED_VOCAB_SPECIALS)
    if vocab_size < len(specials) + len(alphabet):
        raise AttentionLabError(
            f"vocab_size {vocab_size} is smaller than the {len(specials)} special tokens and "
            f"{len(alphabet)} characters; raise vocab_size or lower limit_alphabet"
        )
    merger = _Merger(words, alphabet, algorithm, max(min_frequency, 1))
    merges = []
    while len(specials) + len(merger.tokens) < vocab_size:
        pair = merger.best()
        if pair is None:
            break
        before = len(merger.tokens)
        merger.merge(pair)
        merges.append((merger.tokens[pair[0]], merger.tokens[pair[1]]))
        size = len(specials) + len(merger.tokens)
        if progress is not None and len(merger.tokens) > before and size % 1000 == 0:
            progress(size, vocab_size)
    return TrainedVocabulary(specials + merger.tokens, merges, do_lower_case, algorithm)
