/* SPDX-License-Identifier: MIT */
/* nn_conv3_simd.h — the inner loops of the grid convolutions (nn_conv3.c: 3x3 stride 1, stride-2 phases), written
 * once over a small vector vocabulary and included once per instruction set by nn_conv3.c (scalar, AVX2,
 * AVX-512), each inclusion inside its own `#pragma GCC target` region. Not a public header; include only
 * from nn_conv3.c. The including file defines:
 *   SFX(name)    name decoration for this instruction set
 *   VW           floats per vector;  VT the vector type
 *   VZERO() VLD(p) VST(p, v) VBC(p) VFMA(a, b, c)   zero, unaligned load/store, broadcast *p, a*b + c fused
 *   VKEEP(v)     keeps v in a register (an empty asm: gcc would otherwise fold the load into every FMA)
 *   FR           output rows per forward tile (weights packed in blocks of FR rows)
 *   DWR          output rows per weight-gradient tile (1, 2 or 3)
 *   DKR          rows of dy per tile of the generic-tap weight gradient (c3_dwk_chunk)
 * and this file #undefs them at its end.
 * Every output element of the forward tile is the fused sum over (c, kh, kw) in that order, starting from
 * 0: the bits do not depend on VW, the tile shape or the thread count. Weight-gradient tiles sum lanes of
 * q, so their bits depend on VW (never on the thread count). */

#define C3_V 3 /* vectors per forward tile: FR x 3*VW outputs, FR*3 accumulators */

/* rows o0 .. o0+nr-1 (those < OC) of a tile covering grid positions [q0, q0 + nq) to their pixels: the
 * tile's runs of pixels (at most one per grid row it touches) are found once, then copied for every row */
static void SFX(c3_scatter)(const c3_dst *d, const float *tile, size_t ldt, size_t o0, size_t nr, size_t q0,
                            size_t nq) {
    const size_t HWf = d->Hf * d->Wf, st = d->st;
    size_t src[SCATTER_RUNS], dst[SCATTER_RUNS], len[SCATTER_RUNS];
    const size_t nrun = c3_runs(d, q0, nq, src, dst, len);
    for (size_t r = 0; r < nr && o0 + r < d->OC; r++) {
        const size_t o = o0 + r;
        const float bb = d->bias && !d->acc ? d->bias[o] : 0.0f;
        const float *t = tile + r * ldt;
        float *out = d->out + o * HWf;
        for (size_t k = 0; k < nrun; k++) {
            float *o_ = out + dst[k];
            const float *t_ = t + src[k];
            const size_t n = len[k];
#if VW == 16 /* AVX-512: a run is one or a few masked vectors, the same sums as the scalar loops below */
            if (st == 1) {
                for (size_t i = 0; i < n; i += 16) {
                    const __mmask16 m = n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1u);
                    __m512 v = _mm512_maskz_loadu_ps(m, t_ + i);
                    if (d->acc)
                        v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, o_ + i), v);
                    else {
                        v = _mm512_add_ps(v, _mm512_set1_ps(bb));
                        if (d->act) {
                            const __mmask16 pos = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_GT_OQ);
                            v = _mm512_mul_ps(v, _mm512_mask_blend_ps(pos, _mm512_set1_ps(d->alpha), _mm512_set1_ps(1.0f)));
                        }
                    }
                    _mm512_mask_storeu_ps(o_ + i, m, v);
                }
                continue;
            }
            if (st == 2) { /* 8 values to the even lanes of 16 output floats (odd lanes left alone) */
                const __m512i ix = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
                for (size_t i = 0; i < n; i += 8) {
                    const unsigned cnt = n - i >= 8 ? 8u : (unsigned)(n - i);
                    const __mmask16 m = (__mmask16)(0x5555u & ((1u << (2 * cnt)) - 1u));
                    __m512 v = _mm512_permutexvar_ps(ix, _mm512_maskz_loadu_ps((__mmask16)((1u << cnt) - 1u), t_ + i));
                    if (d->acc)
                        v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, o_ + 2 * i), v);
                    else
                        v = _mm512_add_ps(v, _mm512_set1_ps(bb));
                    _mm512_mask_storeu_ps(o_ + 2 * i, m, v);
                }
                continue;
            }
#endif
            if (st != 1) { /* a phase of a stride-2 adjoint: every st-th pixel */
                if (d->acc)
                    for (size_t i = 0; i < n; i++) o_[i * st] += t_[i];
                else
                    for (size_t i = 0; i < n; i++) o_[i * st] = t_[i] + bb;
            } else if (d->acc) {
#pragma omp simd
                for (size_t i = 0; i < n; i++) o_[i] += t_[i];
            } else if (d->act) { /* + bias, then LeakyReLU: v (v > 0 ? 1 : alpha), as gm_act_forward */
                const float al = d->alpha;
#pragma omp simd
                for (size_t i = 0; i < n; i++) {
                    const float v = t_[i] + bb;
                    o_[i] = v * c3_lrelu_slope(v, al);
                }
            } else {
#pragma omp simd
                for (size_t i = 0; i < n; i++) o_[i] = t_[i] + bb;
            }
        }
    }
}


/* One image row into its grid row(s), the zero column after it included: st = 1: r0[x] = s[x] (times the
 * LeakyReLU slope at ys[x] when ys); st = 2: r0[x] = s[2x], r1[x] = s[2x + 1]; x < n. And n zeros. */
static void SFX(c3_grid_row)(float *r0, float *r1, const float *s, const float *ys, float alpha, size_t n, size_t st) {
#if VW == 16 /* AVX-512: masked vectors of up to 16 pixels; a row of up to 15 (or 30 split in two) is one */
    if (st == 1) {
        for (size_t i = 0; i <= n; i += 16) { /* through index n: the zero column comes with the last vector */
            const size_t k = n - i < 16 ? n - i : 16;
            const __mmask16 mk = (__mmask16)((1u << k) - 1u), m1 = (__mmask16)(k < 16 ? (1u << (k + 1)) - 1u : 0xFFFFu);
            __m512 v = _mm512_maskz_loadu_ps(mk, s + i);
            if (ys) {
                const __mmask16 pos = _mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(mk, ys + i), _mm512_setzero_ps(), _CMP_GT_OQ);
                v = _mm512_mul_ps(v, _mm512_mask_blend_ps(pos, _mm512_set1_ps(alpha), _mm512_set1_ps(1.0f)));
            }
            _mm512_mask_storeu_ps(r0 + i, m1, v);
        }
        return;
    }
    if (n < 16) {
        const __mmask16 m1 = (__mmask16)((1u << (n + 1)) - 1u);
        if (!ys) {
            const size_t n2 = 2 * n;
            const __m512 lo = _mm512_maskz_loadu_ps((__mmask16)(n2 >= 16 ? 0xFFFFu : (1u << n2) - 1u), s),
                         hi = _mm512_maskz_loadu_ps((__mmask16)(n2 > 16 ? (1u << (n2 - 16)) - 1u : 0u), s + 16);
            const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0),
                          od = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
            _mm512_mask_storeu_ps(r0, m1, _mm512_permutex2var_ps(lo, ev, hi));
            _mm512_mask_storeu_ps(r1, m1, _mm512_permutex2var_ps(lo, od, hi));
            return;
        }
    }
#endif
    if (ys)
        for (size_t x = 0; x < n; x++) r0[x] = s[x] * c3_lrelu_slope(ys[x], alpha);
    else if (st == 1) {
#pragma omp simd
        for (size_t x = 0; x < n; x++) r0[x] = s[x];
    } else {
        for (size_t x = 0; x < n; x++) r0[x] = s[2 * x], r1[x] = s[2 * x + 1];
        r1[n] = 0.0f;
    }
    r0[n] = 0.0f;
}
static void SFX(c3_zeros)(float *p, size_t n) {
    size_t i = 0;
    for (; i + VW <= n; i += VW) VST(p + i, VZERO());
    for (; i < n; i++) p[i] = 0.0f;
}

/* y[r*ldy + j], r < FR, j < C3_V*VW:  sum_c sum_k wt[(c*nk + k)*FR + r] x[c*ldx + j + off[k]], k < nk taps */
static inline __attribute__((always_inline)) void SFX(c3_tile)(float *y, size_t ldy, const float *x, size_t ldx,
                                                               const float *wt, size_t C, const ptrdiff_t *off,
                                                               const int nk) {
    VT acc[FR][C3_V];
#pragma GCC unroll 8
    for (int r = 0; r < FR; r++)
#pragma GCC unroll 3
        for (int v = 0; v < C3_V; v++) acc[r][v] = VZERO();
    for (size_t c = 0; c < C; c++) {
        const float *xc = x + c * ldx, *wc = wt + c * (size_t)nk * FR;
        for (int k = 0; k < nk; k++) {
            const float *xs = xc + off[k], *wk = wc + k * FR;
            VT xv[C3_V];
#pragma GCC unroll 3
            for (int v = 0; v < C3_V; v++) xv[v] = VLD(xs + v * VW);
#pragma GCC unroll 8
            for (int r = 0; r < FR; r++) {
                VT wv = VBC(wk + r);
#pragma GCC unroll 3
                for (int v = 0; v < C3_V; v++) acc[r][v] = VFMA(wv, xv[v], acc[r][v]);
            }
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < FR; r++)
#pragma GCC unroll 3
        for (int v = 0; v < C3_V; v++) VST(y + r * ldy + v * VW, acc[r][v]);
}

/* The same with one output row (the 1-channel output convolutions) over nv = 3 or 6 vectors (6: two tiles at
 * once, six independent add chains instead of three; each output is the same sum either way). */
static inline __attribute__((always_inline)) void SFX(c3_tile1n)(float *y, const float *x, size_t ldx,
                                                                 const float *wt, size_t C, const ptrdiff_t *off,
                                                                 int nk, const int nv) {
    VT acc[2 * C3_V];
#pragma GCC unroll 6
    for (int v = 0; v < nv; v++) acc[v] = VZERO();
    for (size_t c = 0; c < C; c++) {
        const float *xc = x + c * ldx, *wc = wt + c * (size_t)nk;
        for (int k = 0; k < nk; k++) {
            VT wv = VBC(wc + k);
#pragma GCC unroll 6
            for (int v = 0; v < nv; v++) acc[v] = VFMA(wv, VLD(xc + off[k] + v * VW), acc[v]);
        }
    }
#pragma GCC unroll 6
    for (int v = 0; v < nv; v++) VST(y + v * VW, acc[v]);
}

/* the tiles of FR output rows (c3_grid) */
static inline __attribute__((always_inline)) void SFX(c3_grid_tiles)(const c3_dst *dst, size_t Qr, const float *x,
                                                                     size_t ldx, const float *wt, size_t C, size_t OC,
                                                                     const ptrdiff_t *off, const int nk) {
    const size_t QT = C3_V * VW, nq = Qr / QT, nob = (OC + FR - 1) / FR;
    long it;
#pragma omp parallel for schedule(static) if (nq * nob * C * QT * (size_t)nk > 4 * GM__PAR_MIN)
    for (it = 0; it < (long)(nq * nob); it++) {
        size_t qt = (size_t)it / nob, ob = (size_t)it % nob, q0 = qt * QT;
        float tile[FR * C3_V * VW];
        SFX(c3_tile)(tile, QT, x + q0, ldx, wt + ob * FR * C * (size_t)nk, C, off, nk);
        SFX(c3_scatter)(dst, tile, QT, ob * FR, FR, q0, QT);
    }
}

/* Grid convolution into NCHW: dst receives y(o, q) = sum_{c,k<nk} w(o, c, k) x(c, q + off_k) at the pixels
 * (c3_scatter: + bias, or added), from x (C channels of stride ldx, data bases) and wt packed by pack_w in
 * FR-row blocks (OC == 1 uses the one-row tile). Parallel over fixed tiles; a tile's outputs go from a small
 * stack buffer straight to their pixels. */
static void SFX(c3_grid)(const c3_dst *dst, size_t Qr, const float *x, size_t ldx, const float *wt, size_t C,
                         size_t OC, const ptrdiff_t *off, int nk) {
    const size_t QT = C3_V * VW, nq = Qr / QT;
    if (OC == 1) { /* pairs of tiles */
        long ip;
#pragma omp parallel for schedule(static) if (nq * C * QT * (size_t)nk > 4 * GM__PAR_MIN)
        for (ip = 0; ip < (long)((nq + 1) / 2); ip++) {
            const size_t q0 = (size_t)ip * 2 * QT;
            float tile[2 * C3_V * VW];
            if (q0 + 2 * QT <= Qr)
                SFX(c3_tile1n)(tile, x + q0, ldx, wt, C, off, nk, 2 * C3_V);
            else
                SFX(c3_tile1n)(tile, x + q0, ldx, wt, C, off, nk, C3_V);
            SFX(c3_scatter)(dst, tile, 2 * QT, 0, 1, q0, q0 + 2 * QT <= Qr ? 2 * QT : QT);
        }
        return;
    }
    switch (nk) { /* the tap count as a constant where it is a common one (the 3x3 loop runs ~10 % faster) */
    case 9: SFX(c3_grid_tiles)(dst, Qr, x, ldx, wt, C, OC, off, 9); break;
    case 16: SFX(c3_grid_tiles)(dst, Qr, x, ldx, wt, C, OC, off, 16); break;
    case 4: SFX(c3_grid_tiles)(dst, Qr, x, ldx, wt, C, OC, off, 4); break;
    default: SFX(c3_grid_tiles)(dst, Qr, x, ldx, wt, C, OC, off, nk);
    }
}

/* The stride-2 adjoint's two column phases of one row phase at once (d: st = 2, px = 0): t0 (phase px = 0)
 * and t1 (px = 1) tiles of the same positions; each run of the tile goes to 2 len consecutive floats of an
 * output row, t0 to the even ones, t1 to the odd: whole output rows written once (c3_scatter writes every
 * second float twice over). Each value is the same sum plus bias, or added, as c3_scatter has it. */
static void SFX(c3_scatter2)(const c3_dst *d, const float *t0, const float *t1, size_t ldt, size_t o0, size_t nr,
                             size_t q0, size_t nq) {
    const size_t HWf = d->Hf * d->Wf;
    size_t src[SCATTER_RUNS], dst[SCATTER_RUNS], len[SCATTER_RUNS];
    const size_t nrun = c3_runs(d, q0, nq, src, dst, len);
    for (size_t r = 0; r < nr && o0 + r < d->OC; r++) {
        const size_t o = o0 + r;
        const float bb = d->bias && !d->acc ? d->bias[o] : 0.0f;
        float *out = d->out + o * HWf;
        for (size_t k = 0; k < nrun; k++) {
            float *o_ = out + dst[k];
            const float *a = t0 + r * ldt + src[k], *c = t1 + r * ldt + src[k];
            const size_t n = len[k];
#if VW == 16 /* 8 + 8 values interleaved into 16 output floats per step */
            const __m512i il = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
            for (size_t i = 0; i < n; i += 8) {
                const unsigned cnt = n - i >= 8 ? 8u : (unsigned)(n - i);
                const __mmask16 lm = (__mmask16)((1u << cnt) - 1u), sm = (__mmask16)((1u << (2 * cnt)) - 1u);
                __m512 v = _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(lm, a + i), il, _mm512_maskz_loadu_ps(lm, c + i));
                if (d->acc)
                    v = _mm512_add_ps(_mm512_maskz_loadu_ps(sm, o_ + 2 * i), v);
                else
                    v = _mm512_add_ps(v, _mm512_set1_ps(bb));
                _mm512_mask_storeu_ps(o_ + 2 * i, sm, v);
            }
#else
            if (d->acc)
                for (size_t i = 0; i < n; i++) o_[2 * i] += a[i], o_[2 * i + 1] += c[i];
            else
                for (size_t i = 0; i < n; i++) o_[2 * i] = a[i] + bb, o_[2 * i + 1] = c[i] + bb;
#endif
        }
    }
}

/* the tiles of both column phases (c3_grid2) */
static inline __attribute__((always_inline)) void SFX(c3_grid_tiles2)(const c3_dst *dst, size_t Qr, const float *x,
                                                                      size_t ldx, const float *wt0, const float *wt1,
                                                                      size_t C, size_t OC, const ptrdiff_t *off0,
                                                                      const ptrdiff_t *off1, const int nk0,
                                                                      const int nk1) {
    const size_t QT = C3_V * VW, nq = Qr / QT, nob = (OC + FR - 1) / FR;
    long it;
#pragma omp parallel for schedule(static) if (nq * nob * C * QT * (size_t)(nk0 + nk1) > 4 * GM__PAR_MIN)
    for (it = 0; it < (long)(nq * nob); it++) {
        size_t qt = (size_t)it / nob, ob = (size_t)it % nob, q0 = qt * QT;
        float tile0[FR * C3_V * VW], tile1[FR * C3_V * VW];
        SFX(c3_tile)(tile0, QT, x + q0, ldx, wt0 + ob * FR * C * (size_t)nk0, C, off0, nk0);
        SFX(c3_tile)(tile1, QT, x + q0, ldx, wt1 + ob * FR * C * (size_t)nk1, C, off1, nk1);
        SFX(c3_scatter2)(dst, tile0, tile1, QT, ob * FR, FR, q0, QT);
    }
}

/* c3_grid for the two column phases of a stride-2 adjoint's row phase (OC > 1): weights wt0/wt1 (packed as
 * for c3_grid), taps off0/off1 (nk0/nk1 of them), output dst with st = 2, px = 0 */
static void SFX(c3_grid2)(const c3_dst *dst, size_t Qr, const float *x, size_t ldx, const float *wt0,
                          const float *wt1, size_t C, size_t OC, const ptrdiff_t *off0, const ptrdiff_t *off1, int nk0,
                          int nk1) {
    if (nk0 == 4 && nk1 == 4) /* K = 4 */
        SFX(c3_grid_tiles2)(dst, Qr, x, ldx, wt0, wt1, C, OC, off0, off1, 4, 4);
    else
        SFX(c3_grid_tiles2)(dst, Qr, x, ldx, wt0, wt1, C, OC, off0, off1, nk0, nk1);
}

/* Weight gradient partial over grid positions [q0, q1) (multiples of VW):
 * part[(o*C + c)*9 + k] = sum_q dy[o*ldy + q] x[c*ldx + q + off[k]], in double from the lane sums. */
static void SFX(c3_dw_chunk)(double *part, const float *dy, size_t ldy, const float *x, size_t ldx, size_t C,
                             size_t OC, size_t q0, size_t q1, const ptrdiff_t *off) {
    size_t o = 0;
#if DWR == 3
    for (; o + 3 <= OC; o += 3)
        for (size_t c = 0; c < C; c++) {
            VT a0[9], a1[9], a2[9];
#pragma GCC unroll 9
            for (int k = 0; k < 9; k++) a0[k] = VZERO(), a1[k] = VZERO(), a2[k] = VZERO();
            const float *d0 = dy + o * ldy, *d1 = d0 + ldy, *d2 = d1 + ldy, *xc = x + c * ldx;
            for (size_t q = q0; q < q1; q += VW) {
                VT g0 = VLD(d0 + q), g1 = VLD(d1 + q), g2 = VLD(d2 + q);
#pragma GCC unroll 9
                for (int k = 0; k < 9; k++) {
                    VT xv = VLD(xc + q + off[k]);
                    a0[k] = VFMA(g0, xv, a0[k]);
                    a1[k] = VFMA(g1, xv, a1[k]);
                    a2[k] = VFMA(g2, xv, a2[k]);
                }
            }
            for (int k = 0; k < 9; k++) {
                float l0[VW], l1[VW], l2[VW];
                VST(l0, a0[k]);
                VST(l1, a1[k]);
                VST(l2, a2[k]);
                double s0 = 0.0, s1 = 0.0, s2 = 0.0;
                for (int j = 0; j < VW; j++) s0 += (double)l0[j], s1 += (double)l1[j], s2 += (double)l2[j];
                part[(o * C + c) * 9 + (size_t)k] = s0;
                part[((o + 1) * C + c) * 9 + (size_t)k] = s1;
                part[((o + 2) * C + c) * 9 + (size_t)k] = s2;
            }
        }
#endif
#if DWR >= 2
    for (; o + 2 <= OC; o += 2)
        for (size_t c = 0; c < C; c++) {
            VT a0[9], a1[9];
#pragma GCC unroll 9
            for (int k = 0; k < 9; k++) a0[k] = VZERO(), a1[k] = VZERO();
            const float *d0 = dy + o * ldy, *d1 = d0 + ldy, *xc = x + c * ldx;
            for (size_t q = q0; q < q1; q += VW) {
                VT g0 = VLD(d0 + q), g1 = VLD(d1 + q);
#pragma GCC unroll 9
                for (int k = 0; k < 9; k++) {
                    VT xv = VLD(xc + q + off[k]);
                    a0[k] = VFMA(g0, xv, a0[k]);
                    a1[k] = VFMA(g1, xv, a1[k]);
                }
            }
            for (int k = 0; k < 9; k++) {
                float l0[VW], l1[VW];
                VST(l0, a0[k]);
                VST(l1, a1[k]);
                double s0 = 0.0, s1 = 0.0;
                for (int j = 0; j < VW; j++) s0 += (double)l0[j], s1 += (double)l1[j];
                part[(o * C + c) * 9 + (size_t)k] = s0;
                part[((o + 1) * C + c) * 9 + (size_t)k] = s1;
            }
        }
#endif
    for (; o < OC; o++)
        for (size_t c = 0; c < C; c++) {
            VT a0[9];
#pragma GCC unroll 9
            for (int k = 0; k < 9; k++) a0[k] = VZERO();
            const float *d0 = dy + o * ldy, *xc = x + c * ldx;
            for (size_t q = q0; q < q1; q += VW) {
                VT g0 = VLD(d0 + q);
#pragma GCC unroll 9
                for (int k = 0; k < 9; k++) a0[k] = VFMA(g0, VLD(xc + q + off[k]), a0[k]);
            }
            for (int k = 0; k < 9; k++) {
                float l0[VW];
                VST(l0, a0[k]);
                double s0 = 0.0;
                for (int j = 0; j < VW; j++) s0 += (double)l0[j];
                part[(o * C + c) * 9 + (size_t)k] = s0;
            }
        }
}

/* Weight gradient with nk taps of arbitrary offsets (the stride-2 kernels), accumulated in lanes: for the
 * rows o0 <= o < o1, acc[((o*C + c)*nk + k)*VW + j] += the fused sum over the q = j (mod VW) in [q0, q1)
 * of dy[o*ldy + q] x[c*ldx + q + off[k]], in q order. Register tiles of DKR rows of dy x 4 taps (a short
 * last block repeats its last row / tap and drops the copies); q runs in sub-chunks of C3_DWK_SUB positions
 * so that the dy rows and the input rows of a sub-chunk stay in L1, the tiles' lanes going back to acc
 * between sub-chunks: each lane sees the same sums in the same order whatever the sub-chunks and the split
 * of the rows. init: the lanes start from zero (acc is not read before it is written). The caller sums the
 * lanes. */
#define C3_DWK_SUB 1024
static void SFX(c3_dwk)(float *acc, const float *dy, size_t ldy, const float *x, size_t ldx, size_t C, size_t o0,
                        size_t o1, size_t q0, size_t q1, const ptrdiff_t *off, int nk, int init) {
    for (size_t s0 = q0; s0 < q1; s0 += C3_DWK_SUB) {
        const size_t s1 = q1 - s0 < C3_DWK_SUB ? q1 : s0 + C3_DWK_SUB;
        for (size_t o = o0; o < o1; o += DKR) {
            const size_t nr = o1 - o < DKR ? o1 - o : DKR;
            const float *dr[DKR];
            for (size_t r = 0; r < DKR; r++) dr[r] = dy + (o + (r < nr ? r : 0)) * ldy;
            for (size_t c = 0; c < C; c++)
                for (int k0 = 0; k0 < nk; k0 += 4) {
                    const int nt = nk - k0 < 4 ? nk - k0 : 4;
                    const float *xc = x + c * ldx, *xt[4];
                    for (int t = 0; t < 4; t++) xt[t] = xc + off[k0 + (t < nt ? t : 0)];
                    VT a[DKR][4];
#pragma GCC unroll 6
                    for (size_t r = 0; r < DKR; r++)
#pragma GCC unroll 4
                        for (int t = 0; t < 4; t++)
                            a[r][t] = r < nr && t < nt && !(init && s0 == q0)
                                          ? VLD(acc + (((o + r) * C + c) * (size_t)nk + (size_t)(k0 + t)) * VW)
                                          : VZERO();
                    for (size_t q = s0; q < s1; q += VW) {
                        VT g[DKR];
#pragma GCC unroll 6
                        for (size_t r = 0; r < DKR; r++) {
                            g[r] = VLD(dr[r] + q);
                            VKEEP(g[r]); /* DKR + 4 loads per 4 DKR FMAs, not one load per FMA */
                        }
#pragma GCC unroll 4
                        for (int t = 0; t < 4; t++) {
                            VT xv = VLD(xt[t] + q);
                            VKEEP(xv);
#pragma GCC unroll 6
                            for (size_t r = 0; r < DKR; r++) a[r][t] = VFMA(g[r], xv, a[r][t]);
                        }
                    }
#pragma GCC unroll 6
                    for (size_t r = 0; r < DKR; r++) /* fully unrolled: a[][] stays in registers */
#pragma GCC unroll 4
                        for (int t = 0; t < 4; t++)
                            if (r < nr && t < nt) VST(acc + (((o + r) * C + c) * (size_t)nk + (size_t)(k0 + t)) * VW, a[r][t]);
                }
        }
    }
}
#undef C3_DWK_SUB

#undef C3_V
/* the including file defines these again for the next instruction set */
#undef SFX
#undef VW
#undef VT
#undef VZERO
#undef VLD
#undef VST
#undef VBC
#undef VFMA
#undef VKEEP
#undef FR
#undef DWR
#undef DKR
