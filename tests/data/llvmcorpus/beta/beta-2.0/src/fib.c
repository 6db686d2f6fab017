static unsigned long memo[64];

unsigned long fib(unsigned n) {
  if (n < 2) return n;
  if (n < 64 && memo[n]) return memo[n];
  unsigned long r = fib(n - 1) + fib(n - 2);
  if (n < 64) memo[n] = r;
  return r;
}
