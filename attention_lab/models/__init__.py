"""Models assembled from attention_lab.layers."""
