"""What the ``fastbp`` command runs besides training and model files: the demo, the
environment report and the gradient-cost study (backpropagation against finite differences).

Nothing here is needed to train or serve a model; ``import fastbp`` does not load it.
"""
