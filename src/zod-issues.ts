// Which of a failed validation's issues to show a user (options of the API, the config file).
import * as z from 'zod';
import { closestName } from './closest-name.js';

/**
 * The issue to report, as `{ path, message }`: a misspelt key first (it is usually why a required
 * key next to it is missing), with the key itself in the path; for a value that matched no branch of
 * a union (`explicit: { port: '21' }`), the branch that got furthest into it. Given the `schema`
 * that was parsed, a misspelt key's message names the key it likely meant (`did you mean implicit?`).
 */
export function reportedIssue(
  issues: readonly z.core.$ZodIssue[],
  schema?: z.ZodType,
): { path: PropertyKey[]; message: string } {
  const found = foundIssue(issues);
  const key = found.unknownKey;
  if (key === undefined || schema === undefined) return found;
  const near = closestName(key, keysAt(schema, found.path.slice(0, -1)));
  return near === undefined
    ? found
    : { path: found.path, message: `${found.message} (did you mean ${near}?)` };
}

function foundIssue(issues: readonly z.core.$ZodIssue[]): {
  path: PropertyKey[];
  message: string;
  unknownKey?: string;
} {
  const issue = issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0];
  if (!issue) return { path: [], message: 'invalid' };
  if (issue.code === 'unrecognized_keys') {
    const unknownKey = issue.keys[0];
    return { path: [...issue.path, ...issue.keys.slice(0, 1)], message: issue.message, unknownKey };
  }
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return issue;
  const branches = issue.errors.filter((b) => b.length > 0);
  const deepest = branches.sort((a, b) => depth(b) - depth(a))[0];
  if (!deepest) return issue;
  const inner = foundIssue(deepest);
  return { ...inner, path: [...issue.path, ...inner.path] };
}

/** The keys the object `schema` has at `path` (through optionals, unions, arrays, transforms). */
function keysAt(schema: z.core.$ZodType, path: readonly PropertyKey[]): string[] {
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable || schema instanceof z.ZodDefault)
    return keysAt(schema.unwrap(), path);
  if (schema instanceof z.ZodPipe) return keysAt(schema.in, path);
  if (schema instanceof z.ZodUnion) return schema.options.flatMap((o) => keysAt(o, path));
  const [first, ...rest] = path;
  if (schema instanceof z.ZodArray) return typeof first === 'number' ? keysAt(schema.element, rest) : [];
  if (!(schema instanceof z.ZodObject)) return [];
  if (first === undefined) return Object.keys(schema.shape);
  const inner: z.core.$ZodType | undefined = (schema.shape as Record<PropertyKey, z.core.$ZodType>)[first];
  return inner ? keysAt(inner, rest) : [];
}

const depth = (branch: readonly z.core.$ZodIssue[]): number => Math.max(...branch.map((i) => i.path.length));
