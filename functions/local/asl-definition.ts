/** The part of Amazon States Language this project's definition uses, as plain JSON. */
export interface AslDefinition {
  StartAt: string;
  States: Record<string, AslState>;
  Comment?: string;
  [field: string]: unknown;
}

interface AslCatcher {
  ErrorEquals: string[];
  Next: string;
  ResultPath?: string | null;
}

export interface AslState {
  Type: string;
  Next?: string;
  End?: boolean;
  Resource?: string;
  Parameters?: Record<string, unknown>;
  ResultPath?: string | null;
  ItemsPath?: string;
  ItemReader?: {
    Resource: string;
    Parameters?: Record<string, unknown>;
    ReaderConfig?: Record<string, unknown>;
  };
  ItemProcessor?: AslDefinition & { ProcessorConfig?: Record<string, unknown> };
  Iterator?: AslDefinition;
  Branches?: AslDefinition[];
  ResultWriter?: Record<string, unknown>;
  Retry?: Record<string, unknown>[];
  Catch?: AslCatcher[];
  [field: string]: unknown;
}

/** Lambda ARNs of the resolved definition: recognisable, and naming the handler after `function:`. */
const LOCAL_FUNCTION_ARN_PREFIX = 'arn:aws:lambda:local:000000000000:function:';

export function localFunctionArn(functionName: string): string {
  return `${LOCAL_FUNCTION_ARN_PREFIX}${functionName}`;
}

/** The handler a local Lambda ARN names, or undefined for any other resource. */
export function functionNameOf(resource: string | undefined): string | undefined {
  return resource?.startsWith(LOCAL_FUNCTION_ARN_PREFIX)
    ? resource.slice(LOCAL_FUNCTION_ARN_PREFIX.length)
    : undefined;
}

/** Every state of a definition with its name, nested Map processors and Parallel branches included. */
export function allStates(definition: AslDefinition): [string, AslState][] {
  return Object.entries(definition.States).flatMap(([name, state]) => {
    const nested = [state.ItemProcessor, state.Iterator, ...(state.Branches ?? [])].filter(
      (child): child is AslDefinition => child !== undefined,
    );
    return [[name, state] as [string, AslState], ...nested.flatMap(allStates)];
  });
}
