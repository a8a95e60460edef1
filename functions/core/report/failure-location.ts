/**
 * Where a run failed — the state, the Map item's batch and key range, the memory — carried in the
 * error message itself: a Lambda error reaches the state machine's Catch as its name and message
 * only, so the failure report can name the place only if the message does.
 */

export interface FailureLocation {
  step: string;
  /** The Map item's index, when the step is one. */
  batch?: number;
  keys?: { from: string | null; to: string | null };
  /** The source memory the error names, when it names one. */
  memory?: string;
}

const MARK = /\s*\[step: ([A-Za-z]+)((?:; [^\]]*)?)\]$/;

export function formatFailureLocation(location: FailureLocation): string {
  const parts = [`step: ${location.step}`];
  if (location.batch !== undefined) {
    const keys = location.keys
      ? `, keys ${location.keys.from ?? '(start)'} – ${location.keys.to ?? '(end)'}`
      : '';
    parts.push(`batch: ${location.batch}${keys}`);
  }
  if (location.memory) parts.push(`memory: ${location.memory}`);
  return ` [${parts.join('; ')}]`;
}

/** The location from a Map item's event and the error's context, when either has one. */
export function locateFailure(
  step: string,
  event: unknown,
  context: Record<string, unknown>,
): FailureLocation {
  const range = (event as { range?: { index?: unknown; fromKey?: unknown; toKey?: unknown } } | null)?.range;
  const location: FailureLocation = { step };
  if (range && typeof range.index === 'number') {
    location.batch = range.index;
    location.keys = {
      from: typeof range.fromKey === 'string' ? range.fromKey : null,
      to: typeof range.toKey === 'string' ? range.toKey : null,
    };
  }
  const memory = context.sourceId ?? context.memoryId;
  if (typeof memory === 'string' || typeof memory === 'number') location.memory = String(memory);
  return location;
}

/** Splits a message that carries a location into the two; a message without one has none. */
export function splitFailureLocation(message: string): {
  message: string;
  step: string | null;
  where: string | null;
} {
  const match = MARK.exec(message);
  if (!match) return { message, step: null, where: null };
  const where = (match[2] ?? '').replace(/^; /, '');
  return { message: message.slice(0, match.index), step: match[1] ?? null, where: where || null };
}
