/**
 * A binary trie of prefixes over the 128-bit FlowKey address layout, holding integer items. Answers
 * "which items' prefixes overlap this prefix" (its ancestors, itself, its descendants), and how many,
 * so decorrelation only subtracts earlier selectors that can intersect a new one.
 */
export class PrefixTrie {
  private readonly startBit: number;
  private children = new Int32Array(256).fill(-1);
  private head = new Int32Array(128).fill(-1);
  private own = new Int32Array(128);
  private subtree = new Int32Array(128);
  private nodes = 1;
  private next = new Int32Array(128);
  private payload = new Int32Array(128);
  private items = 0;

  /** `startBit`: bits before it are the same for every prefix inserted (96 for IPv4). */
  constructor(startBit: number) {
    this.startBit = startBit;
  }

  insert(words: ArrayLike<number>, offset: number, length: number, item: number): void {
    let node = 0;
    this.subtree[0]!++;
    for (let bit = this.startBit; bit < length; bit++) {
      const side = ((words[offset + (bit >>> 5)] ?? 0) >>> (31 - (bit & 31))) & 1;
      let child = this.children[node * 2 + side]!;
      if (child < 0) {
        child = this.newNode();
        this.children[node * 2 + side] = child;
      }
      node = child;
      this.subtree[node]!++;
    }
    if (this.items === this.next.length) {
      this.next = grow(this.next, 0);
      this.payload = grow(this.payload, 0);
    }
    const slot = this.items++;
    this.payload[slot] = item;
    this.next[slot] = this.head[node]!;
    this.head[node] = slot;
    this.own[node]!++;
  }

  /** How many items overlap the prefix. */
  count(words: ArrayLike<number>, offset: number, length: number): number {
    let node = 0;
    let total = 0;
    for (let bit = this.startBit; bit < length; bit++) {
      total += this.own[node]!;
      const side = ((words[offset + (bit >>> 5)] ?? 0) >>> (31 - (bit & 31))) & 1;
      node = this.children[node * 2 + side]!;
      if (node < 0) return total;
    }
    return total + this.subtree[node]!;
  }

  /** Appends the items that overlap the prefix to `out`. */
  collect(words: ArrayLike<number>, offset: number, length: number, out: number[]): void {
    let node = 0;
    for (let bit = this.startBit; bit < length; bit++) {
      this.collectOwn(node, out);
      const side = ((words[offset + (bit >>> 5)] ?? 0) >>> (31 - (bit & 31))) & 1;
      node = this.children[node * 2 + side]!;
      if (node < 0) return;
    }
    const stack = [node];
    while (stack.length > 0) {
      const n = stack.pop()!;
      this.collectOwn(n, out);
      const left = this.children[n * 2]!;
      const right = this.children[n * 2 + 1]!;
      if (left >= 0) stack.push(left);
      if (right >= 0) stack.push(right);
    }
  }

  private collectOwn(node: number, out: number[]): void {
    for (let slot = this.head[node]!; slot >= 0; slot = this.next[slot]!) out.push(this.payload[slot]!);
  }

  private newNode(): number {
    if (this.nodes === this.head.length) {
      this.children = grow(this.children, -1);
      this.head = grow(this.head, -1);
      this.own = grow(this.own, 0);
      this.subtree = grow(this.subtree, 0);
    }
    return this.nodes++;
  }
}

function grow(array: Int32Array, fill: number): Int32Array<ArrayBuffer> {
  const bigger = new Int32Array(array.length * 2).fill(fill);
  bigger.set(array);
  return bigger;
}
