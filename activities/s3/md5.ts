// MD5 on the WebAssembly block function of md5Blocks.wat.ts, for the one place that needs two MD5s of
// the same bytes: an upload's whole-file md5 and its part md5s (the ETag). `updateBoth` advances two
// digests in one pass, about 60 % of the CPU of two OpenSSL passes (bench: `npm run bench -- import`);
// alone, a digest here is slightly slower than node:crypto's, which everything else keeps using.
import { readFileSync } from 'node:fs';

// The states are read as Uint32Array views of WebAssembly (little-endian) memory: little-endian hosts only.
const STATE_WORDS = 4;
const BLOCK = 64;
// Layout of the WebAssembly memory: the two states the block functions work on, then the bytes.
const SCRATCH = 64;
const SCRATCH_BYTES = 256 * 1024; // stays in L2 between the copy in and the hashing
const WASM_PAGE = 64 * 1024;
const INITIAL_STATE = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];

interface Kernel {
  bytes: Uint8Array;
  states: Uint32Array;
  blocks1: (ptr: number, blocks: number) => void;
  blocks2: (ptr: number, blocks: number) => void;
}

// One instance serves every digest of the thread: calls are synchronous, and each loads its
// states in and stores them back.
let kernel: Kernel | undefined;
function md5Kernel(): Kernel {
  if (kernel) return kernel;
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(new URL('./md5Blocks.wasm', import.meta.url))));
  const memory = exports.memory as WebAssembly.Memory;
  memory.grow(Math.ceil((SCRATCH + SCRATCH_BYTES) / WASM_PAGE) - memory.buffer.byteLength / WASM_PAGE);
  return (kernel = {
    bytes: new Uint8Array(memory.buffer),
    states: new Uint32Array(memory.buffer, 0, 2 * STATE_WORDS),
    blocks1: exports.blocks1 as Kernel['blocks1'],
    blocks2: exports.blocks2 as Kernel['blocks2'],
  });
}

export class Md5 {
  private readonly state = Uint32Array.from(INITIAL_STATE);
  /** The bytes of an incomplete block, waiting for the rest. */
  private readonly pending = new Uint8Array(BLOCK);
  private length = 0;
  private finished = false;

  update(data: Uint8Array): this {
    Md5.feed([this], data);
    return this;
  }

  /** The 16-byte digest; the object takes no more bytes after it. */
  digest(): Buffer {
    this.assertOpen();
    this.finished = true;
    const used = this.length % BLOCK;
    const tail = new Uint8Array(used < BLOCK - 8 ? BLOCK : 2 * BLOCK);
    tail.set(this.pending.subarray(0, used));
    tail[used] = 0x80;
    const bitLength = new DataView(tail.buffer, tail.length - 8);
    bitLength.setUint32(0, (this.length * 8) >>> 0, true);
    bitLength.setUint32(4, Math.floor(this.length / 2 ** 29), true);
    runBlocks([this.state], tail);
    return Buffer.from(this.state.buffer.slice(0));
  }

  /**
   * Feeds the same bytes to two digests, in one pass when they are in step (the same bytes of an
   * incomplete block waiting in both), which holds while the second started at a block boundary of
   * the first: a part of a multiple of 64 bytes.
   */
  static updateBoth(first: Md5, second: Md5, data: Uint8Array): void {
    if (Md5.inStep(first, second)) return Md5.feed([first, second], data);
    Md5.feed([first], data);
    Md5.feed([second], data);
  }

  private static inStep(first: Md5, second: Md5): boolean {
    const used = first.length % BLOCK;
    if (used !== second.length % BLOCK) return false;
    for (let i = 0; i < used; i++) if (first.pending[i] !== second.pending[i]) return false;
    return true;
  }

  /** Feeds digests that are in step: what completes a block goes through them together. */
  private static feed(digests: Md5[], data: Uint8Array): void {
    for (const digest of digests) digest.assertOpen();
    const [lead] = digests;
    let offset = 0;
    const used = lead.length % BLOCK;
    if (used > 0) {
      offset = Math.min(BLOCK - used, data.length);
      for (const digest of digests) digest.pending.set(data.subarray(0, offset), used);
      if (used + offset === BLOCK) runBlocks(digests.map((digest) => digest.state), lead.pending);
    }
    const whole = data.length - offset - ((data.length - offset) % BLOCK);
    if (whole > 0) runBlocks(digests.map((digest) => digest.state), data.subarray(offset, offset + whole));
    const rest = data.subarray(offset + whole);
    for (const digest of digests) {
      digest.pending.set(rest, 0);
      digest.length += data.length;
    }
  }

  private assertOpen() {
    if (this.finished) throw new Error('Md5: digest() was already called');
  }
}

/** Runs whole blocks through one state or two (the same bytes through both). */
function runBlocks(states: Uint32Array[], blocks: Uint8Array): void {
  const { bytes, states: wasmStates, blocks1, blocks2 } = md5Kernel();
  const run = states.length === 1 ? blocks1 : blocks2;
  states.forEach((state, i) => wasmStates.set(state, i * STATE_WORDS));
  for (let offset = 0; offset < blocks.length; offset += SCRATCH_BYTES) {
    const slice = blocks.subarray(offset, offset + SCRATCH_BYTES);
    bytes.set(slice, SCRATCH);
    run(SCRATCH, slice.length / BLOCK);
  }
  states.forEach((state, i) => state.set(wasmStates.subarray(i * STATE_WORDS, (i + 1) * STATE_WORDS)));
}
