import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DefaultTreeAdapterTypes, parse } from 'parse5';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import { runSteps } from '../../dev/support/run-steps.js';
import { runLayout } from '../../functions/core/run-options.js';
import { FileRunStore } from '../../functions/store/run-store.js';

type Node = DefaultTreeAdapterTypes.ChildNode | DefaultTreeAdapterTypes.Document;
type Element = DefaultTreeAdapterTypes.Element;

/** Longer unbroken text than this would push a table past a 1,280 px page. */
const MAX_UNBROKEN = 64;

function children(node: Node): DefaultTreeAdapterTypes.ChildNode[] {
  return 'childNodes' in node ? node.childNodes : [];
}

function elements(node: Node, tag: string): Element[] {
  const found: Element[] = [];
  const walk = (n: Node) => {
    if ('tagName' in n && n.tagName === tag) found.push(n);
    for (const c of children(n)) walk(c);
    if ('content' in n && n.content) walk(n.content as Node);
  };
  walk(node);
  return found;
}

function text(node: Node): string {
  if (node.nodeName === '#text') return (node as DefaultTreeAdapterTypes.TextNode).value;
  return children(node).map(text).join('');
}

/** Whether a node sits inside a <details> (collapsed until a click). */
function insideDetails(node: Element): boolean {
  for (let p = node.parentNode; p; p = 'parentNode' in p ? p.parentNode : null) {
    if ('tagName' in p && p.tagName === 'details') return true;
  }
  return false;
}

const attr = (el: Element, name: string) => el.attrs.find((a) => a.name === name)?.value;

function sectionOf(document: Node, id: string): Element {
  const section = elements(document, 'section').find((s) => attr(s, 'id') === id);
  if (!section) throw new Error(`no section #${id}`);
  return section;
}

describe('report.html, read by an HTML parser', () => {
  let sourceUrl: string;
  let targetUrl: string;
  let store: FileRunStore;
  const pages: Record<string, Node> = {};
  const closers: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    ({ sourceUrl, targetUrl } = await freshDatabases());
    store = new FileRunStore(await mkdtemp(join(tmpdir(), 'bm-report-html-')));
    await generateBigMemory({
      databaseUrl: sourceUrl,
      memories: 1_500,
      users: 20,
      seed: 5,
      targetDatabaseUrl: targetUrl,
      targetCollisions: { sameToken: 2, sameEmail: 2 },
    });
    const runs = {
      dry: { dryRun: true, maxRejectRatio: 1 },
      real: { maxRejectRatio: 1 },
      // Every memory again (a rerun would skip what the real run migrated), to a failing end.
      failed: { createUsers: false, forceReprocess: true },
    };
    for (const [name, input] of Object.entries(runs)) {
      const runId = `report-html-${name}`;
      await runSteps({
        sourceUrl,
        targetUrl,
        store,
        runId,
        input: { preserveEmbeddings: true, batchSize: 100, snapshot: 'none', ...input },
      }).then(
        (r) => closers.push(r.runtime),
        () => undefined,
      );
      pages[name] = parse((await store.get(runLayout(runId).report.html)).toString('utf8'));
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all(closers.map((c) => c.close()));
  });

  it.each(['dry', 'real', 'failed'])('%s: no table cell holds a long unbroken run of characters', (name) => {
    const page = pages[name] as Node;
    const longest = elements(page, 'td')
      .map((td) => text(td))
      .flatMap((t) => t.split(/\s+/))
      .reduce((a, b) => (b.length > a.length ? b : a), '');

    expect(elements(page, 'td').length).toBeGreaterThan(50);
    expect(longest.length, longest).toBeLessThanOrEqual(MAX_UNBROKEN);
  });

  it.each(['dry', 'real', 'failed'])('%s: every sample decision shows its content', (name) => {
    const samples = sectionOf(pages[name] as Node, 'sample-decisions');
    const rows = elements(samples, 'tbody').flatMap((body) => elements(body, 'tr'));

    expect(rows.length).toBeGreaterThan(10);
    for (const row of rows) {
      const cells = elements(row, 'td');
      expect(text(cells[cells.length - 1] as Element).trim(), text(row)).not.toBe('');
    }
  });

  it.each(['dry', 'real', 'failed'])('%s: long tables show at most 15 rows before a click', (name) => {
    for (const table of elements(pages[name] as Node, 'table')) {
      if (insideDetails(table)) continue;
      expect(elements(table, 'tr').length).toBeLessThanOrEqual(16);
    }
  });

  it('lists only email conflicts as conflicts and says "would migrate" in a dry run', () => {
    const users = text(sectionOf(pages.real as Node, 'users'));
    const conflictRows = elements(sectionOf(pages.real as Node, 'users'), 'table')[1];
    const summary = text(sectionOf(pages.dry as Node, 'summary'));

    expect(users).toMatch(/Conflicts \(\d+\)/);
    for (const row of elements(conflictRows as Element, 'tr').slice(1)) {
      expect(text(row)).toMatch(/conflict_email_|missing_email_/);
    }
    expect(summary).toMatch(/would migrate/);
    expect(summary).not.toMatch(/\d migrated/);
  });

  it('gives the failed run the threshold, the rerun command and the verification Detail column', () => {
    const failed = pages.failed as Node;
    const header = text(elements(failed, 'header')[0] as Element);
    const what = text(sectionOf(failed, 'what-failed'));
    const headings = elements(sectionOf(pages.real as Node, 'verification'), 'th').map((th) => text(th));

    expect(what).toContain('RejectThresholdError');
    expect(what).toContain('unmapped_user');
    expect(header).toContain(
      'npm run migrate:bigmemory -- --batch-size 100 --preserve-embeddings --snapshot none --no-create-users',
    );
    expect(headings).toContain('Detail');
  });
});
