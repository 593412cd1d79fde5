/** The length of a message held in several chunks (gathered writes, signing and sealing over chunk lists). */
export function totalLength(chunks: readonly Buffer[]): number {
  let n = 0;
  for (const c of chunks) n += c.length;
  return n;
}
