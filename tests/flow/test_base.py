import pickle

import numpy as np
import pytest

from blurgen.errors import InputError
from blurgen.flow import FlowEstimator, get_estimator


class NaNModel(FlowEstimator):
    """Stands in for a model that diverges: the check under test is the base class's."""

    name = "nan-model"

    def _estimate(self, firsts, seconds, inits):
        h, w = firsts[0].shape[:2]
        flows = np.zeros((len(firsts), h, w, 2), np.float32)
        flows[-1, 3, 4, 1] = np.nan
        return flows


def test_non_finite_flow_is_a_clear_error():
    img = np.zeros((16, 16, 3), np.uint8)
    with pytest.raises(InputError, match=r"b\.png: estimator nan-model produced 1 non-finite flow values \(pair 1"):
        NaNModel().estimate([img, img], [img, img], names1=["a.png", "b.png"])


def test_classical_estimators_pickle():
    for name in ("dis", "farneback", "zero"):
        est = pickle.loads(pickle.dumps(get_estimator(name)))
        assert est.name == name and est.label == name
