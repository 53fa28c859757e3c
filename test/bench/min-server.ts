/**
 * The floor for cold start: the smallest stdio server the MCP SDK allows (one empty tools/list).
 * `npm run bench` bundles it the way the real server is bundled and compares the two, also run
 * through the same compile cache (so no top-level await: that build is CommonJS).
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';

const server = new Server({ name: 'floor', version: '0' }, { capabilities: { tools: {} } });
server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [] }));
void server.connect(new StdioServerTransport());
