"""mlapp: the model-serving API (contract: `/openapi.json`). Entry point: `mlapp.app:create_app()`.

Native thread pools are limited to one thread per process unless the environment says otherwise. Each request
prices one house on one gunicorn thread; letting OpenMP start a team of threads for that one row made a
gradient-boosting prediction ~15x slower (about 12 ms instead of 0.8 ms on 2 cores). The variables are read when
the native libraries load, which is why this runs on the first import of the package, before sklearn is imported.
"""

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
