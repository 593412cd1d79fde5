/** Windows FILETIME: 100-ns intervals since 1601-01-01 UTC (MS-DTYP 2.3.3). */
const EPOCH_DIFF_MS = 11644473600000n;

/** Milliseconds since the Unix epoch (fractions allowed, e.g. from fs.Stats *Ms) to FILETIME. */
export function msToFiletime(ms: number): bigint {
  if (!Number.isFinite(ms)) return 0n;
  const whole = Math.floor(ms);
  return (BigInt(whole) + EPOCH_DIFF_MS) * 10000n + BigInt(Math.round((ms - whole) * 10000));
}

/** FILETIME to milliseconds since the Unix epoch (with a fractional part). */
export function filetimeToMs(ft: bigint): number {
  return Number(ft / 10000n - EPOCH_DIFF_MS) + Number(ft % 10000n) / 10000;
}

export function nowFiletime(): bigint {
  return msToFiletime(Date.now());
}
