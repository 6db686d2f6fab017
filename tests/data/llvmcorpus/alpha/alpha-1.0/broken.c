/* Does not compile: the corpus must skip and count it, and build the rest. */
int broken(void) { return undeclared_identifier + 1; }
