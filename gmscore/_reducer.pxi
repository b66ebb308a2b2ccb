# The reducer of src_c/gms_reduce.h as a Python object; included by
# _kernels.pyx (emission statistics) and _hmmc.pyx (chain statistics).
import numpy as np

cdef extern from "gms_reduce.h" nogil:
    int GMS_LEAF_BLOCKS
    ctypedef struct gms_reducer:
        Py_ssize_t stride
        Py_ssize_t leaf_units
        int64_t units
    int gms_reducer_init(gms_reducer *r, Py_ssize_t stride, Py_ssize_t leaf_units)
    void gms_reducer_free(gms_reducer *r)
    void gms_reducer_total(const gms_reducer *r, double *out)

LEAF_BLOCKS = GMS_LEAF_BLOCKS


cdef class Reducer:
    """Partial sums of `stride` doubles folded in the kernels' fixed tree;
    units (blocks of rows, or sequences) keep their numbering across the
    kernel calls that fold into it."""
    cdef gms_reducer red

    def __cinit__(self, Py_ssize_t stride, Py_ssize_t leaf_units):
        rc = gms_reducer_init(&self.red, stride, leaf_units)
        if rc != 0:
            gms_reducer_free(&self.red)
            if stride < 1 or leaf_units < 1:
                raise ValueError("a reducer needs a positive stride and leaf size")
            raise MemoryError("gmscore could not allocate a reducer")

    def __dealloc__(self):
        gms_reducer_free(&self.red)

    @property
    def stride(self):
        return self.red.stride

    @property
    def units(self):
        """Units folded so far."""
        return self.red.units

    def total(self):
        """The sum of everything folded so far, shape (stride,)."""
        out = np.empty(self.red.stride)
        cdef double[::1] o = out
        gms_reducer_total(&self.red, &o[0])
        return out
