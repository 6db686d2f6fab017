#include "alpha.h"

static int clamp(int x) { return x < 0 ? 0 : x; }

int alpha_scale(int x) { return clamp(x) * ALPHA_SCALE; }

int alpha_sum(const int *v, int n) {
  int s = 0;
  for (int i = 0; i < n; i++) s += alpha_scale(v[i]);
  return s;
}
