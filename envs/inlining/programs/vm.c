/* A tiny stack-machine interpreter running a fixed bytecode program; prints a checksum. */
#include <stdint.h>
#include <stdio.h>

enum { OP_PUSH, OP_ADD, OP_SUB, OP_MUL, OP_DUP, OP_SWAP, OP_JNZ, OP_DEC, OP_POP, OP_HALT };

typedef struct {
  int64_t stack[64];
  int sp;
  int pc;
  uint64_t steps;
} Vm;

static void push(Vm *vm, int64_t v) { vm->stack[vm->sp++] = v; }
static int64_t pop(Vm *vm) { return vm->stack[--vm->sp]; }
static int64_t peek(const Vm *vm) { return vm->stack[vm->sp - 1]; }

static void binop(Vm *vm, int op) {
  int64_t b = pop(vm), a = pop(vm);
  switch (op) {
  case OP_ADD: push(vm, a + b); break;
  case OP_SUB: push(vm, a - b); break;
  default: push(vm, (a * b) % 1000003); break;
  }
}

static void swap(Vm *vm) {
  int64_t b = pop(vm), a = pop(vm);
  push(vm, b);
  push(vm, a);
}

static int step(Vm *vm, const int64_t *code) {
  int64_t op = code[vm->pc++];
  vm->steps++;
  switch (op) {
  case OP_PUSH: push(vm, code[vm->pc++]); return 1;
  case OP_ADD: case OP_SUB: case OP_MUL: binop(vm, (int)op); return 1;
  case OP_DUP: push(vm, peek(vm)); return 1;
  case OP_SWAP: swap(vm); return 1;
  case OP_DEC: push(vm, pop(vm) - 1); return 1;
  case OP_POP: (void)pop(vm); return 1;
  case OP_JNZ: {
    int64_t target = code[vm->pc++];
    if (peek(vm) != 0) vm->pc = (int)target;
    return 1;
  }
  default: return 0;
  }
}

static int64_t run(const int64_t *code, int64_t seed) {
  Vm vm = {{0}, 0, 0, 0};
  push(&vm, seed);
  while (step(&vm, code)) {
  }
  return vm.stack[0] + (int64_t)vm.steps;
}

int main(void) {
  /* acc = 1; n = 200; loop: acc = acc * 3 + n; n--; while n */
  static const int64_t code[] = {OP_PUSH, 1,     OP_PUSH, 200,     OP_SWAP, OP_PUSH, 3,
                                 OP_MUL,  OP_SWAP, OP_DUP, OP_PUSH, 0,      OP_ADD,  OP_SWAP,
                                 OP_POP,  OP_DEC, OP_JNZ,  4,       OP_POP, OP_HALT};
  uint64_t sum = 0;
  for (int64_t s = 0; s < 50; s++) sum = sum * 31 + (uint64_t)run(code, s);
  printf("checksum = %llX\n", (unsigned long long)sum);
  return 0;
}
