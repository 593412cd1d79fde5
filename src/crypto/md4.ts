import jsMd4 from 'js-md4';

/**
 * MD4 (RFC 1320). OpenSSL 3 refuses md4, so this uses js-md4's pure-JavaScript path
 * (`create().update()`: its top-level call would try node:crypto's md4 and throw).
 */
export function md4(data: Uint8Array): Buffer {
  return Buffer.from(jsMd4.create().update(data).arrayBuffer());
}
