"""What attention shows, and what it does not (chapter section 3's side note: attention weights
are not an explanation of a prediction).

- :mod:`.rollout`: attention rollout (Abnar and Zuidema, 2020), the relevance of each input
  token to ``[CLS]`` and to every position, through all layers;
- :mod:`.attributions`: gradient × input and integrated gradients of a fine-tuned classifier,
  on the word embeddings, with the completeness check;
- :mod:`.words`: WordPieces merged back into words, with their character offsets;
- :mod:`.highlight`: a text highlighted word by word, as HTML for notebooks;
- :mod:`.viewer`: the interactive attention viewer, one self-contained HTML file (head view,
  model view, neuron view);
- :mod:`.explanation`: the measurements of Jain and Wallace (2019) and Wiegreffe and Pinter
  (2019): rank correlations, permuted and adversarial attention;
- :mod:`.jain_wallace`: the whole experiment on IMDb (``python -m
  attention_lab.interpret.jain_wallace``).

The static pictures (PNG) are in :mod:`attention_lab.viz.attention`.
"""

from attention_lab.interpret.rollout import attention_rollout, cls_relevance
from attention_lab.interpret.words import Word, group_words, word_scores

__all__ = ["Word", "attention_rollout", "cls_relevance", "group_words", "word_scores"]
