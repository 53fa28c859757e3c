/** A .wasm import is its bytes: rolldown's `.wasm:binary` module type in the bundle, a vitest plugin in tests. */
declare module '*.wasm' {
  const bytes: Uint8Array;
  export default bytes;
}

/** The part of pngjs (CommonJS, no types of its own) that the preview and its tests use. */
declare module 'pngjs' {
  interface PngData {
    width: number;
    height: number;
    /** RGBA, 8 bits a channel. */
    data: Buffer;
  }
  interface PngWriteOptions {
    deflateLevel?: number;
    filterType?: number;
    colorType?: number;
    bitDepth?: number;
  }
  class PNG implements PngData {
    constructor(options: { width: number; height: number });
    width: number;
    height: number;
    data: Buffer;
    static sync: { read(buffer: Buffer): PngData; write(png: PngData, options?: PngWriteOptions): Buffer };
  }
  const pngjs: { PNG: typeof PNG };
  export default pngjs;
}
