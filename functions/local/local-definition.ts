import type { AslDefinition, AslState } from './asl-definition.js';

/** Resource of the inserted reader tasks; the local runner binds it to an S3 read. */
export const LOCAL_ITEM_READER_RESOURCE = 'arn:aws:lambda:local:000000000000:function:LocalItemReader';

/** Where a reader task leaves a Map's items in the state. */
const LOCAL_ITEMS_PATH = '$.localMapItems';

/** Resource of the inserted tolerance checks; the local runner binds it to `checkToleratedFailures`. */
export const LOCAL_TOLERANCE_RESOURCE = 'arn:aws:lambda:local:000000000000:function:LocalToleratedFailures';

/** Where a Map with tolerated failures leaves its children's results for the check. */
const LOCAL_RESULTS_PATH = '$.localMapResults';

/** What the inserted catch leaves as a failed child's result. */
interface LocalFailedItem {
  localFailure: { Error: string; Cause?: unknown };
}

interface LocalItemReader {
  /** The inserted Task state's name. */
  stateName: string;
  /** The Distributed Map it feeds. */
  mapName: string;
}

export interface LocalDefinition {
  definition: AslDefinition;
  itemReaders: LocalItemReader[];
}

/**
 * aws-local-stepfunctions 3 runs a Distributed Map's processor but has no `ItemReader` and no
 * `ResultWriter`. This is the one place the local definition differs from the deployed one:
 *
 * - before each Map with an `ItemReader`, a Task state `<Map> (local ItemReader)` reads the same
 *   S3 object (its `Parameters` are the reader's, so `Key.$` resolves as it would in AWS) and puts the
 *   JSON array at `$.localMapItems.<Map>`; the Map takes its items from there (`ItemsPath`). Every
 *   transition into the Map goes to the reader first, and the reader has the Map's `Catch`.
 * - `ResultWriter` is dropped: the children's results stay in memory and the Map's `ResultPath: null`
 *   discards them, as the deployed state discards the writer's summary.
 *
 * - a Map with `ToleratedFailurePercentage(Path)` / `ToleratedFailureCount(Path)` (which the
 *   interpreter ignores) gets them emulated: each task of its processor catches any error into a
 *   result `{ localFailure }`, the Map keeps its results at `$.localMapResults.<Map>`, and a Task
 *   `<Map> (local tolerated failures)` after it fails the execution when the failed children pass
 *   either threshold, as a Map Run does.
 *
 * Consequences: the items (and a tolerant Map's results) stay in the state after the Map (harmless:
 * later steps pick their fields by path); a failed Map reports the first failed child's error name,
 * where AWS reports `States.ExceedToleratedFailureThreshold`.
 */
export function prepareForLocalExecution(definition: AslDefinition): LocalDefinition {
  const copy = structuredClone(definition);
  const itemReaders: LocalItemReader[] = [];
  transform(copy, itemReaders);
  return { definition: copy, itemReaders };
}

function transform(definition: AslDefinition, itemReaders: LocalItemReader[]): void {
  const renames = new Map<string, string>();
  for (const [mapName, state] of Object.entries(definition.States)) {
    for (const child of [state.ItemProcessor, state.Iterator, ...(state.Branches ?? [])]) {
      if (child) transform(child, itemReaders);
    }
    if (state.Type !== 'Map') continue;
    delete state.ResultWriter;
    emulateToleratedFailures(definition, mapName, state);
    const reader = state.ItemReader;
    if (!reader) continue;
    const stateName = `${mapName} (local ItemReader)`;
    const itemsPath = `${LOCAL_ITEMS_PATH}.${mapName}`;
    const readerState: AslState = {
      Type: 'Task',
      Resource: LOCAL_ITEM_READER_RESOURCE,
      Parameters: { ...reader.Parameters, ReaderConfig: reader.ReaderConfig ?? {} },
      ResultPath: itemsPath,
      Next: mapName,
      ...(state.Catch ? { Catch: structuredClone(state.Catch) } : {}),
    };
    delete state.ItemReader;
    state.ItemsPath = itemsPath;
    definition.States[stateName] = readerState;
    renames.set(mapName, stateName);
    itemReaders.push({ stateName, mapName });
  }
  redirectTransitions(definition, renames);
}

const TOLERANCE_FIELDS = [
  'ToleratedFailurePercentage',
  'ToleratedFailurePercentagePath',
  'ToleratedFailureCount',
  'ToleratedFailureCountPath',
] as const;

function emulateToleratedFailures(definition: AslDefinition, mapName: string, map: AslState): void {
  if (!TOLERANCE_FIELDS.some((field) => map[field] !== undefined) || !map.ItemProcessor) return;
  const processor = map.ItemProcessor;
  for (const [taskName, task] of Object.entries(processor.States)) {
    if (task.Type !== 'Task') continue;
    const failedItem = `${taskName} (local failed item)`;
    task.Catch = [{ ErrorEquals: ['States.ALL'], ResultPath: '$.localFailure', Next: failedItem }];
    processor.States[failedItem] = {
      Type: 'Pass',
      Parameters: { 'localFailure.$': '$.localFailure' },
      End: true,
    };
  }
  const threshold = (field: 'ToleratedFailurePercentage' | 'ToleratedFailureCount') =>
    map[`${field}Path`] !== undefined
      ? { [`${field}.$`]: map[`${field}Path`] }
      : { [field]: map[field] ?? 0 };
  const checkName = `${mapName} (local tolerated failures)`;
  const resultsPath = `${LOCAL_RESULTS_PATH}.${mapName}`;
  definition.States[checkName] = {
    Type: 'Task',
    Resource: LOCAL_TOLERANCE_RESOURCE,
    Parameters: {
      'Results.$': resultsPath,
      ...threshold('ToleratedFailurePercentage'),
      ...threshold('ToleratedFailureCount'),
    },
    ResultPath: null,
    ...(map.Next ? { Next: map.Next } : { End: true }),
  };
  for (const field of TOLERANCE_FIELDS) delete map[field];
  map.ResultPath = resultsPath;
  map.Next = checkName;
  delete map.End;
}

/**
 * The check after a tolerant Map: a Map Run fails when its failed children exceed either the
 * tolerated count or the tolerated percentage.
 */
export async function checkToleratedFailures(event: unknown): Promise<null> {
  const { Results, ToleratedFailurePercentage, ToleratedFailureCount } = event as {
    Results: unknown[];
    ToleratedFailurePercentage: number;
    ToleratedFailureCount: number;
  };
  const failures = Results.filter(
    (result): result is LocalFailedItem =>
      typeof result === 'object' && result !== null && 'localFailure' in result,
  );
  const [first] = failures;
  if (!first) return null;
  const percentage = (failures.length * 100) / Results.length;
  if (failures.length <= ToleratedFailureCount && percentage <= ToleratedFailurePercentage) return null;
  const error = new Error(typeof first.localFailure.Cause === 'string' ? first.localFailure.Cause : '');
  error.name = first.localFailure.Error;
  throw error;
}

function redirectTransitions(definition: AslDefinition, renames: Map<string, string>): void {
  const target = (name: string) => renames.get(name) ?? name;
  definition.StartAt = target(definition.StartAt);
  const readers = new Set(renames.values());
  for (const [name, state] of Object.entries(definition.States)) {
    if (readers.has(name)) continue;
    if (state.Next) state.Next = target(state.Next);
    if (typeof state.Default === 'string') state.Default = target(state.Default);
    for (const catcher of state.Catch ?? []) catcher.Next = target(catcher.Next);
    if (Array.isArray(state.Choices)) {
      for (const choice of state.Choices as { Next?: string }[])
        if (choice.Next) choice.Next = target(choice.Next);
    }
  }
}
