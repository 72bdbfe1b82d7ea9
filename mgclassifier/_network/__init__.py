"""The network: the torch module (a trunk and one head per level), its loss,
the skorch net that trains it, the net's callbacks, and the builder that
makes the net of a fit from its configuration.

``_module``, ``_loss`` and ``_tensors`` are torch alone (no scikit-learn,
no skorch); ``_net``, ``_callbacks`` and ``_builder`` are the skorch side.
"""
