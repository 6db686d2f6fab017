/* An open-addressing hash map with insert/lookup/delete; prints a checksum. */
#include <stdint.h>
#include <stdio.h>

#define CAP 1024

typedef struct {
  uint32_t keys[CAP];
  uint32_t vals[CAP];
  uint8_t used[CAP];
  int count;
} Map;

static uint32_t hash32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  return x ^ (x >> 16);
}
static uint32_t slot_of(uint32_t key) { return hash32(key) & (CAP - 1); }
static uint32_t next_slot(uint32_t s) { return (s + 1) & (CAP - 1); }

static int find(const Map *m, uint32_t key) {
  for (uint32_t s = slot_of(key), n = 0; n < CAP; s = next_slot(s), n++) {
    if (m->used[s] == 0) return -1;
    if (m->used[s] == 1 && m->keys[s] == key) return (int)s;
  }
  return -1;
}
static void put(Map *m, uint32_t key, uint32_t val) {
  int at = find(m, key);
  if (at >= 0) {
    m->vals[at] = val;
    return;
  }
  uint32_t s = slot_of(key);
  while (m->used[s] == 1) s = next_slot(s);
  m->used[s] = 1;
  m->keys[s] = key;
  m->vals[s] = val;
  m->count++;
}
static uint32_t get(const Map *m, uint32_t key, uint32_t missing) {
  int at = find(m, key);
  return at >= 0 ? m->vals[at] : missing;
}
static void erase(Map *m, uint32_t key) {
  int at = find(m, key);
  if (at >= 0) {
    m->used[at] = 2; /* tombstone */
    m->count--;
  }
}

int main(void) {
  static Map m;
  uint64_t sum = 0;
  for (uint32_t i = 0; i < 700; i++) put(&m, i * 7919u, i);
  for (uint32_t i = 0; i < 700; i += 3) erase(&m, i * 7919u);
  for (uint32_t i = 0; i < 700; i += 5) put(&m, i * 7919u, i * 2);
  for (uint32_t i = 0; i < 1400; i++) sum = sum * 131 + get(&m, i * 7919u, 0xFFFFu);
  sum += (uint64_t)m.count;
  printf("checksum = %llX\n", (unsigned long long)sum);
  return 0;
}
