/* Dijkstra with a binary heap and BFS on a generated graph; prints a checksum. */
#include <stdint.h>
#include <stdio.h>

#define NV 200
#define NE 1200
#define INF 0x3fffffff

typedef struct {
  int to[NE], w[NE], next[NE], head[NV], n_edges;
} Graph;
typedef struct {
  int node[NE + NV], key[NE + NV], size;
} Heap;

static uint32_t seed_state = 7u;
static uint32_t rnd(void) { return seed_state = seed_state * 1103515245u + 12345u; }

static void add_edge(Graph *g, int a, int b, int w) {
  g->to[g->n_edges] = b;
  g->w[g->n_edges] = w;
  g->next[g->n_edges] = g->head[a];
  g->head[a] = g->n_edges++;
}
static void heap_swap(Heap *h, int i, int j) {
  int n = h->node[i], k = h->key[i];
  h->node[i] = h->node[j];
  h->key[i] = h->key[j];
  h->node[j] = n;
  h->key[j] = k;
}
static void heap_push(Heap *h, int node, int key) {
  int i = h->size++;
  h->node[i] = node;
  h->key[i] = key;
  while (i > 0 && h->key[(i - 1) / 2] > h->key[i]) {
    heap_swap(h, i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
}
static int heap_pop(Heap *h, int *key) {
  int top = h->node[0];
  *key = h->key[0];
  h->size--;
  h->node[0] = h->node[h->size];
  h->key[0] = h->key[h->size];
  for (int i = 0;;) {
    int l = 2 * i + 1, r = l + 1, m = i;
    if (l < h->size && h->key[l] < h->key[m]) m = l;
    if (r < h->size && h->key[r] < h->key[m]) m = r;
    if (m == i) break;
    heap_swap(h, i, m);
    i = m;
  }
  return top;
}
static void dijkstra(const Graph *g, int src, int *dist) {
  static Heap h;
  h.size = 0;
  for (int i = 0; i < NV; i++) dist[i] = INF;
  dist[src] = 0;
  heap_push(&h, src, 0);
  while (h.size > 0) {
    int d, u = heap_pop(&h, &d);
    if (d > dist[u]) continue;
    for (int e = g->head[u]; e >= 0; e = g->next[e])
      if (d + g->w[e] < dist[g->to[e]]) {
        dist[g->to[e]] = d + g->w[e];
        heap_push(&h, g->to[e], dist[g->to[e]]);
      }
  }
}
static int bfs_levels(const Graph *g, int src, int *level) {
  int queue[NV], qh = 0, qt = 0, maxl = 0;
  for (int i = 0; i < NV; i++) level[i] = -1;
  level[src] = 0;
  queue[qt++] = src;
  while (qh < qt) {
    int u = queue[qh++];
    for (int e = g->head[u]; e >= 0; e = g->next[e])
      if (level[g->to[e]] < 0) {
        level[g->to[e]] = level[u] + 1;
        maxl = level[u] + 1 > maxl ? level[u] + 1 : maxl;
        queue[qt++] = g->to[e];
      }
  }
  return maxl;
}

int main(void) {
  static Graph g;
  static int dist[NV], level[NV];
  for (int i = 0; i < NV; i++) g.head[i] = -1;
  for (int i = 0; i < NE; i++) add_edge(&g, (int)(rnd() % NV), (int)(rnd() % NV), (int)(rnd() % 100) + 1);
  uint64_t sum = 0;
  for (int s = 0; s < 20; s++) {
    dijkstra(&g, s, dist);
    sum = sum * 1315423911u + (uint64_t)bfs_levels(&g, s, level);
    for (int i = 0; i < NV; i++) sum += (uint64_t)(dist[i] == INF ? 7 : dist[i]) * (uint64_t)(i + 1);
  }
  printf("checksum = %llX\n", (unsigned long long)sum);
  return 0;
}
