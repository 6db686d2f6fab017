/* The same file is in the beta package: a copy the split must not leak. */
unsigned shared_hash(const char *s) {
  unsigned h = 2166136261u;
  while (*s) h = (h ^ (unsigned char)*s++) * 16777619u;
  return h;
}
