"""Real-world LLVM bitcode corpus from Debian source packages (shared tooling).

Each C translation unit of ~30 Debian packages, built with the package's own build
system, becomes one pre-optimization bitcode module (clang-22 -Oz front end), with its
function and instruction counts and its ``.text`` bytes at -Oz. Cached under
``$TUNEBENCH_CACHE/llvmcorpus``; split into train / val / test by package.

    from envs.llvmcorpus import load_corpus
    corpus = load_corpus()            # builds what is missing (see README.md here)
    split = corpus.split()            # split.train / .val / .test: tuples of Module

Command line: ``tunebench corpus build`` and ``tunebench corpus list``.
"""

from envs.llvmcorpus.corpus import Corpus, Module, PackageInfo, Split, load_corpus

__all__ = ["Corpus", "Module", "PackageInfo", "Split", "load_corpus"]
