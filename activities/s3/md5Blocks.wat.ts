// Generates the WebAssembly text of the MD5 block function used by md5.ts (RFC 1321, fully unrolled:
// 64 steps per block are clearer generated than written out by hand). `npm run build:wasm` assembles
// it into md5Blocks.wasm beside this file.
//
// Two exports, over the state words at memory offset 0 (and, for blocks2, a second state at 16):
//   blocks1(ptr, n)  one MD5 state takes n 64-byte blocks from ptr
//   blocks2(ptr, n)  two MD5 states take the same n blocks, their 64 steps interleaved
// An upload needs two digests of the same bytes (the whole file, and the part for its ETag). One MD5
// is a single chain of dependent additions that leaves most of a core's ALUs idle; the second chain
// fills them, so blocks2 costs little more than blocks1 and about 60 % of two separate passes.

const K = Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0);
const SHIFTS = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
const shift = (i: number) => SHIFTS[(i >> 4) * 4 + (i % 4)];
const messageWord = (i: number) => [i, (5 * i + 1) % 16, (3 * i + 5) % 16, (7 * i) % 16][i >> 4];

const get = (name: string) => `(local.get $${name})`;

/** The round function of step i (F, G, H, I), written so the newest word `b` enters last. */
function round(i: number, b: string, c: string, d: string): string {
  switch (i >> 4) {
    case 0:
      return `(i32.xor ${get(d)} (i32.and ${get(b)} (i32.xor ${get(c)} ${get(d)})))`;
    case 1:
      return `(i32.xor ${get(c)} (i32.and ${get(d)} (i32.xor ${get(b)} ${get(c)})))`;
    case 2:
      return `(i32.xor ${get(b)} (i32.xor ${get(c)} ${get(d)}))`;
    default:
      return `(i32.xor ${get(c)} (i32.or ${get(b)} (i32.xor ${get(d)} (i32.const -1))))`;
  }
}

/** a = b + rotl(a + M[g] + K[i] + round(b, c, d), s); the words then change roles instead of places. */
function step(i: number, [a, b, c, d]: string[]): string {
  const sum = `(i32.add (i32.add ${get(a)} (i32.add (i32.load offset=${4 * messageWord(i)} ${get('ptr')}) (i32.const ${K[i]}))) ${round(i, b, c, d)})`;
  return `(local.set $${a} (i32.add ${get(b)} (i32.rotl ${sum} (i32.const ${shift(i)}))))`;
}

function blocksFunction(name: string, states: number): string {
  const words = Array.from({ length: states }, (_, s) => ['a', 'b', 'c', 'd'].map((w) => `${w}${s}`));
  const all = words.flat();
  const lines: string[] = [];
  lines.push(`(func (export "${name}") (param $ptr i32) (param $blocks i32)`);
  lines.push(...all.map((w) => `(local $${w} i32) (local $${w}_in i32)`));
  words.forEach((state, s) => state.forEach((w, j) => lines.push(`(local.set $${w} (i32.load offset=${16 * s + 4 * j} (i32.const 0)))`)));
  lines.push('(block $done (loop $block');
  lines.push(`(br_if $done (i32.eqz ${get('blocks')}))`);
  lines.push(...all.map((w) => `(local.set $${w}_in ${get(w)})`));
  const roles = words.map((state) => [...state]);
  for (let i = 0; i < 64; i++) {
    roles.forEach((role, s) => {
      lines.push(step(i, role));
      const [a, b, c, d] = role;
      roles[s] = [d, a, b, c];
    });
  }
  lines.push(...all.map((w) => `(local.set $${w} (i32.add ${get(w)} ${get(`${w}_in`)}))`));
  lines.push(`(local.set $ptr (i32.add ${get('ptr')} (i32.const 64)))`);
  lines.push(`(local.set $blocks (i32.sub ${get('blocks')} (i32.const 1)))`);
  lines.push('(br $block)))');
  words.forEach((state, s) => state.forEach((w, j) => lines.push(`(i32.store offset=${16 * s + 4 * j} (i32.const 0) ${get(w)})`)));
  lines.push(')');
  return lines.join('\n');
}

export function md5BlocksWat(): string {
  return ['(module', '(memory (export "memory") 1)', blocksFunction('blocks1', 1), blocksFunction('blocks2', 2), ')'].join('\n');
}
