/**
 * Which contour set is the reference of each structure in a frozen cohort version: a named observer's, the
 * STAPLE consensus, or the majority vote of the case's physicians. A policy has a rule for every structure ("*") and may name other rules per
 * structure (TG-263 name).
 */
export type ReferenceRule =
  { kind: 'observer'; observer: string } | { kind: 'staple' } | { kind: 'majority' };

export interface ReferencePolicy {
  default: ReferenceRule;
  structures: Record<string, ReferenceRule>;
}

function parseRule(text: string, entry: string): ReferenceRule {
  if (text === 'staple') return { kind: 'staple' };
  if (text === 'majority') return { kind: 'majority' };
  const observer = /^observer:([A-Za-z0-9][A-Za-z0-9_.-]*)$/.exec(text);
  if (observer) return { kind: 'observer', observer: observer[1]! };
  throw new RangeError(`reference "${entry}": expected staple, majority or observer:CODE after "="`);
}

/** Parses entries like "*=staple", "Heart=observer:EXPERT"; the "*" entry is required. */
export function parseReferencePolicy(entries: readonly string[]): ReferencePolicy {
  let fallback: ReferenceRule | undefined;
  const structures: Record<string, ReferenceRule> = {};
  for (const entry of entries) {
    const at = entry.indexOf('=');
    if (at <= 0) throw new RangeError(`reference "${entry}": expected STRUCTURE=RULE or *=RULE`);
    const structure = entry.slice(0, at).trim();
    const rule = parseRule(entry.slice(at + 1).trim(), entry);
    if (structure === '*') {
      if (fallback) throw new RangeError('reference: "*" is given twice');
      fallback = rule;
    } else {
      if (structures[structure]) throw new RangeError(`reference: ${structure} is given twice`);
      structures[structure] = rule;
    }
  }
  if (!fallback)
    throw new RangeError(
      'reference: give the rule for every structure as *=staple, *=majority or *=observer:CODE',
    );
  return { default: fallback, structures };
}

export function ruleFor(policy: ReferencePolicy, structure: string): ReferenceRule {
  return policy.structures[structure] ?? policy.default;
}

export function describeRule(rule: ReferenceRule): string {
  if (rule.kind === 'staple') return 'the STAPLE consensus';
  if (rule.kind === 'majority') return 'the majority vote';
  return `observer ${rule.observer}`;
}

/** One case of a version as the content digest sees it. */
export interface VersionCaseContent {
  pseudonym: string;
  references: ReadonlyArray<{ structure: string; maskSha256: string }>;
}

/**
 * The canonical text a version's content digest is taken over: the policy, then every case (by
 * pseudonym) with its reference masks (by structure), sorted, so the same content gives the same digest
 * in any database.
 */
export function versionContentText(policy: ReferencePolicy, cases: readonly VersionCaseContent[]): string {
  const sortedPolicy = {
    default: policy.default,
    structures: Object.fromEntries(Object.entries(policy.structures).sort(([a], [b]) => (a < b ? -1 : 1))),
  };
  const lines = [...cases]
    .sort((a, b) => (a.pseudonym < b.pseudonym ? -1 : a.pseudonym > b.pseudonym ? 1 : 0))
    .map((c) =>
      [
        c.pseudonym,
        ...[...c.references]
          .sort((a, b) => (a.structure < b.structure ? -1 : 1))
          .map((r) => `${r.structure}:${r.maskSha256}`),
      ].join(' '),
    );
  return `contourbench-cohort/1\n${JSON.stringify(sortedPolicy)}\n${lines.join('\n')}\n`;
}
