import type { AslDefinition, AslState } from './asl-definition.js';

/** Resource of the inserted reader tasks; the local runner binds it to an S3 read. */
export const LOCAL_ITEM_READER_RESOURCE = 'arn:aws:lambda:local:000000000000:function:LocalItemReader';

/** Where a reader task leaves a Map's items in the state. */
export const LOCAL_ITEMS_PATH = '$.localMapItems';

export interface LocalItemReader {
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
 * Consequences: the items array stays in the state after the Map (harmless: later steps pick their
 * fields by path); a child's error reaches the Map's `Catch` under its own name, where AWS reports
 * `States.ExceedToleratedFailureThreshold`.
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
