/**
 * `npm run bench [-- --only fanout,embedding --posts N --cold-posts N --bursts N --authors N --no-doc]`: runs
 * the benches, prints their tables, writes raw results to bench/results/ (git-ignored) and replaces each bench's
 * generated block of docs/benchmarks.md, between `<!-- bench:<id>:start -->` and `<!-- bench:<id>:end -->`.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { format, resolveConfig } from 'prettier';
import { fanoutProbeWorker, renderFanout, runFanoutBench } from './fanout.ts';
import { ROOT, machineInfo, startService } from './harness.ts';

const DOC = path.join(ROOT, 'docs/benchmarks.md');

type Args = Record<string, string>;

interface Bench {
  id: string;
  run(args: Args, log: (line: string) => void): Promise<{ markdown: string; raw: unknown }>;
}

const BENCHES: Bench[] = [
  {
    id: 'fanout',
    async run(args, log) {
      log('building the bundle and starting workerd');
      const service = await startService({ extraWorkers: [fanoutProbeWorker()] });
      try {
        const raw = await runFanoutBench(service, {
          sequentialPosts: Number(args.posts),
          coldPosts: Number(args['cold-posts']),
          bursts: Number(args.bursts),
          authorsPerClass: Number(args.authors),
          floorConcurrency: 32,
          floorRuns: 3,
          log,
        });
        return { markdown: renderFanout(raw), raw };
      } finally {
        await service.dispose();
      }
    },
  },
  {
    id: 'embedding',
    async run(_args, log) {
      // Loaded only when it runs, so that one bench's trouble does not stop the others.
      const { renderEmbedding, runEmbeddingBench } = await import('./embedding.ts');
      const raw = await runEmbeddingBench({ log });
      return { markdown: renderEmbedding(raw), raw };
    },
  },
];

/** Replaces the generated block of one section of the doc, leaving everything else as written. */
export function replaceSection(doc: string, id: string, body: string): string {
  const start = `<!-- bench:${id}:start -->`;
  const end = `<!-- bench:${id}:end -->`;
  const from = doc.indexOf(start);
  const to = doc.indexOf(end);
  const block = `${start}\n${body.trim()}\n${end}`;
  if (from === -1 || to < from) return `${doc.trimEnd()}\n\n${block}\n`;
  return doc.slice(0, from) + block + doc.slice(to + end.length);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string', default: BENCHES.map((b) => b.id).join(',') },
      posts: { type: 'string', default: '30' },
      'cold-posts': { type: 'string', default: '10' },
      bursts: { type: 'string', default: '5' },
      authors: { type: 'string', default: '3' },
      'no-doc': { type: 'boolean', default: false },
    },
  });
  const { only, 'no-doc': noDoc, ...args } = values;
  const wanted = only.split(',');
  const unknown = wanted.filter((id) => !BENCHES.some((b) => b.id === id));
  if (unknown.length > 0)
    throw new Error(`unknown bench ${unknown.join(', ')}; known: ${BENCHES.map((b) => b.id).join(', ')}`);
  const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim().replace(/ --$/, '');
  for (const bench of BENCHES.filter((b) => wanted.includes(b.id))) {
    const log = (line: string) => console.error(`[bench:${bench.id}] ${line}`);
    const machine = machineInfo();
    const started = new Date();
    const { markdown, raw } = await bench.run(args, log);
    console.log(markdown);
    mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
    const stamp = started.toISOString().replace(/[:.]/g, '-');
    writeFileSync(
      path.join(ROOT, 'bench/results', `${bench.id}-${stamp}.json`),
      JSON.stringify({ started, command, machine, result: raw }, null, 2),
    );
    if (noDoc) continue;
    const header = [
      `Run ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC with \`${command}\`.`,
      '',
      `Machine: ${machine.cpu}, ${machine.memory}, ${machine.os}; Node ${machine.node}, workerd ${machine.workerd}, ` +
        `miniflare ${machine.miniflare}, wrangler ${machine.wrangler}; load average at start ${machine.loadAverage}.`,
      '',
      '',
    ].join('\n');
    // Formatted as `npm run format` would, so that CI's format check passes on a freshly written doc.
    const doc = replaceSection(readFileSync(DOC, 'utf8'), bench.id, header + markdown);
    writeFileSync(DOC, await format(doc, { ...(await resolveConfig(DOC)), filepath: DOC }));
    log(`wrote its section of ${path.relative(ROOT, DOC)}`);
  }
}

if (import.meta.main) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
