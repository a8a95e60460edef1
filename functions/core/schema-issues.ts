import type { z } from 'zod';

type Issue = z.core.$ZodIssue;

const ZOD_PREFIX = /^Invalid input: /;

function describe(issue: Issue, prefix: readonly PropertyKey[]): string[] {
  const path = [...prefix, ...issue.path];
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    const branches = issue.errors.map((branch) =>
      branch.flatMap((inner) => describe(inner, path)).join(', '),
    );
    return [`one of (${branches.join(') or (')})`];
  }
  const where = path.map(String).join('.') || '(event)';
  return [`${where}: ${issue.message.replace(ZOD_PREFIX, '')}`];
}

/**
 * A zod error as one line per problem, each led by the field's path (`range.fromKey: expected
 * string, received number`): what a person needs to find the bad field. Never the value itself,
 * which may be a memory's content.
 */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.flatMap((issue) => describe(issue, []));
}
