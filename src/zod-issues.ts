// Which of a failed validation's issues to show a user (options of the API, the config file).
import type { z } from 'zod';

/**
 * The issue to report, as `{ path, message }`: a misspelt key first (it is usually why a required
 * key next to it is missing), with the key itself in the path; for a value that matched no branch of
 * a union (`explicit: { port: '21' }`), the branch that got furthest into it.
 */
export function reportedIssue(issues: readonly z.core.$ZodIssue[]): { path: PropertyKey[]; message: string } {
  const issue = issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0];
  if (!issue) return { path: [], message: 'invalid' };
  if (issue.code === 'unrecognized_keys')
    return { path: [...issue.path, ...issue.keys.slice(0, 1)], message: issue.message };
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return issue;
  const branches = issue.errors.filter((b) => b.length > 0);
  const deepest = branches.sort((a, b) => depth(b) - depth(a))[0];
  if (!deepest) return issue;
  const inner = reportedIssue(deepest);
  return { path: [...issue.path, ...inner.path], message: inner.message };
}

const depth = (branch: readonly z.core.$ZodIssue[]): number => Math.max(...branch.map((i) => i.path.length));
