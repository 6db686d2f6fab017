/* String routines: run-length coding, base64, a tiny glob matcher; prints a checksum. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c; }

static size_t rle_encode(const char *in, char *out) {
  size_t o = 0;
  for (size_t i = 0; in[i];) {
    size_t j = i;
    while (in[j] == in[i] && j - i < 9) j++;
    out[o++] = (char)('0' + (j - i));
    out[o++] = in[i];
    i = j;
  }
  out[o] = 0;
  return o;
}
static size_t rle_decode(const char *in, char *out) {
  size_t o = 0;
  for (size_t i = 0; in[i] && is_digit(in[i]); i += 2)
    for (int k = 0; k < in[i] - '0'; k++) out[o++] = in[i + 1];
  out[o] = 0;
  return o;
}
static size_t b64_encode(const unsigned char *in, size_t n, char *out) {
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16;
    if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
    if (i + 2 < n) v |= in[i + 2];
    out[o++] = B64[(v >> 18) & 63];
    out[o++] = B64[(v >> 12) & 63];
    out[o++] = i + 1 < n ? B64[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < n ? B64[v & 63] : '=';
  }
  out[o] = 0;
  return o;
}
static int glob(const char *p, const char *s) {
  if (*p == 0) return *s == 0;
  if (*p == '*') return glob(p + 1, s) || (*s && glob(p, s + 1));
  if (*s && (*p == '?' || lower(*p) == lower(*s))) return glob(p + 1, s + 1);
  return 0;
}
static uint64_t mix(uint64_t h, const char *s) {
  while (*s) h = (h ^ (unsigned char)*s++) * 1099511628211ull;
  return h;
}

int main(void) {
  static const char *words[] = {"aaabbbcccd", "hello world", "zzzzzzzzzzzzzzzyx", "Mississippi",
                                "tunebench", "inline me please", "", "abcabcabc"};
  static const char *pats[] = {"*s*", "h?llo*", "*ss*pp*", "T*H", "*", "a*c"};
  char enc[256], dec[256], b64[256];
  uint64_t h = 1469598103934665603ull;
  for (int round = 0; round < 200; round++)
    for (size_t w = 0; w < sizeof words / sizeof *words; w++) {
      rle_encode(words[w], enc);
      rle_decode(enc, dec);
      b64_encode((const unsigned char *)dec, strlen(dec), b64);
      h = mix(mix(h, enc), b64);
      for (size_t p = 0; p < sizeof pats / sizeof *pats; p++)
        h = h * 3 + (uint64_t)glob(pats[p], words[w]) + (uint64_t)round;
    }
  printf("checksum = %llX\n", (unsigned long long)h);
  return 0;
}
