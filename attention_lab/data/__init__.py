"""Data preparation for the chapter: IMDb reviews, the tfds-style encoder, GloVe vectors."""
