/*
 * The BLAS library the kernels call, held to one thread while they call it.
 *
 * The kernels call BLAS from their OpenMP threads; a BLAS that started its
 * own threads under each of them would oversubscribe the cores. BLAS
 * libraries keep their thread count process-wide (OpenBLAS's
 * openblas_set_num_threads_local is no exception in its pthreads builds:
 * it sets the same global count), so the limit is shared by every caller:
 * a reference count under a lock, the first holder saving the library's
 * count and setting one thread, the last restoring the saved count. Only
 * the library behind the registered routines is touched (for scipy's
 * wheels, scipy's OpenBLAS, not numpy's), and only while a kernel that
 * calls it runs.
 */
#if !defined(_WIN32)
#define _GNU_SOURCE 1 /* dladdr */
#include <dlfcn.h>
#include <pthread.h>
#define GMS_HAVE_DL 1
#endif

#include "gms_kernels.h"

#include <stddef.h>

typedef int (*gms_get_threads_fn)(void);
typedef void (*gms_set_threads_fn)(int);

static gms_get_threads_fn blas_get = NULL;
static gms_set_threads_fn blas_set = NULL;
static const char *blas_path = NULL;
static int pin_count = 0, pin_saved = 1;
#ifdef GMS_HAVE_DL
static pthread_mutex_t pin_lock = PTHREAD_MUTEX_INITIALIZER;
#endif

int gms_blas_threads_bind(void *routine)
{
#ifdef GMS_HAVE_DL
    /* get/set pairs of the thread count, by library: OpenBLAS as scipy and
     * numpy wheels build it (prefix, 64-bit-integer suffix), plain
     * OpenBLAS, BLIS */
    static const char *const names[][2] = {
        {"scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"},
        {"scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"},
        {"openblas_get_num_threads", "openblas_set_num_threads"},
        {"openblas_get_num_threads64_", "openblas_set_num_threads64_"},
        {"bli_thread_get_num_threads", "bli_thread_set_num_threads"},
    };
    Dl_info info;
    if (routine == NULL || dladdr(routine, &info) == 0 || info.dli_fname == NULL) return 0;
    /* the module holding the routine (scipy's cython_blas): dlsym on its
     * handle searches it and the libraries it links, in load order */
    void *h = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (h == NULL) return 0;
    int found = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !found; ++i) {
        void *g = dlsym(h, names[i][0]), *s = dlsym(h, names[i][1]);
        if (g != NULL && s != NULL) {
            Dl_info where;
            pthread_mutex_lock(&pin_lock);
            if (pin_count == 0) {
                blas_get = (gms_get_threads_fn)g;
                blas_set = (gms_set_threads_fn)s;
                blas_path = dladdr(g, &where) && where.dli_fname ? where.dli_fname : NULL;
                found = 1;
            }
            pthread_mutex_unlock(&pin_lock);
        }
    }
    dlclose(h);
    return found;
#else
    (void)routine;
    return 0;
#endif
}

int gms_blas_threads_bound(void)
{
    return blas_set != NULL;
}

const char *gms_blas_threads_library(void)
{
    return blas_path;
}

void gms_blas_pin(void)
{
#ifdef GMS_HAVE_DL
    if (blas_set == NULL) return;
    pthread_mutex_lock(&pin_lock);
    if (pin_count++ == 0) {
        pin_saved = blas_get();
        if (pin_saved != 1) blas_set(1);
    }
    pthread_mutex_unlock(&pin_lock);
#endif
}

void gms_blas_unpin(void)
{
#ifdef GMS_HAVE_DL
    if (blas_set == NULL) return;
    pthread_mutex_lock(&pin_lock);
    if (pin_count > 0 && --pin_count == 0 && pin_saved != 1) blas_set(pin_saved);
    pthread_mutex_unlock(&pin_lock);
#endif
}

int gms_blas_pin_depth(void)
{
    return pin_count;
}
