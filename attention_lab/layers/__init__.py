"""Hand-written Keras layers: attention, the BERT encoder block, embeddings, pooler."""

from attention_lab.layers.embeddings import BertEmbeddings
from attention_lab.layers.encoder_block import TransformerEncoderBlock
from attention_lab.layers.multi_head_attention import MultiHeadSelfAttention
from attention_lab.layers.pooler import BertPooler
from attention_lab.layers.scaled_dot_product import (
    additive_attention_mask,
    scaled_dot_product_attention,
)

__all__ = [
    "BertEmbeddings",
    "BertPooler",
    "MultiHeadSelfAttention",
    "TransformerEncoderBlock",
    "additive_attention_mask",
    "scaled_dot_product_attention",
]
