# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 0. The chapter as printed
#
# *The chapter's own code, sections 2, 4, 5 and 6, cell by cell, with only its imports, data
# paths and sizes changed.* It was written for TensorFlow 2.1, tensorflow-datasets 2.x and
# transformers 2.4/3.0; here two imports put `attention_lab` under the same names:
#
# ```python
# import attention_lab.compat.tfds as tfds  # was: import tensorflow_datasets as tfds
# from attention_lab.compat.transformers import (  # was: from transformers import ...
#     BertTokenizer, TFBertModel, TFBertForSequenceClassification)
# ```
#
# Every figure that does not depend on trained weights is the chapter's: 93,931 tokens and
# 2,525 at most in a review, 400,000 GloVe words, 14,553 unknown words, the `encode_plus`,
# `encode` and `decode` outputs, the first review and labels, and the parameter counts
# (108,310,272 / 108,311,810 / 108,464,474, 154,202 trainable with BERT frozen).
#
# **What is changed, and why.** The hub's `bert-base-cased` weights cannot be downloaded here:
# `bert_name` is a folder that `transformers` creates from the real bert-base-cased
# configuration and vocabulary, with random weights, so its accuracies mean nothing (tutorial
# 06 fine-tunes real weights). IMDb comes from the local archive (`ATTENTION_LAB_IMDB`), which
# `tfds.load` prepares once into tensorflow-datasets' own `imdb_reviews` (about 30 s). The
# trainings run on a few batches for one epoch: the chapter's 10 + 10 + 3 + 3 + 10 epochs on
# the full data take days on a CPU (tutorials 01 and 06 and `docs/results.md` hold the real
# runs).
#
# **Modes.** `ATTENTION_LAB_TUTORIAL_MODE=fast` (the test suite) reads the first 1,000
# reviews for the vocabulary and a 2-layer stand-in for BERT; `full` (the default) all 25,000
# and the 12-layer BERT-Base, so that every figure above is printed.

# %%
# The chapter's code as printed: its unused loop variables, `l` and comparisons stay.
# ruff: noqa: B007, B018, E741, SIM300
import os
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", message="IProgress not found")
MODE = os.environ.get("ATTENTION_LAB_TUTORIAL_MODE", "full")
print("mode:", MODE)

# %% [markdown]
# Not the chapter's code: where the data is, and the stand-in for the hub's `bert-base-cased`.

# %%
import shutil
import tempfile
from pathlib import Path

import torch
import transformers

import attention_lab
from attention_lab.data.imdb import cache_root

ROOT = Path(attention_lab.__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ATTENTION_LAB_SHARED_DATA", ROOT.parent / "shared" / "data"))
# tfds.load prepares imdb_reviews from this archive once, into this data directory.
os.environ.setdefault("ATTENTION_LAB_IMDB", str(SHARED_DATA / "aclImdb_v1.tar.gz"))
os.environ.setdefault("TFDS_DATA_DIR", str(cache_root() / "tensorflow_datasets"))
glove_file = SHARED_DATA / "glove.6B.50d.txt.gz"
FAST = MODE == "fast"
VOCAB_REVIEWS = 1_000 if FAST else None  # None: all 25,000 train reviews
TRAIN_REVIEWS, TEST_REVIEWS = (32, 16) if FAST else (64, 32)  # for the BERT trainings
BILSTM_BATCHES = 2 if FAST else 10

config = transformers.BertConfig.from_pretrained(SHARED_DATA / "bert-base-cased")
if FAST:
    config.num_hidden_layers = 2
torch.manual_seed(0)
bert_name = tempfile.mkdtemp(prefix="bert-base-cased-stand-in-")
transformers.BertModel(config).save_pretrained(bert_name)
for name in ("vocab.txt", "tokenizer_config.json"):
    shutil.copy(SHARED_DATA / "bert-base-cased" / name, bert_name)

# %% [markdown]
# ## 2. IMDb sentiment analysis with GloVe embeddings
#
# ### Loading IMDb

# %%
import numpy as np
import pandas as pd  # noqa: F401 - the chapter imports it
import tensorflow as tf

import attention_lab.compat.tfds as tfds

# %%
imdb_train, ds_info = tfds.load(
    name="imdb_reviews", split="train", with_info=True, as_supervised=True
)
imdb_test = tfds.load(name="imdb_reviews", split="test", as_supervised=True)

# %%
for example, label in imdb_train.take(1):
    print(example, "\n", label)

# %%
for example, label in imdb_train.take(5):
    print(label.numpy(), end=" ")

# %% [markdown]
# ### The vocabulary and its encoder

# %%
tokenizer = tfds.features.text.Tokenizer()

vocabulary_set = set()
MAX_TOKENS = 0

for example, label in imdb_train.take(VOCAB_REVIEWS or -1):
    some_tokens = tokenizer.tokenize(example.numpy())
    if MAX_TOKENS < len(some_tokens):
        MAX_TOKENS = len(some_tokens)
    vocabulary_set.update(some_tokens)

# %%
imdb_encoder = tfds.features.text.TokenTextEncoder(
    vocabulary_set, lowercase=True, tokenizer=tokenizer
)
vocab_size = imdb_encoder.vocab_size

print(vocab_size, MAX_TOKENS)

# %% [markdown]
# Not the chapter's code: how long the reviews are, against the 150 tokens kept below.

# %%
import matplotlib.pyplot as plt

lengths = np.array(
    [len(tokenizer.tokenize(text.numpy())) for text, _ in imdb_train.take(VOCAB_REVIEWS or -1)]
)
fig, ax = plt.subplots(figsize=(7, 3))
ax.hist(lengths, bins=100)
ax.axvline(150, color="k", linestyle="--", label="maxlen=150")
ax.set_xlabel("tokens in a review (tfds Tokenizer)")
ax.set_ylabel("reviews")
ax.legend()
print(f"{np.mean(lengths > 150):.0%} of the reviews have more than 150 tokens")
plt.show()

# %%
for example, label in imdb_train.take(1):
    print(example)
    encoded = imdb_encoder.encode(example.numpy())
    print(imdb_encoder.decode(encoded))

# %% [markdown]
# ### Encoding and padding

# %%
from keras.preprocessing import sequence


def encode_pad_transform(sample):
    encoded = imdb_encoder.encode(sample.numpy())
    pad = sequence.pad_sequences([encoded], padding="post", maxlen=150)
    return np.array(pad[0], dtype=np.int64)


def encode_tf_fn(sample, label):
    encoded = tf.py_function(encode_pad_transform, inp=[sample], Tout=(tf.int64))
    encoded.set_shape([None])
    label.set_shape([])
    return encoded, label


# %%
encoded_train = imdb_train.map(encode_tf_fn, num_parallel_calls=tf.data.experimental.AUTOTUNE)
encoded_test = imdb_test.map(encode_tf_fn, num_parallel_calls=tf.data.experimental.AUTOTUNE)

# %% [markdown]
# ### Loading GloVe and the embedding matrix
#
# (The chapter opens the unzipped `glove.6B.50d.txt`; the copy here is gzipped.)

# %%
import gzip

dict_w2v = {}
with gzip.open(glove_file, "rt", encoding="utf-8") as file:
    for line in file:
        tokens = line.split()
        word = tokens[0]
        vector = np.array(tokens[1:], dtype=np.float32)

        if vector.shape[0] == 50:
            dict_w2v[word] = vector
        else:
            print("There was an issue with " + word)

print("Dictionary Size: ", len(dict_w2v))

# %%
embedding_dim = 50
embedding_matrix = np.zeros((imdb_encoder.vocab_size, embedding_dim))

unk_cnt = 0
unk_set = set()
for word in imdb_encoder.tokens:
    embedding_vector = dict_w2v.get(word)

    if embedding_vector is not None:
        tkn_id = imdb_encoder.encode(word)[0]
        embedding_matrix[tkn_id] = embedding_vector
    else:
        unk_cnt += 1
        unk_set.add(word)

print("Total unknown words: ", unk_cnt)

# %% [markdown]
# ### The feature-extraction model

# %%
vocab_size = imdb_encoder.vocab_size
rnn_units = 64
BATCH_SIZE = 100


def build_model_bilstm(vocab_size, embedding_dim, rnn_units, batch_size, train_emb=False):
    model = tf.keras.Sequential(
        [
            tf.keras.layers.Embedding(
                vocab_size,
                embedding_dim,
                mask_zero=True,
                weights=[embedding_matrix],
                trainable=train_emb,
            ),
            tf.keras.layers.Bidirectional(
                tf.keras.layers.LSTM(rnn_units, return_sequences=True, dropout=0.5)
            ),
            tf.keras.layers.Bidirectional(tf.keras.layers.LSTM(rnn_units, dropout=0.25)),
            tf.keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    return model


# %%
model_fe = build_model_bilstm(
    vocab_size=vocab_size, embedding_dim=embedding_dim, rnn_units=rnn_units, batch_size=BATCH_SIZE
)
model_fe.build((None, 150))  # Keras 3 builds a Sequential model at its first call
model_fe.summary()

# %%
model_fe.compile(
    loss="binary_crossentropy", optimizer="adam", metrics=["accuracy", "Precision", "Recall"]
)

# %%
encoded_train_batched = encoded_train.batch(BATCH_SIZE).prefetch(100)
model_fe.fit(encoded_train_batched.take(BILSTM_BATCHES), epochs=1)

# %%
model_fe.evaluate(encoded_test.batch(BATCH_SIZE).take(BILSTM_BATCHES))

# %% [markdown]
# ## 4. Tokenization and normalization with BERT

# %%
from attention_lab.compat.transformers import BertTokenizer

tokenizer = BertTokenizer.from_pretrained(
    bert_name,
    add_special_tokens=True,
    do_lower_case=False,
    max_length=150,
    pad_to_max_length=True,
)

# %%
tokenizer.encode_plus(
    " Don't be lured",
    add_special_tokens=True,
    max_length=9,
    pad_to_max_length=True,
    return_attention_mask=True,
    return_token_type_ids=True,
)

# %%
tokenizer.encode_plus(
    " Don't be",
    " lured",
    add_special_tokens=True,
    max_length=10,
    pad_to_max_length=True,
    return_attention_mask=True,
    return_token_type_ids=True,
)

# %%
tst = (
    "This was an absolutely terrible movie. Don't be lured in by Christopher Walken or "
    "Michael Ironside."
)
tokens = tokenizer.encode(tst, add_special_tokens=True)
print(tokens)
print(tokenizer.decode(tokens))
for tok in tokens:
    print(tokenizer.decode([tok]), end="  ")


# %%
def bert_encoder(review):
    txt = review.numpy().decode("utf-8")
    encoded = tokenizer.encode_plus(
        txt,
        add_special_tokens=True,
        max_length=150,
        pad_to_max_length=True,
        return_attention_mask=True,
        return_token_type_ids=True,
    )
    return encoded["input_ids"], encoded["token_type_ids"], encoded["attention_mask"]


# %%
bert_train = [bert_encoder(r) for r, l in imdb_train.take(TRAIN_REVIEWS)]
bert_lbl = [l for r, l in imdb_train.take(TRAIN_REVIEWS)]
bert_train = np.array(bert_train)
bert_lbl = tf.keras.utils.to_categorical(bert_lbl, num_classes=2)

# %%
from sklearn.model_selection import train_test_split

x_train, x_val, y_train, y_val = train_test_split(
    bert_train, bert_lbl, test_size=0.2, random_state=42
)
print(x_train.shape, y_train.shape)

# %%
tr_reviews, tr_segments, tr_masks = np.split(x_train, 3, axis=1)
val_reviews, val_segments, val_masks = np.split(x_val, 3, axis=1)

tr_reviews = tr_reviews.squeeze()
tr_segments = tr_segments.squeeze()
tr_masks = tr_masks.squeeze()

val_reviews = val_reviews.squeeze()
val_segments = val_segments.squeeze()
val_masks = val_masks.squeeze()


# %%
def example_to_features(input_ids, attention_masks, token_type_ids, y):
    return {
        "input_ids": input_ids,
        "attention_mask": attention_masks,
        "token_type_ids": token_type_ids,
    }, y


train_ds = (
    tf.data.Dataset.from_tensor_slices((tr_reviews, tr_masks, tr_segments, y_train))
    .map(example_to_features)
    .shuffle(100)
    .batch(16)
)

valid_ds = (
    tf.data.Dataset.from_tensor_slices((val_reviews, val_masks, val_segments, y_val))
    .map(example_to_features)
    .shuffle(100)
    .batch(16)
)

# %%
bert_test = [bert_encoder(r) for r, l in imdb_test.take(TEST_REVIEWS)]
bert_tst_lbl = [l for r, l in imdb_test.take(TEST_REVIEWS)]

bert_test2 = np.array(bert_test)
bert_tst_lbl2 = tf.keras.utils.to_categorical(bert_tst_lbl, num_classes=2)

ts_reviews, ts_segments, ts_masks = np.split(bert_test2, 3, axis=1)
ts_reviews = ts_reviews.squeeze()
ts_segments = ts_segments.squeeze()
ts_masks = ts_masks.squeeze()

test_ds = (
    tf.data.Dataset.from_tensor_slices((ts_reviews, ts_masks, ts_segments, bert_tst_lbl2))
    .map(example_to_features)
    .shuffle(100)
    .batch(16)
)

# %% [markdown]
# ## 5. Pre-built BERT classification model

# %%
from attention_lab.compat.transformers import TFBertForSequenceClassification

bert_model = TFBertForSequenceClassification.from_pretrained(bert_name)

# %%
optimizer = tf.keras.optimizers.Adam(learning_rate=2e-5)
loss = tf.keras.losses.BinaryCrossentropy(from_logits=True)
bert_model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])

# %%
bert_model.summary()

# %%
print("Fine-tuning BERT on IMDB")
bert_history = bert_model.fit(train_ds, epochs=1, validation_data=valid_ds)

# %%
bert_model.evaluate(test_ds)

# %% [markdown]
# ## 6. Custom BERT model

# %%
from attention_lab.compat.transformers import TFBertModel

bert = TFBertModel.from_pretrained(bert_name)

# %%
bert.summary()

# %%
max_seq_len = 150
inp_ids = tf.keras.layers.Input((max_seq_len,), dtype=tf.int64, name="input_ids")
att_mask = tf.keras.layers.Input((max_seq_len,), dtype=tf.int64, name="attention_mask")
seg_ids = tf.keras.layers.Input((max_seq_len,), dtype=tf.int64, name="token_type_ids")

# %%
inp_dict = {"input_ids": inp_ids, "attention_mask": att_mask, "token_type_ids": seg_ids}
outputs = bert(inp_dict)
# let's see the output structure
outputs

# %%
x = tf.keras.layers.Dropout(0.2)(outputs[1])
x = tf.keras.layers.Dense(200, activation="relu")(x)
x = tf.keras.layers.Dropout(0.2)(x)
x = tf.keras.layers.Dense(2, activation="sigmoid")(x)

custom_model = tf.keras.models.Model(inputs=inp_dict, outputs=x)

# %%
optimizer = tf.keras.optimizers.Adam(learning_rate=2e-5)
loss = tf.keras.losses.BinaryCrossentropy(from_logits=True)
custom_model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])

# %%
custom_model.summary()

# %%
print("Custom Model: Fine-tuning BERT on IMDB")
custom_history = custom_model.fit(train_ds, epochs=1, validation_data=valid_ds)

# %%
custom_model.evaluate(test_ds)

# %%
bert.trainable = False  # don't train BERT any more
optimizer = tf.keras.optimizers.Adam()  # standard learning rate
custom_model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])

# %%
custom_model.summary()

# %%
print("Custom Model: Keep training custom model on IMDB")
custom_history = custom_model.fit(train_ds, epochs=1, validation_data=valid_ds)

# %%
custom_model.evaluate(test_ds)

# %% [markdown]
# (Not the chapter's code: the stand-in's folder goes.)

# %%
shutil.rmtree(bert_name)
