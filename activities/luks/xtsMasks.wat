;; XTS masking for XtsPlain64 (xts.ts), in WebAssembly SIMD: AES itself runs in OpenSSL (AES-ECB), and
;; this does the part JavaScript is slow at, 128-bit XOR and the GF(2^128) doubling of the tweak.
;; Rebuild the .wasm beside it with `npm run build:wasm` (test/luks/xtsMasks.test.ts checks they agree).
(module
  (memory (export "memory") 1)

  ;; For each of `sectors` sectors, whose encrypted tweaks T lie 16 bytes apart from `tweaks`:
  ;; block j of the sector at `src` is XORed with T·α^j and stored at `dst` (which may equal `src`).
  (func (export "xorMasks") (param $tweaks i32) (param $src i32) (param $dst i32) (param $sectors i32) (param $sectorBytes i32)
    (local $t v128)
    (local $tweaksEnd i32)
    (local $sectorEnd i32)
    (local.set $tweaksEnd (i32.add (local.get $tweaks) (i32.shl (local.get $sectors) (i32.const 4))))
    (block $done
      (loop $sector
        (br_if $done (i32.ge_u (local.get $tweaks) (local.get $tweaksEnd)))
        (local.set $t (v128.load (local.get $tweaks)))
        (local.set $sectorEnd (i32.add (local.get $src) (local.get $sectorBytes)))
        (loop $block
          (v128.store (local.get $dst) (v128.xor (v128.load (local.get $src)) (local.get $t)))
          ;; T·α (IEEE 1619, little-endian): shift the 128 bits left by one; the bit shifted out of the
          ;; top is reduced into the low byte as 0x87, and bit 63 carries into bit 64. The sign masks of
          ;; the 32-bit lanes holding bits 127 and 63 select those two corrections.
          (local.set $t
            (v128.xor
              (i64x2.shl (local.get $t) (i32.const 1))
              (v128.and
                (i8x16.shuffle 12 13 14 15 12 13 14 15 4 5 6 7 4 5 6 7
                  (i32x4.shr_s (local.get $t) (i32.const 31))
                  (i32x4.shr_s (local.get $t) (i32.const 31)))
                (v128.const i32x4 0x87 0 1 0))))
          (local.set $src (i32.add (local.get $src) (i32.const 16)))
          (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
          (br_if $block (i32.lt_u (local.get $src) (local.get $sectorEnd))))
        (local.set $tweaks (i32.add (local.get $tweaks) (i32.const 16)))
        (br $sector)))))
