"""Winograd F(2x2, 3x3): the 3x3 stride-1 convolution with 2.25x fewer multiplications.

The fast path of conv.py's Conv2d (and so of every stride-1 3x3 conv_transpose2d, the input
gradient of a 3x3 conv) and of its filter gradient. conv.py's im2col product stays the
definition; this computes the same numbers another way, and tests/test_conv_fast.py holds
the two side by side.

One dimension first: F(2, 3). Two outputs of a 3-tap correlation of d = (d0, d1, d2, d3),
    y0 = d0 g0 + d1 g1 + d2 g2,    y1 = d1 g0 + d2 g1 + d3 g2,
take 6 multiplications directly, but only 4 as
    m0 = (d0 - d2) g0                  m1 = (d1 + d2) (g0 + g1 + g2) / 2
    m3 = (d1 - d3) g2                  m2 = (d2 - d1) (g0 - g1 + g2) / 2
    y0 = m0 + m1 + m2,                 y1 = m1 - m2 - m3
(expand: m1 + m2 = d1 g1 + d2 (g0 + g2) ... and everything but y's terms cancels). In matrices,
    y = A^T [ (G g) * (B^T d) ]        (* elementwise)
with
          [1  0 -1  0]          [ 1    0    0 ]
    B^T = [0  1  1  0]      G = [1/2  1/2  1/2]      A^T = [1  1  1  0]
          [0 -1  1  0]          [1/2 -1/2  1/2]            [0  1 -1 -1]
          [0  1  0 -1]          [ 0    0    1 ]
Nesting it in both image axes gives F(2x2, 3x3): a 2x2 output tile from a 4x4 input tile d,
    Y = A^T [ U * V ] A,    U = G g G^T (4x4),   V = B^T d B (4x4),
16 multiplications instead of 36. A convolution sums over input channels c, and the sum
commutes with A^T(.)A, so for output channel o and tile t
    Y[o, t] = A^T ( sum_c U[o, c] * V[c, t] ) A,
and for each of the 16 positions (xi, nu) of the 4x4 grid the sum over c is a matrix product
    M[xi, nu] = U[xi, nu] @ V[xi, nu]       (C_out x C_in) @ (C_in x tiles)
16 GEMMs with 16/4 = 4 products per output pixel and channel pair, against im2col's 9.

Why the result is exact: the identity above is an algebraic identity (every m_k expands to
the sum of products it replaces), so in exact arithmetic the result is the convolution. In
floating point only the rounding differs: B and A hold 0 and +-1 (the transforms are sums of
up to 4 numbers, or 9 for A^T(.)A), G holds 1 and 1/2 (powers of two, so scaling is exact),
so each output is a sum of the same products in another order with a few extra roundings;
its error is bounded by a small multiple of eps * conv(|x|, |w|), the bound of im2col's own
sum too. tests/test_conv_fast.py states the tolerance used.

The filter gradient is the adjoint of the same steps, and again 16 GEMMs. With the output
gradient g cut into 2x2 tiles, Y = A^T M A gives dL/dM = A g A^T; M = U @ V gives
    dL/dU[xi, nu] = dL/dM[xi, nu] @ V[xi, nu]^T    (C_out x tiles) @ (tiles x C_in)
and U = G w G^T gives dL/dw = G^T dL/dU G. (It is the exact filter gradient because the
forward is the exact convolution, and the adjoint of a linear map is unique.)

Tiling: the output is cut into th x tw tiles of 2x2 (an odd size computes one extra row or
column that is never stored, and that gets zero gradient); tile (i, j) reads the padded input
rows 2i .. 2i+3 and columns 2j .. 2j+3. Every transform is written as slice-adds over whole
images: the tile axes never appear as loops. The batch goes through in chunks of a few
samples whose transformed tiles fit in the cache (the measured lever of issue 23: streaming
a 100 MB matrix through memory costs more than the arithmetic). The arrays are laid out
channels last, so the code computes each product transposed, M^T = V^T @ U^T, with the
chunk's (tile, sample) pairs as the rows.
"""
from __future__ import annotations

from ..function import xp_of

# The three matrices, for reading: the transforms below write their rows out as adds.
B_T = ((1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, 1, 0, -1))
G = ((1, 0, 0), (0.5, 0.5, 0.5), (0.5, -0.5, 0.5), (0, 0, 1))
A_T = ((1, 1, 1, 0), (0, 1, -1, -1))

CHUNK_BYTES = 2 << 20        # transformed input tiles (V) per chunk: 1-16 MB measured, 2 MB best
MIN_CHANNELS = 16            # on each side; see applies()


def applies(kernel, stride, dilation, groups, dtype, channels):
    """Whether conv2d of this geometry takes the Winograd path: 3x3, stride 1, undilated,
    ungrouped, floating point (G's halves have no integer form), and at least MIN_CHANNELS
    channels (C_in, C_out) on each side. The transforms cost per channel, the saved products
    per channel pair: the DCGAN's last layer (64 -> 1) ran 1.5x slower this way (fwd + bwd,
    60 vs 40 ms), its 64- to 256-channel layers 1.4-1.8x faster (measured); 16 lies between."""
    return (tuple(kernel) == (3, 3) and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1)
            and groups == 1 and dtype.kind == "f" and min(channels) >= MIN_CHANNELS)


def _tiles(out_hw):
    return (out_hw[0] + 1) // 2, (out_hw[1] + 1) // 2


def _chunk(n, channels, tiles, itemsize):
    """Samples per chunk: as many as keep the chunk's V (16 * C * tiles numbers) in CHUNK_BYTES."""
    return max(1, min(n, CHUNK_BYTES // (16 * channels * tiles * itemsize)))


def _phases(x, padding, tiles):
    """The padded input the tiles read, split by row and column parity, channels last:

        P[a, b, u, v, n, c] = x_pad[n, c, 2u + a, 2v + b]       (2, 2, th + 1, tw + 1, nb, C)

    Tile (i, j)'s entry (r, s) is P[r % 2, s % 2, i + r // 2, j + s // 2]: for all tiles at
    once a slice of the two spatial axes, which lead, so every transform below runs over
    contiguous blocks of nb*C numbers. (Image rows and columns as the last axes, the same
    slices are runs of a few pixels, and NumPy's per-run overhead made the input transform
    as slow as the GEMMs: measured.) Padding, and rows or columns no tile reads, are zeros
    or left out.
    """
    (pt, _), (pl, _) = padding
    nb, C, H, W = x.shape
    th, tw = tiles
    P = xp_of(x).zeros((2, 2, th + 1, tw + 1, nb, C), dtype=x.dtype)
    for a in range(2):
        u_lo, u_hi = max(0, (pt - a + 1) // 2), min(th + 1, (H + pt - a + 1) // 2)
        for b in range(2):
            v_lo, v_hi = max(0, (pl - b + 1) // 2), min(tw + 1, (W + pl - b + 1) // 2)
            if u_hi > u_lo and v_hi > v_lo:
                r0, c0 = 2 * u_lo + a - pt, 2 * v_lo + b - pl           # the first x row/column read
                P[a, b, u_lo:u_hi, v_lo:v_hi] = \
                    x[:, :, r0:r0 + 2 * (u_hi - u_lo) - 1:2, c0:c0 + 2 * (v_hi - v_lo) - 1:2].transpose(2, 3, 0, 1)
    return P


def _input_transform(P, tiles):
    """V = B^T d B for every 4x4 tile d: phases (2, 2, th+1, tw+1, nb, C) -> (16, th*tw*nb, C).

    B^T's rows act on the tile rows (d0, d1, d2, d3) as (d0 - d2, d1 + d2, d2 - d1, d1 - d3),
    for all tiles at once; then the same on the columns.
    """
    xp = xp_of(P)
    th, tw = tiles
    nb, C = P.shape[4:]
    row = lambda r: P[r % 2, :, r // 2:r // 2 + th]                  # (2 column phases, th, tw+1, nb, C)
    R = xp.empty((4, 2, th, tw + 1, nb, C), dtype=P.dtype)
    xp.subtract(row(0), row(2), out=R[0])
    xp.add(row(1), row(2), out=R[1])
    xp.subtract(row(2), row(1), out=R[2])
    xp.subtract(row(1), row(3), out=R[3])
    col = lambda s: R[:, s % 2, :, s // 2:s // 2 + tw]               # (4, th, tw, nb, C)
    V = xp.empty((4, 4, th, tw, nb, C), dtype=P.dtype)
    xp.subtract(col(0), col(2), out=V[:, 0])
    xp.add(col(1), col(2), out=V[:, 1])
    xp.subtract(col(2), col(1), out=V[:, 2])
    xp.subtract(col(1), col(3), out=V[:, 3])
    return V.reshape(16, th * tw * nb, C)


def _g_rows(t):
    """G applied along the leading axis (3 -> 4): (t0, (t0 + t1 + t2)/2, (t0 - t1 + t2)/2, t2)."""
    xp = xp_of(t)
    half_sum = (t[0] + t[2]) * 0.5
    half_t1 = t[1] * 0.5
    return xp.stack([t[0], half_sum + half_t1, half_sum - half_t1, t[2]])


def filter_transform(w):
    """U = G w G^T for every 3x3 filter, as the right factor of each GEMM:
    (C_out, C_in, 3, 3) -> (16, C_in, C_out).

    Written as G's rows on the two kernel axes brought to the front, so each step runs over
    contiguous blocks of C_in*C_out numbers (a stacked g @ w @ g.T of 3x3 matrices took
    10 ms at 256 x 128 filters, as long as the convolution's GEMMs; tensordot 7 ms: measured).
    """
    xp = xp_of(w)
    taps = xp.ascontiguousarray(w.transpose(2, 3, 1, 0))               # (a, b, C_in, C_out)
    U = _g_rows(_g_rows(taps).swapaxes(0, 1)).swapaxes(0, 1)           # (xi, nu, C_in, C_out)
    return xp.ascontiguousarray(U).reshape(16, w.shape[1], w.shape[0])


def _g_adjoint_rows(t):
    """G^T applied along the leading axis (4 -> 3): (t0 + (t1 + t2)/2, (t1 - t2)/2, t3 + (t1 + t2)/2)."""
    xp = xp_of(t)
    half_sum, half_diff = (t[1] + t[2]) * 0.5, (t[1] - t[2]) * 0.5
    return xp.stack([t[0] + half_sum, half_diff, t[3] + half_sum])


def _output_transform(M, out, tiles):
    """Y = A^T M A for every tile: M (16, th*tw*nb, C_out) written into out (nb, C_out, Ho, Wo).

    A^T's rows act on (m0, m1, m2, m3) as (m0 + m1 + m2, m1 - m2 - m3), rows then columns;
    output (2i + r, 2j + s) is tile (i, j)'s entry (r, s). An odd Ho (Wo) drops the extra row
    (column) of the last tiles.
    """
    xp = xp_of(M)
    th, tw = tiles
    Ho, Wo = out.shape[2:]
    M = M.reshape(4, 4, th, tw, *out.shape[:2])
    P = xp.empty((2,) + M.shape[1:], dtype=M.dtype)                  # rows r = 0, 1 of A^T M
    xp.add(M[0], M[1], out=P[0])
    P[0] += M[2]
    xp.subtract(M[1], M[2], out=P[1])
    P[1] -= M[3]
    Q = xp.empty(M.shape[2:], dtype=M.dtype)                          # (th, tw, nb, C_out)
    for r in range(2):
        for s in range(2):                                            # column s of (A^T M) A
            if s == 0:
                xp.add(P[r, 0], P[r, 1], out=Q)
                Q += P[r, 2]
            else:
                xp.subtract(P[r, 1], P[r, 2], out=Q)
                Q -= P[r, 3]
            target = out[:, :, r::2, s::2]
            target[...] = Q[:target.shape[2], :target.shape[3]].transpose(2, 3, 0, 1)


def conv2d(x, w, padding, out_hw):
    """conv2d(x, w) for 3x3 w, stride 1: (N, C_in, H, W) -> (N, C_out, Ho, Wo), by F(2x2, 3x3)."""
    xp = xp_of(x)
    N, C = x.shape[:2]
    tiles = _tiles(out_hw)
    U = filter_transform(w)
    y = xp.empty((N, w.shape[0]) + tuple(out_hw), dtype=x.dtype)
    step = _chunk(N, C, tiles[0] * tiles[1], x.dtype.itemsize)
    for n in range(0, N, step):
        V = _input_transform(_phases(x[n:n + step], padding, tiles), tiles)
        _output_transform(V @ U, y[n:n + step], tiles)
    return y


def _output_adjoint(g, tiles):
    """dL/dM = A g A^T for every 2x2 tile of g (nb, C_out, Ho, Wo) -> (16, th*tw*nb, C_out).

    A = (A^T)^T maps a tile row pair (g0, g1) to (g0, g0 + g1, g0 - g1, -g1); rows then
    columns. Tile entries past an odd Ho (Wo) are zero: those outputs were never stored.
    """
    xp = xp_of(g)
    th, tw = tiles
    nb, C_out, Ho, Wo = g.shape
    tiled = xp.zeros((2, 2, th, tw, nb, C_out), dtype=g.dtype)      # tiled[r, s, i, j] = g[2i + r, 2j + s]
    for r in range(2):
        for s in range(2):
            part = g[:, :, r::2, s::2]
            tiled[r, s, :part.shape[2], :part.shape[3]] = part.transpose(2, 3, 0, 1)
    g0, g1 = tiled[0], tiled[1]                                       # tile rows 0 and 1
    dM = xp.empty((4, 4, th, tw, nb, C_out), dtype=g.dtype)
    for xi, row in enumerate((g0, g0 + g1, g0 - g1, -g1)):           # (2 tile columns, th, tw, nb, C_out)
        c0, c1 = row[0], row[1]
        dM[xi, 0] = c0
        xp.add(c0, c1, out=dM[xi, 1])
        xp.subtract(c0, c1, out=dM[xi, 2])
        xp.negative(c1, out=dM[xi, 3])
    return dM.reshape(16, th * tw * nb, C_out)


def filter_grad(x, g, padding):
    """dL/dw of y = conv2d(x, w) (3x3, stride 1) for g = dL/dy: (C_out, C_in, 3, 3), by F(2x2, 3x3)."""
    xp = xp_of(x)
    N, C = x.shape[:2]
    C_out = g.shape[1]
    tiles = _tiles(g.shape[2:])
    dU = xp.zeros((16, C_out, C), dtype=x.dtype)
    step = _chunk(N, C, tiles[0] * tiles[1], x.dtype.itemsize)
    for n in range(0, N, step):
        V = _input_transform(_phases(x[n:n + step], padding, tiles), tiles)
        dU += _output_adjoint(g[n:n + step], tiles).swapaxes(1, 2) @ V
    dU = dU.reshape(4, 4, C_out, C)                                   # (xi, nu, C_out, C_in)
    dw = _g_adjoint_rows(_g_adjoint_rows(dU).swapaxes(0, 1)).swapaxes(0, 1)   # (a, b, C_out, C_in)
    return xp.ascontiguousarray(dw.transpose(2, 3, 0, 1))
