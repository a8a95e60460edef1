/**
 * The original migration script's module choice, transcribed as the baseline the evaluation
 * compares against: metadata type and category, then tag substrings, then content words, first
 * match wins, `personal` when nothing matches. Kept out of the product on purpose.
 */

export interface BaselineDecision {
  module: string;
  /** `type`, `category`, `tag`, `content` or `fallback`, like the product's rule kinds. */
  kind: string;
}

const CATEGORY_MAPPING: Record<string, string> = {
  Personal: 'personal',
  Work: 'work',
  Learning: 'learning',
  Technical: 'technical',
  Communication: 'communication',
  Creative: 'creative',
};

const TAG_RULES: [string, string[]][] = [
  ['work', ['project', 'task', 'meeting']],
  ['personal', ['personal', 'diary', 'journal']],
  ['learning', ['learn', 'study', 'course']],
  ['technical', ['code', 'technical', 'debug']],
  ['communication', ['email', 'message', 'chat']],
  ['creative', ['idea', 'creative', 'design']],
];

const CONTENT_RULES: [string, RegExp][] = [
  ['work', /\b(project|task|meeting|deadline|milestone)\b/i],
  ['personal', /\b(personal|family|health|diary|journal)\b/i],
  ['learning', /\b(learn|study|course|tutorial|lesson)\b/i],
  ['technical', /\b(code|debug|api|function|class|error|bug)\b/i],
  ['communication', /\b(email|message|chat|call|meeting notes)\b/i],
  ['creative', /\b(idea|creative|design|story|art)\b/i],
];

export function guideRulesModule(memory: {
  content: string;
  tags: readonly string[];
  sourceMetadata: unknown;
}): BaselineDecision {
  const metadata =
    typeof memory.sourceMetadata === 'object' && memory.sourceMetadata !== null
      ? (memory.sourceMetadata as Record<string, unknown>)
      : {};
  if (metadata['type'] === 'project' || metadata['type'] === 'task') return { module: 'work', kind: 'type' };
  if (typeof metadata['category'] === 'string') {
    const mapped = CATEGORY_MAPPING[metadata['category']];
    if (mapped) return { module: mapped, kind: 'category' };
  }
  for (const tag of memory.tags) {
    for (const [module, needles] of TAG_RULES) {
      if (needles.some((needle) => tag.includes(needle))) return { module, kind: 'tag' };
    }
  }
  const content = memory.content.toLowerCase();
  for (const [module, pattern] of CONTENT_RULES)
    if (pattern.test(content)) return { module, kind: 'content' };
  return { module: 'personal', kind: 'fallback' };
}
