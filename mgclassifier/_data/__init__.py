"""Rows in: the data a fit or a prediction gets, checked and made tensors.

``_validation`` checks X and y (``_out_of_core`` reads arrays that live
outside memory, chunk by chunk), ``_standardisation`` computes the input's
``(mean, scale)``, ``_datasets`` holds the training rows as tensors (in
memory, or read from an out-of-core array) and ``_batches`` cuts them into
batches and holds rows out of training. Nothing here builds a net.
"""
