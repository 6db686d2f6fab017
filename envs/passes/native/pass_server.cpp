// pass_server: a long-lived LLVM 22 worker for pass ordering (envs/passes/server.py).
//
// One process loads libLLVM once and then serves requests on stdin, one per line,
// answering one line each on stdout (fields separated by tabs; paths hold no tabs).
// Starting opt-22 costs ~25-30 ms (loading libLLVM, here); an element here costs a
// fork() of a small process that has it loaded (~3-5 ms), the parse of the bitcode
// and the passes.
//
// A *sequence* is a list of pipeline elements (each a text `opt -passes=` accepts);
// the elements are applied one after another, each as its own pipeline run in its
// own process (forked from a zygote that never ran one, see runIsolated), and the
// module goes through bitcode (use-list order kept) after each one: exactly
// `opt -passes=E1 | opt -passes=E2 | ...`, the chain the validation re-runs with the
// stock tools, and what CompilerGym's one pass per step does. An element's output is
// a function of its input bitcode alone (not of what the server ran before, and not
// of address-space randomisation, which the server turns off for itself), so a
// sequence applied at once and step by step give the same module, the same request
// gives the same answer in every run, and the bitcode after each prefix can be
// cached: a request whose first k elements were seen before (search agents edit the
// ends of sequences) starts from the cached state and runs only the rest (LRU,
// --cache-mb, default 256 MB).
//
// Requests (FLAGS: comma-separated, any of verify, features, text, trace, hash, out=PATH;
// "-" for none):
//   RUN  <bitcode> <flags> <element>...   load, apply the elements, answer
//   LOAD <sid> <bitcode> <flags>          keep a module in memory as session <sid>
//   STEP <sid> <flags> <element>...       apply elements to session <sid>, answer
//   FREE <sid>                            drop session <sid>
//   PING                                  answer "OK"
//   STATS                                 answer "OK <cache hits> <cache misses> <element processes>"
// Answer: OK <instructions> <functions> <text_bytes|-1> <features|-> <trace|-> [<hash>]
//      or ERR <element index|-1> <one-line message>
// instructions / functions: over defined functions (as print<func-properties>
// counts); text_bytes: bytes of .text* of the object `llc -O2 -relocation-model=pic`
// makes; features: the 56 Autophase counts (comma-separated, see FEATURE_NAMES in
// envs/passes/features.py); trace: the instruction count after each element.

#include "llvm/Analysis/CGSCCPassManager.h"
#include "llvm/Analysis/LoopAnalysisManager.h"
#include "llvm/Analysis/TargetLibraryInfo.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/IR/CFG.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/Instructions.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/PassManager.h"
#include "llvm/IR/Verifier.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Object/ObjectFile.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Triple.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <list>
#include <map>
#include <unordered_map>
#include <fcntl.h>
#include <poll.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

using namespace llvm;

namespace {

struct Flags {
  bool verify = false, features = false, text = false, trace = false, hash = false;
  std::string out;
};

Flags parseFlags(const std::string &s) {
  Flags f;
  if (s == "-" || s.empty()) return f;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item == "verify") f.verify = true;
    else if (item == "features") f.features = true;
    else if (item == "text") f.text = true;
    else if (item == "trace") f.trace = true;
    else if (item == "hash") f.hash = true;
    else if (item.rfind("out=", 0) == 0) f.out = item.substr(4);
  }
  return f;
}

std::string oneLine(std::string s) {
  for (char &c : s)
    if (c == '\n' || c == '\t' || c == '\r') c = ' ';
  if (s.size() > 400) s.resize(400);
  return s;
}

// A TargetMachine for the module's triple, as opt makes one (CPU and features from
// each function's attributes) or as llc -O2 -relocation-model=pic does.
std::unique_ptr<TargetMachine> makeTM(const Module &M, bool forCodegen) {
  Triple T(M.getTargetTriple());
  std::string err;
  const Target *Tgt = TargetRegistry::lookupTarget(T, err);
  if (!Tgt) return nullptr;
  TargetOptions opts;
  std::optional<Reloc::Model> rm;
  if (forCodegen) rm = Reloc::PIC_;
  return std::unique_ptr<TargetMachine>(Tgt->createTargetMachine(
      T, "", "", opts, rm, std::nullopt, CodeGenOptLevel::Default));
}

// Applies one pipeline element; empty string on success, else the error.
std::string runElement(Module &M, const std::string &text, TargetMachine *TM) {
  LoopAnalysisManager LAM;
  FunctionAnalysisManager FAM;
  CGSCCAnalysisManager CGAM;
  ModuleAnalysisManager MAM;
  PipelineTuningOptions PTO;  // opt's defaults
  PassBuilder PB(TM, PTO);
  PB.registerModuleAnalyses(MAM);
  PB.registerCGSCCAnalyses(CGAM);
  PB.registerFunctionAnalyses(FAM);
  PB.registerLoopAnalyses(LAM);
  PB.crossRegisterProxies(LAM, FAM, CGAM, MAM);
  ModulePassManager MPM;
  if (Error e = PB.parsePassPipeline(MPM, text)) return toString(std::move(e));
  MPM.run(M, MAM);
  return "";
}

void counts(const Module &M, long &insts, long &funcs) {
  insts = funcs = 0;
  for (const Function &F : M) {
    if (F.isDeclaration()) continue;
    ++funcs;
    for (const BasicBlock &BB : F) insts += static_cast<long>(BB.size());
  }
}

// The 56 Autophase features (Haj-Ali et al. 2020, as CompilerGym computes them),
// in CompilerGym's order; see envs/passes/features.py for names and meanings.
std::vector<long> autophase(const Module &M) {
  enum {
    BBNumArgsHi, BBNumArgsLo, onePred, onePredOneSuc, onePredTwoSuc, oneSuccessor,
    twoPred, twoPredOneSuc, twoEach, twoSuccessor, morePreds, BB03Phi, BBHiPhi,
    BBNoPhi, BeginPhi, BranchCount, returnInt, CriticalCount, NumEdges, const32Bit,
    const64Bit, numConstZeroes, numConstOnes, UncondBranches, binaryConstArg,
    NumAShrInst, NumAddInst, NumAllocaInst, NumAndInst, BlockMid, BlockLow,
    NumBitCastInst, NumBrInst, NumCallInst, NumGetElementPtrInst, NumICmpInst,
    NumLShrInst, NumLoadInst, NumMulInst, NumOrInst, NumPHIInst, NumRetInst,
    NumSExtInst, NumSelectInst, NumShlInst, NumStoreInst, NumSubInst, NumTruncInst,
    NumXorInst, NumZExtInst, TotalBlocks, TotalInsts, TotalMemInst, TotalFuncs,
    ArgsPhi, testUnary, N
  };
  std::vector<long> f(N, 0);
  for (const Function &F : M) {
    if (F.isDeclaration()) continue;
    ++f[TotalFuncs];
    for (const BasicBlock &BB : F) {
      ++f[TotalBlocks];
      long preds = 0, succs = 0;
      for (const BasicBlock *P : predecessors(&BB)) { (void)P; ++preds; }
      succs = static_cast<long>(succ_size(&BB));
      if (preds == 1) {
        ++f[onePred];
        if (succs == 1) ++f[onePredOneSuc];
        if (succs == 2) ++f[onePredTwoSuc];
      } else if (preds == 2) {
        ++f[twoPred];
        if (succs == 1) ++f[twoPredOneSuc];
        if (succs == 2) ++f[twoEach];
      } else if (preds > 2) {
        ++f[morePreds];
      }
      if (succs == 1) ++f[oneSuccessor];
      if (succs == 2) ++f[twoSuccessor];
      f[NumEdges] += succs;
      // Critical edges: from a block with several successors to one with several
      // predecessors.
      if (succs > 1)
        for (const BasicBlock *S : successors(&BB))
          if (S->hasNPredecessorsOrMore(2)) ++f[CriticalCount];
      long phis = 0, phiArgs = 0;
      for (const PHINode &P : BB.phis()) {
        ++phis;
        phiArgs += P.getNumIncomingValues();
      }
      f[BeginPhi] += phis;
      f[ArgsPhi] += phiArgs;
      if (phis == 0) ++f[BBNoPhi];
      else if (phis <= 3) ++f[BB03Phi];
      else ++f[BBHiPhi];
      if (phiArgs > 5) ++f[BBNumArgsHi];
      else if (phiArgs >= 1) ++f[BBNumArgsLo];
      long n = static_cast<long>(BB.size());
      if (n < 15) ++f[BlockLow];
      else if (n <= 500) ++f[BlockMid];
      for (const Instruction &I : BB) {
        ++f[TotalInsts];
        for (const Value *Op : I.operands()) {
          if (const auto *C = dyn_cast<ConstantInt>(Op)) {
            if (C->getBitWidth() == 32) ++f[const32Bit];
            if (C->getBitWidth() == 64) ++f[const64Bit];
            if (C->isZero()) ++f[numConstZeroes];
            if (C->isOne()) ++f[numConstOnes];
          }
        }
        if (isa<BinaryOperator>(I) &&
            (isa<Constant>(I.getOperand(0)) || isa<Constant>(I.getOperand(1))))
          ++f[binaryConstArg];
        if (isa<UnaryInstruction>(I)) ++f[testUnary];
        if (isa<LoadInst>(I) || isa<StoreInst>(I) || isa<AllocaInst>(I)) ++f[TotalMemInst];
        switch (I.getOpcode()) {
          case Instruction::AShr: ++f[NumAShrInst]; break;
          case Instruction::Add: ++f[NumAddInst]; break;
          case Instruction::Alloca: ++f[NumAllocaInst]; break;
          case Instruction::And: ++f[NumAndInst]; break;
          case Instruction::BitCast: ++f[NumBitCastInst]; break;
          case Instruction::Br: {
            ++f[NumBrInst];
            ++f[BranchCount];
            if (cast<BranchInst>(I).isUnconditional()) ++f[UncondBranches];
            break;
          }
          case Instruction::Call: {
            ++f[NumCallInst];
            if (I.getType()->isIntegerTy()) ++f[returnInt];
            break;
          }
          case Instruction::GetElementPtr: ++f[NumGetElementPtrInst]; break;
          case Instruction::ICmp: ++f[NumICmpInst]; break;
          case Instruction::LShr: ++f[NumLShrInst]; break;
          case Instruction::Load: ++f[NumLoadInst]; break;
          case Instruction::Mul: ++f[NumMulInst]; break;
          case Instruction::Or: ++f[NumOrInst]; break;
          case Instruction::PHI: ++f[NumPHIInst]; break;
          case Instruction::Ret: ++f[NumRetInst]; break;
          case Instruction::SExt: ++f[NumSExtInst]; break;
          case Instruction::Select: ++f[NumSelectInst]; break;
          case Instruction::Shl: ++f[NumShlInst]; break;
          case Instruction::Store: ++f[NumStoreInst]; break;
          case Instruction::Sub: ++f[NumSubInst]; break;
          case Instruction::Trunc: ++f[NumTruncInst]; break;
          case Instruction::Xor: ++f[NumXorInst]; break;
          case Instruction::ZExt: ++f[NumZExtInst]; break;
          default: break;
        }
      }
    }
  }
  return f;
}

// .text bytes of the object llc -O2 -relocation-model=pic would make (-1: failed).
long textBytes(const Module &M) {
  std::unique_ptr<TargetMachine> TM = makeTM(M, true);
  if (!TM) return -1;
  // Codegen changes the module; work on a copy made through bitcode, so the
  // caller's module (a session's state) is untouched. Use-list order is kept, as
  // opt keeps it in the files llc reads: codegen's choices depend on it.
  SmallVector<char, 0> bc;
  {
    raw_svector_ostream os(bc);
    WriteBitcodeToFile(M, os, /*ShouldPreserveUseListOrder=*/true);
  }
  LLVMContext ctx;
  auto mod = parseBitcodeFile(MemoryBufferRef(StringRef(bc.data(), bc.size()), "copy"), ctx);
  if (!mod) {
    consumeError(mod.takeError());
    return -1;
  }
  SmallVector<char, 0> obj;
  {
    raw_svector_ostream os(obj);
    legacy::PassManager PM;
    // As llc does: the library info of the module's triple (calls to known library
    // functions are lowered with it).
    TargetLibraryInfoImpl TLII((*mod)->getTargetTriple());
    PM.add(new TargetLibraryInfoWrapperPass(TLII));
    if (TM->addPassesToEmitFile(PM, os, nullptr, CodeGenFileType::ObjectFile)) return -1;
    PM.run(**mod);
  }
  auto file = object::ObjectFile::createObjectFile(
      MemoryBufferRef(StringRef(obj.data(), obj.size()), "obj"));
  if (!file) {
    consumeError(file.takeError());
    return -1;
  }
  long total = 0;
  for (const object::SectionRef &S : (*file)->sections()) {
    Expected<StringRef> name = S.getName();
    if (!name) {
      consumeError(name.takeError());
      continue;
    }
    if ((*name == ".text" || name->starts_with(".text.")) && S.isText()) total += S.getSize();
  }
  return total;
}

struct Session {
  std::unique_ptr<LLVMContext> ctx;
  std::unique_ptr<Module> mod;
  std::string bc;  // the bitcode ``mod`` was parsed from (the next element's input)
};

// ---- Each element in a fresh process ---------------------------------------------
// Some LLVM 22 passes (gvn-sink, newgvn, iroutliner among them) choose by the heap
// addresses of IR objects, so in a process that has run other modules before, the
// same element on the same bitcode can give another module than opt-22 gives (seen:
// 1,260 vs 1,266 instructions after gvn-sink on bash/redir.c, 1 fresh server in 6).
// So no element runs in this (long-lived) process: a "zygote" forked right after
// start-up, which never allocates again, forks one child per element; the child
// parses the input bitcode, runs the element and writes the output bitcode back, as
// one opt-22 process would, from the same start state every time. fork() of the
// small zygote costs far less than starting opt-22 (libLLVM stays mapped).
struct Zygote {
  int ctl = -1, status = -1, job = -1, result = -1;  // this process's pipe ends
  long processes = 0;                                // element processes started
};
Zygote gZygote;

// All n bytes through ``io`` (read or write), resumed after short transfers and
// signals; false at end of file or on an error.
template <typename Byte, typename Io>
bool allBytes(Io io, int fd, Byte *p, size_t n) {
  while (n > 0) {
    ssize_t k = io(fd, p, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return false;
    p += k;
    n -= static_cast<size_t>(k);
  }
  return true;
}

bool writeAll(int fd, const void *data, size_t n) {
  return allBytes(write, fd, static_cast<const char *>(data), n);
}

bool readAll(int fd, void *data, size_t n) {
  return allBytes(read, fd, static_cast<char *>(data), n);
}

bool writeString(int fd, const std::string &s) {
  uint64_t n = s.size();
  return writeAll(fd, &n, sizeof n) && writeAll(fd, s.data(), s.size());
}

bool readString(int fd, std::string &s) {
  uint64_t n;
  if (!readAll(fd, &n, sizeof n)) return false;
  s.resize(n);
  return readAll(fd, s.data(), n);
}

std::unique_ptr<TargetMachine> makeTM(const Module &M, bool forCodegen);
std::string runElement(Module &M, const std::string &text, TargetMachine *TM);
std::string toBitcode(const Module &M);
void counts(const Module &M, long &insts, long &funcs);

// In the child: read (element, bitcode), answer (0, instructions, output bitcode) or
// (1, -1, error).
[[noreturn]] void childJob(int job, int result) {
  std::string text, bc, answer;
  char code = 1;
  int64_t instructions = -1;
  if (!readString(job, text) || !readString(job, bc)) _exit(3);
  {
    LLVMContext ctx;
    auto mod = parseBitcodeFile(MemoryBufferRef(StringRef(bc.data(), bc.size()), "in"), ctx);
    if (!mod) {
      answer = "bad bitcode: " + toString(mod.takeError());
    } else {
      std::unique_ptr<TargetMachine> TM = makeTM(**mod, false);
      answer = runElement(**mod, text, TM.get());
      if (answer.empty()) {
        long insts, funcs;
        counts(**mod, insts, funcs);
        instructions = insts;
        answer = toBitcode(**mod);
        code = 0;
      }
    }
    bool sent = writeAll(result, &code, 1) &&
                writeAll(result, &instructions, sizeof instructions) &&
                writeString(result, answer);
    // No destructors (the module's take as long as a small pass), no atexit handlers:
    // the process is discarded.
    _exit(sent ? 0 : 4);
  }
}

// Fork the zygote (call once, before any module is read).
void startZygote() {
  int ctl[2], status[2], job[2], result[2];
  if (pipe(ctl) || pipe(status) || pipe(job) || pipe(result)) {
    perror("pass_server: pipe");
    std::exit(1);
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    perror("pass_server: fork");
    std::exit(1);
  }
  if (pid == 0) {  // the zygote
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0);
    close(ctl[1]);
    close(status[0]);
    close(job[1]);
    close(result[0]);
    int devnull = open("/dev/null", O_RDWR);
    dup2(devnull, 0);
    dup2(devnull, 1);
    char b;
    while (readAll(ctl[0], &b, 1)) {
      pid_t zyg = getpid();
      pid_t child = fork();
      if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != zyg) _exit(0);
        childJob(job[0], result[1]);
      }
      int st = child < 0 ? -1 : 0;
      if (child > 0)
        while (waitpid(child, &st, 0) < 0 && errno == EINTR) {
        }
      if (!writeAll(status[1], &st, sizeof st)) break;
    }
    _exit(0);
  }
  close(ctl[0]);
  close(status[1]);
  close(job[0]);
  close(result[1]);
  gZygote = {ctl[1], status[0], job[1], result[0]};
}

// Without its zygote the server cannot run an element: it ends, and the client starts
// a new one (as after a crash) instead of every later request failing.
[[noreturn]] void zygoteGone(const char *why) {
  std::cerr << "pass_server: " << why << "\n" << std::flush;
  _exit(2);
}

// Runs pipeline element ``text`` on bitcode ``in`` in a fresh child; '' and ``out``
// (the output bitcode) and ``instructions`` set, or the error (the element's, or how
// the child ended).
std::string runIsolated(const std::string &text, const std::string &in, std::string &out,
                        long &instructions) {
  constexpr size_t kHead = 1 + 8 + 8;  // code, instructions, payload length
  char b = 1;
  ++gZygote.processes;
  if (!writeAll(gZygote.ctl, &b, 1) || !writeString(gZygote.job, text) ||
      !writeString(gZygote.job, in))
    zygoteGone("the zygote is gone");
  // Read the child's answer while watching for its end (a crash writes nothing).
  std::string got;
  int st = 0;
  bool ended = false;
  pollfd fds[2] = {{gZygote.result, POLLIN, 0}, {gZygote.status, POLLIN, 0}};
  char buf[1 << 16];
  while (true) {
    bool complete = false;
    if (got.size() >= kHead) {
      uint64_t n;
      std::memcpy(&n, got.data() + 9, sizeof n);
      complete = got.size() >= kHead + n;
    }
    if (complete && ended) break;
    if (ended && !complete) {
      // the child has ended: what it wrote is all in the pipe now
      pollfd r = {gZygote.result, POLLIN, 0};
      if (poll(&r, 1, 0) <= 0) break;
    }
    if (poll(fds, ended ? 1 : 2, -1) < 0) {
      if (errno == EINTR) continue;
      zygoteGone("poll failed");
    }
    if (fds[0].revents & POLLIN) {
      ssize_t r = read(gZygote.result, buf, sizeof buf);
      if (r > 0) got.append(buf, static_cast<size_t>(r));
    }
    if (!ended && (fds[1].revents & (POLLIN | POLLHUP))) {
      if (!readAll(gZygote.status, &st, sizeof st)) zygoteGone("the zygote is gone");
      ended = true;
    }
  }
  uint64_t n = 0;
  if (got.size() >= kHead) std::memcpy(&n, got.data() + 9, sizeof n);
  if (got.size() < kHead || got.size() != kHead + n) {
    if (WIFSIGNALED(st)) return "the element's process died of signal " + std::to_string(WTERMSIG(st));
    return "the element's process ended without an answer (status " + std::to_string(st) + ")";
  }
  const bool failed = got[0] != 0;
  int64_t count;
  std::memcpy(&count, got.data() + 1, sizeof count);
  got.erase(0, kHead);  // the payload, without copying the bitcode again
  if (failed) return got.empty() ? std::string("element failed") : got;
  instructions = static_cast<long>(count);
  out = std::move(got);
  return "";
}

// Bitcode of a module, use-list order kept (what opt writes).
std::string toBitcode(const Module &M) {
  std::string out;
  raw_string_ostream os(out);
  WriteBitcodeToFile(M, os, /*ShouldPreserveUseListOrder=*/true);
  os.flush();
  return out;
}

// The session's module (parsed from its bitcode when it is not yet): '' or the error.
std::string parsed(Session &s) {
  if (s.mod) return "";
  s.ctx = std::make_unique<LLVMContext>();
  auto mod =
      parseBitcodeFile(MemoryBufferRef(StringRef(s.bc.data(), s.bc.size()), "state"), *s.ctx);
  if (!mod) return "bad bitcode: " + toString(mod.takeError());
  s.mod = std::move(*mod);
  return "";
}

// LRU cache: (input file identity, element prefix) -> bitcode after that prefix.
class PrefixCache {
 public:
  explicit PrefixCache(size_t capBytes) : cap_(capBytes) {}
  const std::string *get(const std::string &key) {
    auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second);
    return &it->second->second;
  }
  void put(const std::string &key, std::string value) {
    if (cap_ == 0 || value.size() > cap_ / 4) return;
    auto it = map_.find(key);
    if (it != map_.end()) {
      bytes_ -= it->second->second.size() + key.size();
      order_.erase(it->second);
      map_.erase(it);
    }
    bytes_ += value.size() + key.size();
    order_.emplace_front(key, std::move(value));
    map_[key] = order_.begin();
    while (bytes_ > cap_ && !order_.empty()) {
      auto &last = order_.back();
      bytes_ -= last.second.size() + last.first.size();
      map_.erase(last.first);
      order_.pop_back();
    }
  }
  size_t hits = 0, misses = 0;

 private:
  size_t cap_, bytes_ = 0;
  std::list<std::pair<std::string, std::string>> order_;
  std::unordered_map<std::string, std::list<std::pair<std::string, std::string>>::iterator> map_;
};

PrefixCache *gCache = nullptr;

// Reads the bitcode file into the session; ``parse``: parse it now too (else the first
// element's process parses it, or the answer does: a RUN with elements would parse it
// here for nothing).
std::string load(const std::string &path, Session &s, bool parse) {
  auto buf = MemoryBuffer::getFile(path);
  if (!buf) return "cannot read " + path + ": " + buf.getError().message();
  s.mod.reset();
  s.bc = (*buf)->getBuffer().str();
  std::string err = parse ? parsed(s) : "";
  return err.empty() ? "" : err + " (" + path + ")";
}

// Applies elements and writes the answer line.
// ``key``: the cache key of the session's current state (empty: do not cache).
void applyAndAnswer(Session &s, const Flags &fl, const std::vector<std::string> &elements,
                    std::string key = "", size_t from = 0) {
  std::vector<long> trace;
  for (size_t i = from; i < elements.size(); ++i) {
    // In a fresh process (the zygote's child), through bitcode, as one opt process.
    std::string bc;
    long insts = -1;
    std::string err = runIsolated(elements[i], s.bc, bc, insts);
    if (!err.empty()) {
      std::cout << "ERR\t" << i << "\t" << oneLine(err) << "\n" << std::flush;
      return;
    }
    if (!key.empty() && gCache) {
      key += "\x1f" + elements[i];
      gCache->put(key, bc);
    }
    s.mod.reset();  // parsed again from the new bitcode only when needed
    s.bc = std::move(bc);
    if (fl.trace) trace.push_back(insts);
  }
  if (std::string err = parsed(s); !err.empty()) {
    std::cout << "ERR\t-1\t" << oneLine(err) << "\n" << std::flush;
    return;
  }
  if (fl.verify) {
    std::string msg;
    raw_string_ostream os(msg);
    if (verifyModule(*s.mod, &os)) {
      std::cout << "ERR\t-1\tverify: " << oneLine(os.str()) << "\n" << std::flush;
      return;
    }
  }
  if (!fl.out.empty()) {
    std::error_code ec;
    raw_fd_ostream os(fl.out, ec);
    if (ec) {
      std::cout << "ERR\t-1\tcannot write " << oneLine(fl.out) << "\n" << std::flush;
      return;
    }
    WriteBitcodeToFile(*s.mod, os, /*ShouldPreserveUseListOrder=*/true);
  }
  long insts, funcs;
  counts(*s.mod, insts, funcs);
  long text = fl.text ? textBytes(*s.mod) : -1;
  std::ostringstream line;
  line << "OK\t" << insts << "\t" << funcs << "\t" << text << "\t";
  if (fl.features) {
    std::vector<long> f = autophase(*s.mod);
    for (size_t i = 0; i < f.size(); ++i) line << (i ? "," : "") << f[i];
  } else {
    line << "-";
  }
  line << "\t";
  if (fl.trace && !trace.empty()) {
    for (size_t i = 0; i < trace.size(); ++i) line << (i ? "," : "") << trace[i];
  } else {
    line << "-";
  }
  if (fl.hash) {  // FNV-1a of the module's bitcode: equal modules, equal hashes
    uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : toBitcode(*s.mod)) h = (h ^ c) * 1099511628211ULL;
    line << "\t" << std::hex << h << std::dec;
  }
  std::cout << line.str() << "\n" << std::flush;
}

std::vector<std::string> splitTabs(const std::string &line) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t tab = line.find('\t', start);
    out.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos) break;
    start = tab + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char **argv) {
  // Without address-space randomisation: some passes (gvn-sink, seen on pcre2's
  // pcre2_compile.c) order by hashes of heap addresses, so opt-22 itself gives two
  // different modules from one input across runs; with a fixed layout every element's
  // process starts from the same addresses and its result is a function of its input.
  // (Where the kernel refuses, e.g. under a container's seccomp profile, the server
  // runs with randomisation, as opt-22 does.)
  int persona = personality(0xffffffff);
  if (persona != -1 && !(persona & ADDR_NO_RANDOMIZE) && !getenv("PASS_SERVER_FIXED_LAYOUT")) {
    setenv("PASS_SERVER_FIXED_LAYOUT", "1", 1);  // tried once: no exec loop
    if (personality(static_cast<unsigned long>(persona) | ADDR_NO_RANDOMIZE) != -1)
      execv("/proc/self/exe", argv);
  }
  size_t cacheMb = 256;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--cache-mb") cacheMb = std::stoul(argv[i + 1]);
  PrefixCache cache(cacheMb << 20);
  gCache = &cache;
  InitializeAllTargets();
  InitializeAllTargetMCs();
  InitializeAllAsmPrinters();
  InitializeAllAsmParsers();
  signal(SIGPIPE, SIG_IGN);  // writing to a gone zygote fails (EPIPE, then zygoteGone)
  startZygote();
  std::ios::sync_with_stdio(false);
  std::map<std::string, Session> sessions;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::vector<std::string> f = splitTabs(line);
    const std::string &cmd = f[0];
    if (cmd == "PING") {
      std::cout << "OK\n" << std::flush;
    } else if (cmd == "STATS") {
      std::cout << "OK\t" << cache.hits << "\t" << cache.misses << "\t" << gZygote.processes
                << "\n" << std::flush;
    } else if (cmd == "RUN" && f.size() >= 3) {
      Session s;
      std::vector<std::string> elements(f.begin() + 3, f.end());
      Flags fl = parseFlags(f[2]);
      // The file's identity (path, size, mtime) starts every key of its states.
      struct stat st;
      std::string base;
      if (stat(f[1].c_str(), &st) == 0)
        base = f[1] + "\x1e" + std::to_string(st.st_size) + "\x1e" + std::to_string(st.st_mtime);
      // The longest cached prefix (a traced request needs every count: start over).
      size_t from = 0;
      std::string key = base;
      if (!base.empty() && gCache && !fl.trace) {
        std::vector<std::string> keys{base};
        for (const std::string &e : elements) keys.push_back(keys.back() + "\x1f" + e);
        for (size_t k = elements.size(); k > 0; --k) {
          if (const std::string *bc = gCache->get(keys[k])) {
            s.mod.reset();
            s.bc = *bc;
            from = k;
            key = keys[k];
            break;
          }
        }
        ++(from ? gCache->hits : gCache->misses);
      }
      if (from == 0) {
        std::string err = load(f[1], s, /*parse=*/false);
        if (!err.empty()) {
          std::cout << "ERR\t-1\t" << oneLine(err) << "\n" << std::flush;
          continue;
        }
      }
      applyAndAnswer(s, fl, elements, key, from);
    } else if (cmd == "LOAD" && f.size() == 4) {
      Session s;
      std::string err = load(f[2], s, /*parse=*/true);
      if (!err.empty()) {
        std::cout << "ERR\t-1\t" << oneLine(err) << "\n" << std::flush;
        continue;
      }
      Session &kept = sessions[f[1]] = std::move(s);
      applyAndAnswer(kept, parseFlags(f[3]), {});
    } else if (cmd == "STEP" && f.size() >= 3) {
      auto it = sessions.find(f[1]);
      if (it == sessions.end()) {
        std::cout << "ERR\t-1\tno session " << oneLine(f[1]) << "\n" << std::flush;
        continue;
      }
      applyAndAnswer(it->second, parseFlags(f[2]), std::vector<std::string>(f.begin() + 3, f.end()));
    } else if (cmd == "FREE" && f.size() == 2) {
      sessions.erase(f[1]);
      std::cout << "OK\n" << std::flush;
    } else {
      std::cout << "ERR\t-1\tbad request: " << oneLine(line.substr(0, 80)) << "\n" << std::flush;
    }
  }
  return 0;
}
