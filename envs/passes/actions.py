"""The action set: LLVM 22 new-pass-manager passes a pass sequence is made of.

How the list was chosen (from ``opt-22 --print-passes``, 2026-12):

- kept: transformations of the optimisation pipeline that preserve a program's meaning
  on any input (scalar, loop, inter-procedural, vectorisation, code-size passes), in
  the spirit of CompilerGym's 124 LLVM 10 passes, under their new-PM names; a few
  parameterised variants the -Oz pipeline itself uses (``simplifycfg`` with
  switch-to-lookup and common-instruction hoisting/sinking, ``sroa<modify-cfg>``,
  ``early-cse<memssa>``, ``licm<allowspeculation>``, non-trivial loop unswitching)
  and -Oz's function simplification pipeline without the inliner
  (``function-simplification<Oz>``);
- left out: analyses, printers, verifiers and no-op passes; instrumentation and
  sanitizers (asan, msan, tsan, gcov, pgo-*, memprof, ...); profile- or LTO-only
  passes (sample-profile, function-import, wholeprogramdevirt, lowertypetests, ...);
  GPU, Objective-C, coroutine, statepoint and Windows-EH passes; codegen preparation
  (codegenprepare, expand-memcmp, atomic-expand, ...); passes that change what a
  module *means* or exports, which would win instruction count by cheating:
  ``internalize`` (then ``globaldce`` deletes every exported function),
  ``lower-atomic`` (drops atomicity), ``lower-invoke``, ``strip*``/``metarenamer``
  (names only), ``extract-blocks``, ``trigger-*``, ``expand-variadics`` (ABI);
- screened: every kept pass was run alone and after -Oz on csmith programs and
  corpus modules (``bench/passes_screen.py``): passes that crashed opt, broke the
  verifier, changed a csmith program's output, or ran over the time limit were
  dropped (listed in :data:`SCREENED_OUT` with the reason).

Each action is one pipeline *element*: module passes as they are, CGSCC passes in
``cgscc(...)``, function passes in ``function(...)``, loop passes in
``function(loop(...))`` (``loop-mssa`` for those that need MemorySSA), so every
element runs over the whole module, as CompilerGym applies one pass per step.

:data:`OZ_ACTION` (``-Oz``) is the whole ``default<Oz>`` pipeline as one action: the
default sequence is ``("-Oz",)``, so -Oz is inside the search space and anything
found is compared to it; ``oz_action = false`` (task option) gives CompilerGym's
setting of individual passes only.
"""

from __future__ import annotations

import subprocess
from functools import cache

from envs.llvmcorpus.store import find_tools

# The -Oz pipeline as one action, and its pipeline text.
OZ_ACTION = "-Oz"
OZ_PIPELINE = "default<Oz>"
# simplifycfg as -Oz runs it late: switches to lookup tables, common code hoisted/sunk.
LATE_SIMPLIFYCFG = (
    "simplifycfg<switch-range-to-icmp;switch-to-lookup;hoist-common-insts;sink-common-insts>"
)

# (action name, kind) in a fixed order: the order of the SequenceParam's choices.
# kind: module | cgscc | function | loop | loop-mssa (a loop pass needing MemorySSA).
_PASSES: tuple[tuple[str, str], ...] = (
    # ---- module (inter-procedural) ---------------------------------------------
    ("always-inline", "module"),
    ("attributor", "module"),
    ("attributor-light", "module"),
    ("called-value-propagation", "module"),
    ("canonicalize-aliases", "module"),
    ("constmerge", "module"),
    ("deadargelim", "module"),
    ("elim-avail-extern", "module"),
    ("globaldce", "module"),
    ("globalopt", "module"),
    ("globalsplit", "module"),
    ("hotcoldsplit", "module"),
    ("inferattrs", "module"),
    ("inliner-wrapper", "module"),
    ("ipsccp", "module"),
    ("ipsccp<func-spec>", "module"),
    ("iroutliner", "module"),
    ("loop-extract", "module"),
    ("mergefunc", "module"),
    ("module-inline", "module"),
    ("openmp-opt", "module"),
    ("partial-inliner", "module"),
    ("rel-lookup-table-converter", "module"),
    ("rpo-function-attrs", "module"),
    ("scc-oz-module-inliner", "module"),
    ("strip-dead-prototypes", "module"),
    # ---- CGSCC --------------------------------------------------------------------
    ("argpromotion", "cgscc"),
    ("attributor-cgscc", "cgscc"),
    ("attributor-light-cgscc", "cgscc"),
    ("function-attrs", "cgscc"),
    ("inline", "cgscc"),
    ("openmp-opt-cgscc", "cgscc"),
    # ---- function -------------------------------------------------------------------
    ("adce", "function"),
    ("aggressive-instcombine", "function"),
    ("alignment-from-assumptions", "function"),
    ("bdce", "function"),
    ("break-crit-edges", "function"),
    ("callsite-splitting", "function"),
    ("consthoist", "function"),
    ("constraint-elimination", "function"),
    ("correlated-propagation", "function"),
    ("dce", "function"),
    ("dfa-jump-threading", "function"),
    ("div-rem-pairs", "function"),
    ("drop-unnecessary-assumes", "function"),
    ("dse", "function"),
    ("early-cse", "function"),
    ("early-cse<memssa>", "function"),
    ("fix-irreducible", "function"),
    ("flatten-cfg", "function"),
    ("float2int", "function"),
    ("function-simplification<Oz>", "function"),
    ("gvn", "function"),
    ("gvn<no-pre>", "function"),
    ("gvn-hoist", "function"),
    ("gvn-sink", "function"),
    ("infer-alignment", "function"),
    ("instcombine<no-verify-fixpoint>", "function"),
    ("instsimplify", "function"),
    ("irce", "function"),
    ("jump-table-to-switch", "function"),
    ("jump-threading", "function"),
    ("lcssa", "function"),
    ("libcalls-shrinkwrap", "function"),
    ("load-store-vectorizer", "function"),
    ("loop-distribute", "function"),
    ("loop-fusion", "function"),
    ("loop-load-elim", "function"),
    ("loop-simplify", "function"),
    ("loop-sink", "function"),
    ("loop-unroll", "function"),
    ("loop-unroll<O2>", "function"),
    ("loop-vectorize", "function"),
    ("loop-versioning", "function"),
    ("lower-constant-intrinsics", "function"),
    ("lower-expect", "function"),
    ("lower-guard-intrinsic", "function"),
    ("lower-switch", "function"),
    ("lower-widenable-condition", "function"),
    ("mem2reg", "function"),
    ("memcpyopt", "function"),
    ("mergeicmps", "function"),
    ("mergereturn", "function"),
    ("mldst-motion", "function"),
    ("move-auto-init", "function"),
    ("nary-reassociate", "function"),
    ("newgvn", "function"),
    ("partially-inline-libcalls", "function"),
    ("reassociate", "function"),
    ("reg2mem", "function"),
    ("scalarizer", "function"),
    ("sccp", "function"),
    ("separate-const-offset-from-gep", "function"),
    ("simplifycfg", "function"),
    (LATE_SIMPLIFYCFG, "function"),
    ("sink", "function"),
    ("slp-vectorizer", "function"),
    ("slsr", "function"),
    ("speculative-execution", "function"),
    ("sroa", "function"),
    ("sroa<modify-cfg>", "function"),
    ("tailcallelim", "function"),
    ("unify-loop-exits", "function"),
    ("vector-combine", "function"),
    # ---- loop (and loop nest) ---------------------------------------------------------
    ("canon-freeze", "loop"),
    ("extra-simple-loop-unswitch-passes", "loop"),
    ("guard-widening", "loop"),
    ("indvars", "loop"),
    ("loop-bound-split", "loop"),
    ("loop-deletion", "loop"),
    ("loop-flatten", "loop"),
    ("loop-idiom", "loop"),
    ("loop-instsimplify", "loop"),
    ("loop-interchange", "loop"),
    ("loop-predication", "loop"),
    ("loop-reduce", "loop"),
    ("loop-rotate", "loop"),
    ("loop-simplifycfg", "loop"),
    ("loop-unroll-and-jam", "loop"),
    ("loop-unroll-full", "loop"),
    ("simple-loop-unswitch", "loop"),
    ("simple-loop-unswitch<nontrivial>", "loop"),
    ("licm", "loop-mssa"),
    ("licm<allowspeculation>", "loop-mssa"),
    ("lnicm", "loop-mssa"),
    ("loop-versioning-licm", "loop-mssa"),
)

# Passes dropped by the screen (bench/passes_screen.py): name -> why.
SCREENED_OUT: dict[str, str] = {
    "unify-loop-exits": (
        "segfaults stock opt-22 (function(unify-loop-exits) after "
        "function(alignment-from-assumptions) on curl/lib/curl_addrinfo.c, 2026-12-02; "
        "the screen's modules did not hit it)"
    ),
}
# LLVM 22's Attributor in orders its default pipelines never run changes csmith programs'
# output (found by bench/passes_validate.py on sequences the searches chose, 2026-12-03,
# bisected: `iroutliner, attributor-cgscc, dse` and `newgvn, module-inline, attributor,
# ..., -Oz`, each pass needed); alone and after -Oz it passed the screen.
_ATTRIBUTOR_WHY = "changes csmith programs' output in searched orders (LLVM 22's Attributor)"
SCREENED_OUT.update(
    dict.fromkeys(
        ("attributor", "attributor-light", "attributor-cgscc", "attributor-light-cgscc"),
        _ATTRIBUTOR_WHY,
    )
)

PASS_KINDS: dict[str, str] = {name: kind for name, kind in _PASSES if name not in SCREENED_OUT}
PASSES: tuple[str, ...] = tuple(PASS_KINDS)


def element(action: str) -> str:
    """The pipeline text ``opt -passes=`` runs for ``action`` (KeyError if unknown)."""
    if action == OZ_ACTION:
        return OZ_PIPELINE
    kind = PASS_KINDS[action]
    if kind == "module":
        return action
    if kind == "cgscc":
        return f"cgscc({action})"
    if kind == "function":
        return f"function({action})"
    if kind == "loop":
        return f"function(loop({action}))"
    return f"function(loop-mssa({action}))"


def actions(oz_action: bool = True) -> tuple[str, ...]:
    """The action names in order: ``-Oz`` first (when ``oz_action``), then the passes."""
    return ((OZ_ACTION,) if oz_action else ()) + PASSES


def pipeline(sequence: tuple[str, ...] | list[str]) -> str:
    """The whole sequence as one ``opt -passes=`` text (elements joined by commas)."""
    return ",".join(element(a) for a in sequence)


def _leaves(pipeline_text: str) -> list[str]:
    """The leaf passes of a printed pipeline, in order (adaptors such as
    ``function<eager-inv>(...)`` and ``cgscc(...)`` opened up)."""
    leaves, cur, angle = [], "", 0
    for ch in pipeline_text:
        angle += (ch == "<") - (ch == ">")
        if angle == 0 and ch in ",()":
            if ch != "(" and cur.strip():
                leaves.append(cur.strip())
            cur = ""
            continue
        cur += ch
    if cur.strip():
        leaves.append(cur.strip())
    return leaves


def _as_action(leaf: str) -> str | None:
    """The action standing for a leaf pass of the -Oz pipeline (None: no such action,
    e.g. analyses, coroutine and annotation passes)."""
    if leaf in PASS_KINDS:
        return leaf
    base = leaf.split("<")[0]
    if base == "simplifycfg" and ";switch-to-lookup" in leaf:
        return LATE_SIMPLIFYCFG
    if base == "licm" and "<allowspeculation>" in leaf:
        return "licm<allowspeculation>"
    if base == "instcombine":
        return "instcombine<no-verify-fixpoint>"
    return base if base in PASS_KINDS else None


@cache
def oz_order() -> tuple[str, ...]:
    """-Oz's pipeline as a sequence of single actions, in pipeline order: the leaves of
    ``opt-22 -passes=default<Oz> -print-pipeline-passes`` mapped to the action list
    (90 actions in LLVM 22.1; inlining and the per-SCC function passes become
    whole-module steps, so this sequence approximates -Oz, it is not -Oz)."""
    run = subprocess.run(
        [
            find_tools().opt,
            f"-passes={OZ_PIPELINE}",
            "-print-pipeline-passes",
            "-disable-output",
            "-",
        ],
        input="",
        capture_output=True,
        text=True,
        check=True,
    )
    out = [_as_action(leaf) for leaf in _leaves(run.stdout.strip())]
    return tuple(a for a in out if a is not None)
