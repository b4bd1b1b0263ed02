#!/usr/bin/env python3
"""Writes the tiny .npy fixtures that tests/test_npy.cpp loads: files made by real NumPy (not by our writer),
so that the reader is checked against the format as NumPy writes it. Needs only numpy (python3-numpy).

    /usr/bin/python3 tests/reference/npy/make_npy_fixtures.py
"""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def save(name, a, version=None):
    path = os.path.join(HERE, name)
    if version is None:
        np.save(path, a)
    else:  # np.save picks the version itself; write_array lets us force 2.0 / 3.0
        with open(path, "wb") as f:
            np.lib.format.write_array(f, a, version=version, allow_pickle=False)


# Values chosen to be exact in float32 and to include awkward ones (tiny, huge, negative zero).
f4 = np.array([[1.5, -2.25, 0.0], [3.0e-8, 1.0e30, -0.0]], dtype=np.float32)

save("f4_2x3.npy", f4)
save("f4_scalar.npy", np.array(3.25, dtype=np.float32))
save("f4_0x3.npy", np.zeros((0, 3), dtype=np.float32))
save("f4_2x2_v2.npy", np.array([[1, 2], [3, 4]], dtype=np.float32), version=(2, 0))
save("f4_3_v3.npy", np.array([0.5, -0.5, 8.0], dtype=np.float32), version=(3, 0))
save("i8_5.npy", np.array([0, -1, 2**40, -(2**62), 7], dtype=np.int64))
save("i4_2x2.npy", np.array([[1, -2], [2**31 - 1, -(2**31)]], dtype=np.int32))
# Files the reader must refuse with a helpful message.
save("f8_3.npy", np.array([1.0, 2.0, 3.0], dtype=np.float64))
save("f4_2x3_fortran.npy", np.asfortranarray(f4))
save("f4_3_bigendian.npy", np.array([1.0, 2.0, 3.0], dtype=">f4"))
