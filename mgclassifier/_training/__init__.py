"""Training: ``_train.train(config, X, codes, hierarchy, ...)``, one call from
a fit's configuration and validated data to a fitted net.

``_distributed`` trains on several processes at once, ``_checkpoint`` writes
the training state every epoch and resumes from it, ``_convergence`` checks
the outcome (divergence, the best epoch, a budget that ran out).
"""
