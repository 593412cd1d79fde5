declare module 'js-md4' {
  interface Md4Hasher {
    update(message: string | ArrayBuffer | Uint8Array | number[]): Md4Hasher;
    arrayBuffer(): ArrayBuffer;
    hex(): string;
  }
  interface Md4 {
    (message: string | ArrayBuffer | Uint8Array | number[]): string;
    create(): Md4Hasher;
    arrayBuffer(message: string | ArrayBuffer | Uint8Array | number[]): ArrayBuffer;
  }
  const md4: Md4;
  export default md4;
}
