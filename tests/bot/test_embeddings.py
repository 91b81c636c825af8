"""The NLU's vector handed to the action server survives JSON exactly."""
import json

import numpy as np

from bot.embeddings import share_vector, shared_vector


def test_a_shared_vector_round_trips_through_json_exactly():
    vector = np.random.default_rng(1).standard_normal(384).astype(np.float32)
    shared = json.loads(json.dumps(share_vector(vector, "m")))
    assert np.array_equal(shared_vector(shared, "m", 384), vector)


def test_what_cannot_be_trusted_is_refused():
    vector = np.ones(4, dtype=np.float32)
    assert shared_vector(share_vector(vector, "m"), "other", 4) is None
    assert shared_vector(share_vector(vector, "m"), "m", 5) is None
    assert shared_vector(share_vector(np.array([np.nan] * 4), "m"), "m", 4) is None
    assert shared_vector({"model": "m", "vector": "%%%"}, "m", 4) is None
    assert shared_vector({"model": "m"}, "m", 4) is None
    assert shared_vector(None, "m", 4) is None
