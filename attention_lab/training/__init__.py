"""Training: fine-tuning BERT on IMDb with ``model.fit``, and the chapter's other models.

- :mod:`.data`: encoded reviews, the 80/20 split, training and inference batches;
- :mod:`.optimization`: AdamW on a warm-up + linear-decay learning rate;
- :mod:`.callbacks`: resuming at the exact step after a kill, the best epoch, early stopping;
- :mod:`.preflight`: what fine-tuning refuses before it runs (settings, data);
- :mod:`.fit`: ``compile`` + ``fit`` of a classifier (:func:`~.fit.fit_classifier`);
- :mod:`.run_folder`: the run folder and its ``run.json``;
- :mod:`.run_checks`: what a rerun refuses in a run folder (damaged or foreign files);
- :mod:`.finetune`: the chapter's experiment end to end (IMDb -> fine-tuned run folder);
- :mod:`.evaluation`: logits, metrics and predictions of a fine-tuned classifier;
- :mod:`.bilstm`, :mod:`.seq2seq`: the GloVe BiLSTM and the encoder-decoder of sections 2-3.
"""
