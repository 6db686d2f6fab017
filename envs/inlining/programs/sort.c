/* Several sorting algorithms on pseudo-random arrays, cross-checked; prints a checksum. */
#include <stdint.h>
#include <stdio.h>

#define N 512

static uint32_t rng_state = 12345u;
static uint32_t next_rand(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}

static void fill(int32_t *a, int n) {
  for (int i = 0; i < n; i++) a[i] = (int32_t)(next_rand() % 10000) - 5000;
}
static void copy(int32_t *dst, const int32_t *src, int n) {
  for (int i = 0; i < n; i++) dst[i] = src[i];
}
static void swap(int32_t *a, int i, int j) {
  int32_t t = a[i];
  a[i] = a[j];
  a[j] = t;
}
static int less(int32_t x, int32_t y) { return x < y; }

static void insertion_sort(int32_t *a, int n) {
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && less(a[j], a[j - 1]); j--) swap(a, j, j - 1);
}

static int partition(int32_t *a, int lo, int hi) {
  int32_t pivot = a[(lo + hi) / 2];
  int i = lo, j = hi;
  while (i <= j) {
    while (less(a[i], pivot)) i++;
    while (less(pivot, a[j])) j--;
    if (i <= j) swap(a, i++, j--);
  }
  return i;
}
static void quick_sort(int32_t *a, int lo, int hi) {
  if (hi - lo < 8) {
    insertion_sort(a + lo, hi - lo + 1);
    return;
  }
  int mid = partition(a, lo, hi);
  if (lo < mid - 1) quick_sort(a, lo, mid - 1);
  if (mid < hi) quick_sort(a, mid, hi);
}

static void sift_down(int32_t *a, int root, int n) {
  for (;;) {
    int child = 2 * root + 1;
    if (child >= n) return;
    if (child + 1 < n && less(a[child], a[child + 1])) child++;
    if (!less(a[root], a[child])) return;
    swap(a, root, child);
    root = child;
  }
}
static void heap_sort(int32_t *a, int n) {
  for (int i = n / 2 - 1; i >= 0; i--) sift_down(a, i, n);
  for (int i = n - 1; i > 0; i--) {
    swap(a, 0, i);
    sift_down(a, 0, i);
  }
}

static uint64_t digest(const int32_t *a, int n) {
  uint64_t h = 1469598103934665603ull;
  for (int i = 0; i < n; i++) h = (h ^ (uint32_t)a[i]) * 1099511628211ull;
  return h;
}
static int sorted(const int32_t *a, int n) {
  for (int i = 1; i < n; i++)
    if (less(a[i], a[i - 1])) return 0;
  return 1;
}

int main(void) {
  static int32_t base[N], x[N], y[N], z[N];
  uint64_t sum = 0;
  for (int round = 0; round < 20; round++) {
    fill(base, N);
    copy(x, base, N);
    copy(y, base, N);
    copy(z, base, N);
    insertion_sort(x, N);
    quick_sort(y, 0, N - 1);
    heap_sort(z, N);
    sum += digest(x, N) ^ (digest(y, N) << 1) ^ (digest(z, N) << 2);
    sum += (uint64_t)(sorted(x, N) + sorted(y, N) + sorted(z, N));
  }
  printf("checksum = %llX\n", (unsigned long long)sum);
  return 0;
}
