"""The data and the loss of BERT's pre-training (Devlin et al., 2019, section 3.1 and appendix
A.1; chapter section 3, "BERT"), for the heads of :mod:`attention_lab.models.bert_pretraining`.

- :func:`mask_tokens`: the masked-LM corruption. Each token that is not special (``[CLS]``,
  ``[SEP]``, ``[PAD]``) is chosen with probability ``rate`` (15%); a chosen token becomes
  ``[MASK]`` with probability 0.8, a random token with 0.1, and stays with 0.1; its label is the
  original id, every other label is ``IGNORE`` (-100, as in Hugging Face). Tokens are chosen
  one by one (a Bernoulli draw each, as Hugging Face's ``DataCollatorForLanguageModeling``),
  not a fixed 15% per sequence as the original TensorFlow code did; with ``word_starts``, whole
  words are chosen (whole-word masking: all pieces of a word, or none).
- :func:`next_sentence_pairs`: the next-sentence task. For each sentence A of a document, B is
  the sentence that follows it (``IsNext``, label 0) with probability 0.5, else a sentence of
  another document (``NotNext``, label 1).
- :class:`MaskedBatches`: batches for ``model.fit``, masked anew each epoch (a seeded draw per
  epoch and batch, so a run resumed at an epoch sees that epoch's masks);
  :class:`PreTrainingBatches`: the same for both objectives, sentence pairs drawn anew each
  epoch from documents. Both are ``keras.utils.PyDataset`` (what ``fit`` reads on every
  backend); :func:`tf_dataset` streams either through ``tf.data`` on TensorFlow, and
  :func:`stream` picks the one of the active backend. ``whole_words=True`` masks whole words.
  (Keras's ``fit`` calls a PyDataset's ``on_epoch_end`` once before its first epoch too, so
  there the first epoch draws as epoch 1; through :func:`tf_dataset`, as epoch 0. On one
  backend, the same seed gives the same batches.)
- :func:`masked_lm_loss`: cross-entropy at the chosen positions only.
- :func:`fill_mask`: what the masked-LM head predicts at each ``[MASK]`` of a text, as Hugging
  Face's ``pipeline("fill-mask")``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import keras
import numpy as np

from attention_lab.errors import AttentionLabError
from attention_lab.tokenization.vocab import SPECIAL_TOKENS_MAP
from attention_lab.training.data import prefetched

IGNORE = -100  # the label of a position the masked-LM loss skips
MASK, RANDOM = 0.8, 0.1  # of the chosen tokens: [MASK], a random token; the rest stay
IS_NEXT, NOT_NEXT = 0, 1  # Hugging Face's next_sentence_label


def check_rate(rate: float) -> None:
    """Refuse a masking rate outside (0, 1) (BERT's is 0.15)."""
    if not 0.0 < rate < 1.0:
        raise AttentionLabError(f"masking rate {rate} must lie in (0, 1), e.g. 0.15")


def special_tokens_mask(input_ids: np.ndarray, tokenizer) -> np.ndarray:
    """1 at ``[CLS]``, ``[SEP]`` and ``[PAD]`` of ``input_ids`` ``(batch, len)``, else 0."""
    special = [tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id]
    return np.isin(input_ids, special).astype(np.int32)


def word_starts(input_ids: np.ndarray, tokenizer) -> np.ndarray:
    """True at the first piece of each word: every token but WordPiece's ``##`` continuations
    (as Hugging Face's ``DataCollatorForWholeWordMask`` tells them apart)."""
    continuation = np.array([token.startswith("##") for token in tokenizer.ids_to_tokens])
    return ~continuation[np.asarray(input_ids)]


def mask_tokens(
    input_ids: np.ndarray,
    special_tokens_mask: np.ndarray,
    vocab_size: int,
    mask_token_id: int,
    rng: np.random.Generator,
    rate: float = 0.15,
    word_starts: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``(masked ids, labels)`` for a batch ``(batch, len)`` of token ids.

    ``special_tokens_mask`` is 1 at ``[CLS]``, ``[SEP]`` and ``[PAD]`` (never chosen);
    ``word_starts``, when given, is True at the first piece of each word, and a word's pieces
    are then chosen together. Random replacements are drawn from the whole vocabulary, as
    BERT's were (special tokens included).
    """
    check_rate(rate)
    ids = np.asarray(input_ids)
    allowed = np.asarray(special_tokens_mask) == 0  # (batch, len)
    draw = rng.random(ids.shape) < rate
    if word_starts is not None:  # every piece takes the draw of its word's first piece
        columns = np.where(np.asarray(word_starts, bool), np.arange(ids.shape[1]), 0)
        draw = np.take_along_axis(draw, np.maximum.accumulate(columns, axis=1), axis=1)
    chosen = draw & allowed
    labels = np.where(chosen, ids, IGNORE)
    fate = rng.random(ids.shape)
    masked = np.where(chosen & (fate < MASK), mask_token_id, ids)
    replaced = chosen & (fate >= MASK) & (fate < MASK + RANDOM)
    masked = np.where(replaced, rng.integers(0, vocab_size, ids.shape), masked)
    return masked.astype(ids.dtype), labels.astype(np.int32)


def next_sentence_pairs(
    documents: Sequence[Sequence[str]], rng: np.random.Generator
) -> list[tuple[str, str, int]]:
    """``(A, B, label)`` for every sentence A that has a successor in its document: B is that
    successor (``IS_NEXT``) or, with probability 0.5, a sentence of another document
    (``NOT_NEXT``)."""
    documents = [list(d) for d in documents if len(d)]
    if len(documents) < 2:
        raise AttentionLabError(
            f"next-sentence pairs need at least 2 documents with text, got {len(documents)}"
        )
    pairs = []
    for index, sentences in enumerate(documents):
        for a, b in zip(sentences, sentences[1:], strict=False):  # A and its successor
            if rng.random() < 0.5:
                pairs.append((a, b, IS_NEXT))
                continue
            other = int(rng.integers(len(documents) - 1))
            other += other >= index  # any document but this one
            random_b = documents[other][int(rng.integers(len(documents[other])))]
            pairs.append((a, random_b, NOT_NEXT))
    return pairs


def masked_lm_loss(labels, logits):
    """Mean cross-entropy of ``logits`` ``(batch, len, vocab)`` at the positions whose label is
    not ``IGNORE``."""
    ops = keras.ops
    labels = ops.cast(labels, "int32")
    chosen = ops.cast(ops.not_equal(labels, IGNORE), "float32")  # (batch, len)
    losses = keras.losses.sparse_categorical_crossentropy(
        ops.maximum(labels, 0), ops.cast(logits, "float32"), from_logits=True
    )
    return ops.sum(losses * chosen) / ops.maximum(ops.sum(chosen), 1.0)


class MaskedBatches(keras.utils.PyDataset):
    """Batches of ``(inputs, labels)`` for a :class:`BertForMaskedLM`, masked anew each epoch.

    ``features`` are the encoded texts (``input_ids``, ``attention_mask``,
    ``token_type_ids``, ``special_tokens_mask``, each ``(n, len)``). Batch ``i`` of epoch ``e``
    is masked with the generator seeded by ``(seed, e, i)``: the same in every process, so a run
    resumed at epoch ``e`` (set :attr:`epoch`) masks as the uninterrupted run did. ``rate``
    and ``whole_words`` are :func:`mask_tokens`'s (whole words: :func:`word_starts`).
    """

    def __init__(
        self,
        features: dict,
        tokenizer,
        batch_size: int,
        seed: int = 0,
        rate: float = 0.15,
        whole_words: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_rate(rate)
        if not len(features["input_ids"]):
            raise AttentionLabError("the corpus has no text to pre-train on; pass documents")
        self.features, self.batch_size, self.seed, self.epoch = features, batch_size, seed, 0
        self.tokenizer, self.rate, self.whole_words = tokenizer, rate, whole_words
        self.vocab_size, self.mask_token_id = tokenizer.vocab_size, tokenizer.mask_token_id

    @property
    def num_batches(self) -> int:
        return -(-len(self.features["input_ids"]) // self.batch_size)

    def __getitem__(self, index: int):
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        batch = {k: np.asarray(v[rows]) for k, v in self.features.items()}
        rng = np.random.default_rng((self.seed, self.epoch, index))
        starts = word_starts(batch["input_ids"], self.tokenizer) if self.whole_words else None
        ids, labels = mask_tokens(
            batch["input_ids"],
            batch.pop("special_tokens_mask"),
            self.vocab_size,
            self.mask_token_id,
            rng,
            self.rate,
            starts,
        )
        return {**batch, "input_ids": ids}, {"prediction_logits": labels}

    def on_epoch_end(self):
        self.epoch += 1


class PreTrainingBatches(keras.utils.PyDataset):
    """Batches of ``(inputs, labels)`` for a :class:`BertForPreTraining`: both objectives.

    Each epoch ``e`` draws its sentence pairs from ``documents`` (lists of sentences) with the
    generator seeded by ``(seed, e)`` (:func:`next_sentence_pairs`: half ``IsNext``), encodes
    them as ``[CLS] A [SEP] B [SEP]`` padded and truncated to ``max_length``, and masks batch
    ``i`` with ``(seed, e, i, 1)`` (:func:`mask_tokens`; ``whole_words`` chooses whole words).
    The labels are ``prediction_logits`` (original ids at the chosen positions, else
    ``IGNORE``) and ``seq_relationship_logits`` (``IS_NEXT`` / ``NOT_NEXT``), the names of the
    model's outputs.
    """

    def __init__(
        self,
        documents: Sequence[Sequence[str]],
        tokenizer,
        batch_size: int,
        max_length: int = 128,
        seed: int = 0,
        rate: float = 0.15,
        whole_words: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_rate(rate)
        self.documents = [
            [s for s in document if isinstance(s, str) and s.strip()] for document in documents
        ]
        if sum(len(d) > 1 for d in self.documents) == 0:
            raise AttentionLabError(
                "the corpus has no text to pre-train on: next-sentence pairs need documents of "
                "at least two sentences"
            )
        self.tokenizer, self.batch_size, self.max_length = tokenizer, batch_size, max_length
        self.seed, self.rate, self.whole_words, self.epoch = seed, rate, whole_words, 0
        self._pairs: tuple[int, list] | None = None  # (epoch, its pairs)

    def pairs(self) -> list[tuple[str, str, int]]:
        """This epoch's ``(A, B, label)`` pairs."""
        if self._pairs is None or self._pairs[0] != self.epoch:
            rng = np.random.default_rng((self.seed, self.epoch))
            self._pairs = (self.epoch, next_sentence_pairs(self.documents, rng))
        return self._pairs[1]

    @property
    def num_batches(self) -> int:
        return -(-len(self.pairs()) // self.batch_size)

    def __getitem__(self, index: int):
        chunk = self.pairs()[index * self.batch_size : (index + 1) * self.batch_size]
        tokenizer = self.tokenizer
        inputs = tokenizer.encode_batch(
            [a for a, _, _ in chunk],
            max_length=self.max_length,
            padding="max_length",
            text_pairs=[b for _, b, _ in chunk],
        )  # (batch, max_length) each
        rng = np.random.default_rng((self.seed, self.epoch, index, 1))
        starts = word_starts(inputs["input_ids"], tokenizer) if self.whole_words else None
        ids, labels = mask_tokens(
            inputs["input_ids"],
            special_tokens_mask(inputs["input_ids"], tokenizer),
            tokenizer.vocab_size,
            tokenizer.mask_token_id,
            rng,
            self.rate,
            starts,
        )
        next_sentence = np.array([label for _, _, label in chunk], np.int32)  # (batch,)
        return {**inputs, "input_ids": ids}, {
            "prediction_logits": labels,
            "seq_relationship_logits": next_sentence,
        }

    def on_epoch_end(self):
        self.epoch += 1


def tf_dataset(batches: keras.utils.PyDataset):
    """``batches`` (:class:`MaskedBatches`, :class:`PreTrainingBatches`) streamed through a
    ``tf.data.Dataset`` (``from_generator``, :func:`~attention_lab.training.data.prefetched`,
    without the autotuning thread that delays ``fit``'s return): each pass over it is one epoch, and
    the next pass is masked (and paired) anew, as ``fit`` does with the PyDataset itself. The
    epoch moves on when the next pass starts, not after the last batch: ``fit`` stops reading
    after the known number of batches, and whether the prefetching thread had asked for one
    more depends on timing."""
    import tensorflow as tf

    def spec(array):
        array = np.asarray(array)
        return tf.TensorSpec((None, *array.shape[1:]), tf.as_dtype(array.dtype))

    inputs, labels = batches[0]
    signature = (
        {k: spec(v) for k, v in inputs.items()},
        {k: spec(v) for k, v in labels.items()},
    )

    passes = itertools.count()

    def generate():
        if next(passes):  # a pass after the first: the next epoch's pairs and masks
            batches.on_epoch_end()
        for index in range(batches.num_batches):
            yield batches[index]

    dataset = tf.data.Dataset.from_generator(generate, output_signature=signature)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches.num_batches))
    return prefetched(dataset)


def stream(batches: keras.utils.PyDataset):
    """What ``fit`` reads on the active backend: :func:`tf_dataset` on TensorFlow, the
    ``PyDataset`` itself on JAX and PyTorch."""
    from attention_lab import backend

    return tf_dataset(batches) if backend.name() == "tensorflow" else batches


def fill_mask(model, tokenizer, text: str, top_k: int = 5) -> list[list[dict]]:
    """For each ``[MASK]`` of ``text``, the ``top_k`` tokens the masked-LM head of ``model`` (a
    :class:`~attention_lab.models.bert_pretraining.BertForMaskedLM` or ``BertForPreTraining``)
    predicts: ``score`` (softmax probability), ``token`` (id), ``token_str`` and ``sequence``
    (the text with the prediction in place), the fields of Hugging Face's fill-mask pipeline.
    """
    mask = SPECIAL_TOKENS_MAP["mask_token"]
    if not isinstance(text, str):
        raise AttentionLabError(f"text must be a str holding {mask}, got {type(text).__name__}")
    if isinstance(top_k, bool) or not isinstance(top_k, int):
        raise AttentionLabError(f"top_k must be an integer of at least 1, got {top_k!r}")
    if tokenizer.mask_token_id is None:
        raise AttentionLabError(f"this vocabulary has no {mask} token, so nothing can be masked")
    if mask not in text:
        raise AttentionLabError(f"no {mask} in {text!r}; write {mask} where a word should be")
    if top_k < 1:
        raise AttentionLabError(f"top_k must be at least 1, got {top_k}")
    inputs = tokenizer.encode_batch([text])
    ids = inputs["input_ids"][0]
    logits = keras.ops.convert_to_numpy(
        keras.ops.cast(model(dict(inputs))["prediction_logits"][0], "float32")
    )  # (len, vocab)
    results = []
    for position in np.flatnonzero(ids == tokenizer.mask_token_id):
        scores = np.exp(logits[position] - logits[position].max())
        scores /= scores.sum()
        best = np.argsort(-scores, kind="stable")[:top_k]
        filled = []
        for token in best:
            sequence = ids.copy()
            sequence[position] = token
            filled.append(
                {
                    "score": float(scores[token]),
                    "token": int(token),
                    "token_str": tokenizer.decode([int(token)]),
                    "sequence": tokenizer.decode(sequence.tolist(), skip_special_tokens=True),
                }
            )
        results.append(filled)
    return results
