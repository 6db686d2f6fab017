"""The real llvm-mca 14 as a tunable simulator of basic-block throughput."""
