import { encodeHeader, emptyHeader } from '../../../src/protocol/smb2/header.js';
import { Reader } from '../../../src/util/reader.js';
import { Writer } from '../../../src/util/writer.js';

/** A message: a 64-byte header (zeros but magic) followed by what `encode` writes. */
export function encodeMessage(encode: (w: Writer) => void): Buffer {
  const w = new Writer(128);
  encodeHeader(w, emptyHeader());
  encode(w);
  return Buffer.from(w.finish());
}

/** A Reader positioned after the header of `msg`, base at the header start. */
export function bodyReader(msg: Buffer): Reader {
  return new Reader(msg, 64, msg.length, 0);
}

/** A message made of a zero header and the given body bytes. */
export function withHeader(body: Buffer): Buffer {
  return Buffer.concat([encodeMessage(() => {}), body]);
}

export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/#[^\n]*/g, '').replace(/\s+/g, ''), 'hex');
}
