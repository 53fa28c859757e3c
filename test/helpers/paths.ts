import { fileURLToPath } from 'node:url';

/**
 * The built single-file server, the file the package ships and clients run. Resolved from here
 * whether this module runs from test/ (vitest) or from dist/test/ (bench and soak scripts).
 */
export const BUNDLE = fileURLToPath(
  new URL(
    import.meta.url.includes('/dist/test/') ? '../../flora-generation-mcp.cjs' : '../../dist/flora-generation-mcp.cjs',
    import.meta.url,
  ),
);
