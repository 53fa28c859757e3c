/**
 * list_workspaces and list_projects through the real SDK client: the GET requests FLORA receives
 * (path, key, exact query), what the agent gets back, paging with next_cursor, arguments refused
 * before anything is sent, and FLORA_WORKSPACE_ID as the default workspace.
 */
import { describe, expect, it } from 'vitest';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { FAKE_KEY, type FakeFlora, PROJECTS, WORKSPACES, type RecordedRequest } from '../helpers/fake-flora.js';
import { failure, success, useConnections, type Connected } from '../helpers/harness.js';

let fake: FakeFlora;

const { open } = useConnections((f) => (fake = f));

async function listProjects(args: Record<string, unknown>, conn?: Connected): Promise<CallToolResult> {
  return (conn ?? (await open())).call('list_projects', args);
}

function expectGet(req: RecordedRequest, path: string, query: Record<string, string>): void {
  expect(req.method).toBe('GET');
  expect(req.rawPath).toBe(`/api/v1${path}`);
  expect(req.query).toEqual(query);
  expect(req.headers.authorization).toBe(`Bearer ${FAKE_KEY}`);
  expect(req.rawBody).toBe('');
}

function ids(projects: unknown): string[] {
  return (projects as Array<{ project_id: string }>).map((p) => p.project_id);
}

function toolNamed(tools: Tool[], name: string): Tool {
  const tool = tools.find((t) => t.name === name);
  if (!tool) throw new Error(`no tool ${name}`);
  return tool;
}

function property(tool: Tool, name: string): { default?: unknown } {
  return (tool.inputSchema.properties as Record<string, { default?: unknown }>)[name]!;
}

describe('list_workspaces', () => {
  it('sends GET /api/v1/workspaces with the Bearer key and no query, and returns both workspaces', async () => {
    const out = success(await (await open()).call('list_workspaces'));

    expect(fake.requests).toHaveLength(1);
    expectGet(fake.requests[0]!, '/workspaces', {});
    expect(out).toEqual({ workspaces: WORKSPACES });
    const shown = (out.workspaces as Array<Record<string, unknown>>).map(({ workspace_id, name, role }) => ({
      workspace_id,
      name,
      role,
    }));
    expect(shown).toEqual([
      { workspace_id: 'ws_studio', name: 'Studio', role: 'owner' },
      { workspace_id: 'ws_client', name: 'Client work', role: 'member' },
    ]);
  });

  it("passes FLORA's 401 invalid_api_key through, telling the agent to fix FLORA_API_KEY, without retrying", async () => {
    fake.apiKey = 'sk_live_someone_else';
    const error = failure(await (await open()).call('list_workspaces'));

    expect(error.code).toBe('invalid_api_key');
    expect(error.status).toBe(401);
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('Invalid API key.');
    expect(error.message).toContain('FLORA_API_KEY');
    expect(fake.requests).toHaveLength(1);
  });

  it('refuses arguments it does not take, with nothing sent', async () => {
    const error = failure(await (await open()).call('list_workspaces', { workspace_id: 'ws_studio' }));

    expect(error.code).toBe('invalid_arguments');
    expect(error.fields).toEqual([{ field: 'workspace_id', message: expect.stringContaining('not a parameter') }]);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('list_projects', () => {
  it('sends GET /api/v1/projects with workspace_id and limit=20 by default, and returns the first page with next_cursor', async () => {
    const out = success(await listProjects({ workspace_id: 'ws_studio' }));

    expect(fake.requests).toHaveLength(1);
    expectGet(fake.requests[0]!, '/projects', { workspace_id: 'ws_studio', limit: '20' });
    expect(Object.keys(out).sort()).toEqual(['next_cursor', 'projects']);
    expect(out.projects).toEqual(PROJECTS.slice(0, 20));
    expect(out.next_cursor).toEqual(expect.any(String));
    expect(out.next_cursor).not.toBe('');
  });

  it('passing next_cursor back as cursor gets the next page: 25 projects come as 20 then 5, then next_cursor is null', async () => {
    const first = success(await listProjects({ workspace_id: 'ws_studio' }));
    const cursor = first.next_cursor as string;
    const second = success(await listProjects({ workspace_id: 'ws_studio', cursor }));

    expect(fake.requests).toHaveLength(2);
    expectGet(fake.requests[0]!, '/projects', { workspace_id: 'ws_studio', limit: '20' });
    expectGet(fake.requests[1]!, '/projects', { workspace_id: 'ws_studio', limit: '20', cursor });

    expect(ids(first.projects)).toHaveLength(20);
    expect(ids(second.projects)).toEqual(['prj_s21', 'prj_s22', 'prj_s23', 'prj_s24', 'prj_s25']);
    expect(second.next_cursor).toBeNull();
    // Every project of the workspace exactly once, most recently active first.
    const all = [...ids(first.projects), ...ids(second.projects)];
    expect(all).toEqual(PROJECTS.filter((p) => p.workspace_id === 'ws_studio').map((p) => p.project_id));
  });

  it('forwards an explicit limit and pages with it', async () => {
    const out = success(await listProjects({ workspace_id: 'ws_studio', limit: 10 }));
    const next = success(await listProjects({ workspace_id: 'ws_studio', limit: 10, cursor: out.next_cursor }));

    expectGet(fake.requests[0]!, '/projects', { workspace_id: 'ws_studio', limit: '10' });
    expectGet(fake.requests[1]!, '/projects', { workspace_id: 'ws_studio', limit: '10', cursor: out.next_cursor as string });
    expect(ids(out.projects)).toEqual(PROJECTS.slice(0, 10).map((p) => p.project_id));
    expect(ids(next.projects)).toEqual(PROJECTS.slice(10, 20).map((p) => p.project_id));
    expect(next.next_cursor).toEqual(expect.any(String));
  });

  it('forwards query and shows every match, same-named projects included (not collapsed)', async () => {
    const out = success(await listProjects({ workspace_id: 'ws_studio', query: 'mug' }));

    expect(fake.requests).toHaveLength(1);
    expectGet(fake.requests[0]!, '/projects', { workspace_id: 'ws_studio', query: 'mug', limit: '20' });
    const projects = out.projects as Array<{ project_id: string; name: string }>;
    expect(projects.map((p) => p.name)).toEqual(Array(5).fill('Mug shoot'));
    expect(projects.map((p) => p.project_id)).toEqual(['prj_s01', 'prj_s06', 'prj_s11', 'prj_s16', 'prj_s21']);
    expect(out.next_cursor).toBeNull();
  });

  it.each([
    ['limit 0', { limit: 0 }, 'limit'],
    ['limit 101', { limit: 101 }, 'limit'],
    ['limit 1.5', { limit: 1.5 }, 'limit'],
    ['a workspace_id without ws_', { workspace_id: 'studio' }, 'workspace_id'],
    ['an empty query', { query: '' }, 'query'],
  ])('refuses %s with invalid_arguments and sends nothing', async (_name, bad, field) => {
    const error = failure(await listProjects({ workspace_id: 'ws_studio', ...bad }));

    expect(error.code).toBe('invalid_arguments');
    expect(error.retryable).toBe(false);
    expect(error.fields?.map((f) => f.field)).toEqual([field]);
    expect(error.message).toContain(`${field}:`);
    expect(error.message).toContain('nothing was sent to FLORA');
    expect(fake.requests).toHaveLength(0);
  });

  it('without FLORA_WORKSPACE_ID requires workspace_id: the schema says so and a call without it is refused, nothing sent', async () => {
    const conn = await open();
    const tool = toolNamed((await conn.client.listTools()).tools, 'list_projects');
    expect(tool.inputSchema.required).toContain('workspace_id');

    const error = failure(await listProjects({}, conn));
    expect(error.code).toBe('invalid_arguments');
    expect(error.fields?.map((f) => f.field)).toEqual(['workspace_id']);
    expect(error.message).toContain('workspace_id');
    expect(fake.requests).toHaveLength(0);
  });

  it('with FLORA_WORKSPACE_ID=ws_client workspace_id becomes optional, its schema publishes the default, and a call without it uses ws_client', async () => {
    const conn = await open({ env: { FLORA_WORKSPACE_ID: 'ws_client' } });
    const tool = toolNamed((await conn.client.listTools()).tools, 'list_projects');
    expect(tool.inputSchema.required ?? []).not.toContain('workspace_id');
    expect(property(tool, 'workspace_id').default).toBe('ws_client');

    const out = success(await listProjects({}, conn));
    expect(fake.requests).toHaveLength(1);
    expectGet(fake.requests[0]!, '/projects', { workspace_id: 'ws_client', limit: '20' });
    expect(ids(out.projects)).toEqual(['prj_c01']);
    expect(out.next_cursor).toBeNull();
  });

  it('an explicit workspace_id overrides FLORA_WORKSPACE_ID', async () => {
    const conn = await open({ env: { FLORA_WORKSPACE_ID: 'ws_client' } });
    const out = success(await listProjects({ workspace_id: 'ws_studio', query: 'mug' }, conn));

    expect(fake.requests).toHaveLength(1);
    expectGet(fake.requests[0]!, '/projects', { workspace_id: 'ws_studio', query: 'mug', limit: '20' });
    expect(ids(out.projects)).not.toContain('prj_c01');
    expect(ids(out.projects)).toHaveLength(5);
  });
});
