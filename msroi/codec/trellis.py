"""Run-length-aware rate-distortion quantisation of JPEG AC coefficients (a trellis).

For each 8x8 block, the AC levels are chosen jointly, in zigzag order, to minimise
``sum_k D_k(level_k) + lambda * R`` where ``R`` is the block's exact baseline Huffman
cost for given code lengths: one ``(run, size)`` code plus ``size`` magnitude bits per
non-zero level, a ZRL code for every 16 zeros of a long run, and EOB unless the last
coefficient is non-zero. This is the dynamic programme of Ramchandran & Vetterli,
"Rate-distortion optimal fast thresholding with complete JPEG/MPEG decoder
compatibility" (IEEE TIP 3(5), 1994), also used by mozjpeg: the state is the position
of the previous non-zero coefficient, and only coefficients whose rounded level is
non-zero may be non-zero. Compiled with numba.
"""

from __future__ import annotations

import numpy as np
from msroi.codec.jit import njit

#: Zigzag scan: ZIGZAG[i] is the natural (row-major) index of the i-th coefficient.
ZIGZAG = np.array(sorted(range(64), key=lambda n: (n // 8 + n % 8,
                                                  (n % 8) if (n // 8 + n % 8) % 2 == 0 else (n // 8))),
                  dtype=np.int64)


@njit(cache=True)
def _size(v):
    s = 0
    while v > 0:
        s += 1
        v >>= 1
    return s


#: Blocks per parallel work item of the trellis. Fixed (not derived from the thread count),
#: and partial sums are added in chunk order, so results do not depend on the threads.
CHUNK = 2048


@njit(cache=True, nogil=True)
def _trellis_range(vals, pos, ptr, zd, w, cw, lam, hl, eob_len, zrl_len, out, counts, b0, b1):
    """The trellis on blocks b0..b1-1 (see :func:`_trellis`); returns (bits, distortion)."""
    inf = 1e300
    cost = np.empty(65)
    prev = np.empty(65, np.int64)
    lev = np.empty(65, np.int64)
    zc = np.empty(65)
    amin = np.empty(65)
    cand = np.empty(16, np.int64)
    hmin = np.empty(11)  # cheapest code of each size over the runs
    for s in range(11):
        hmin[s] = hl[0, s]
        for r in range(1, 16):
            hmin[s] = min(hmin[s], hl[r, s])
    total_bits = 0.0
    total_dist = 0.0
    for b in range(b0, b1):
        wb = w[b]
        p0 = ptr[b]
        m = ptr[b + 1] - p0
        for k in range(1, 64):
            out[b, k] = 0
        total_dist += zd[b] * wb  # the coefficients that round to zero
        # zc[t]: distortion of zeroing the first t candidate positions
        zc[0] = 0.0
        for t in range(m):
            x = vals[p0 + t]
            zc[t + 1] = zc[t] + x * x * (wb * cw[pos[p0 + t]])
        if lam == 0.0:  # plain rounding (the search's ties at 0.5 may go either way)
            best = 0.0
            bu = 0
            for t in range(m):
                x = vals[p0 + t]
                lv = np.int64(np.floor(x + 0.5))
                lev[t + 1] = lv
                prev[t + 1] = bu
                bu = t + 1
                best += (x - lv) * (x - lv) * (wb * cw[pos[p0 + t]])
        else:
            cost[0] = 0.0  # node 0: start (DC); node t+1: candidate t is the last non-zero so far
            amin[0] = 0.0  # amin[u]: least cost[v] - zc[v] over v <= u
            for t in range(m):
                k = np.int64(pos[p0 + t])
                x = vals[p0 + t]
                sk = wb * cw[k]
                lr = np.int64(np.floor(x + 0.5))
                # within a magnitude category the rate is the same, so the only candidates
                # are the rounded level and the top (cheapest-category) value of each smaller one
                nc = 0
                cand[nc] = lr
                nc += 1
                top = 1
                while top < lr:
                    cand[nc] = top
                    nc += 1
                    top = top * 2 + 1
                own = inf  # least distortion + rate of this coefficient's own code
                for c in range(nc):
                    s = _size(cand[c])
                    own = min(own, (x - cand[c]) * (x - cand[c]) * sk + lam * (hmin[s] + s))
                best = inf
                bu = 0
                bl = 0
                # predecessors nearest first; no path through u or an earlier node costs less than
                # amin[u] + zc[t] + own, so the loop stops once that exceeds the best found (a
                # relative margin covers rounding; ties keep the earliest predecessor, as before)
                for u in range(t, -1, -1):
                    if amin[u] + zc[t] + own > best * (1.0 + 1e-12):
                        break
                    pk = 0 if u == 0 else np.int64(pos[p0 + u - 1])
                    run = k - pk - 1
                    base = cost[u] + (zc[t] - zc[u]) + lam * (run // 16) * zrl_len
                    if base >= best:
                        continue
                    r = run % 16
                    for c in range(nc):
                        lv = cand[c]
                        s = _size(lv)
                        d = (x - lv) * (x - lv) * sk
                        v = base + d + lam * (hl[r, s] + s)
                        if v < best or (v == best and u < bu):
                            best = v
                            bu = u
                            bl = lv
                cost[t + 1] = best
                prev[t + 1] = bu
                lev[t + 1] = bl
                amin[t + 1] = min(amin[t], best - zc[t + 1])
            best = inf
            bu = 0
            for u in range(m + 1):
                pk = 0 if u == 0 else np.int64(pos[p0 + u - 1])
                v = cost[u] + (zc[m] - zc[u]) + (lam * eob_len if pk < 63 else 0.0)
                if v < best:
                    best = v
                    bu = u
        # backtrack and count symbols
        block_bits = 0.0
        if (0 if bu == 0 else np.int64(pos[p0 + bu - 1])) < 63:
            counts[256] += 1
            block_bits += eob_len
        u = bu
        while u > 0:
            k = np.int64(pos[p0 + u - 1])
            p = prev[u]
            pk = 0 if p == 0 else np.int64(pos[p0 + p - 1])
            run = k - pk - 1
            s = _size(lev[u])
            out[b, k] = lev[u]
            counts[(run % 16) * 16 + s] += 1
            counts[257] += run // 16
            block_bits += hl[run % 16, s] + s + (run // 16) * zrl_len
            u = p
        total_bits += block_bits
        total_dist += best - lam * block_bits
    return total_bits, total_dist


@njit(cache=True, nogil=True)
def _trellis_chunks(vals, pos, ptr, zd, w, cw, lam, hl, eob_len, zrl_len, out, counts, bits, dist, c0, c1):
    """:func:`_trellis_range` on chunks c0..c1-1 of :data:`CHUNK` blocks; per-chunk
    results in ``counts[c]``, ``bits[c]``, ``dist[c]``."""
    n = ptr.shape[0] - 1
    for c in range(c0, c1):
        r = _trellis_range(vals, pos, ptr, zd, w, cw, lam, hl, eob_len, zrl_len, out, counts[c],
                           c * CHUNK, min(n, (c + 1) * CHUNK))
        bits[c] = r[0]
        dist[c] = r[1]


def _trellis(cands, w, cw, lam, hl, eob_len, zrl_len, out, counts):
    """``cands`` = (vals, pos, ptr, zd): the candidate coefficients of the blocks (those
    whose rounded level is non-zero) as |coef|/q, their zigzag positions (block b's are
    ``ptr[b]:ptr[b + 1]``), and per block the summed ``(|coef|/q)^2 * cw[k]`` of the others.
    The distortion weight of coefficient k of block b is ``w[b] * cw[k]``. Writes
    magnitudes to out and symbol counts (run*16 + size; 256 = EOB, 257 = ZRL) to counts;
    returns (bits, weighted AC distortion). Blocks are processed in chunks of
    :data:`CHUNK` on :mod:`msroi.codec.threads`; the sums are taken in chunk order."""
    from msroi.codec import threads

    vals, pos, ptr, zd = cands
    nch = (len(ptr) - 1 + CHUNK - 1) // CHUNK
    bits = np.zeros(nch)
    dist = np.zeros(nch)
    cnt = np.zeros((nch, 258), np.int64)
    threads.run_chunks(_trellis_chunks, nch, vals, pos, ptr, zd, w, cw, lam, hl, eob_len, zrl_len, out, cnt,
                       bits, dist)
    counts += cnt.sum(axis=0)
    return float(np.sum(bits)), float(np.sum(dist))


@njit(cache=True, nogil=True)
def _prepare_chunks(coefs, qz, zigzag, cwz, dc_x, m, zd, cnt, c0, c1):
    """From (n, 64) natural-order coefficients: ``dc_x`` = DC / q, per block the number
    ``m`` of AC coefficients whose rounded level is non-zero and the weighted squared
    ``|coef|/q`` of the others (``zd``, as ``coef^2 * cw / q^2``), and the symbol counts
    of plain rounding (``cnt[c]`` per chunk), chunks c0..c1-1."""
    n = coefs.shape[0]
    near = np.empty(64)  # a little under q / 2: below it |coef|/q cannot round to 0.5 or up
    cwq = np.empty(64)
    for i in range(64):
        near[i] = 0.5 * qz[i] * (1.0 - 1e-9)
        cwq[i] = cwz[i] / (qz[i] * qz[i])
    for c in range(c0, c1):
        for b in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            dc_x[b] = coefs[b, 0] / qz[0]
            last = 0
            mb = 0
            z = 0.0
            for i in range(1, 64):
                a = abs(coefs[b, zigzag[i]])
                if a < near[i]:  # |coef|/q < 0.5 and rounds to 0: no division needed
                    z += a * a * cwq[i]
                    continue
                x = a / qz[i]
                if x >= 0.5:
                    mb += 1
                else:
                    z += a * a * cwq[i]
                lv = np.int64(np.floor(x + 0.5))
                if lv != 0:
                    run = i - last - 1
                    cnt[c, 257] += run // 16
                    cnt[c, (run % 16) * 16 + _size(lv)] += 1
                    last = i
            if last < 63:
                cnt[c, 256] += 1
            m[b] = mb
            zd[b] = z


@njit(cache=True, nogil=True)
def _candidates_chunks(coefs, qz, zigzag, ptr, vals, pos, c0, c1):
    """Fill ``vals`` (|coef|/q) and ``pos`` (zigzag index) of the candidate coefficients
    of blocks in chunks c0..c1-1, block b's at ``ptr[b]:ptr[b + 1]``."""
    n = coefs.shape[0]
    for b in range(c0 * CHUNK, min(n, c1 * CHUNK)):
        j = ptr[b]
        for i in range(1, 64):
            a = abs(coefs[b, zigzag[i]])
            if a < 0.5 * qz[i] * (1.0 - 1e-9):  # as in _prepare_chunks
                continue
            x = a / qz[i]
            if x >= 0.5:
                vals[j] = x
                pos[j] = i
                j += 1


@njit(cache=True, nogil=True)
def _levels_chunks(mags, coefs, dc, zigzag, out, c0, c1):
    """Signed levels in natural order (int16, AC clipped to +-1023, DC to +-2047) from
    zigzag magnitudes, the coefficients' signs and the DC levels; chunks c0..c1-1."""
    n = mags.shape[0]
    for b in range(c0 * CHUNK, min(n, c1 * CHUNK)):
        d = dc[b]
        out[b, 0] = max(-2047, min(2047, d))
        for i in range(1, 64):
            k = zigzag[i]
            v = min(np.int64(mags[b, i]), 1023)
            out[b, k] = -v if coefs[b, k] < 0 else v


@njit(cache=True, nogil=True)
def _signed_chunks(mags, coefs, dc, zigzag, out, c0, c1):
    """As :func:`_levels_chunks`, the levels left in zigzag order."""
    n = mags.shape[0]
    for b in range(c0 * CHUNK, min(n, c1 * CHUNK)):
        d = dc[b]
        out[b, 0] = max(-2047, min(2047, d))
        for i in range(1, 64):
            v = min(np.int64(mags[b, i]), 1023)
            if v != 0 and coefs[b, zigzag[i]] < 0:
                v = -v
            out[b, i] = v


def code_lengths(counts: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Huffman code length estimates (bits) from symbol counts: ``-log2`` of the
    frequency, clipped to 1..16; unseen symbols cost as if seen half a time.

    Returns (lengths (16, 11) indexed [run, size], EOB length, ZRL length)."""
    c = np.asarray(counts, dtype=np.float64)
    total = max(c.sum(), 1.0)
    bits = np.clip(-np.log2(np.maximum(c, 0.5) / (total + 1.0)), 1.0, 16.0)
    hl = np.full((16, 11), 16.0)
    hl[:, 1:] = bits[:256].reshape(16, 16)[:, 1:11]
    return hl, float(bits[256]), float(bits[257])


def symbol_counts(levels_zz: np.ndarray) -> np.ndarray:
    """Baseline AC symbol counts (run*16 + size, 256 = EOB, 257 = ZRL) of magnitude
    levels in zigzag order, shape (n, 64)."""
    counts = np.zeros(258, np.int64)
    _count(np.ascontiguousarray(np.abs(levels_zz), dtype=np.int64), counts)
    return counts


@njit(cache=True)
def _count(lv, counts):
    for b in range(lv.shape[0]):
        last = 0
        for k in range(1, 64):
            if lv[b, k] != 0:
                run = k - last - 1
                counts[257] += run // 16
                counts[(run % 16) * 16 + _size(lv[b, k])] += 1
                last = k
        if last < 63:
            counts[256] += 1


class Trellis:
    """One component's coefficients prepared for repeated trellis runs.

    ``coefs`` (bh, bw, 8, 8) unquantised DCT, ``table`` (8, 8) steps, ``weights``
    (bh, bw) per-block distortion weights, ``coef_weight`` (8, 8) per-frequency weights.
    Holds, besides a view of ``coefs``, only the AC coefficients whose rounded level is
    non-zero (the trellis' candidates: |coef|/q as float64 and the zigzag index, packed
    block after block) and per block their count and the weighted distortion of the
    rest, which no lambda changes.
    """

    def __init__(self, coefs, table, weights, coef_weight):
        from msroi.codec import threads

        q = table.astype(np.float64)
        self.shape = coefs.shape
        n = coefs.shape[0] * coefs.shape[1]
        self.coefs = np.ascontiguousarray(coefs, dtype=np.float64).reshape(n, 64)
        qz = self._qz = np.ascontiguousarray(q.reshape(64)[ZIGZAG])
        self.cw = np.ascontiguousarray((q * q * coef_weight).reshape(64)[ZIGZAG])
        self.dc_x = np.empty(n)
        m = np.empty(n, np.int64)
        zd = np.empty(n)
        nch = (n + CHUNK - 1) // CHUNK
        cnt = np.zeros((nch, 258), np.int64)
        threads.run_chunks(_prepare_chunks, nch, self.coefs, qz, ZIGZAG, self.cw, self.dc_x, m, zd, cnt)
        self.counts0 = cnt.sum(axis=0)  # symbols of plain rounding
        ptr = np.zeros(n + 1, np.int64)
        np.cumsum(m, out=ptr[1:])
        del m
        vals = np.empty(int(ptr[-1]))
        pos = np.empty(int(ptr[-1]), np.int8)
        threads.run_chunks(_candidates_chunks, nch, self.coefs, qz, ZIGZAG, ptr, vals, pos)
        self.cands = (vals, pos, ptr, zd)
        self.w = np.ascontiguousarray(np.asarray(weights, dtype=np.float64).reshape(n))
        self.dc = np.rint(self.dc_x).astype(np.int64)
        self._dc_scale = np.ascontiguousarray(self.w * self.cw[0])
        self.dc_dist = float(np.sum((self.dc_x - self.dc) ** 2 * self._dc_scale))
        self._orders, self._dc_counts, self._dc_hl, self._dc_last = {}, (None, None), (None, None), (None, None)
        self.lengths = code_lengths(self.counts0)

    @property
    def a(self) -> np.ndarray:
        """(n, 64) zigzag |coef|/q, DC included (for inspection; not held)."""
        return np.abs(self.coefs[:, ZIGZAG]) / self._qz

    @property
    def scale(self) -> np.ndarray:
        """(n, 64) distortion weights ``w[b] * cw[k]`` (zigzag)."""
        return self.w[:, None] * self.cw[None, :]

    def run(self, lam: float):
        """Magnitudes (n, 64, zigzag; int16) minimising distortion + lam * bits; their AC
        bits under the current code lengths, their symbol counts and their weighted AC
        distortion (in coefficient units squared, comparable across tables)."""
        key = (float(lam), id(self.lengths))
        cached = getattr(self, "_last", None)
        if cached is not None and cached[0] == key and cached[1] is self.lengths:
            return cached[2]
        out = np.empty((len(self.w), 64), np.int16)
        out[:, 0] = 0
        counts = np.zeros(258, np.int64)
        hl, eob, zrl = self.lengths
        bits, dist = _trellis(self.cands, self.w, self.cw, float(lam), hl, eob, zrl, out, counts)
        self._last = (key, self.lengths, (out, bits, counts, dist))  # the same call again is free
        return out, bits, counts, dist

    def dc_order(self, mcu: int) -> np.ndarray:
        """:func:`dc_order` of this component (kept)."""
        if mcu not in self._orders:
            self._orders[mcu] = dc_order(self.shape[0], self.shape[1], mcu)
        return self._orders[mcu]

    def dc_counts(self, mcu: int) -> np.ndarray:
        """:func:`dc_size_counts` of the current DC levels in coding order (``mcu`` as in
        :meth:`dc_trellis`)."""
        if self._dc_counts[0] != mcu:
            self._dc_counts = (mcu, dc_size_counts(self.dc, self.dc_order(mcu)))
        return self._dc_counts[1]

    def dc_trellis(self, lam: float, mcu: int) -> float:
        """Choose the DC levels by :func:`_dc_trellis` at ``lam`` (``mcu``: blocks per
        MCU side, 2 for 4:2:0 luma); updates ``dc`` and ``dc_dist``, returns the DC bits.
        The same call again is free."""
        key = (float(lam), mcu)
        if self._dc_last[0] == key:
            return self._dc_last[1]
        order = self.dc_order(mcu)
        if self._dc_hl[0] != mcu:  # code lengths of plain rounding's differences
            self._dc_hl = (mcu, dc_code_lengths(np.rint(self.dc_x).astype(np.int64), order))
        out = np.empty(len(self.dc_x), np.int64)
        counts = np.zeros(12, np.int64)
        dist, bits = _dc_trellis(self.dc_x, self._dc_scale, order, float(lam), self._dc_hl[1], out, counts)
        self.dc, self.dc_dist = out, float(dist)
        self._dc_counts = (mcu, counts)
        self._dc_last = (key, float(bits))
        return float(bits)

    def zigzag_levels(self, mags: np.ndarray) -> np.ndarray:
        """:meth:`levels` in zigzag order, shape (n, 64), blocks row-major (what
        :func:`msroi.codec.writer.encode_zigzag` takes)."""
        from msroi.codec import threads

        out = np.empty((len(mags), 64), np.int16)
        threads.run_chunks(_signed_chunks, (len(out) + CHUNK - 1) // CHUNK, mags, self.coefs, self.dc, ZIGZAG, out)
        return out

    def levels(self, mags: np.ndarray) -> np.ndarray:
        """Signed levels in natural order, shape (bh, bw, 8, 8), int16, with the current DC
        levels (AC clipped to +-1023 and DC to +-2047, the baseline ranges)."""
        from msroi.codec import threads

        out = np.empty(self.coefs.shape, np.int16)
        threads.run_chunks(_levels_chunks, (len(out) + CHUNK - 1) // CHUNK, mags, self.coefs, self.dc, ZIGZAG, out)
        return out.reshape(self.shape)


@njit(cache=True)
def _dc_trellis(x, scale, order, lam, hl, out, counts):
    """Viterbi over one component's DC levels in coding order: each block's level is its
    rounded ``x`` (DC / step, signed) or one step either side, minimising
    ``scale_b (x_b - l_b)^2 + lam * (hl[size] + size)`` of the differences the
    decoder predicts from. Writes the levels to ``out`` (block index) and adds the size
    categories of their differences to ``counts`` (12); returns the weighted distortion
    and the bits."""
    n = order.shape[0]
    cost = np.empty((n, 3))
    back = np.zeros((n, 3), np.int64)
    cand = np.empty((n, 3), np.int64)
    for i in range(n):
        b = order[i]
        r = np.int64(np.floor(x[b] + 0.5))
        for k in range(3):
            c = r - 1 + k
            cand[i, k] = c
            d = (x[b] - c) * (x[b] - c) * scale[b]
            if i == 0:
                s = _size(abs(c))
                cost[i, k] = d + lam * (hl[s] + s)
            else:
                best = 1e300
                bj = 0
                for j in range(3):
                    s = _size(abs(c - cand[i - 1, j]))
                    v = cost[i - 1, j] + lam * (hl[s] + s)
                    if v < best:
                        best = v
                        bj = j
                cost[i, k] = best + d
                back[i, k] = bj
    k = 0
    for j in range(1, 3):
        if cost[n - 1, j] < cost[n - 1, k]:
            k = j
    dist = 0.0
    bits = 0.0
    for i in range(n - 1, -1, -1):
        b = order[i]
        c = cand[i, k]
        out[b] = c
        dist += (x[b] - c) * (x[b] - c) * scale[b]
        prev = cand[i - 1, back[i, k]] if i > 0 else 0
        s = _size(abs(c - prev))
        bits += hl[s] + s
        counts[s] += 1
        k = back[i, k]
    return dist, bits


def dc_order(bh: int, bw: int, mcu: int) -> np.ndarray:
    """Flat block indices of a (bh, bw) component in coding order: MCU by MCU with
    ``mcu`` x ``mcu`` blocks each (2 for 4:2:0 luma, 1 otherwise), row-major inside."""
    idx = np.arange(bh * bw).reshape(bh, bw)
    if mcu == 1:
        return idx.ravel().astype(np.int64)
    t = idx.reshape(bh // mcu, mcu, bw // mcu, mcu).transpose(0, 2, 1, 3)
    return t.reshape(-1).astype(np.int64)


def dc_size_counts(levels: np.ndarray, order: np.ndarray) -> np.ndarray:
    """How many DC differences of each size category (0..11) the levels ``levels`` (flat,
    block index) have in coding ``order``, the first one from 0."""
    diff = np.abs(np.diff(levels[order], prepend=0)).astype(np.float64)
    return np.bincount(np.frexp(diff)[1], minlength=12)[:12]  # frexp's exponent: the bit length


def dc_code_lengths(levels: np.ndarray, order: np.ndarray) -> np.ndarray:
    """DC category code length estimates (bits, index = size 0..11) from the
    differences of ``levels`` (flat, block index) in ``order``."""
    c = dc_size_counts(levels, order).astype(np.float64)
    return np.clip(-np.log2(np.maximum(c, 0.5) / (c.sum() + 1.0)), 1.0, 16.0)
