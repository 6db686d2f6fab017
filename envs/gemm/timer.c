/* Timing and dispatch for the generated GEMM kernels (appended to every generated
   translation unit, after the table `gemm_kernels`' functions are defined).

   gemm_call(idx, ...)  runs kernel idx once.
   gemm_time(idx, ...)  warms up, picks an inner repeat count so that one timed sample
                        lasts at least min_sample_s, then writes `repeats` samples of
                        seconds per call to out[]; returns the inner count. thread_cpu != 0
                        reads the calling thread's CPU time instead of the monotonic clock:
                        time the thread is descheduled (another process on the core) is
                        then not counted. */
#include <time.h>

typedef void (*gemm_fn_t)(int, int, int, const float *, const float *, float *, float *);
extern const gemm_fn_t gemm_kernels[];

static clockid_t gemm_clock = CLOCK_MONOTONIC_RAW;

static double gemm_now(void) {
    struct timespec t;
    clock_gettime(gemm_clock, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

void gemm_call(int idx, int M, int N, int K, const float *A, const float *B, float *C,
               float *work) {
    gemm_kernels[idx](M, N, K, A, B, C, work);
}

int gemm_time(int idx, int M, int N, int K, const float *A, const float *B, float *C,
              float *work, int warmup, int repeats, double min_sample_s, int thread_cpu,
              double *out) {
    gemm_fn_t f = gemm_kernels[idx];
    gemm_clock = thread_cpu ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC_RAW;
    double t = gemm_now();
    f(M, N, K, A, B, C, work);
    double one = gemm_now() - t;
    for (int w = 1; w < warmup; w++) f(M, N, K, A, B, C, work);
    if (warmup > 1) {  /* re-estimate one call on a warm cache */
        t = gemm_now();
        f(M, N, K, A, B, C, work);
        one = gemm_now() - t;
    }
    int inner = 1;
    if (one > 0 && one < min_sample_s) inner = (int)(min_sample_s / one) + 1;
    for (int r = 0; r < repeats; r++) {
        t = gemm_now();
        for (int i = 0; i < inner; i++) f(M, N, K, A, B, C, work);
        out[r] = (gemm_now() - t) / inner;
    }
    return inner;
}
