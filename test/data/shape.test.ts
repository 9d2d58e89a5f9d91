import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { arrangeSamples, chwToHwc, fitShape, hwcToChw, scaleUint8, toLabels } from '../../src/data/shape.js';
import { ConfigError, DataLoadError, ShapeError } from '../../src/errors.js';

/** Finite bounds lo < hi (as float64), drawn over several magnitudes. */
const boundsArb = fc
  .tuple(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.double({ min: -1e6, max: 1e6, noNaN: true }))
  .filter(([a, b]) => a !== b)
  .map(([a, b]) => (a < b ? ([a, b] as const) : ([b, a] as const)));

describe('scaleUint8', () => {
  it('maps 0 → lo and 255 → hi exactly, linearly in between', () => {
    expect(Array.from(scaleUint8(Uint8Array.of(0, 51, 255), [0, 1]))).toEqual([0, Math.fround(0.2), 1]);
    expect(Array.from(scaleUint8(Uint8Array.of(0, 255), [-1, 1]))).toEqual([-1, 1]);
    expect(Array.from(scaleUint8(Uint8Array.of(0, 1, 255), [0, 255]))).toEqual([0, 1, 255]);
    expect(Array.from(scaleUint8(Uint8Array.of(0, 255), [-1e308, 1e308]))).toEqual([-Infinity, Infinity].map((v) => Math.fround(v))); // no NaN from an overflowing range
  });

  it('property: stays inside [lo, hi] (as float32 sees them) and is non-decreasing', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), boundsArb, (raw, [lo, hi]) => {
        const out = scaleUint8(raw, [lo, hi]);
        const [flo, fhi] = [Math.fround(lo), Math.fround(hi)];
        for (let i = 0; i < raw.length; i++) {
          if (!(out[i]! >= flo && out[i]! <= fhi)) return false;
          if (raw[i] === 0 && out[i] !== flo) return false;
          if (raw[i] === 255 && out[i] !== fhi) return false;
        }
        // monotone: order the inputs, the outputs must follow
        const all = scaleUint8(
          Uint8Array.from({ length: 256 }, (_, i) => i),
          [lo, hi],
        );
        for (let v = 1; v < 256; v++) if (all[v]! < all[v - 1]!) return false;
        for (let i = 0; i < raw.length; i++) if (out[i] !== all[raw[i]!]) return false;
        return true;
      }),
      { numRuns: 300, seed: 7 },
    );
  });

  it('rejects bounds that are not a finite increasing pair', () => {
    for (const b of [
      [1, 0],
      [0, 0],
      [0, Number.NaN],
      [-Infinity, 1],
    ] as const) {
      expect(() => scaleUint8(Uint8Array.of(1), b as unknown as readonly [number, number])).toThrow(ConfigError);
    }
    expect(() => scaleUint8(Uint8Array.of(1), [1, 0])).toThrow(/scaleUint8: expected bounds .* got \[1, 0\]/);
  });
});

describe('hwcToChw / chwToHwc', () => {
  it('moves the channel axis', () => {
    expect(Array.from(hwcToChw(Float32Array.of(1, 2, 3, 4, 5, 6), 1, 1, 2, 3))).toEqual([1, 4, 2, 5, 3, 6]);
    expect(Array.from(chwToHwc(Float32Array.of(1, 4, 2, 5, 3, 6), 1, 3, 1, 2))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(hwcToChw(Uint8Array.of(1, 2), 1, 1, 1, 2)).toBeInstanceOf(Uint8Array);
  });

  it('property: they are inverses, per sample', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 4 }),
        (n, h, w, c) => {
          const x = Float32Array.from({ length: n * h * w * c }, (_, i) => i);
          const chw = hwcToChw(x, n, h, w, c);
          // element (s, y, x, ch) of HWC lands at (s, ch, y, x)
          for (let s = 0; s < n; s++)
            for (let y = 0; y < h; y++)
              for (let xx = 0; xx < w; xx++)
                for (let ch = 0; ch < c; ch++) if (chw[s * h * w * c + ch * h * w + y * w + xx] !== x[s * h * w * c + (y * w + xx) * c + ch]) return false;
          const back = chwToHwc(chw, n, c, h, w);
          return back.every((v, i) => v === x[i]);
        },
      ),
      { numRuns: 100, seed: 3 },
    );
  });

  it('checks the length', () => {
    expect(() => hwcToChw(new Float32Array(5), 1, 1, 2, 3)).toThrow(ShapeError);
    expect(() => chwToHwc(new Float32Array(5), 1, 3, 1, 2)).toThrow(/expected 1 × 6 = 6 values, got 5/);
  });
});

describe('fitShape', () => {
  it('reshapes across unit axes only when no channel axis moves', () => {
    expect(fitShape([28, 28], [28, 28, 1], 'NHWC', 'x')).toEqual([28, 28, 1]);
    expect(fitShape([28, 28], [1, 28, 28], undefined, 'x')).toEqual([1, 28, 28]);
    expect(fitShape([28, 28, 1], [1, 28, 28], 'NCHW', 'x')).toEqual([1, 28, 28]);
    expect(fitShape([5], undefined, undefined, 'x')).toEqual([5]);
    expect(fitShape([28, 28, 3], [3, 28, 28], 'NCHW', 'x')).toBeUndefined();
    expect(fitShape([2, 1, 2], [1, 2, 2], 'NHWC', 'x')).toBeUndefined(); // C=2 would change axis
    expect(fitShape([32, 32, 3], [32, 32, 3], undefined, 'x')).toEqual([32, 32, 3]);
    expect(fitShape([28, 28], [14, 56], undefined, 'x')).toBeUndefined();
  });
});

describe('arrangeSamples', () => {
  const x = Float32Array.from({ length: 2 * 2 * 2 * 3 }, (_, i) => i); // 2 samples [2, 2, 3] HWC

  it('keeps, reshapes, flattens or transposes', () => {
    expect(arrangeSamples(x, 2, [2, 2, 3], undefined, undefined, 'x')).toMatchObject({ op: 'none', shape: [2, 2, 3] });
    expect(arrangeSamples(x, 2, [2, 2, 3], [2, 2, 3], undefined, 'x').data).toBe(x);
    expect(arrangeSamples(x, 2, [2, 2, 3], [12], undefined, 'x')).toMatchObject({ op: 'reshape', shape: [12] });
    const t = arrangeSamples(x, 2, [2, 2, 3], [3, 2, 2], undefined, 'x');
    expect(t.op).toBe('hwc-to-chw');
    expect(Array.from(t.data.subarray(0, 12))).toEqual([0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11]);
    const back = arrangeSamples(t.data, 2, [3, 2, 2], [2, 2, 3], undefined, 'x');
    expect(back.op).toBe('chw-to-hwc');
    expect(back.data).toEqual(x);
    // a stored [2, 2, 3] can only hold a 2-channel [2, 3, 2] HWC image as [C, H, W]
    expect(arrangeSamples(x, 2, [2, 2, 3], [2, 3, 2], 'NHWC', 'x').op).toBe('chw-to-hwc');
  });

  it('throws ShapeError naming both shapes otherwise', () => {
    expect(() => arrangeSamples(x, 2, [2, 2, 3], [4, 3, 1], 'NHWC', 'f.npy')).toThrow(
      /f\.npy: expected samples that fit the input shape \[4, 3, 1\] \(NHWC\).*got samples of shape \[2, 2, 3\]/,
    );
    expect(() => arrangeSamples(x, 3, [2, 2, 3], undefined, undefined, 'f')).toThrow(ShapeError);
  });
});

describe('toLabels', () => {
  it('converts exactly or names the bad value', () => {
    expect(toLabels(BigInt64Array.of(7n, 2n, 1n), 3, 'y')).toEqual(Int32Array.of(7, 2, 1));
    expect(toLabels(Float64Array.of(3, 0, 2147483647))).toEqual(Int32Array.of(3, 0, 2147483647));
    expect(toLabels(Uint8Array.of(5, 6, 7), 2)).toEqual(Int32Array.of(5, 6));
    expect(() => toLabels(BigInt64Array.of(1n, -3n), 2, 'y')).toThrow(DataLoadError);
    expect(() => toLabels(BigUint64Array.of(2n ** 40n), 1, 'y')).toThrow(
      /y: expected labels to be integer class indices in \[0, 2147483647\], got 1099511627776 at index 0/,
    );
    expect(() => toLabels(Float32Array.of(Number.NaN), 1, 'y')).toThrow(/got NaN at index 0/);
    expect(() => toLabels(Uint32Array.of(2 ** 31), 1, 'y')).toThrow(/got 2147483648/);
    expect(() => toLabels(Uint8Array.of(1), 2, 'y')).toThrow(ShapeError);
  });
});
