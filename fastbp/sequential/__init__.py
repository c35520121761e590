"""The parts of :class:`fastbp.Sequential`, one concern a module, each a mixin class that
``fastbp/model.py`` combines with the construction, the checks and the parameters it keeps:

- :mod:`.passes`: the forward and backward passes on arrays in the backend's memory, and the data
  preparation that fit, the estimators and the model files build on;
- :mod:`.evaluation`: ``forward``, ``predict``, ``loss`` and ``gradients`` on user data;
- :mod:`.gradient_check`: ``numerical_gradients``, central differences to check backpropagation;
- :mod:`.training`: ``step`` and ``fit``;
- :mod:`.persistence`: pickling and ``save``/``load``;
- :mod:`.data`: the checks of the data that the methods and the fit loop share.

The mixins rely on the attributes :class:`fastbp.Sequential` sets up (``_theta``, ``_dims``,
``_kernels``, ``_codes``, ...) and on one another's methods; none is meant to be used alone.
"""
