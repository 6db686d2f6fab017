"""Pass ordering on LLVM 22 (CompilerGym's LLVM task) over the real-world corpus.

- ``actions.py``: the ~120 new-PM passes (and ``-Oz`` as one action) a sequence uses;
- ``server.py`` + ``native/pass_server.cpp``: a long-lived LLVM worker (counts,
  Autophase features, .text bytes; no libLLVM load per compilation);
- ``features.py``: the 56 Autophase features; ``policy.py``: observations and policies
  as parameters; ``modules.py`` / ``csmith.py``: the modules;
- ``task.py``: task ``passes`` (generalize / per-module settings);
- ``env.py``: gymnasium env ``tunebench/PassOrdering-v0``;
- ``validate.py``: re-running chosen sequences with the stock ``opt-22``.
"""
