"""Hand-written Keras layers: attention, the BERT encoder block, embeddings, pooler."""
