"""Bahdanau attention (chapter section 3), the layer of the seq2seq and attention BiLSTM models."""
