import { WireError } from '../../errors.js';
import { SMB2_HEADER_SIZE } from './constants.js';
import { HeaderOffset } from './header.js';

/** One message of a compound: [start, end) inside the frame. */
export interface CompoundPart {
  start: number;
  end: number;
}

/**
 * Splits a frame into its compounded messages by walking NextCommand (MS-SMB2 3.3.5.2.7): each NextCommand is a
 * multiple of 8, points strictly forward and inside the frame, and every message holds at least a header.
 * The last message (NextCommand 0) runs to the end of the frame.
 */
export function splitCompound(frame: Buffer): CompoundPart[] {
  const parts: CompoundPart[] = [];
  let start = 0;
  for (;;) {
    if (start + SMB2_HEADER_SIZE > frame.length) throw new WireError('compound message shorter than an SMB2 header');
    const next = frame.readUInt32LE(start + HeaderOffset.NEXT_COMMAND);
    if (next === 0) {
      parts.push({ start, end: frame.length });
      return parts;
    }
    if (next % 8 !== 0) throw new WireError('NextCommand is not 8-byte aligned');
    if (next < SMB2_HEADER_SIZE) throw new WireError('NextCommand smaller than an SMB2 header');
    const end = start + next;
    if (end >= frame.length) throw new WireError('NextCommand points past the frame');
    parts.push({ start, end });
    start = end;
  }
}

/** Padding after a message of `length` bytes so the next one starts 8-byte aligned. */
export function compoundPadding(length: number): number {
  return (8 - (length % 8)) % 8;
}

const PAD = Buffer.alloc(8);

/**
 * Chains responses (or requests) into one compound: every message but the last gets zero padding to a multiple
 * of 8 and its NextCommand patched to its padded length; the last gets NextCommand 0. Each message is a list of
 * chunks whose first chunk holds the 64-byte header (so a READ response may stay [header+body, data]); headers
 * are patched in place. Returns the chunk lists with padding appended, in order, ready to be signed one by one
 * (MS-SMB2 3.3.4.1.3: a compounded message's signature covers its padding). With `padLast` the last message is
 * padded too, as Windows and Samba pad every response to a compounded request (smbtorture compound-padding).
 */
export function chainCompound(messages: Buffer[][], padLast = false): Buffer[][] {
  return messages.map((chunks, i) => {
    const first = chunks[0];
    if (first === undefined || first.length < SMB2_HEADER_SIZE) throw new RangeError('message without a header chunk');
    const length = chunks.reduce((n, c) => n + c.length, 0);
    const last = i === messages.length - 1;
    const pad = last && !padLast ? 0 : compoundPadding(length);
    first.writeUInt32LE(last ? 0 : length + pad, HeaderOffset.NEXT_COMMAND);
    return pad === 0 ? chunks : [...chunks, PAD.subarray(0, pad)];
  });
}

/** The same for whole-buffer messages: returns one buffer per message, padded (copied only when padding is needed). */
export function chainCompoundBuffers(messages: Buffer[]): Buffer[] {
  return messages.map((m, i) => {
    if (m.length < SMB2_HEADER_SIZE) throw new RangeError('message shorter than a header');
    const last = i === messages.length - 1;
    const pad = last ? 0 : compoundPadding(m.length);
    const out = pad === 0 ? m : Buffer.concat([m, PAD.subarray(0, pad)]);
    out.writeUInt32LE(last ? 0 : out.length, HeaderOffset.NEXT_COMMAND);
    return out;
  });
}
