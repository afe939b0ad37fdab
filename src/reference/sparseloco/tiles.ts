/**
 * Tile geometry of a parameter tensor for SparseLoCo's per-tile top-k.
 *
 * - 1-D tensors (norm weights) are cut into chunks of `chunk` (64) entries; the last chunk is
 *   shorter when the length is not a multiple of the chunk. SparseLoCo sends 1-D tensors dense
 *   (k = chunk), so a short last chunk costs nothing and needs no padding.
 * - Tensors of rank ≥ 2 are viewed as a matrix (product of the leading dims) × (last dim). Each
 *   tile side is the largest divisor of that dim that is ≤ `maxSide` (64), so tiles cover the
 *   matrix exactly: 64×64 = 4096 entries for the usual model shapes.
 *
 * Tiles are numbered row-major over the tile grid. Inside a tile, the local index of entry
 * (r, c) is `r * tileCols + c` (row-major), which increases with the flat (row-major) tensor
 * index, so "lower local index" and "lower flat index" agree for tie-breaking.
 *
 * @module
 */

/** How tensors are cut into tiles. Defaults: {@link DEFAULT_TILE_OPTIONS}. */
export interface TileOptions {
  /** Largest tile side for tensors of rank ≥ 2 (each side is the largest divisor ≤ this). */
  maxSide: number;
  /** Chunk length for 1-D tensors. */
  chunk: number;
}

/** The reference run's tiling: 64×64 tiles, 1-D chunks of 64. */
export const DEFAULT_TILE_OPTIONS: Readonly<TileOptions> = Object.freeze({
  maxSide: 64,
  chunk: 64,
});

/** Largest tile size the wire format and `Uint16Array` tile-local indices can address. */
export const MAX_TILE_SIZE = 65536;

/** The largest divisor of `n` that is ≤ `max` (at least 1). */
export function largestDivisorAtMost(n: number, max: number): number {
  for (let d = Math.min(n, Math.floor(max)); d > 1; d--) {
    if (n % d === 0) return d;
  }
  return 1;
}

function checkShape(shape: readonly number[]): void {
  if (shape.length < 1) throw new RangeError("tiles: shape must have at least one dim");
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 1) {
      throw new RangeError(`tiles: bad dim ${d} in shape [${shape.join(", ")}]`);
    }
  }
}

/**
 * The tiling of one tensor. Build it with {@link TileGeometry.forShape} (run defaults) or with
 * explicit tile sides (as read from the wire) through the constructor.
 */
export class TileGeometry {
  /** The tensor's shape. */
  readonly shape: readonly number[];
  /** Number of entries of the tensor. */
  readonly numel: number;
  /** True for a 1-D tensor (chunked), false for a matrix view. */
  readonly oneD: boolean;
  /** Matrix view: rows (1 for a 1-D tensor). */
  readonly rows: number;
  /** Matrix view: columns (the length for a 1-D tensor). */
  readonly cols: number;
  /** Tile height (1 for a 1-D tensor). */
  readonly tileRows: number;
  /** Tile width (the chunk length for a 1-D tensor). */
  readonly tileCols: number;
  /** Tiles down the tensor (1 for 1-D). */
  readonly gridRows: number;
  /** Tiles across the tensor. */
  readonly gridCols: number;
  /** Number of tiles. */
  readonly tileCount: number;
  /** Entries in a full tile (`tileRows * tileCols`). Only a 1-D last chunk can be smaller. */
  readonly fullTileSize: number;

  /**
   * Geometry with explicit tile sides. For rank ≥ 2 the sides must divide the matrix view's
   * dims; for 1-D `tileRows` must be 1 and `tileCols` is the chunk length.
   * Throws `RangeError` on anything inconsistent.
   */
  constructor(shape: readonly number[], tileRows: number, tileCols: number) {
    checkShape(shape);
    if (
      !Number.isSafeInteger(tileRows) || !Number.isSafeInteger(tileCols) ||
      tileRows < 1 || tileCols < 1 || tileRows * tileCols > MAX_TILE_SIZE
    ) {
      throw new RangeError(`tiles: bad tile ${tileRows}×${tileCols}`);
    }
    this.shape = Object.freeze([...shape]);
    this.oneD = shape.length === 1;
    let rows = 1;
    for (let i = 0; i < shape.length - 1; i++) rows *= shape[i];
    this.rows = rows;
    this.cols = shape[shape.length - 1];
    this.numel = rows * this.cols;
    if (!Number.isSafeInteger(this.numel)) throw new RangeError("tiles: tensor too large");
    this.tileRows = tileRows;
    this.tileCols = tileCols;
    if (this.oneD) {
      if (tileRows !== 1) throw new RangeError("tiles: a 1-D tensor has tileRows 1");
      this.gridRows = 1;
      this.gridCols = Math.ceil(this.cols / tileCols);
    } else {
      if (rows % tileRows !== 0 || this.cols % tileCols !== 0) {
        throw new RangeError(
          `tiles: tile ${tileRows}×${tileCols} does not divide ${rows}×${this.cols}`,
        );
      }
      this.gridRows = rows / tileRows;
      this.gridCols = this.cols / tileCols;
    }
    this.tileCount = this.gridRows * this.gridCols;
    this.fullTileSize = tileRows * tileCols;
  }

  /** The run's tiling of a tensor of this shape. */
  static forShape(shape: readonly number[], options: Partial<TileOptions> = {}): TileGeometry {
    const { maxSide, chunk } = { ...DEFAULT_TILE_OPTIONS, ...options };
    checkShape(shape);
    if (shape.length === 1) return new TileGeometry(shape, 1, chunk);
    let rows = 1;
    for (let i = 0; i < shape.length - 1; i++) rows *= shape[i];
    const cols = shape[shape.length - 1];
    return new TileGeometry(
      shape,
      largestDivisorAtMost(rows, maxSide),
      largestDivisorAtMost(cols, maxSide),
    );
  }

  /** Entries in tile `t`. */
  tileSize(t: number): number {
    if (this.oneD && t === this.tileCount - 1) return this.cols - t * this.tileCols;
    return this.fullTileSize;
  }

  /** Entries kept in tile `t` for a per-tile budget `k`: `min(k, tileSize(t))`. */
  tileK(t: number, k: number): number {
    return Math.min(k, this.tileSize(t));
  }

  /**
   * Total entries kept over all tiles for budget `k`. Closed form (no loop over tiles), so a
   * decoder can bound a message before it allocates anything.
   */
  selectedCount(k: number): number {
    if (this.tileCount === 0) return 0;
    const last = this.tileCount - 1;
    return last * Math.min(k, this.fullTileSize) + this.tileK(last, k);
  }

  /**
   * Where tile `t`'s selection starts in a flat per-tensor selection array for budget `k`
   * (tiles are stored in order; only a 1-D last tile can hold fewer than `min(k, fullTileSize)`).
   */
  tileStart(t: number, k: number): number {
    return t * Math.min(k, this.fullTileSize);
  }

  /** Flat (row-major) tensor index of tile `t`'s first entry. */
  tileOrigin(t: number): number {
    if (this.oneD) return t * this.tileCols;
    const gr = Math.floor(t / this.gridCols);
    const gc = t - gr * this.gridCols;
    return gr * this.tileRows * this.cols + gc * this.tileCols;
  }

  /** Flat (row-major) tensor index of tile-local index `local` in tile `t`. */
  toFlat(t: number, local: number): number {
    if (this.oneD) return t * this.tileCols + local;
    const r = Math.floor(local / this.tileCols);
    return this.tileOrigin(t) + r * this.cols + (local - r * this.tileCols);
  }

  /** Tile and tile-local index of a flat (row-major) tensor index. */
  fromFlat(flat: number): { tile: number; local: number } {
    if (this.oneD) {
      const tile = Math.floor(flat / this.tileCols);
      return { tile, local: flat - tile * this.tileCols };
    }
    const row = Math.floor(flat / this.cols);
    const col = flat - row * this.cols;
    const gr = Math.floor(row / this.tileRows);
    const gc = Math.floor(col / this.tileCols);
    return {
      tile: gr * this.gridCols + gc,
      local: (row - gr * this.tileRows) * this.tileCols + (col - gc * this.tileCols),
    };
  }

  /**
   * Writes the flat tensor index of every entry of tile `t`, in tile-local order, into `out`
   * (length ≥ `tileSize(t)`); returns the tile size. The fast path for whole-tile loops.
   */
  tileFlatIndices(t: number, out: Int32Array | Uint32Array | number[]): number {
    const size = this.tileSize(t);
    const origin = this.tileOrigin(t);
    if (this.oneD) {
      for (let i = 0; i < size; i++) out[i] = origin + i;
      return size;
    }
    let i = 0;
    for (let r = 0; r < this.tileRows; r++) {
      const base = origin + r * this.cols;
      for (let c = 0; c < this.tileCols; c++) out[i++] = base + c;
    }
    return size;
  }
}
