"""Prediction: features to path scores to probabilities, one engine for every
device and call size.

``_engine`` is the maths (torch), ``_predict`` runs the network and the
engine over the rows of ``X`` a chunk at a time, ``_calibration`` is what
held-out rows decide after training (the temperature, the path threshold),
``_selective`` the threshold's statistics (arrays in, numbers out) and
``_graph`` the network and the engine as one module for ONNX export.
"""
