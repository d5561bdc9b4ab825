"""WordPiece: split a word into the longest vocabulary pieces, left to right.

Chapter section 3 (BERT's WordPiece vocabulary); Wu et al. (2016), "Google's Neural Machine
Translation System". Greedy longest-match-first: take the longest prefix of the word that is in
the vocabulary, then the longest vocabulary entry ``##…`` that continues it, and so on. If some
part of the word matches nothing, or the word has more than ``max_input_chars_per_word``
characters, the whole word becomes ``[UNK]``::

    "lured"    → ["lure", "##d"]
    "Ironside" → ["Iron", "##side"]     (cased vocabulary)
"""

from __future__ import annotations

from attention_lab.errors import AttentionLabError

# At most this many distinct words are cached; a full cache starts over (bounded memory).
CACHE_SIZE = 1_000_000


class WordPiece:
    """Greedy longest-match-first WordPiece over ``vocab`` (token → id)."""

    def __init__(
        self,
        vocab: dict[str, int],
        unk_token: str = "[UNK]",
        prefix: str = "##",
        max_input_chars_per_word: int = 100,
    ):
        if unk_token is None or unk_token not in vocab:
            raise AttentionLabError(
                f"WordPiece needs its unknown token {unk_token!r} in the vocabulary (a word it "
                "cannot spell becomes that token); add it to the vocabulary or pass the "
                "vocabulary's own, e.g. unk_token='[UNK]'"
            )
        self.vocab = vocab
        self.unk_token = unk_token
        self.unk_id = vocab[unk_token]
        self.prefix = prefix
        self.max_input_chars_per_word = max_input_chars_per_word
        # No vocabulary entry is longer than this, so no longer candidate needs a look-up.
        self._longest = max(map(len, vocab), default=0)
        # word → ids of its pieces; callers may read it directly for speed.
        self.cache: dict[str, tuple[int, ...]] = {}
        self._span_cache: dict[str, tuple[tuple[int, int, int], ...]] = {}

    def tokenize(self, word: str) -> list[str]:
        """The pieces of one word (already normalised and split by the basic tokenizer)."""
        if len(word) > self.max_input_chars_per_word:
            return [self.unk_token]
        vocab, pieces, start = self.vocab, [], 0
        while start < len(word):
            end = min(len(word), start + self._longest)
            while end > start:
                piece = word[start:end] if start == 0 else self.prefix + word[start:end]
                if piece in vocab:
                    break
                end -= 1
            else:
                return [self.unk_token]
            pieces.append(piece)
            start = end
        return pieces

    def ids(self, word: str) -> tuple[int, ...]:
        """The ids of :meth:`tokenize`'s pieces, remembered for the next time ``word`` comes."""
        cached = self.cache.get(word)
        if cached is None:
            vocab = self.vocab
            cached = tuple(vocab[piece] for piece in self.tokenize(word))
            if len(self.cache) >= CACHE_SIZE:
                self.cache.clear()
            self.cache[word] = cached
        return cached

    def spans(self, word: str) -> tuple[tuple[int, int, int], ...]:
        """``(id, start, end)`` of each piece: the characters of ``word`` it spells."""
        cached = self._span_cache.get(word)
        if cached is None:
            pieces, start, spans = self.tokenize(word), 0, []
            if pieces == [self.unk_token]:
                spans.append((self.unk_id, 0, len(word)))
            else:
                for index, piece in enumerate(pieces):
                    end = start + len(piece) - (len(self.prefix) if index else 0)
                    spans.append((self.vocab[piece], start, end))
                    start = end
            if len(self._span_cache) >= CACHE_SIZE:
                self._span_cache.clear()
            cached = self._span_cache[word] = tuple(spans)
        return cached
