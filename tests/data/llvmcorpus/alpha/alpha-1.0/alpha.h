int alpha_scale(int x);
int alpha_sum(const int *v, int n);
unsigned shared_hash(const char *s);
