"""The training → recovery/evaluation hand-off file."""

import numpy as np
import pytest

from mmcrl.encodings import read_encodings, write_encodings


def test_encodings_round_trip_and_a_wrong_file_is_named(tmp_path):
    rng = np.random.default_rng(0)
    encodings = {split: [rng.normal(size=(5, 2)), rng.normal(size=(5, 3))] for split in ("val", "test")}
    info = {"told": "nothing", "told_pattern": False, "train_seconds": 1.5}
    write_encodings(tmp_path / "e.npz", encodings, info)
    read, read_info = read_encodings(tmp_path / "e.npz")
    assert read_info == info
    for split in ("val", "test"):
        assert len(read[split]) == 2
        for expected, actual in zip(encodings[split], read[split], strict=True):
            np.testing.assert_array_equal(actual, expected)
    np.savez(tmp_path / "other.npz", x=np.zeros(2))
    with pytest.raises(ValueError, match="other.npz: not an encodings file"):
        read_encodings(tmp_path / "other.npz")
