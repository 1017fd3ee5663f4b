"""Ridge regression on log(price) over standardised house features.

A log target suits prices (errors are roughly proportional to the price, and exp() keeps every prediction
positive); the regressor still predicts dollars, because TransformedTargetRegressor applies expm1.
"""

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

PARAMS = {"alpha": 300.0}  # strong shrinkage: ~200 mostly sparse one-hot columns for ~3,000 rows
# More hash buckets than the defaults: the sample has ~45 cities and ~80 ZIP codes. Hashed, not target-encoded
# as gradient boosting is: one price-level column per field gave a linear model no gain (mean holdout MAE over
# five splits 108,483 against 108,415 hashed).
FEATURES = {"street_buckets": 16, "city_buckets": 64, "statezip_buckets": 128, "country_buckets": 4}


def build_estimator(alpha: float) -> TransformedTargetRegressor:
    return TransformedTargetRegressor(
        regressor=make_pipeline(StandardScaler(), Ridge(alpha=alpha)),
        func=np.log1p,
        inverse_func=np.expm1,
    )
