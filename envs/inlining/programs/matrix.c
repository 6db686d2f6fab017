/* Integer matrix kernels with small accessor helpers; prints a checksum. */
#include <stdint.h>
#include <stdio.h>

#define DIM 24

typedef struct {
  int64_t v[DIM][DIM];
} Mat;

static int64_t at(const Mat *m, int i, int j) { return m->v[i][j]; }
static void set(Mat *m, int i, int j, int64_t x) { m->v[i][j] = x % 1000000007; }
static int64_t mulmod(int64_t a, int64_t b) { return (a * b) % 1000000007; }

static void identity(Mat *m) {
  for (int i = 0; i < DIM; i++)
    for (int j = 0; j < DIM; j++) set(m, i, j, i == j);
}
static void init(Mat *m, int64_t seed) {
  for (int i = 0; i < DIM; i++)
    for (int j = 0; j < DIM; j++) set(m, i, j, (seed * 31 + i * 17 + j * 13) % 101);
}
static void multiply(Mat *out, const Mat *a, const Mat *b) {
  for (int i = 0; i < DIM; i++)
    for (int j = 0; j < DIM; j++) {
      int64_t s = 0;
      for (int k = 0; k < DIM; k++) s = (s + mulmod(at(a, i, k), at(b, k, j))) % 1000000007;
      set(out, i, j, s);
    }
}
static void transpose(Mat *out, const Mat *a) {
  for (int i = 0; i < DIM; i++)
    for (int j = 0; j < DIM; j++) set(out, j, i, at(a, i, j));
}
static void add(Mat *out, const Mat *a, const Mat *b) {
  for (int i = 0; i < DIM; i++)
    for (int j = 0; j < DIM; j++) set(out, i, j, at(a, i, j) + at(b, i, j));
}
static int64_t trace(const Mat *m) {
  int64_t t = 0;
  for (int i = 0; i < DIM; i++) t += at(m, i, i);
  return t;
}
static void power(Mat *out, const Mat *a, int e) {
  static Mat base, tmp;
  identity(out);
  base = *a;
  while (e > 0) {
    if (e & 1) {
      multiply(&tmp, out, &base);
      *out = tmp;
    }
    multiply(&tmp, &base, &base);
    base = tmp;
    e >>= 1;
  }
}

int main(void) {
  static Mat a, b, c, d;
  uint64_t sum = 0;
  for (int r = 0; r < 4; r++) {
    init(&a, r);
    transpose(&b, &a);
    add(&c, &a, &b);
    power(&d, &c, 5 + r);
    sum = sum * 1000003 + (uint64_t)trace(&d);
  }
  printf("checksum = %llX\n", (unsigned long long)sum);
  return 0;
}
