/**
 * The floor for per-call overhead: the smallest stdio server the MCP SDK allows whose one tool
 * does what list_models does at its least: one GET /models from FLORA_BASE_URL with the key,
 * through Node's http module and a keep-alive agent (the cheapest client Node has, and the one
 * this server's GETs use), and the JSON back as text and structuredContent. `npm run bench`
 * bundles it the way the real server is bundled and measures it beside the real one.
 */
import http from 'node:http';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';

const base = process.env.FLORA_BASE_URL ?? '';
const agent = new http.Agent({ keepAlive: true });

function getJson(url: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const headers = { Authorization: `Bearer ${process.env.FLORA_API_KEY}`, Accept: 'application/json' };
    http
      .get(url, { agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

const server = new Server({ name: 'floor', version: '0' }, { capabilities: { tools: {} } });
server.setRequestHandler(ListToolsRequestSchema, () => ({
  tools: [{ name: 'list_models', inputSchema: { type: 'object', properties: { type: { type: 'string' } } } }],
}));
server.setRequestHandler(CallToolRequestSchema, async (req) => {
  const data = await getJson(`${base}/models?type=${String(req.params.arguments?.type ?? '')}`);
  return { content: [{ type: 'text', text: JSON.stringify(data) }], structuredContent: data };
});
await server.connect(new StdioServerTransport());
