"""Tests of the single input-validation layer (fastreg._validation)."""
import functools

import numpy as np
import pytest
import scipy.sparse as sp

from fastreg._validation import (
    check_float_vector,
    check_out,
    check_sample_weight,
    check_scalar,
    check_sparse_structure,
    check_X,
    check_X_y,
)


def _csc(rng, n=6, p=4, density=0.5, dtype=np.float64):
    return sp.random(n, p, density=density, format="csc", random_state=rng, dtype=dtype)


class TestCheckScalar:
    def test_accepts_and_converts(self):
        assert check_scalar(np.float32(2.5), "alpha", low=0) == 2.5
        assert isinstance(check_scalar(3, "alpha"), float)
        assert check_scalar(np.int64(4), "max_iter", integer=True, low=1) == 4

    @pytest.mark.parametrize("bad, exc, match", [
        (True, TypeError, "alpha must be a real number"),
        ("1", TypeError, "alpha must be a real number"),
        (1j, TypeError, "alpha must be a real number"),
        (float("nan"), ValueError, "alpha must not be NaN"),
        (float("inf"), ValueError, "alpha must be finite"),
        (-1.0, ValueError, r"alpha must be >= 0"),
    ])
    def test_rejects(self, bad, exc, match):
        with pytest.raises(exc, match=match):
            check_scalar(bad, "alpha", low=0)

    def test_bounds(self):
        with pytest.raises(ValueError, match=r"beta must be < 1"):
            check_scalar(1.0, "beta", low=0, high=1, high_inclusive=False)
        with pytest.raises(ValueError, match=r"eps must be > 0"):
            check_scalar(0.0, "eps", low=0, low_inclusive=False)
        assert check_scalar(np.inf, "t", low=0, allow_inf=True) == np.inf
        with pytest.raises(TypeError, match="integer"):
            check_scalar(1.5, "n", integer=True)


class TestFloatVector:
    @pytest.mark.parametrize("arr, exc, match", [
        (np.arange(3), TypeError, "float32 or float64"),
        (np.ones(3, dtype=complex), TypeError, "float32 or float64"),
        (np.array(["a"], dtype=object), TypeError, "float32 or float64"),
        ([1.0, 2.0], TypeError, "numpy ndarray"),
        (np.ones((2, 2)), ValueError, "1-dimensional"),
        (np.ones(3, dtype=">f8"), TypeError, "float32 or float64|byte order"),
    ])
    def test_rejects(self, arr, exc, match):
        with pytest.raises(exc, match=match):
            check_float_vector(arr, "x")

    def test_nonfinite(self):
        with pytest.raises(ValueError, match="NaN or infinity"):
            check_float_vector(np.array([1.0, np.nan]), "x", allow_nonfinite=False)

    def test_readonly_and_strided_kept_without_copy(self):
        x = np.arange(10.0)
        x.flags.writeable = False
        assert check_float_vector(x, "x") is x
        y = np.arange(10.0)[::2]
        assert check_float_vector(y, "x") is y

    def test_out(self):
        x = np.ones(3)
        ro = np.ones(3)
        ro.flags.writeable = False
        with pytest.raises(ValueError, match="read-only"):
            check_out(ro, x)
        with pytest.raises(ValueError, match="shape"):
            check_out(np.ones(4), x)
        with pytest.raises(TypeError, match="float64"):
            check_out(np.ones(3, np.float32), x)


class TestSparseStructure:
    """Malformed sparse matrices are rejected before scipy touches them."""

    def _malformed(self, rng, kind):
        X = _csc(rng)
        data, indices, indptr = X.data.copy(), X.indices.copy(), X.indptr.copy()
        if kind == "index_out_of_range":
            indices[0] = X.shape[0] + 5
        elif kind == "negative_index":
            indices[0] = -1
        elif kind == "non_monotone_indptr":
            indptr[1], indptr[2] = indptr[2] + 1, indptr[1]
        elif kind == "short_indptr":
            indptr = indptr[:-1]
        elif kind == "data_indices_mismatch":
            data = data[:-1]
        elif kind == "indptr_start":
            indptr = indptr + 1
        M = sp.csc_matrix(X.shape)
        M.data, M.indices, M.indptr = data, indices, indptr
        return M

    @pytest.mark.parametrize("kind, match", [
        ("index_out_of_range", "out of range"),
        ("negative_index", "out of range"),
        ("non_monotone_indptr", "non-monotone"),
        ("short_indptr", "indptr has length"),
        ("data_indices_mismatch", "different lengths|indptr\\[-1\\]"),
        ("indptr_start", "indptr\\[0\\]"),
    ])
    def test_rejected(self, rng, kind, match):
        M = self._malformed(rng, kind)
        with pytest.raises(ValueError, match=match):
            check_sparse_structure(M)
        with pytest.raises(ValueError, match=match):
            check_X(M)

    def test_coo_out_of_range(self):
        M = sp.coo_matrix((np.ones(2), (np.array([0, 1]), np.array([0, 1]))), shape=(3, 3))
        M.col[1] = 7
        with pytest.raises(ValueError, match="out of range"):
            check_X(M)

    def test_valid_passes(self, rng):
        X = _csc(rng)
        assert check_sparse_structure(X) is X


class TestCheckX:
    def test_fortran_float_no_copy(self, rng):
        X = np.asfortranarray(rng.standard_normal((5, 3)))
        assert check_X(X) is X
        X32 = X.astype(np.float32, order="F")
        assert check_X(X32) is X32

    def test_c_order_converted_once(self, rng):
        X = rng.standard_normal((5, 3))
        Xc = check_X(X)
        assert Xc.flags.f_contiguous and np.array_equal(Xc, X)

    def test_readonly_memmap_no_copy(self, rng, tmp_path):
        X = np.asfortranarray(rng.standard_normal((5, 3)))
        path = tmp_path / "X.npy"
        np.save(path, X)
        Xm = np.load(path, mmap_mode="r")
        Xc = check_X(Xm)
        assert np.shares_memory(Xc, Xm)

    def test_int_and_bigendian_become_float64(self):
        assert check_X(np.arange(6).reshape(3, 2)).dtype == np.float64
        Xb = np.arange(6.0).reshape(3, 2).astype(">f8")
        Xc = check_X(Xb)
        assert Xc.dtype.isnative and np.array_equal(Xc, Xb)

    @pytest.mark.parametrize("X, match", [
        (np.array([[1.0, np.nan]]), "NaN"),
        (np.array([[1.0, np.inf]]), "infinity"),
        (np.ones(3), "Expected 2D"),
        (np.ones((0, 3)), "0 sample"),
        (np.ones((3, 0)), "0 feature"),
        (np.ones((2, 2), dtype=complex), "[Cc]omplex"),
    ])
    def test_rejects(self, X, match):
        with pytest.raises(ValueError, match=match):
            check_X(X)

    def test_sparse_nan(self, rng):
        X = _csc(rng)
        X.data[0] = np.nan
        with pytest.raises(ValueError, match="NaN"):
            check_X(X)

    def test_sparse_int64_unsorted_duplicates(self, rng):
        dense = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]])
        # column 0 holds rows 2, 0 (unsorted) and a duplicate of row 0 (1.0 = 0.5 + 0.5)
        data = np.array([3.0, 0.5, 0.5, 2.0])
        indices = np.array([2, 0, 0, 1], dtype=np.int64)
        indptr = np.array([0, 3, 4], dtype=np.int64)
        M = sp.csc_matrix((data, indices, indptr), shape=(3, 2))
        before = (M.data.copy(), M.indices.copy(), M.indptr.copy())
        Xc = check_X(M)
        assert Xc.indices.dtype == np.int32 and Xc.indptr.dtype == np.int32
        assert Xc.has_sorted_indices and Xc.has_canonical_format
        np.testing.assert_array_equal(Xc.toarray(), dense)
        for a, b in zip(before, (M.data, M.indices, M.indptr)):  # input untouched
            np.testing.assert_array_equal(a, b)

    def test_csr_to_csc(self, rng):
        X = _csc(rng).tocsr()
        Xc = check_X(X)
        assert Xc.format == "csc"
        np.testing.assert_array_equal(Xc.toarray(), X.toarray())

    def test_sparse_float32_kept(self, rng):
        X = _csc(rng, dtype=np.float32)
        assert check_X(X).dtype == np.float32


class TestCheckXy:
    def test_y_cast_to_X_dtype(self, rng):
        X = rng.standard_normal((4, 2)).astype(np.float32)
        X, y = check_X_y(X, np.arange(4))
        assert y.dtype == np.float32 and y.flags.c_contiguous

    def test_mismatched_lengths(self, rng):
        with pytest.raises(ValueError, match="inconsistent numbers of samples"):
            check_X_y(rng.standard_normal((4, 2)), np.ones(3))

    def test_y_nan(self, rng):
        with pytest.raises(ValueError, match="NaN"):
            check_X_y(rng.standard_normal((2, 2)), np.array([1.0, np.nan]))

    def test_y_none(self, rng):
        with pytest.raises(ValueError, match="y"):
            check_X_y(rng.standard_normal((2, 2)), None)

    def test_column_y_raveled(self, rng):
        _, y = check_X_y(rng.standard_normal((3, 2)), np.ones((3, 1)))
        assert y.shape == (3,)


class TestSampleWeight:
    def test_none_and_scalar(self):
        np.testing.assert_array_equal(check_sample_weight(None, 3, np.float64), np.ones(3))
        np.testing.assert_array_equal(check_sample_weight(2.0, 2, np.float32), [2.0, 2.0])

    @pytest.mark.parametrize("sw, match", [
        (np.array([1.0, -1.0, 1.0]), "non-negative"),
        (np.array([1.0, 1.0]), "expected 3"),
        (np.zeros(3), "at least one positive"),
        (np.array([1.0, np.nan, 1.0]), "NaN"),
    ])
    def test_rejects(self, sw, match):
        with pytest.raises(ValueError, match=match):
            check_sample_weight(sw, 3, np.float64)


class TestCompiledChecks:
    """fastreg._checks against numpy / scipy, on both sides of the threading threshold."""

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    @pytest.mark.parametrize("size", [0, 1, 7, 9, (1 << 16) + 13])
    @pytest.mark.parametrize("parallel_min", [None, 1 << 10])
    def test_all_finite_equals_numpy(self, rng, dtype, size, parallel_min):
        from fastreg import _checks
        x = rng.standard_normal(size).astype(dtype)
        x[::3] = np.where(x[::3] < 0, -1, 1) * np.finfo(dtype).max  # huge but finite
        kw = {} if parallel_min is None else {"parallel_min": parallel_min}
        assert np.isfinite(x).all() and _checks.all_finite(x, **kw)
        for bad in (np.nan, np.inf, -np.inf):
            for pos in {0, size // 2, size - 1} if size else ():
                y = x.copy()
                y[pos] = bad
                assert _checks.all_finite(y, **kw) == bool(np.isfinite(y).all()) is False

    @pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
    @pytest.mark.parametrize("shape", [(30, 20), (6000, 600)])
    @pytest.mark.parametrize("parallel_min", [None, 1 << 10])
    def test_compressed_indices_statuses(self, rng, index_dtype, shape, parallel_min):
        from fastreg import _checks
        check = _checks.compressed_indices if parallel_min is None else \
            functools.partial(_checks.compressed_indices, parallel_min=parallel_min)
        X = sp.random(*shape, density=0.3, format="csc", random_state=rng)
        indptr, indices = X.indptr.astype(index_dtype), X.indices.astype(index_dtype)
        n = shape[0]
        assert check(indptr, indices, n) == 0
        col = int(np.argmax(np.diff(indptr)))  # a column with at least 2 entries
        a = int(indptr[col])
        swapped = indices.copy()
        swapped[[a, a + 1]] = swapped[[a + 1, a]]
        duplicated = indices.copy()
        duplicated[a + 1] = duplicated[a]
        assert check(indptr, swapped, n) == 1
        assert check(indptr, duplicated, n) == 1
        for bad_index in (-1, n):
            broken = indices.copy()
            broken[a + 1] = bad_index
            assert check(indptr, broken, n) == -1
        decreasing = indptr.copy()
        decreasing[col + 1] = decreasing[col] - 1
        assert check(decreasing, indices, n) == -2
        assert check(indptr, indices[:-1], n) == -2  # ends beyond indices
        assert check(indptr + 1, indices, n) == -2
        assert check(indptr[:0], indices, n) == -2

    def test_unsorted_input_is_sorted_and_sorted_input_kept(self, rng):
        X = sp.random(40, 30, density=0.3, format="csc", random_state=rng)
        assert check_X(X).indices is X.indices
        M = sp.csc_matrix((X.data.copy(), X.indices.copy(), X.indptr.copy()), shape=X.shape)
        col = int(np.argmax(np.diff(M.indptr)))
        a = int(M.indptr[col])
        M.indices[[a, a + 1]] = M.indices[[a + 1, a]]
        M.data[[a, a + 1]] = M.data[[a + 1, a]]
        out = check_X(M)
        assert out.has_canonical_format and out is not M
        np.testing.assert_array_equal(out.toarray(), X.toarray())

    def test_non_finite_messages_and_assume_finite(self, rng):
        import sklearn
        D = np.asfortranarray(rng.standard_normal((20, 5)))
        D[4, 2] = np.nan
        for X in (D, np.ascontiguousarray(D), D[:, ::2], sp.csc_matrix(D), sp.csr_matrix(D)):
            with pytest.raises(ValueError, match="Input X contains NaN"):
                check_X(X)
        D[4, 2] = np.inf
        with pytest.raises(ValueError, match="infinity"):
            check_X(D)
        with pytest.raises(ValueError, match="infinity"):  # finite float64, inf in float32
            check_X(np.full((3, 2), 1e300), dtype=(np.float32,))
        with sklearn.config_context(assume_finite=True):
            assert check_X(D).shape == D.shape
