/**
 * A Worker that exposes only the embedder, for bench/embedding.ts: it runs alone in its own workerd process, so
 * that process's memory is this isolate's. Not part of the deployed service (workers/index.ts never imports it).
 *
 * POST /embed {texts}  embeds them (one at a time, as embedTexts does); answers the state and sizes.
 * GET  /state          the embedder's state and the WASM memory size, without loading anything.
 */
import { embedderDepsFor } from '../composition.ts';
import { embedTexts, embedderState } from './index.ts';

async function wasmMemoryBytes(): Promise<number | null> {
  const runtime = await import('./runtime.ts');
  return runtime.wasmMemoryBytes();
}

export default {
  async fetch(request, env) {
    const deps = embedderDepsFor(env);
    const url = new URL(request.url);
    if (request.method === 'GET' && url.pathname === '/state') {
      return Response.json({ state: embedderState(deps), wasmMemoryBytes: await wasmMemoryBytes() });
    }
    if (request.method === 'POST' && url.pathname === '/embed') {
      const { texts } = await request.json<{ texts: string[] }>();
      const result = await embedTexts(deps, texts);
      return Response.json({
        state: embedderState(deps),
        embedded: result?.vectors.length ?? 0,
        dims: result?.vectors[0]?.length ?? null,
        wasmMemoryBytes: await wasmMemoryBytes(),
      });
    }
    return new Response('not found', { status: 404 });
  },
} satisfies ExportedHandler<Env>;
