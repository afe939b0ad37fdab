;; The CPU backend's matmul kernel (WebAssembly SIMD), driven by src/backend/wasm_matmul.ts.
;;
;; C(Mp,Np) (+)= A(Mp,kl)·B(kl,Np) in float64, for one block of kl steps along K. Operands are
;; packed by the driver as float64 panels (zero rows/columns pad Mp and Np to multiples of 4):
;;   A: panel p holds rows 4p..4p+3, element (r, k) at a + p·stride + (4k + r)·8
;;   B: panel q holds cols 4q..4q+3, element (k, c) at b + q·stride + (4k + c)·8
;;   C: row-major float64, element (i, j) at c + (i·Np + j)·8
;; `first` = 1 starts every sum at +0; else it continues the sums held in C.
;;
;; Each element of C is its own running sum s += a·b over k = 0, 1, … in order, one float64 add
;; per step, the product of two float32 values being exact in float64 — the summation order and
;; rounding of the TypeScript reference (src/reference/matmul.ts), so the results are identical
;; bit for bit. The SIMD lanes are different output columns, never parts of one sum, and
;; WebAssembly never fuses a multiply and an add.
;;
;; Micro-tile: 4 rows × 4 columns = 8 accumulators of 2 float64 lanes.
(module
  (memory (export "memory") 1)
  (func (export "mm")
    (param $a i32) (param $b i32) (param $c i32)
    (param $mp i32) (param $np i32) (param $kl i32) (param $stride i32) (param $first i32)
    (local $p i32) (local $q i32) (local $ap i32) (local $bp i32) (local $end i32)
    (local $c0 i32) (local $c1 i32) (local $c2 i32) (local $c3 i32) (local $row i32)
    (local $x v128) (local $b0 v128) (local $b1 v128)
    (local $s00 v128) (local $s01 v128) (local $s10 v128) (local $s11 v128)
    (local $s20 v128) (local $s21 v128) (local $s30 v128) (local $s31 v128)
    ;; row: bytes of one row of C
    (local.set $row (i32.shl (local.get $np) (i32.const 3)))
    (local.set $p (i32.const 0))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $p) (local.get $mp)))
        (local.set $q (i32.const 0))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.ge_u (local.get $q) (local.get $np)))
            ;; c0..c3: the tile's four rows in C
            (local.set $c0
              (i32.add (local.get $c)
                (i32.shl
                  (i32.add (i32.mul (local.get $p) (local.get $np)) (local.get $q))
                  (i32.const 3))))
            (local.set $c1 (i32.add (local.get $c0) (local.get $row)))
            (local.set $c2 (i32.add (local.get $c1) (local.get $row)))
            (local.set $c3 (i32.add (local.get $c2) (local.get $row)))
            (if (local.get $first)
              (then
                (local.set $s00 (v128.const f64x2 0 0))
                (local.set $s01 (v128.const f64x2 0 0))
                (local.set $s10 (v128.const f64x2 0 0))
                (local.set $s11 (v128.const f64x2 0 0))
                (local.set $s20 (v128.const f64x2 0 0))
                (local.set $s21 (v128.const f64x2 0 0))
                (local.set $s30 (v128.const f64x2 0 0))
                (local.set $s31 (v128.const f64x2 0 0)))
              (else
                (local.set $s00 (v128.load (local.get $c0)))
                (local.set $s01 (v128.load offset=16 (local.get $c0)))
                (local.set $s10 (v128.load (local.get $c1)))
                (local.set $s11 (v128.load offset=16 (local.get $c1)))
                (local.set $s20 (v128.load (local.get $c2)))
                (local.set $s21 (v128.load offset=16 (local.get $c2)))
                (local.set $s30 (v128.load (local.get $c3)))
                (local.set $s31 (v128.load offset=16 (local.get $c3)))))
            ;; ap, bp: the tile's panels; p and q count rows and columns, 4 per panel
            (local.set $ap
              (i32.add (local.get $a)
                (i32.mul (i32.shr_u (local.get $p) (i32.const 2)) (local.get $stride))))
            (local.set $bp
              (i32.add (local.get $b)
                (i32.mul (i32.shr_u (local.get $q) (i32.const 2)) (local.get $stride))))
            (local.set $end (i32.add (local.get $ap) (i32.shl (local.get $kl) (i32.const 5))))
            (block $k_done
              (loop $k
                (br_if $k_done (i32.ge_u (local.get $ap) (local.get $end)))
                (local.set $b0 (v128.load (local.get $bp)))
                (local.set $b1 (v128.load offset=16 (local.get $bp)))
                (local.set $x (f64x2.splat (f64.load (local.get $ap))))
                (local.set $s00 (f64x2.add (local.get $s00) (f64x2.mul (local.get $x) (local.get $b0))))
                (local.set $s01 (f64x2.add (local.get $s01) (f64x2.mul (local.get $x) (local.get $b1))))
                (local.set $x (f64x2.splat (f64.load offset=8 (local.get $ap))))
                (local.set $s10 (f64x2.add (local.get $s10) (f64x2.mul (local.get $x) (local.get $b0))))
                (local.set $s11 (f64x2.add (local.get $s11) (f64x2.mul (local.get $x) (local.get $b1))))
                (local.set $x (f64x2.splat (f64.load offset=16 (local.get $ap))))
                (local.set $s20 (f64x2.add (local.get $s20) (f64x2.mul (local.get $x) (local.get $b0))))
                (local.set $s21 (f64x2.add (local.get $s21) (f64x2.mul (local.get $x) (local.get $b1))))
                (local.set $x (f64x2.splat (f64.load offset=24 (local.get $ap))))
                (local.set $s30 (f64x2.add (local.get $s30) (f64x2.mul (local.get $x) (local.get $b0))))
                (local.set $s31 (f64x2.add (local.get $s31) (f64x2.mul (local.get $x) (local.get $b1))))
                (local.set $ap (i32.add (local.get $ap) (i32.const 32)))
                (local.set $bp (i32.add (local.get $bp) (i32.const 32)))
                (br $k)))
            (v128.store (local.get $c0) (local.get $s00))
            (v128.store offset=16 (local.get $c0) (local.get $s01))
            (v128.store (local.get $c1) (local.get $s10))
            (v128.store offset=16 (local.get $c1) (local.get $s11))
            (v128.store (local.get $c2) (local.get $s20))
            (v128.store offset=16 (local.get $c2) (local.get $s21))
            (v128.store (local.get $c3) (local.get $s30))
            (v128.store offset=16 (local.get $c3) (local.get $s31))
            (local.set $q (i32.add (local.get $q) (i32.const 4)))
            (br $cols)))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $rows)))))
