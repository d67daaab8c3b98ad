/** Roman numerals, the one place they are written and read (front-matter folios, part labels). */

const TABLE: [number, string][] = [[1000, 'm'], [900, 'cm'], [500, 'd'], [400, 'cd'], [100, 'c'], [90, 'xc'], [50, 'l'], [40, 'xl'], [10, 'x'], [9, 'ix'], [5, 'v'], [4, 'iv'], [1, 'i']];

/** `n` (≥ 1) in lower-case roman numerals: 4 → "iv". */
export function roman(n: number): string {
  let out = '';
  for (const [value, letters] of TABLE) while (n >= value) { out += letters; n -= value; }
  return out;
}

/** The value of a roman numeral in either case: "xiv" → 14; 0 for what is not one. */
export function romanValue(label: string): number {
  const values: Record<string, number> = {i: 1, v: 5, x: 10, l: 50, c: 100, d: 500, m: 1000};
  const lower = label.toLowerCase();
  let total = 0;
  for (let i = 0; i < lower.length; i++) {
    const value = values[lower[i]!];
    if (value === undefined) return 0;
    const next = values[lower[i + 1] ?? ''] ?? 0;
    total += value < next ? -value : value;
  }
  return total;
}
