"""robustlib: training text classifiers under label noise.

The package is laid out in the order data flows through it:

- ``robustlib.data``: datasets, the data home, stratified splits;
- ``robustlib.noise``: synthetic and real label-noise generators;
- ``robustlib.models``: text classifiers (fastText-style, transformer, frozen encoder);
- ``robustlib.methods``: the baseline and the robust training methods;
- ``robustlib.training``: the training loop and its metrics;
- ``robustlib.experiment``: one configured, recorded experiment;
- ``robustlib.results``: tables and figures from recorded experiments;
- ``robustlib.study``: the study's grids, their parallel execution and the book.
"""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
