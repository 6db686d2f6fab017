#include <stdio.h>
#include "alpha.h"

int main(int argc, char **argv) {
  int v[4] = {1, -2, 3, argc};
  printf("%d %u\n", alpha_sum(v, 4), shared_hash(argv[0]));
  return 0;
}
