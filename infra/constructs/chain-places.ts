/**
 * Splices the registry's chained steps (functions/steps/index.ts, `chain`) into the definition's
 * list of states, each right after the step it names; a step that follows a chained step comes
 * after it. Unknown anchors stop the synth with the step's name, rather than a state left out.
 */
export function placeChainedSteps<T>(
  base: readonly (readonly [string, T])[],
  registry: Readonly<Record<string, { chain?: { after: string; result: string } }>>,
  make: (name: string, result: string) => T,
): [string, T][] {
  const placed: [string, T][] = base.map(([name, state]) => [name, state]);
  const pending = Object.entries(registry).flatMap(([name, entry]) =>
    entry.chain ? [{ name, ...entry.chain }] : [],
  );
  while (pending.length > 0) {
    const ready = pending.findIndex((p) => placed.some(([name]) => name === p.after));
    if (ready < 0) {
      const names = pending.map((p) => `${p.name} (after ${p.after})`).join(', ');
      throw new Error(`Chained steps name no step of the chain to follow: ${names}`);
    }
    const [step] = pending.splice(ready, 1) as [(typeof pending)[number]];
    const at = placed.findIndex(([name]) => name === step.after);
    placed.splice(at + 1, 0, [step.name, make(step.name, step.result)]);
  }
  return placed;
}
