// mcoracle: what LLVM's X86 MC layer and llvm-mca's InstrBuilder know about x86
// instructions, printed as JSON lines. Built against LLVM 14 or LLVM 22 by
// envs/x86/oracle.py; used when blocksim's tables are extracted and by tests.
//
//   mcoracle regs <cpu>        registers (name, sub/super-registers), and the CPU's
//                              register files (llvm-mca's "RenameAs" per register)
//   mcoracle opcodes <cpu>     every opcode: its MCInstrDesc (operands, defs,
//                              implicit registers, flags) and, where LLVM's encoder
//                              can make one that decodes back to the same opcode, an
//                              instance (hex bytes and AT&T text)
//   mcoracle sched <cpu>       every opcode: whether the CPU's scheduling model
//                              describes it (its scheduling class valid, variant,
//                              or invalid = llvm-mca rejects it), micro-ops
//   mcoracle describe <cpu>    per stdin line of hex bytes (one block), per decoded
//                              instruction: llvm-mca's view of it (reads with their
//                              use index and ReadAdvance, writes with latency,
//                              resources, buffers, micro-ops, zero idiom / dependency
//                              breaking masks). A LOCK/REP prefix that the
//                              disassembler returns as an instruction of its own is
//                              folded into the next instruction, as llvm-mca reads
//                              "lock cmpxchgl ..." written on one line.
//
// Nothing here is simulated: it only reports LLVM's descriptions.

#include "llvm/ADT/APInt.h"
#include "llvm/MC/MCAsmInfo.h"
#include "llvm/MC/MCCodeEmitter.h"
#include "llvm/MC/MCContext.h"
#include "llvm/MC/MCDisassembler/MCDisassembler.h"
#include "llvm/MC/MCFixup.h"
#include "llvm/MC/MCInst.h"
#include "llvm/MC/MCInstPrinter.h"
#include "llvm/MC/MCInstrAnalysis.h"
#include "llvm/MC/MCInstrInfo.h"
#include "llvm/MC/MCRegisterInfo.h"
#include "llvm/MC/MCSchedule.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/MCTargetOptions.h"
#include "llvm/MCA/InstrBuilder.h"
#include "llvm/MCA/Instruction.h"
#include "llvm/MCA/Support.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Config/llvm-config.h"
#if LLVM_VERSION_MAJOR >= 14 && LLVM_VERSION_MAJOR < 15
#include "llvm/MC/TargetRegistry.h"
#else
#include "llvm/MC/TargetRegistry.h"
#include "llvm/MCA/CustomBehaviour.h"
#include "llvm/TargetParser/Triple.h"
#endif

#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using namespace llvm;

namespace {

// X86 instruction prefix flags (X86BaseInfo.h, not installed): same values in 14/22.
constexpr unsigned IP_HAS_REPEAT_NE = 1U << 2;
constexpr unsigned IP_HAS_REPEAT = 1U << 3;
constexpr unsigned IP_HAS_LOCK = 1U << 4;

#if LLVM_VERSION_MAJOR >= 17
ArrayRef<MCPhysReg> impUses(const MCInstrDesc &D) { return D.implicit_uses(); }
ArrayRef<MCPhysReg> impDefs(const MCInstrDesc &D) { return D.implicit_defs(); }
#else
ArrayRef<MCPhysReg> impUses(const MCInstrDesc &D) {
  return ArrayRef<MCPhysReg>(D.getImplicitUses(), D.getNumImplicitUses());
}
ArrayRef<MCPhysReg> impDefs(const MCInstrDesc &D) {
  return ArrayRef<MCPhysReg>(D.getImplicitDefs(), D.getNumImplicitDefs());
}
#endif

// A pointer operand whose register class depends on the mode (ptr_rc).
bool isPtr(const MCOperandInfo &oi) {
#if LLVM_VERSION_MAJOR >= 22
  return oi.isLookupRegClassByHwMode();
#else
  return oi.isLookupPtrRegClass();
#endif
}

std::string jstr(StringRef s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\t') {
      out += ' ';
    } else if ((unsigned char)c < 0x20) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

struct MC {
  Triple TT;
  const Target *T = nullptr;
  std::unique_ptr<MCRegisterInfo> MRI;
  std::unique_ptr<MCAsmInfo> MAI;
  std::unique_ptr<MCInstrInfo> MII;
  std::unique_ptr<MCSubtargetInfo> STI;
  std::unique_ptr<MCInstrAnalysis> MIA;
  std::unique_ptr<MCContext> Ctx;
  std::unique_ptr<MCDisassembler> Dis;
  std::unique_ptr<MCInstPrinter> IP;
  std::unique_ptr<MCCodeEmitter> CE;
  MCTargetOptions Opts;
#if LLVM_VERSION_MAJOR >= 16
  std::unique_ptr<mca::InstrumentManager> IM;
#endif
  std::unique_ptr<mca::InstrBuilder> IB;
  std::vector<uint64_t> Masks;  // llvm-mca's processor resource masks

  explicit MC(const std::string &cpu) : TT("x86_64-unknown-linux-gnu") {
    std::string err;
    T = TargetRegistry::lookupTarget(TT.str(), err);
    if (!T) {
      errs() << "error: " << err << "\n";
      exit(2);
    }
#if LLVM_VERSION_MAJOR >= 16
    MRI.reset(T->createMCRegInfo(TT));
    MAI.reset(T->createMCAsmInfo(*MRI, TT, Opts));
    STI.reset(T->createMCSubtargetInfo(TT, cpu, ""));
#else
    MRI.reset(T->createMCRegInfo(TT.str()));
    MAI.reset(T->createMCAsmInfo(*MRI, TT.str(), Opts));
    STI.reset(T->createMCSubtargetInfo(TT.str(), cpu, ""));
#endif
    MII.reset(T->createMCInstrInfo());
    MIA.reset(T->createMCInstrAnalysis(MII.get()));
    Ctx = std::make_unique<MCContext>(TT, MAI.get(), MRI.get(), STI.get());
    Dis.reset(T->createMCDisassembler(*STI, *Ctx));
    IP.reset(T->createMCInstPrinter(TT, 0, *MAI, *MII, *MRI));
#if LLVM_VERSION_MAJOR >= 16
    CE.reset(T->createMCCodeEmitter(*MII, *Ctx));
    IM = std::make_unique<mca::InstrumentManager>(*STI, *MII);
    IB = std::make_unique<mca::InstrBuilder>(*STI, *MII, *MRI, MIA.get(), *IM, 100);
#else
    CE.reset(T->createMCCodeEmitter(*MII, *MRI, *Ctx));
    IB = std::make_unique<mca::InstrBuilder>(*STI, *MII, *MRI, MIA.get());
#endif
    const MCSchedModel &SM = STI->getSchedModel();
    Masks.resize(SM.getNumProcResourceKinds());
    mca::computeProcResourceMasks(SM, Masks);
  }

  std::string reg(unsigned r) const { return r ? MRI->getName(r) : ""; }

  std::string text(const MCInst &I) const {
    std::string s;
    raw_string_ostream os(s);
    IP->printInst(&I, 0, "", *STI, os);
    os.flush();
    StringRef t = StringRef(s).trim();
    std::string out;
    for (char c : t) {
      c = (c == '\t') ? ' ' : c;
      if (c == ' ' && !out.empty() && out.back() == ' ') continue;
      out += c;
    }
    return out;
  }

  bool encode(const MCInst &I, std::string &hex) const {
    SmallVector<MCFixup, 4> fixups;
#if LLVM_VERSION_MAJOR >= 17
    SmallVector<char, 16> bytes;
    CE->encodeInstruction(I, bytes, fixups, *STI);
    std::string b(bytes.begin(), bytes.end());
#else
    std::string b;
    raw_string_ostream os(b);
    CE->encodeInstruction(I, os, fixups, *STI);
    os.flush();
#endif
    if (b.empty()) return false;
    hex.clear();
    char buf[4];
    for (unsigned char c : b) {
      snprintf(buf, sizeof buf, "%02x", c);
      hex += buf;
    }
    return true;
  }

  std::string resName(uint64_t mask) const {
    const MCSchedModel &SM = STI->getSchedModel();
    for (unsigned i = 1; i < Masks.size(); ++i)
      if (Masks[i] == mask) return SM.getProcResource(i)->Name;
    return "?";
  }
};

std::string operandsJson(const MC &mc, const MCInst &I) {
  std::string s = "[";
  for (unsigned i = 0; i < I.getNumOperands(); ++i) {
    const MCOperand &op = I.getOperand(i);
    if (i) s += ",";
    if (op.isReg())
      s += "[\"R\"," + jstr(mc.reg(op.getReg())) + "]";
    else if (op.isImm())
      s += "[\"I\"," + std::to_string(op.getImm()) + "]";
    else
      s += "[\"E\",0]";
  }
  return s + "]";
}

// ---- regs ------------------------------------------------------------------------

int cmdRegs(MC &mc) {
  const MCRegisterInfo &MRI = *mc.MRI;
  // llvm-mca's RegisterFile::addRegisterFile: registers of the classes named by the
  // CPU's register files are renamed as themselves; their sub-registers as them
  // (unless already claimed); everything else has no RenameAs.
  std::vector<unsigned> renameAs(MRI.getNumRegs(), 0);
  std::vector<int> prf(MRI.getNumRegs(), 0);
  std::vector<bool> moveElim(MRI.getNumRegs(), false);
  const MCSchedModel &SM = mc.STI->getSchedModel();
  std::string files = "[";
  if (SM.hasExtraProcessorInfo()) {
    const MCExtraProcessorInfo &EPI = SM.getExtraProcessorInfo();
    for (unsigned f = 0; f < EPI.NumRegisterFiles; ++f) {
      const MCRegisterFileDesc &RF = EPI.RegisterFiles[f];
      if (f) files += ",";
      files += "{\"name\":" + jstr(RF.Name) + ",\"phys\":" + std::to_string(RF.NumPhysRegs) +
               ",\"classes\":[";
      for (unsigned e = 0; e < RF.NumRegisterCostEntries; ++e) {
        const MCRegisterCostEntry &RCE = EPI.RegisterCostTable[RF.RegisterCostEntryIdx + e];
        const MCRegisterClass &RC = MRI.getRegClass(RCE.RegisterClassID);
        if (e) files += ",";
        files += "[" + jstr(MRI.getRegClassName(&RC)) + "," + std::to_string(RCE.Cost) + "," +
                 (RCE.AllowMoveElimination ? "true" : "false") + "]";
        for (unsigned r : RC) {
          prf[r] = f + 1;
          renameAs[r] = r;
          moveElim[r] = RCE.AllowMoveElimination;
          for (MCSubRegIterator it(r, &MRI); it.isValid(); ++it) {
            unsigned o = *it;
            if (!prf[o] && (!renameAs[o] || MRI.isSuperRegister(o, renameAs[o]))) {
              prf[o] = f + 1;
              renameAs[o] = r;
            }
          }
        }
      }
      files += "],\"max_moves\":" + std::to_string(RF.MaxMovesEliminatedPerCycle) +
               ",\"zero_moves_only\":" + (RF.AllowZeroMoveEliminationOnly ? "true" : "false") +
               "}";
    }
  }
  files += "]";
  outs() << "{\"kind\":\"files\",\"files\":" << files << "}\n";
  // The scheduling model: width, reorder buffer, processor resources, LQ / SQ.
  std::string res = "[";
  for (unsigned i = 1; i < SM.getNumProcResourceKinds(); ++i) {
    const MCProcResourceDesc *PR = SM.getProcResource(i);
    std::string subs;
    for (unsigned j = 0; PR->SubUnitsIdxBegin && j < PR->NumUnits; ++j)
      subs += (j ? "," : "") + jstr(SM.getProcResource(PR->SubUnitsIdxBegin[j])->Name);
    res += std::string(i > 1 ? "," : "") + "{\"name\":" + jstr(PR->Name) + ",\"units\":" +
           std::to_string(PR->NumUnits) + ",\"subs\":[" + subs + "],\"buffer\":" +
           std::to_string(PR->BufferSize) + ",\"super\":" + std::to_string(PR->SuperIdx) + "}";
  }
  res += "]";
  std::string lq = "\"\"", sq = "\"\"";
  if (SM.hasExtraProcessorInfo()) {
    const MCExtraProcessorInfo &EPI = SM.getExtraProcessorInfo();
    if (EPI.LoadQueueID) lq = jstr(SM.getProcResource(EPI.LoadQueueID)->Name);
    if (EPI.StoreQueueID) sq = jstr(SM.getProcResource(EPI.StoreQueueID)->Name);
  }
  outs() << "{\"kind\":\"model\",\"issue_width\":" << SM.IssueWidth << ",\"rob\":" << SM.MicroOpBufferSize
         << ",\"load_queue\":" << lq << ",\"store_queue\":" << sq << ",\"resources\":" << res << "}\n";
  for (unsigned r = 1; r < MRI.getNumRegs(); ++r) {
    std::string subs, supers;
    for (MCSubRegIterator it(r, &MRI); it.isValid(); ++it)
      subs += (subs.empty() ? "" : ",") + jstr(mc.reg(*it));
    for (MCSuperRegIterator it(r, &MRI); it.isValid(); ++it)
      supers += (supers.empty() ? "" : ",") + jstr(mc.reg(*it));
    outs() << "{\"kind\":\"reg\",\"id\":" << r << ",\"name\":" << jstr(mc.reg(r))
           << ",\"subs\":[" << subs << "],\"supers\":[" << supers
           << "],\"rename_as\":" << jstr(mc.reg(renameAs[r])) << ",\"prf\":" << prf[r]
           << ",\"move_elim\":" << (moveElim[r] ? "true" : "false") << "}\n";
  }
  return 0;
}

// ---- opcodes ----------------------------------------------------------------------

// Registers for the k-th register operand: prefer ones no implicit operand uses.
unsigned pickReg(const MC &mc, const MCRegisterClass &RC, unsigned k, const std::set<unsigned> &avoid,
                 const std::set<unsigned> &taken) {
  // Registers 16-31 of an EVEX class first: an instance the assembler can only encode
  // with EVEX reassembles to the same opcode (llvm-mca reads text; with xmm0-15 the
  // assembler picks the VEX form).
  bool evex = false;
  for (unsigned r : RC) {
    std::string n = mc.reg(r);
    evex |= n == "XMM16" || n == "YMM16" || n == "ZMM16";
  }
  std::vector<unsigned> high, good, rest;
  for (unsigned r : RC) {
    std::string n = mc.reg(r);
    bool special = avoid.count(r) || n == "RSP" || n == "ESP" || n == "SP" || n == "SPL" ||
                   n == "RBP" || n == "EBP" || n == "BP" || n == "BPL" || n == "RIP" ||
                   n == "XMM0" || n == "YMM0" || n == "ZMM0" || n == "K0" || n == "ST0";
    size_t digits = n.find_first_of("0123456789");
    bool upper = evex && digits != std::string::npos && std::stoi(n.substr(digits)) >= 16;
    (special ? rest : upper ? high : good).push_back(r);
  }
  good.insert(good.begin(), high.begin(), high.end());
  for (auto *v : {&good, &rest}) {
    unsigned seen = 0;
    for (unsigned r : *v) {
      if (taken.count(r)) continue;
      if (seen++ >= k % 3) return r;
    }
    for (unsigned r : *v)
      if (!taken.count(r)) return r;
  }
  return RC.getNumRegs() ? *RC.begin() : 0;
}

bool buildInstance(const MC &mc, unsigned opc, MCInst &I, bool same = false) {
  const MCInstrDesc &D = mc.MII->get(opc);
  const MCRegisterInfo &MRI = *mc.MRI;
  std::set<unsigned> avoid, taken;
  for (unsigned j = 0; j < (unsigned)impUses(D).size(); ++j) {
unsigned r = impUses(D)[j];
    avoid.insert(r);
    for (MCSuperRegIterator it(r, &MRI, true); it.isValid(); ++it) avoid.insert(*it);
    for (MCSubRegIterator it(r, &MRI, true); it.isValid(); ++it) avoid.insert(*it);
  }
  I.setOpcode(opc);
  unsigned n = D.getNumOperands();
  unsigned k = 0;
  auto ops = D.operands();
  std::vector<MCOperandInfo> info(ops.begin(), ops.end());
  unsigned rax = 0, rdi = 0, rsi = 0;
  for (unsigned r = 1; r < MRI.getNumRegs(); ++r) {
    if (mc.reg(r) == "RAX") rax = r;
    if (mc.reg(r) == "RDI") rdi = r;
    if (mc.reg(r) == "RSI") rsi = r;
  }
  for (unsigned i = 0; i < n; ++i) {
    const MCOperandInfo &oi = info[i];
    int tied = D.getOperandConstraint(i, MCOI::TIED_TO);
    if (tied >= 0 && (unsigned)tied < i) {
      I.addOperand(I.getOperand(tied));
      continue;
    }
    // A memory reference: base, scale, index, displacement, segment.
    if (oi.OperandType == MCOI::OPERAND_MEMORY && i + 4 < n &&
        info[i + 1].OperandType == MCOI::OPERAND_MEMORY &&
        info[i + 4].OperandType == MCOI::OPERAND_MEMORY) {
      I.addOperand(MCOperand::createReg(rdi));
      I.addOperand(MCOperand::createImm(1));
      unsigned index = 0;
      if (!isPtr(info[i + 2]) && info[i + 2].RegClass >= 0) {
        // VSIB: a vector index register
        const MCRegisterClass &RC = MRI.getRegClass(info[i + 2].RegClass);
        if (!RC.contains(rax)) {
          index = pickReg(mc, RC, 7, avoid, taken);
          taken.insert(index);
        }
      }
      I.addOperand(MCOperand::createReg(index));
      I.addOperand(MCOperand::createImm(8));
      I.addOperand(MCOperand::createReg(0));
      i += 4;
      continue;
    }
    if (isPtr(oi)) {
      // a string instruction's source (pointer, segment) or destination (pointer)
      bool src = i + 1 < n && !isPtr(info[i + 1]) && info[i + 1].RegClass >= 0;
      I.addOperand(MCOperand::createReg(src ? rsi : rdi));
      continue;
    }
    if (oi.OperandType == MCOI::OPERAND_REGISTER && oi.RegClass >= 0) {
      const MCRegisterClass &RC = MRI.getRegClass(oi.RegClass);
      unsigned r = 0;
      if (same)  // the register an earlier operand of this class got
        for (unsigned j = 0; j < I.getNumOperands() && !r; ++j)
          if (I.getOperand(j).isReg() && RC.contains(I.getOperand(j).getReg()) &&
              (j >= info.size() || !isPtr(info[j])))
            r = I.getOperand(j).getReg();
      if (!r) r = pickReg(mc, RC, k++, avoid, taken);
      taken.insert(r);
      for (MCSuperRegIterator it(r, &MRI); it.isValid(); ++it) taken.insert(*it);
      for (MCSubRegIterator it(r, &MRI); it.isValid(); ++it) taken.insert(*it);
      I.addOperand(MCOperand::createReg(r));
      continue;
    }
    if (oi.RegClass >= 0) {  // a segment register operand: no override
      I.addOperand(MCOperand::createReg(0));
      continue;
    }
    if (oi.OperandType == MCOI::OPERAND_MEMORY) {  // string-instruction index operands
      I.addOperand(MCOperand::createReg(0));
      continue;
    }
    // 2, not 1: "$1" shifts and rotates reassemble to their shift-by-one forms
    I.addOperand(MCOperand::createImm(oi.OperandType == MCOI::OPERAND_PCREL ? 0 : 2));
  }
  return true;
}

// Encode in a child process: the encoder has unreachable paths for codegen-only
// opcodes that a release build does not guard.
bool safeEncode(const MC &mc, const MCInst &I, std::string &hex) {
  int fd[2];
  if (pipe(fd) != 0) return false;
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    std::string h;
    if (mc.encode(I, h)) {
      ssize_t w = write(fd[1], h.data(), h.size());
      (void)w;
    }
    _exit(0);
  }
  close(fd[1]);
  std::string got;
  char buf[256];
  ssize_t r;
  while ((r = read(fd[0], buf, sizeof buf)) > 0) got.append(buf, r);
  close(fd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || got.empty()) return false;
  hex = got;
  return true;
}

bool decodeOne(const MC &mc, const std::vector<uint8_t> &bytes, size_t at, MCInst &I, uint64_t &size) {
  std::string sink;
  raw_string_ostream cs(sink);
  return mc.Dis->getInstruction(I, size, ArrayRef<uint8_t>(bytes).slice(at), 0, cs) ==
         MCDisassembler::Success;
}

std::vector<uint8_t> unhex(const std::string &h) {
  std::vector<uint8_t> b;
  for (size_t i = 0; i + 1 < h.size(); i += 2) b.push_back((uint8_t)std::stoi(h.substr(i, 2), nullptr, 16));
  return b;
}

int cmdOpcodes(MC &mc) {
  const MCInstrInfo &MII = *mc.MII;
  for (unsigned opc = 0; opc < MII.getNumOpcodes(); ++opc) {
    const MCInstrDesc &D = MII.get(opc);
    std::string ops = "[";
    unsigned i = 0;
    for (const MCOperandInfo &oi : D.operands()) {
      if (i) ops += ",";
      std::string rc = oi.RegClass >= 0 ? mc.MRI->getRegClassName(&mc.MRI->getRegClass(oi.RegClass)) : "";
      ops += "[" + std::to_string((int)oi.OperandType) + "," + jstr(rc) + "," +
             std::to_string(D.getOperandConstraint(i, MCOI::TIED_TO)) + "]";
      ++i;
    }
    ops += "]";
    std::string iu, idf;
    for (unsigned j = 0; j < (unsigned)impUses(D).size(); ++j) {
unsigned r = impUses(D)[j];
      iu += (j ? "," : "") + jstr(mc.reg(r));
    }
    for (unsigned j = 0; j < (unsigned)impDefs(D).size(); ++j) {
unsigned r = impDefs(D)[j];
      idf += (j ? "," : "") + jstr(mc.reg(r));
    }
    std::string hex, text, got, same;
    if (!D.isPseudo()) {
      MCInst I;
      std::string h;
      if (buildInstance(mc, opc, I, true) && safeEncode(mc, I, h)) {
        std::vector<uint8_t> bytes = unhex(h);
        MCInst J;
        uint64_t size = 0;
        if (decodeOne(mc, bytes, 0, J, size) && size == bytes.size() && J.getOpcode() == opc) same = h;
      }
    }
    if (!D.isPseudo()) {
      MCInst I;
      if (buildInstance(mc, opc, I) && safeEncode(mc, I, hex)) {
        std::vector<uint8_t> bytes = unhex(hex);
        MCInst J;
        uint64_t size = 0;
        if (decodeOne(mc, bytes, 0, J, size) && size == bytes.size()) {
          got = MII.getName(J.getOpcode()).str();
          text = mc.text(J);
        }
      }
    }
    outs() << "{\"opcode\":" << jstr(MII.getName(opc)) << ",\"n_ops\":" << D.getNumOperands()
           << ",\"n_defs\":" << D.getNumDefs() << ",\"ops\":" << ops << ",\"uses\":[" << iu
           << "],\"defs\":[" << idf << "],\"load\":" << D.mayLoad() << ",\"store\":" << D.mayStore()
           << ",\"side\":" << D.hasUnmodeledSideEffects() << ",\"pseudo\":" << D.isPseudo()
           << ",\"branch\":" << (D.isBranch() || D.isCall() || D.isReturn())
           << ",\"hex\":" << jstr(got == MII.getName(opc) ? hex : "") << ",\"decodes_as\":" << jstr(got)
           << ",\"text\":" << jstr(text) << ",\"hex_same\":" << jstr(same == hex ? "" : same) << "}\n";
  }
  return 0;
}

// ---- describe ---------------------------------------------------------------------

void describeInst(MC &mc, MCInst &I, unsigned size, const std::string &hex) {
  const MCSchedModel &SM = mc.STI->getSchedModel();
  unsigned cpuid = SM.getProcessorID();
  APInt mask;
  bool zero = mc.MIA->isZeroIdiom(I, mask, cpuid);
  APInt mask2;
  bool dep = zero || mc.MIA->isDependencyBreaking(I, mask2, cpuid);
  if (!zero) mask = mask2;
  bool movopt = mc.MIA->isOptimizableRegisterMove(I, cpuid);
  APInt clears(std::max(1u, (unsigned)I.getNumOperands() + 8), 0);
  const MCInstrDesc &D = mc.MII->get(I.getOpcode());
  unsigned nwrites = D.getNumDefs() + (unsigned)impDefs(D).size();
  APInt wmask(std::max(1u, nwrites), 0);
  mc.MIA->clearsSuperRegisters(*mc.MRI, I, wmask);
  std::string common = "{\"opcode\":" + jstr(mc.MII->getName(I.getOpcode())) + ",\"hex\":" + jstr(hex) +
                       ",\"size\":" + std::to_string(size) + ",\"text\":" + jstr(mc.text(I)) +
                       ",\"flags\":" + std::to_string(I.getFlags()) + ",\"ops\":" + operandsJson(mc, I);
  // InstrBuilder caches variant descriptors by MCInst address; I is a new instance.
  mc.IB->clear();
#if LLVM_VERSION_MAJOR >= 16
  SmallVector<mca::Instrument *> iv;
  auto made = mc.IB->createInstruction(I, iv);
#else
  auto made = mc.IB->createInstruction(I);
#endif
  if (!made) {
    std::string e = toString(made.takeError());
    outs() << common << ",\"error\":" << jstr(e) << "}\n";
    return;
  }
  mca::Instruction &X = **made;
  const mca::InstrDesc &ID = X.getDesc();
  const MCSchedClassDesc *SC = SM.getSchedClassDesc(ID.SchedClassID);
  std::string reads = "[";
  bool first = true;
  for (const mca::ReadState &R : X.getUses()) {
    const mca::ReadDescriptor &RD = R.getDescriptor();
    if (!first) reads += ",";
    first = false;
    int adv = mc.STI->getReadAdvanceCycles(SC, RD.UseIndex, 0);
    reads += "{\"reg\":" + jstr(mc.reg(R.getRegisterID())) + ",\"use\":" + std::to_string(RD.UseIndex) +
             ",\"op\":" + std::to_string(RD.OpIndex) + ",\"indep\":" +
             (R.isIndependentFromDef() ? "true" : "false") + ",\"adv\":" + std::to_string(adv) + "}";
  }
  reads += "]";
  // ReadAdvance entries of the resolved class: (use index, write resource id, cycles).
  std::string ra = "[";
  for (unsigned j = 0; j < SC->NumReadAdvanceEntries; ++j) {
    const MCReadAdvanceEntry *E = mc.STI->getReadAdvanceEntries(*SC).begin() + j;
    ra += std::string(j ? "," : "") + "[" + std::to_string(E->UseIdx) + "," + std::to_string(E->WriteResourceID) +
          "," + std::to_string(E->Cycles) + "]";
  }
  ra += "]";
  std::string writes = "[";
  first = true;
  for (const mca::WriteState &W : X.getDefs()) {
    if (!first) writes += ",";
    first = false;
    writes += "{\"reg\":" + jstr(mc.reg(W.getRegisterID())) + ",\"lat\":" + std::to_string(W.getLatency()) +
              ",\"clears\":" + (W.clearsSuperRegisters() ? "true" : "false") +
              ",\"zero\":" + (W.isWriteZero() ? "true" : "false") +
              ",\"res_id\":" + std::to_string(W.getWriteResourceID()) + "}";
  }
  writes += "]";
  std::string res = "[";
  first = true;
  for (const auto &P : ID.Resources) {
    if (!first) res += ",";
    first = false;
    res += "[" + jstr(mc.resName(P.first)) + "," + std::to_string(P.second.size()) + "," +
           std::to_string(P.second.NumUnits) + "," + (P.second.isReserved() ? "true" : "false") + "]";
  }
  res += "]";
  std::string bufs = "[";
  first = true;
  for (unsigned i = 1; i < mc.Masks.size(); ++i) {
    if (ID.UsedBuffers & mc.Masks[i]) {
      const MCProcResourceDesc *PR = SM.getProcResource(i);
      if (!first) bufs += ",";
      first = false;
      bufs += jstr(PR->Name);
    }
  }
  bufs += "]";
  std::string zmask;
  for (unsigned b = 0; b < mask.getBitWidth(); ++b) zmask += mask[b] ? '1' : '0';
  outs() << common << ",\"class\":" << ID.SchedClassID << ",\"variant\":"
         << (SM.getSchedClassDesc(D.getSchedClass())->isVariant() ? "true" : "false")
         << ",\"uops\":" << ID.NumMicroOps << ",\"lat\":" << ID.MaxLatency
#if LLVM_VERSION_MAJOR >= 16
         << ",\"load\":" << X.getMayLoad() << ",\"store\":" << X.getMayStore() << ",\"side\":"
         << X.getHasSideEffects() << ",\"begin_group\":" << X.getBeginGroup() << ",\"end_group\":"
         << X.getEndGroup() << ",\"retire_ooo\":" << X.getRetireOOO()
#else
         << ",\"load\":" << ID.MayLoad << ",\"store\":" << ID.MayStore << ",\"side\":" << ID.HasSideEffects
         << ",\"begin_group\":" << ID.BeginGroup << ",\"end_group\":" << ID.EndGroup
         << ",\"retire_ooo\":" << ID.RetireOOO
#endif
         << ",\"must_issue\":" << ID.MustIssueImmediately << ",\"load_barrier\":" << X.isALoadBarrier()
         << ",\"store_barrier\":" << X.isAStoreBarrier() << ",\"zero_idiom\":" << zero
         << ",\"dep_breaking\":" << dep << ",\"mask\":" << jstr(zmask) << ",\"opt_move\":" << movopt
         << ",\"reads\":" << reads << ",\"read_advance\":" << ra << ",\"writes\":" << writes
         << ",\"res\":" << res << ",\"buffers\":" << bufs << "}\n";
}

int cmdDescribe(MC &mc) {
  std::string line;
  unsigned lineno = 0;
  while (std::getline(std::cin, line)) {
    ++lineno;
    std::vector<uint8_t> bytes = unhex(line);
    size_t at = 0;
    unsigned pending = 0;
    std::string pendingHex;
    outs() << "{\"block\":" << lineno << "}\n";
    while (at < bytes.size()) {
      MCInst I;
      uint64_t size = 0;
      if (!decodeOne(mc, bytes, at, I, size) || size == 0) {
        outs() << "{\"error\":\"undecodable\",\"at\":" << at << "}\n";
        break;
      }
      std::string name = mc.MII->getName(I.getOpcode()).str();
      std::string hex = line.substr(2 * at, 2 * size);
      at += size;
      if (name == "LOCK_PREFIX" || name == "REP_PREFIX" || name == "REPNE_PREFIX") {
        pending |= name == "LOCK_PREFIX" ? IP_HAS_LOCK : name == "REP_PREFIX" ? IP_HAS_REPEAT : IP_HAS_REPEAT_NE;
        pendingHex += hex;
        continue;
      }
      I.setFlags(I.getFlags() | pending);
      describeInst(mc, I, size, pendingHex + hex);
      pending = 0;
      pendingHex.clear();
    }
    outs().flush();
  }
  return 0;
}

// ---- sched -----------------------------------------------------------------------

int cmdSched(MC &mc) {
  const MCInstrInfo &MII = *mc.MII;
  const MCSchedModel &SM = mc.STI->getSchedModel();
  for (unsigned opc = 0; opc < MII.getNumOpcodes(); ++opc) {
    const MCInstrDesc &D = MII.get(opc);
    unsigned sc = D.getSchedClass();
    const MCSchedClassDesc *SCD = SM.hasInstrSchedModel() ? SM.getSchedClassDesc(sc) : nullptr;
    bool valid = SCD && SCD->isValid();
    bool variant = SCD && SCD->isVariant();
    outs() << "{\"opcode\":" << jstr(MII.getName(opc)) << ",\"class\":" << sc
           << ",\"valid\":" << valid << ",\"variant\":" << variant
           << ",\"uops\":" << (valid && !variant ? (unsigned)SCD->NumMicroOps : 0u)
           << ",\"pseudo\":" << D.isPseudo() << "}\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 3) {
    errs() << "usage: mcoracle regs|opcodes|sched|describe <cpu>\n";
    return 2;
  }
  InitializeAllTargetInfos();
  InitializeAllTargetMCs();
  InitializeAllDisassemblers();
  MC mc(argv[2]);
  std::string cmd = argv[1];
  if (cmd == "regs") return cmdRegs(mc);
  if (cmd == "opcodes") return cmdOpcodes(mc);
  if (cmd == "describe") return cmdDescribe(mc);
  if (cmd == "sched") return cmdSched(mc);
  errs() << "unknown command " << cmd << "\n";
  return 2;
}
